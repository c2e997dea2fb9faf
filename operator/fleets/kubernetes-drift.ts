// Drift of the fleet objects kgw applied (Deployments and Services are watched; the periodic
// resync covers the other kinds): what kgw's own apply left (the API server's answer to it, and
// every resourceVersion kgw read or wrote meanwhile, recorded by RecordingClient), compared with
// the live object in the fields kgw renders only, so defaults, status and fields others own
// never count as drift.
import { objectPath, type KubeClient } from './kubernetes-apply.ts';
import type { FleetObject } from './kubernetes-objects.ts';

/** The kinds whose drift is watched (the others are put back by the periodic resync). */
export const WATCHED = [
  { apiVersion: 'apps/v1', kind: 'Deployment', path: '/apis/apps/v1/deployments' },
  { apiVersion: 'v1', kind: 'Service', path: '/api/v1/services' },
] as const;

interface Stored {
  metadata?: { resourceVersion?: string };
  items?: unknown;
}

export interface TrackedObject {
  /** Which watched kind (index into WATCHED) and the object's cache key `<namespace>/<name>`. */
  watched: number;
  key: string;
  /** What kgw renders, without apiVersion/kind: the fields whose change counts as drift. */
  shape: unknown;
  /** The object as the API server returned it from kgw's apply. */
  baseline: unknown;
  /** resourceVersions kgw itself read or wrote during that apply: events carrying them are not drift. */
  known: Set<string>;
}

/** Records the resourceVersions of the objects the API server returns to one apply. */
export class RecordingClient implements KubeClient {
  readonly inner: KubeClient;
  /** path → resourceVersions seen (GET and PATCH answers). */
  readonly seen = new Map<string, Set<string>>();
  /** path → the last PATCH answer (the object after kgw's apply). */
  readonly written = new Map<string, unknown>();

  constructor(inner: KubeClient) {
    this.inner = inner;
  }

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
    query?: Record<string, string | number | boolean | undefined>,
  ): Promise<T> {
    const res = await this.inner.request<T>(method, path, body, contentType, query);
    const o = res as Stored | undefined;
    const rv = o?.metadata?.resourceVersion;
    if ((method === 'GET' || method === 'PATCH') && o?.items === undefined && rv !== undefined) {
      const set = this.seen.get(path) ?? new Set<string>();
      set.add(rv);
      this.seen.set(path, set);
      if (method === 'PATCH') this.written.set(path, res);
    }
    return res;
  }
}

/**
 * `live` restricted to the keys of `shape`, recursively (arrays element by element when the
 * lengths match). Fields others own or the API server defaults are thereby ignored.
 */
export function projectOnto(live: unknown, shape: unknown): unknown {
  if (Array.isArray(shape)) {
    if (!Array.isArray(live) || live.length !== shape.length) return live;
    return shape.map((s: unknown, i) => projectOnto(live[i], s));
  }
  if (shape !== null && typeof shape === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return live;
    const l = live as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(shape)) out[k] = projectOnto(l[k], (shape as Record<string, unknown>)[k]);
    return out;
  }
  return live;
}

/** Whether `live` differs from what kgw's last apply left in the fields kgw renders. */
export function hasDrifted(t: Pick<TrackedObject, 'shape' | 'baseline' | 'known'>, live: unknown): boolean {
  const rv = (live as Stored).metadata?.resourceVersion;
  if (rv !== undefined && t.known.has(rv)) return false;
  return JSON.stringify(projectOnto(live, t.shape)) !== JSON.stringify(projectOnto(t.baseline, t.shape));
}

/** The drift-relevant part of a rendered object (apiVersion and kind are not in list items). */
export function shapeOf(o: FleetObject): unknown {
  const rest: Record<string, unknown> = { ...(o as unknown as Record<string, unknown>) };
  delete rest.apiVersion;
  delete rest.kind;
  return rest;
}

/** The watched objects of an apply that `client` recorded, by REST path (a skipped fleet's are not kgw's). */
export function trackedObjects(
  objects: readonly FleetObject[],
  client: RecordingClient,
): Map<string, TrackedObject> {
  const tracked = new Map<string, TrackedObject>();
  for (const o of objects) {
    const watched = WATCHED.findIndex((w) => w.apiVersion === o.apiVersion && w.kind === o.kind);
    if (watched < 0) continue;
    const path = objectPath({ ...o.metadata, apiVersion: o.apiVersion, kind: o.kind });
    const baseline = client.written.get(path);
    if (baseline === undefined) continue;
    tracked.set(path, {
      watched,
      key: `${o.metadata.namespace}/${o.metadata.name}`,
      shape: shapeOf(o),
      baseline,
      known: client.seen.get(path) ?? new Set(),
    });
  }
  return tracked;
}
