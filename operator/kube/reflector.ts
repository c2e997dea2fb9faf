// A reflector keeps an in-memory copy of one resource collection: list, then watch from the
// list's resourceVersion with bookmarks; relist on 410 Gone; reconnect with exponential backoff
// (200 ms → 30 s) on any other error. The backoff starts over after a healthy watch (one that
// delivered an event or bookmark, or stayed open 5 s). Nothing loops hot: a watch the server
// closes within 1 s without any event counts as an error, and a second 410 in a row without a
// healthy watch in between waits like one. client-node's informer stops on such errors or
// reconnects without backoff, which is why kgw has its own.
import type { Logger } from '../log.ts';
import { ApiError, type KubeRest, type WatchEvent } from './rest.ts';

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
}

export type ReflectorEvent<T> = { type: 'upsert'; obj: T; old: T | undefined } | { type: 'delete'; obj: T };

export interface ReflectorOptions<T extends KubeObject = KubeObject> {
  /** Collection path, e.g. /api/v1/services or /apis/networking.internal.knative.dev/v1alpha1/ingresses */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  log: Logger;
  /** Page size for lists. */
  limit?: number;
  /** Server-side timeout of each watch. Default: a random 240–299 s, so reflectors do not reconnect in step. */
  watchTimeoutSeconds?: number;
  /** Waits between retries and must resolve early when `signal` aborts. Default: abortableSleep. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Uniform [0, 1) source for the watch-timeout jitter. Default: Math.random. */
  random?: () => number;
  /**
   * Errors that are expected while they last (e.g. 404 while an optional API is not installed):
   * their retries are logged at debug instead of warn. They still show in `lastError`.
   */
  quiet?: (err: unknown) => boolean;
  /**
   * Watch only the objects' metadata (PartialObjectMetadata): for Secrets, their data is never
   * sent to kgw. The stored objects have `metadata` only.
   */
  metadataOnly?: boolean;
  /** Applied to every object before it is stored (e.g. to keep only the fields kgw reads). */
  transform?: (obj: T) => T;
}

const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const METADATA_OBJECT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/**
 * A transform for reflectors none of whose readers looks at `metadata.managedFields` (the
 * apiserver's record of which client owns which field, on every object: ~700 of the ~1,900 bytes
 * of a KIngress's JSON, 360 of a Service's ~900): a copy without it. A copy, not `delete`, so
 * the object keeps a fast (non-dictionary) shape.
 */
