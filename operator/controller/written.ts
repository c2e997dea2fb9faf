// The freshest known status of each KIngress. The informer cache lags the operator's own status
// writes (their watch events arrive later), so until the cache shows our last write, that
// write's result is the current status. Deciding from the cache alone once skipped a "Ready"
// write that followed a "probing" one (the cache still showed the earlier Ready), leaving the
// KIngress Unknown for good.
import type { IngressStatus, KIngress } from '../api/kingress.ts';

export class WrittenStatus {
  private readonly written = new Map<string, { rv: string; status: IngressStatus }>();

  /** Our PATCH of `key` returned this object. */
  record(key: string, rv: string, status: IngressStatus): void {
    this.written.set(key, { rv, status });
  }

  /** A watch event (or deletion) of `key`: once it carries our write, the cache has caught up. */
  observe(key: string, obj: KIngress | undefined): void {
    if (!obj || this.written.get(key)?.rv === obj.metadata.resourceVersion) this.written.delete(key);
  }

  /** The current status of `key`, given the cached object. */
  current(key: string, cached: KIngress): IngressStatus | undefined {
    const w = this.written.get(key);
    if (!w) return cached.status;
    // resourceVersions are opaque, but the API server's are etcd revisions: when both are
    // integers and the cache's is not older, the cache is fresh (e.g. after a relist).
    const c = Number(cached.metadata.resourceVersion);
    const ours = Number(w.rv);
    if (Number.isSafeInteger(c) && Number.isSafeInteger(ours) && c >= ours) {
      this.written.delete(key);
      return cached.status;
    }
    return w.status;
  }

  get size(): number {
    return this.written.size;
  }
}
