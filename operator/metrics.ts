// Prometheus metrics of the operator (`/metrics` on the metrics port, 9090 in a cluster). Values
// are read from the engine and the xDS server when scraped, so nothing is updated on hot paths;
// only NACKs, time-to-ready and probe failures are counted as they happen. docs/observability.md
// describes each, and the dashboard and alerts built on them (deploy/observability/).
import type { Server } from 'node:http';
import { http } from './node-http.ts';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatusMetrics } from './controller/ingress-status.ts';
import { PROBE_FAILURES } from './status/prober.ts';
import { TYPE_SHORT, TYPE_URLS, type TypeUrl } from './xds/protos.ts';
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
  /** Per fleet the replicas its spec asks for and the ready ones (the leader's view; else empty). */
  fleetReplicas(): { fleet: string; desired: number; ready: number }[];
}

const zeroByType = (): Record<TypeUrl, number> =>
  Object.fromEntries(TYPE_URLS.map((t) => [t, 0])) as Record<TypeUrl, number>;

/** Sources of an operator with nothing to report yet: no leadership, KIngresses, proxies or fleets. */
export function idleSources(): MetricsSources {
  return {
    leading: () => false,
    ingresses: () => ({ served: 0, ready: 0 }),
    counters: () => ({ flushes: 0, translated: 0, pushes: 0 }),
    xdsStats: () => ({ bytesSent: zeroByType(), resourcesSent: zeroByType(), responses: 0 }),
    proxies: () => [],
    staleness: () => undefined,
    fleetReplicas: () => [],
  };
}

/** Buckets of kgw_kingress_ready_seconds: from a fast local push to a slow rollout. */
export const READY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export interface OperatorMetrics {
  registry: Registry;
  /** Counts a NACK of a fleet's Envoy. */
  nack: (fleet: string) => void;
  /** Time-to-ready and probe failures, for the KIngress status writer. */
  status: StatusMetrics;
}

export function metricsRegistry(src: MetricsSources): OperatorMetrics {
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
  // Every known fleet has a series from the start (0), so increase() sees its first NACK too.
  const nacks: Counter<'fleet'> = new Counter({
    name: 'kgw_xds_nacks_total',
    help: 'Configurations Envoy rejected, by fleet',
    labelNames: ['fleet'],
    registers: [registry],
    collect() {
      const fleets = new Set([
        ...src.fleetReplicas().map((f) => f.fleet),
        ...src.proxies().map((p) => p.fleet),
      ]);
      for (const fleet of fleets) nacks.inc({ fleet }, 0);
    },
  });
  const fleetGauge = (name: string, help: string, key: 'desired' | 'ready') =>
    new Gauge({
      name,
      help,
      labelNames: ['fleet'],
      registers: [registry],
      collect() {
        this.reset();
        for (const f of src.fleetReplicas()) this.set({ fleet: f.fleet }, f[key]);
      },
    });
  fleetGauge(
    'kgw_fleet_replicas',
    'Envoy replicas the fleet spec asks for, by fleet (<gateway>/<fleet>; only the leader reports fleets)',
    'desired',
  );
  fleetGauge(
    'kgw_fleet_ready_replicas',
    'Ready Envoy replicas, by fleet (<gateway>/<fleet>; only the leader reports fleets)',
    'ready',
  );
  const ready = new Histogram({
    name: 'kgw_kingress_ready_seconds',
    help:
      'Seconds from a KIngress generation first seen by the leader to its Ready status written ' +
      '(translation, xDS push, every replica probed, status write)',
    buckets: READY_BUCKETS,
    registers: [registry],
  });
  const probeFailures = new Counter({
    name: 'kgw_probe_failures_total',
    help:
      'Readiness probe requests to Envoy replicas that must be retried, by reason: error (no answer), ' +
      'status (404/5xx: no route or no backend yet), hash (an older configuration)',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of PROBE_FAILURES) probeFailures.inc({ reason }, 0);
  const probes = new Counter({
    name: 'kgw_probes_total',
    help:
      'Readiness probe requests to Envoy replicas (every answer, successful or not): 0 per second while ' +
      'nothing changes; a change costs one request per host of the KIngress and replica of its fleets',
    registers: [registry],
  });
  return {
    registry,
    nack: (fleet) => nacks.inc({ fleet }),
    status: {
      readySeconds: (seconds) => ready.observe(seconds),
      probed: (result) => {
        probes.inc();
        if (result !== 'ok') probeFailures.inc({ reason: result });
      },
    },
  };
}

export function startMetricsServer(port: number, registry: Registry, host = '0.0.0.0'): Promise<Server> {
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
