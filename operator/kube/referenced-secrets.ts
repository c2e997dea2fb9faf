// Secrets kgw needs, and only those. A metadata-only watch (PartialObjectMetadata: name, namespace,
// resourceVersion) tells kgw which Secrets exist and when one changes, without their data ever
// reaching kgw; the data of a Secret is fetched (one GET) only while something references it (a
// KIngress's spec.tls, a gateway's default certificate) and dropped when nothing does. So memory
// and exposure follow what kgw serves, not how many Secrets the cluster holds.
//
// A referenced Secret whose data is not here yet is `pending`: the engine waits for it instead
// of reporting SecretNotFound, and nothing is pushed before the Secrets referenced at start-up are
// fetched (prefetch). At most 16 GETs run at once. A failed GET is retried with backoff (1 s → 30
// s); meanwhile the Secret is not pending, so its users report it instead of waiting forever.
import type { Secret } from '../api/core.ts';
import type { Logger } from '../log.ts';
import { Reflector, type KubeObject } from './reflector.ts';
import { ApiError, type KubeRest } from './rest.ts';

type Meta = KubeObject;
type Full = Secret & KubeObject;

/** At most this many Secret GETs at once. */
const FETCH_CONCURRENCY = 16;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export interface ReferencedSecretsOptions {
  rest: KubeRest;
  log: Logger;
  /** A referenced Secret's data changed, appeared or went (`<ns>/<name>`). */
  onChange(key: string): void;
}

function keyOf(ns: string, name: string): string {
  return `${ns}/${name}`;
}

/** Only what kgw reads of a Secret's metadata (managedFields and annotations can be large). */
function slim(o: Meta): Meta {
  const m = o.metadata;
  return {
    metadata: {
      name: m.name,
      ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
      ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    },
  };
}

export class ReferencedSecrets {
  /** Every Secret's metadata (name, namespace, resourceVersion), no data. */
  readonly meta: Reflector<Meta>;
  private readonly o: ReferencedSecretsOptions;
  /** Referenced keys (what the data cache may hold). */
  private readonly wanted = new Set<string>();
  /** Data of referenced Secrets, as last fetched. */
  private readonly data = new Map<string, Full>();
  /** Keys whose fetch failed (retry scheduled): not pending, reported as unreadable. */
  private readonly failed = new Map<string, unknown>();
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly abort = new AbortController();

  constructor(o: ReferencedSecretsOptions) {
    this.o = o;
    this.meta = new Reflector<Meta>(o.rest, {
      path: '/api/v1/secrets',
      log: o.log,
      metadataOnly: true,
      transform: slim,
    });
    this.meta.onEvent((e) => {
      const key = keyOf(e.obj.metadata.namespace ?? '', e.obj.metadata.name);
      if (!this.wanted.has(key)) return;
      this.o.log.debug({ secret: key, event: e.type }, 'referenced Secret changed');
      if (e.type === 'delete') {
        this.failed.delete(key);
        if (this.data.delete(key)) this.o.onChange(key);
        return;
      }
      this.fetch(key);
    });
  }

  /** The data of a referenced Secret, when fetched. */
  get(ns: string, name: string): Full | undefined {
    return this.data.get(keyOf(ns, name));
  }

  /** Whether a Secret exists (from the metadata-only watch). */
  exists(key: string): boolean {
    return this.meta.store.has(key);
  }

  /** How many Secrets' data kgw holds (for metrics and tests). */
  get dataCount(): number {
    return this.data.size;
  }

  /** Why a referenced Secret that exists could not be read, if its last fetch failed. */
  readError(key: string): unknown {
    return this.failed.get(key);
  }

  /**
   * Whether a referenced Secret exists but its (current) data has not arrived yet: its users wait
   * rather than report it missing.
   */
  isPending(key: string): boolean {
    if (!this.wanted.has(key) || this.failed.has(key)) return false;
    const m = this.meta.store.get(key);
    if (!m) return false;
    const d = this.data.get(key);
    return d === undefined || d.metadata.resourceVersion !== m.metadata.resourceVersion;
  }

