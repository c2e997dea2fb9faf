// Prometheus metrics of the operator (`/metrics` on the metrics port, 9090 in a cluster). Values
// are read from the engine and the xDS server when scraped, so nothing is updated on hot paths.
import http from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { TYPE_SHORT, type TypeUrl } from './xds/protos.ts';
import type { ProxyInfo, XdsStats } from './xds/types.ts';

export interface MetricsSources {
  leading(): boolean;
  /** KIngresses of a served class, and how many of them are Ready. */
  ingresses(): { served: number; ready: number };
  counters(): { flushes: number; translated: number; pushes: number };
  xdsStats(): XdsStats;
  proxies(): ProxyInfo[];
  /** Set while the operator's watches have been failing too long (Engine.staleness()). */
  staleness(): { seconds: number } | undefined;
}

export function metricsRegistry(src: MetricsSources): { registry: Registry; nack: (fleet: string) => void } {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kgw_' });
  new Gauge({
    name: 'kgw_leader',
    help: '1 when this operator replica holds the leader Lease (runs fleets, writes status), else 0',
    registers: [registry],
    collect() {
      this.set(src.leading() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kgw_apiserver_stale_seconds',
    help:
      'How long a watch of this replica has been failing, once that is longer than the staleness bound ' +
      '(30 s): the configuration it serves may be stale. 0 while it is in touch with the API server',
    registers: [registry],
    collect() {
      this.set(src.staleness()?.seconds ?? 0);
    },
  });
  new Gauge({
    name: 'kgw_kingresses',
    help: 'KIngresses of a class kgw serves, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { served, ready } = src.ingresses();
      this.set({ state: 'ready' }, ready);
      this.set({ state: 'not_ready' }, served - ready);
    },
  });
  const engineCounter = (name: string, help: string, key: 'flushes' | 'translated' | 'pushes') =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(src.counters()[key]);
      },
    });
  engineCounter('kgw_engine_flushes_total', 'Coalesced engine flushes', 'flushes');
  engineCounter('kgw_engine_translated_total', 'KIngress translations', 'translated');
  engineCounter(
    'kgw_xds_snapshot_updates_total',
    'Fleet snapshot updates handed to the xDS server',
    'pushes',
  );
  new Counter({
    name: 'kgw_xds_sent_bytes_total',
    help: 'Bytes of xDS responses sent, by resource type',
    labelNames: ['type'],
    registers: [registry],
    collect() {
      this.reset();
      const s = src.xdsStats();
      for (const [t, bytes] of Object.entries(s.bytesSent))
        this.inc({ type: TYPE_SHORT[t as TypeUrl] }, bytes);
    },
  });
  new Gauge({
    name: 'kgw_xds_connected_proxies',
    help: 'Envoys connected over ADS, by fleet (<gateway>/<fleet>)',
    labelNames: ['fleet'],
    registers: [registry],
    collect() {
      this.reset();
      const by = new Map<string, number>();
      for (const p of src.proxies()) by.set(p.fleet, (by.get(p.fleet) ?? 0) + 1);
      for (const [fleet, n] of by) this.set({ fleet }, n);
    },
  });
  const nacks = new Counter({
    name: 'kgw_xds_nacks_total',
    help: 'Configurations Envoy rejected, by fleet',
    labelNames: ['fleet'],
    registers: [registry],
  });
  return { registry, nack: (fleet) => nacks.inc({ fleet }) };
}

export function startMetricsServer(port: number, registry: Registry, host = '0.0.0.0'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry
      .metrics()
      .then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      })
      .catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