export function withoutManagedFields<T extends KubeObject>(obj: T): T {
  if (!('managedFields' in obj.metadata)) return obj;
  const { managedFields: _, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

export const MIN_BACKOFF_MS = 200;
export const MAX_BACKOFF_MS = 30_000;
/** A watch that delivered an event or stayed open this long was healthy: the backoff starts over. */
const HEALTHY_WATCH_MS = 5_000;
/** A watch the server closes this soon without any event counts as a failure (no hot reconnect loop). */
const SHORT_WATCH_MS = 1_000;

export class Reflector<T extends KubeObject> {
  readonly store = new Map<string, T>();
  private readonly rest: KubeRest;
  private readonly opts: ReflectorOptions<T>;
  private readonly handlers: ((e: ReflectorEvent<T>) => void)[] = [];
  private abort = new AbortController();
  private running = false;
  private rv = '';
  private failure: unknown;
  /** When the current run of failures began (performance.now), undefined while healthy. */
  private failingSince: number | undefined;
  private listed = false;
  private resolveSynced!: () => void;
  /** Resolves after the first complete list has been applied to the store (never if stopped before). */
  readonly synced: Promise<void>;
  private loop: Promise<void> | undefined;

  constructor(rest: KubeRest, opts: ReflectorOptions<T>) {
    this.rest = rest;
    this.opts = opts;
    this.synced = new Promise((r) => (this.resolveSynced = r));
  }

  /**
   * The error of the latest failed list or watch (an ApiError carries the HTTP status), or undefined
   * once a list succeeded or a watch was healthy since. Callers that must tell "not synced yet"
   * from "cannot list" (403, 404) read it.
   */
  get lastError(): unknown {
    return this.failure;
  }

  /** An event arrived: the API server is reachable and the stream works. */
  private inTouch(): void {
    this.failingSince = undefined;
  }

  /**
   * Since when (performance.now) lists and watches have been failing without the API server
   * answering one in between; undefined while the reflector is in touch with the API server.
   */
  get unhealthySince(): number | undefined {
    return this.failingSince;
  }

  /** True once the first complete list has been applied (what `synced` resolves on). */
  get hasSynced(): boolean {
    return this.listed;
  }

  /** The resourceVersion the next watch starts from (the last list, event or bookmark). */
  get resourceVersion(): string {
    return this.rv;
  }

  onEvent(h: (e: ReflectorEvent<T>) => void): void {
    this.handlers.push(h);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
  }

  private emit(e: ReflectorEvent<T>): void {
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        this.opts.log.error({ err, path: this.opts.path }, 'reflector handler failed');
      }
    }
  }

  private async list(): Promise<void> {
    const firstList = this.rv === '' && this.store.size === 0;
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    for (let page = 0; ; page++) {
      // a partial list must never be applied: the missing objects would be reported as deleted
      if (page >= 10_000) throw new Error(`list ${this.opts.path}: more than 10000 pages`);
      const res = await this.rest.get<{
        metadata: { resourceVersion: string; continue?: string };
        items: T[] | null;
      }>(
        this.opts.path,
        {
          labelSelector: this.opts.labelSelector,
          fieldSelector: this.opts.fieldSelector,
          limit: this.opts.limit ?? 500,
          continue: cont,
          // The first list of an empty store is served from the API server's watch cache, as
          // client-go's informers do: one answer instead of a page of `limit` at a time read from
          // etcd (20 round trips for 10k KIngresses). It may lag etcd by the cache's delay; the
          // watch from its resourceVersion replays what followed. A relist reads etcd (the store
          // must never step back in time).
          ...(cont === undefined && firstList ? { resourceVersion: '0' } : {}),
        },
        this.abort.signal,
        this.opts.metadataOnly ? METADATA_LIST : undefined,
      );
      const transform = this.opts.transform;
      items.push(...(transform ? (res.items ?? []).map(transform) : (res.items ?? [])));
      rv = res.metadata.resourceVersion;
      cont = res.metadata.continue;
      if (!cont) break;
    }
    if (!this.running) return;
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj);
      seen.add(key);
      const old = this.store.get(key);
      if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) continue;
      this.store.set(key, obj);
      this.emit({ type: 'upsert', obj, old });
    }
    for (const [key, obj] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit({ type: 'delete', obj });
      }
    }
    this.rv = rv;
  }

  private apply(e: WatchEvent<T>): void {
    if (e.type === 'ERROR') {
      const st = e.object as unknown as { code?: number; reason?: string; message?: string };
      throw new ApiError(st.code ?? 500, st.reason ?? '', st.message ?? 'watch error', st);
    }
    if (e.object.metadata.resourceVersion) this.rv = e.object.metadata.resourceVersion;
    if (e.type === 'BOOKMARK') return;
    const obj = this.opts.transform ? this.opts.transform(e.object) : e.object;
    const key = objectKey(obj);
    if (e.type === 'DELETED') {
      if (this.store.delete(key)) this.emit({ type: 'delete', obj });
      return;
    }
    const old = this.store.get(key);
    this.store.set(key, obj);
    this.emit({ type: 'upsert', obj, old });
  }

  private async run(): Promise<void> {
    const sleep = this.opts.sleep ?? abortableSleep;
    const random = this.opts.random ?? Math.random;
    let backoff = MIN_BACKOFF_MS;
    let needList = true;
    let goneInARow = 0;
    while (this.running) {
      let watchStarted: number | undefined;
      let events = 0;
      const healthy = () =>
        events > 0 || (watchStarted !== undefined && Date.now() - watchStarted >= HEALTHY_WATCH_MS);
      try {
        if (needList) {
          await this.list();
          if (!this.running) break;
          needList = false;
          this.failure = undefined;
          this.failingSince = undefined;
          this.listed = true;
          this.resolveSynced();
        }
        watchStarted = Date.now();
        await this.rest.watch<T>(
          this.opts.path,
          {
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            resourceVersion: this.rv,
            allowWatchBookmarks: true,
            timeoutSeconds: this.opts.watchTimeoutSeconds ?? 240 + Math.floor(random() * 60),
          },
          (e) => {
            this.apply(e);
            events++;
            this.inTouch();
          },
          this.abort.signal,
          undefined,
          this.opts.metadataOnly ? METADATA_OBJECT : undefined,
          () => {
            // the API server answered the watch: in touch again, even before any event (an
            // error thrown later starts a new run of failures)
            this.failingSince = undefined;
          },
        );
        if (!this.running) break;
        const ms = Date.now() - watchStarted;
        if (events === 0 && ms < SHORT_WATCH_MS)
          throw new Error(`watch closed after ${ms} ms without events`);
        if (healthy()) {
          backoff = MIN_BACKOFF_MS;
          goneInARow = 0;
          this.failure = undefined;
          this.failingSince = undefined;
        }
      } catch (err) {
        if (!this.running) break;
        this.failure = err;
        if (healthy()) {
          backoff = MIN_BACKOFF_MS;
          goneInARow = 0;
          this.failingSince = undefined;
        }
        this.failingSince ??= performance.now();
        if (err instanceof ApiError && err.status === 410) {
          needList = true;
          // relist at once; only a 410 again without a healthy watch in between waits
          if (goneInARow++ === 0) {
            this.opts.log.info({ path: this.opts.path }, 'watch expired (410), relisting');
            continue;
          }
        }
        const level = this.opts.quiet?.(err) === true ? 'debug' : 'warn';
        this.opts.log[level](
          { err: String(err), path: this.opts.path, backoffMs: backoff },
          'watch failed, retrying',
        );
        await sleep(backoff, this.abort.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        if (err instanceof ApiError && err.status >= 400 && err.status !== 429) needList = true;
      }
    }
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts; leaves no listener on the signal behind,
 * and the timer never keeps the process alive.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    t.unref();
    signal.addEventListener('abort', done, { once: true });
  });
}
