// A reflector keeps an in-memory copy of one resource collection: list, then watch from the
// list's resourceVersion with bookmarks; relist on 410 Gone; reconnect with exponential backoff
// (200 ms → 30 s, reset after a healthy watch) on any other error. client-node's informer stops
// on such errors or reconnects without backoff, which is why kgw has its own.
import type { Logger } from '../log.ts';
import { ApiError, type KubeRest, type WatchEvent } from './rest.ts';

export interface KubeObject {
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
}

export type ReflectorEvent<T> = { type: 'upsert'; obj: T; old: T | undefined } | { type: 'delete'; obj: T };

export interface ReflectorOptions {
  /** Collection path, e.g. /api/v1/services or /apis/networking.internal.knative.dev/v1alpha1/ingresses */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  log: Logger;
  /** Page size for lists. */
  limit?: number;
}

export function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

const MIN_BACKOFF = 200;
const MAX_BACKOFF = 30_000;

export class Reflector<T extends KubeObject> {
  readonly store = new Map<string, T>();
  private readonly rest: KubeRest;
  private readonly opts: ReflectorOptions;
  private readonly handlers: ((e: ReflectorEvent<T>) => void)[] = [];
  private abort = new AbortController();
  private running = false;
  private resourceVersion = '';
  private resolveSynced!: () => void;
  /** Resolves after the first complete list has been applied to the store. */
  readonly synced: Promise<void>;
  private loop: Promise<void> | undefined;

  constructor(rest: KubeRest, opts: ReflectorOptions) {
    this.rest = rest;
    this.opts = opts;
    this.synced = new Promise((r) => (this.resolveSynced = r));
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
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    for (let page = 0; page < 10_000; page++) {
      const res = await this.rest.get<{
        metadata: { resourceVersion: string; continue?: string };
        items: T[];
      }>(this.opts.path, {
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        limit: this.opts.limit ?? 500,
        continue: cont,
      });
      items.push(...res.items);
      rv = res.metadata.resourceVersion;
      cont = res.metadata.continue;
      if (!cont) break;
    }
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
    this.resourceVersion = rv;
  }

  private apply(e: WatchEvent<T>): void {
    if (e.type === 'ERROR') {
      const st = e.object as unknown as { code?: number; reason?: string; message?: string };
      throw new ApiError(st.code ?? 500, st.reason ?? '', st.message ?? 'watch error', st);
    }
    const obj = e.object;
    if (obj.metadata.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
    if (e.type === 'BOOKMARK') return;
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
    let backoff = MIN_BACKOFF;
    let needList = true;
    while (this.running) {
      try {
        if (needList) {
          await this.list();
          needList = false;
          this.resolveSynced();
        }
        const started = Date.now();
        await this.rest.watch<T>(
          this.opts.path,
          {
            labelSelector: this.opts.labelSelector,
            fieldSelector: this.opts.fieldSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: 240 + Math.floor(Math.random() * 60),
          },
          (e) => this.apply(e),
          this.abort.signal,
        );
        if (Date.now() - started > 5_000) backoff = MIN_BACKOFF;
      } catch (err) {
        if (!this.running) break;
        if (err instanceof ApiError && err.status === 410) {
          this.opts.log.info({ path: this.opts.path }, 'watch expired (410), relisting');
          needList = true;
          continue;
        }
        this.opts.log.warn(
          { err: String(err), path: this.opts.path, backoffMs: backoff },
          'watch failed, retrying',
        );
        await sleep(backoff, this.abort.signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF);
        if (err instanceof ApiError && err.status >= 400 && err.status !== 429) needList = true;
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
