import type { AddressInfo } from 'node:net';
import { metricsRegistry, startMetricsServer } from './metrics.ts';
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
