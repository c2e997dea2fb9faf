import type { AddressInfo } from 'node:net';
import { idleSources, metricsRegistry, startMetricsServer } from './metrics.ts';
import { TYPE_ROUTE } from './xds/protos.ts';
import type { ProxyInfo, XdsStats } from './xds/types.ts';

test('/metrics reports leadership, KIngresses, engine work, xDS bytes, proxies and NACKs', async () => {
  let leading = false;
  let stale: { seconds: number } | undefined;
  const stats = { bytesSent: { [TYPE_ROUTE]: 1234 }, resourcesSent: {}, responses: 1 } as unknown as XdsStats;
  const proxy = (fleet: string) => ({ fleet, nodeId: 'n' }) as ProxyInfo;
  const { registry, nack } = metricsRegistry({
    leading: () => leading,
    ingresses: () => ({ served: 5, ready: 3 }),
    counters: () => ({ flushes: 7, translated: 11, pushes: 13 }),
    xdsStats: () => stats,
    proxies: () => [proxy('gw/a'), proxy('gw/a'), proxy('gw/b')],
    staleness: () => stale,
    fleetReplicas: () => [
      { fleet: 'gw/a', desired: 2, ready: 1 },
      { fleet: 'gw/c', desired: 1, ready: 1 },
    ],
  });
  nack('gw/a');
  const server = await startMetricsServer(0, registry, '127.0.0.1');
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    let body = await scrape();
    expect(body).toContain('kgw_leader 0');
    expect(body).toContain('kgw_kingresses{state="ready"} 3');
    expect(body).toContain('kgw_kingresses{state="not_ready"} 2');
    expect(body).toContain('kgw_engine_translated_total 11');
    expect(body).toContain('kgw_xds_sent_bytes_total{type="RDS"} 1234');
    expect(body).toContain('kgw_xds_connected_proxies{fleet="gw/a"} 2');
    expect(body).toContain('kgw_xds_nacks_total{fleet="gw/a"} 1');
    // every known fleet has a NACK series from the first scrape on (increase() sees the first NACK)
    expect(body).toContain('kgw_xds_nacks_total{fleet="gw/b"} 0');
    expect(body).toContain('kgw_xds_nacks_total{fleet="gw/c"} 0');
    expect(body).toContain('kgw_fleet_replicas{fleet="gw/a"} 2');
    expect(body).toContain('kgw_fleet_ready_replicas{fleet="gw/a"} 1');
    expect(body).toContain('kgw_fleet_ready_replicas{fleet="gw/c"} 1');
    expect(body).toContain('kgw_process_resident_memory_bytes');
    expect(body).toContain('kgw_apiserver_stale_seconds 0');
    leading = true;
    stale = { seconds: 42 };
    body = await scrape();
    expect(body).toContain('kgw_leader 1');
    expect(body).toContain('kgw_apiserver_stale_seconds 42');
    expect((await fetch(`${url}/other`)).status).toBe(404);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('time-to-ready is a histogram, probes a counter, probe failures one by reason (each reason there from the start)', async () => {
  const { registry, status } = metricsRegistry(idleSources());
  let body = await registry.metrics();
  for (const reason of ['error', 'status', 'hash'])
    expect(body).toContain(`kgw_probe_failures_total{reason="${reason}"} 0`);
  expect(body).toContain('kgw_kingress_ready_seconds_count 0');
  status.readySeconds(0.3);
  status.readySeconds(7);
  expect(body).toContain('kgw_probes_total 0');
  status.probed('status');
  status.probed('status');
  status.probed('hash');
  status.probed('ok');
  body = await registry.metrics();
  expect(body).toContain('kgw_kingress_ready_seconds_bucket{le="0.25"} 0');
  expect(body).toContain('kgw_kingress_ready_seconds_bucket{le="0.5"} 1');
  expect(body).toContain('kgw_kingress_ready_seconds_bucket{le="10"} 2');
  expect(body).toContain('kgw_kingress_ready_seconds_count 2');
  expect(body).toContain('kgw_kingress_ready_seconds_sum 7.3');
  expect(body).toContain('kgw_probe_failures_total{reason="status"} 2');
  expect(body).toContain('kgw_probe_failures_total{reason="hash"} 1');
  expect(body).toContain('kgw_probe_failures_total{reason="error"} 0');
  expect(body).toContain('kgw_probes_total 4');
  expect(body).not.toContain('kgw_fleet_replicas{');
});