  /** Sets the referenced keys: new ones are fetched, the data of unreferenced ones dropped. */
  setWanted(keys: Iterable<string>): void {
    const next = new Set(keys);
    for (const k of this.wanted) {
      if (next.has(k)) continue;
      this.wanted.delete(k);
      this.data.delete(k);
      this.failed.delete(k);
      this.clearRetry(k);
    }
    for (const k of next) {
      if (this.wanted.has(k)) continue;
      this.wanted.add(k);
      if (this.meta.store.has(k)) this.fetch(k);
    }
  }

  /** Adds referenced keys (see setWanted). */
  want(keys: Iterable<string>): void {
    for (const k of keys) {
      if (this.wanted.has(k)) continue;
      this.wanted.add(k);
      if (this.meta.store.has(k)) this.fetch(k);
    }
  }

  /** Resolves once every given referenced Secret that exists has been fetched (or failed once). */
  async prefetch(keys: Iterable<string>): Promise<void> {
    const list = [...keys];
    this.want(list);
    for (const k of list) {
      if (this.isPending(k) && !this.inflight.has(k)) this.fetch(k);
    }
    await Promise.all(list.flatMap((k) => this.inflight.get(k) ?? []));
  }

  start(): void {
    this.meta.start();
  }

  get synced(): Promise<void> {
    return this.meta.synced;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    for (const k of [...this.retries.keys()]) this.clearRetry(k);
    for (const w of this.waiting.splice(0)) w();
    await this.meta.stop();
    await Promise.all([...this.inflight.values()]);
  }

  private slots = FETCH_CONCURRENCY;
  private readonly waiting: (() => void)[] = [];
  /** Failed fetches waiting to be retried: key → delay of the next retry. */
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; next: number }>();

  private async acquire(): Promise<void> {
    if (this.slots > 0) {
      this.slots--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.slots++;
  }

  private fetch(key: string): void {
    if (this.inflight.has(key) || this.abort.signal.aborted) return;
    const p = (async () => {
      await this.acquire();
      try {
        await this.load(key);
      } finally {
        this.release();
        this.inflight.delete(key);
      }
      // changed again while the GET was under way: fetch the newer version
      if (this.isPending(key)) this.fetch(key);
    })();
    this.inflight.set(key, p);
  }

  /** One GET of a referenced Secret; a failure schedules a retry with backoff. */
  private async load(key: string): Promise<void> {
    if (!this.wanted.has(key) || this.abort.signal.aborted) return;
    const [ns = '', name = ''] = key.split('/');
    try {
      const s = await this.o.rest.get<Full>(
        `/api/v1/namespaces/${ns}/secrets/${name}`,
        undefined,
        this.abort.signal,
      );
      this.clearRetry(key);
      if (!this.wanted.has(key)) return;
      this.failed.delete(key);
      const before = this.data.get(key);
      this.data.set(key, s);
      this.o.log.debug(
        { secret: key, resourceVersion: s.metadata.resourceVersion },
        'referenced Secret read',
      );
      if (before?.metadata.resourceVersion !== s.metadata.resourceVersion) this.o.onChange(key);
    } catch (err) {
      if (this.abort.signal.aborted) return;
      if (err instanceof ApiError && err.status === 404) {
        // deleted meanwhile: the watch says so too
        this.clearRetry(key);
        this.failed.delete(key);
        if (this.data.delete(key)) this.o.onChange(key);
        return;
      }
      const first = !this.failed.has(key);
      this.failed.set(key, err);
      if (first) {
        this.o.log.warn({ secret: key, err: String(err) }, 'reading a referenced Secret failed; retrying');
        this.o.onChange(key); // its users stop waiting and report it
      }
      const delay = this.retries.get(key)?.next ?? RETRY_MIN_MS;
      this.clearRetry(key);
      const timer = setTimeout(() => this.fetch(key), delay);
      timer.unref();
      this.retries.set(key, { timer, next: Math.min(delay * 2, RETRY_MAX_MS) });
    }
  }

  private clearRetry(key: string): void {
    const r = this.retries.get(key);
    if (r) clearTimeout(r.timer);
    this.retries.delete(key);
  }
}
