// Request rate and 5xx share of each fleet, for KnativeGateway status (`kubectl get kgw` answers
// "is my gateway healthy" without a dashboard). Every window (30 s by default) the leader reads the
// request counters of each ready replica of each fleet with metrics enabled, through the
// replica's stats listener (only /stats/prometheus, filtered to the per-Service response classes),
// and turns the counter deltas into figures. The counters are the routes' per-Knative-Service
// stats (render/stats-names.ts): requests that reached a Knative Service, without kgw's own probes
// (probe routes are not counted, so a KIngress that keeps failing its probes does not show as
// errors) and without requests no route matched. Cost: one HTTP request per replica per window,
// whose size grows with the Services that served traffic since the replica started; a status
// write only when a figure changes. A replica that restarted (its counters went down) counts from
// zero, as Prometheus's rate() does; one that did not answer is left out of that window. Figures
// need two samples, so they appear one window after a fleet starts.
import { http } from '../node-http.ts';
import { METRICS_PATH, type FleetTraffic } from '../api/knativegateway.ts';
import { parseSamples } from '../fleets/prometheus-text.ts';
import type { Replica } from '../fleets/runtime.ts';
import type { Logger } from '../log.ts';

export const DEFAULT_TRAFFIC_WINDOW_MS = 30_000;
/** Envoy's stat names (before tag extraction) of the routes' per-Service response classes. */
const FILTER = String.raw`^vhost\..*\.route\..*\.upstream_rq_[1-5]xx$`;
export const TRAFFIC_STATS_PATH = `${METRICS_PATH}?usedonly&filter=${encodeURIComponent(FILTER)}`;

export interface Counters {
  total: number;
  errors: number;
}

/** The responses a replica's Knative Service routes gave: all and 5xx. */
export function serviceCounters(text: string): Counters {
  let total = 0;
  let errors = 0;
  for (const s of parseSamples(text)) {
    if (s.name !== 'envoy_vhost_route_upstream_rq_xx' || s.labels.kgw_service === undefined) continue;
    total += s.value;
    if (s.labels.envoy_response_code_class === '5') errors += s.value;
  }
  return { total, errors };
}

/** "12.5" style: two decimals below 10, one below 100, none above. */
export function formatRate(perSecond: number): string {
  return perSecond < 10
    ? perSecond.toFixed(2)
    : perSecond < 100
      ? perSecond.toFixed(1)
      : perSecond.toFixed(0);
}

export function formatRatio(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 2 : 1)}%`;
}

/** Figures from two samples of each replica: counters that went down started again from 0. */
export function trafficBetween(
  before: ReadonlyMap<string, Counters>,
  after: ReadonlyMap<string, Counters>,
  seconds: number,
): FleetTraffic {
  let total = 0;
  let errors = 0;
  for (const [id, now] of after) {
    const was = before.get(id);
    if (!was) continue; // a new replica: from the next window on
    const reset = now.total < was.total || now.errors < was.errors;
    total += reset ? now.total : now.total - was.total;
    errors += reset ? now.errors : now.errors - was.errors;
  }
  const window = Math.max(seconds, 0.001);
  return {
    requestsPerSecond: formatRate(total / window),
    ...(total > 0 ? { errorRatio: formatRatio(errors / total) } : {}),
    windowSeconds: Math.round(seconds),
  };
}

/** Sum over fleets (their figures are already rounded: good enough for a printer column). */
export function overallTraffic(fleets: FleetTraffic[]): { requestsPerSecond: string; errorRatio?: string } {
  let rate = 0;
  let errorRate = 0;
  for (const f of fleets) {
    const r = Number(f.requestsPerSecond);
    rate += r;
    if (f.errorRatio !== undefined) errorRate += (r * Number(f.errorRatio.replace('%', ''))) / 100;
  }
  return {
    requestsPerSecond: formatRate(rate),
    ...(rate > 0 ? { errorRatio: formatRatio(errorRate / rate) } : {}),
  };
}

export interface SampledFleet {
  key: string;
  /** The stats listener's port on each replica. */
  port: number;
  replicas: Replica[];
}

export interface TrafficSamplerOptions {
  log: Logger;
  /** GET `path` on address:port; the body (throws on failure or a status other than 200). */
  scrape(address: string, port: number, path: string): Promise<string>;
  windowMs?: number;
  now?: () => number;
}

/** Replicas scraped at once, at most. */
const CONCURRENCY = 8;

export class TrafficSampler {
  private readonly o: TrafficSamplerOptions;
  private readonly last = new Map<string, { at: number; counters: Map<string, Counters> }>();
  private readonly figuresByFleet = new Map<string, FleetTraffic>();

  constructor(o: TrafficSamplerOptions) {
    this.o = o;
  }

  get windowMs(): number {
    return this.o.windowMs ?? DEFAULT_TRAFFIC_WINDOW_MS;
  }

  figures(fleetKey: string): FleetTraffic | undefined {
    return this.figuresByFleet.get(fleetKey);
  }

  /** Samples every fleet once; forgets fleets not given. True when a figure changed. */
  async sample(fleets: SampledFleet[]): Promise<boolean> {
    const now = () => (this.o.now ?? Date.now)();
    let changed = false;
    const keys = new Set(fleets.map((f) => f.key));
    for (const k of [...this.last.keys()]) {
      if (keys.has(k)) continue;
      this.last.delete(k);
      changed = this.figuresByFleet.delete(k) || changed;
    }
    for (const fleet of fleets) {
      const counters = new Map<string, Counters>();
      const ready = fleet.replicas.filter((r) => r.ready);
      for (let i = 0; i < ready.length; i += CONCURRENCY) {
        await Promise.all(
          ready.slice(i, i + CONCURRENCY).map(async (r) => {
            try {
              counters.set(
                r.id,
                serviceCounters(await this.o.scrape(r.address, fleet.port, TRAFFIC_STATS_PATH)),
              );
            } catch (err) {
              this.o.log.debug(
                { fleet: fleet.key, replica: r.id, err: String(err) },
                'traffic sample failed',
              );
            }
          }),
        );
      }
      const at = now();
      const prev = this.last.get(fleet.key);
      this.last.set(fleet.key, { at, counters });
      if (!prev) continue;
      const next = trafficBetween(prev.counters, counters, (at - prev.at) / 1000);
      const old = this.figuresByFleet.get(fleet.key);
      if (JSON.stringify(old) !== JSON.stringify(next)) changed = true;
      this.figuresByFleet.set(fleet.key, next);
    }
    return changed;
  }
}

/** TrafficSamplerOptions.scrape over plain HTTP, bounded by `timeoutMs` and `maxBytes`. */
export function httpScrape(timeoutMs = 5_000, maxBytes = 64 << 20) {
  return (address: string, port: number, path: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: address, port, path, agent: false, timeout: timeoutMs }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`status ${res.statusCode ?? 0}`));
          return;
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body.length > maxBytes) req.destroy(new Error(`more than ${maxBytes} bytes`));
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', reject);
    });
}
