// A KIngress that is being served and changes to a backend Service whose EndpointSlices list no
// ready endpoint yet keeps its previous configuration until they do (or for at most a bound):
// Knative and Knative's conformance suite wait for a Service's Endpoints before pointing a
// KIngress at it, while kgw reads EndpointSlices, which the mirroring controller writes up to a
// second later on a busy node. Pushing at once would answer 503 "no healthy upstream" meanwhile.
// A new KIngress, or one whose backend never gets endpoints, is programmed without waiting (after
// the bound).
import type { EndpointSlice } from '../api/core.ts';
import type { IngressIR } from '../translate/ir.ts';

/** How long a served KIngress waits for its new backends' endpoints at most. */
export const ENDPOINT_WAIT_MS = 10_000;

function hasReadyEndpoint(slices: readonly EndpointSlice[]): boolean {
  return slices.some((s) =>
    (s.endpoints ?? []).some((e) => e.conditions?.ready !== false && (e.addresses ?? []).length > 0),
  );
}

/** The Services (`<ns>/<name>`) that `next` routes to, `prev` did not, and that have no ready endpoint. */
export function awaitedBackends(
  prev: IngressIR,
  next: IngressIR,
  slices: (namespace: string, service: string) => EndpointSlice[],
): string[] {
  const before = new Set(prev.clusters.map((c) => c.name));
  const out = new Set<string>();
  for (const c of next.clusters) {
    if (before.has(c.name) || c.kind !== 'eds' || !c.endpoints) continue;
    const { namespace, service } = c.endpoints;
    if (!hasReadyEndpoint(slices(namespace, service))) out.add(`${namespace}/${service}`);
  }
  return [...out].sort();
}

/** Which KIngresses wait for which Services' endpoints, since when; calls `expired` at the bound. */
export class EndpointWait {
  private readonly since = new Map<string, { at: number; services: string[]; timer: NodeJS.Timeout }>();
  private readonly expired: (key: string) => void;
  private readonly now: () => number;

  constructor(expired: (key: string) => void, now: () => number = () => performance.now()) {
    this.expired = expired;
    this.now = now;
  }

  /** Whether `key` should keep its previous configuration while `services` get endpoints. */
  hold(key: string, services: string[]): boolean {
    const cur = this.since.get(key);
    if (cur) {
      cur.services = services;
      return this.now() - cur.at < ENDPOINT_WAIT_MS;
    }
    const timer = setTimeout(() => this.expired(key), ENDPOINT_WAIT_MS + 10);
    timer.unref();
    this.since.set(key, { at: this.now(), services, timer });
    return true;
  }

  /** The KIngress no longer waits (programmed, deleted). */
  clear(key: string): void {
    const cur = this.since.get(key);
    if (!cur) return;
    clearTimeout(cur.timer);
    this.since.delete(key);
  }

  /** KIngresses waiting for the endpoints of `service`. */
  waitingFor(service: string): string[] {
    return [...this.since].filter(([, w]) => w.services.includes(service)).map(([k]) => k);
  }

  stop(): void {
    for (const k of [...this.since.keys()]) this.clear(k);
  }
}
