// ClusterDomainClaim policy, the writes (the rules: domain-claim-plan.ts; the caches and passes:
// domain-claims.ts). `apply(plan)` turns a plan into one write per object — a claim to create or
// delete (key `claim:<domain>`), a DomainMapping whose `DomainClaimPolicy` condition to set or
// remove (key `mapping:<namespace>/<name>`) — and hands the keys to a WorkQueue (kube/workqueue.ts):
// a failed write is retried for that key alone with its own backoff, so one claim the API server
// keeps refusing never delays the others. A key is queued when its write is new or changed; one
// still waiting for its retry keeps its backoff however often the plan is recomputed. A write the
// newest plan no longer wants is dropped. Claims are created without overwriting (a 409 is re-read
// and left as it is), deleted with uid/resourceVersion preconditions; a status write replaces the
// conditions list with a resourceVersion compare-and-swap and happens only when kgw's condition
// changes. Nothing is written while not leading.
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../log.ts';
import {
  CLAIMS_PATH,
  CLAIM_FOR_ANNOTATION,
  type ClaimPlan,
  type ClusterDomainClaim,
  type DomainMapping,
  type DomainMappingCondition,
  type Verdict,
  conditionsWith,
  conditionsWithout,
} from './domain-claim-plan.ts';

/** One write of the plan. */
export type ClaimWrite =
  | { kind: 'create'; claim: ClusterDomainClaim }
  | { kind: 'delete'; claim: ClusterDomainClaim }
  /** kgw's condition on a DomainMapping (`<namespace>/<name>`): set to `verdict`, or removed. */
  | { kind: 'report'; mapping: string; verdict: Verdict | undefined };

export interface DomainClaimWriterOptions {
  rest: KubeRest;
  log: Logger;
  /** The cached DomainMapping of a key (`<namespace>/<name>`). */
  mapping(key: string): DomainMapping | undefined;
  /** Writes happen only while this is true. */
  leading(): boolean;
  now?: () => string;
  /** First retry delay of a failed write (default 1 s), doubling per failure up to maxRetryMs (30 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

export interface DomainClaimWriteStats {
  /** API writes made (claims created/deleted, statuses patched). */
  writes: number;
  /** Writes that failed (retried with backoff). */
  failures: number;
}

/** The work-queue key of a write. */
export function writeKey(w: ClaimWrite): string {
  return w.kind === 'report' ? `mapping:${w.mapping}` : `claim:${w.claim.metadata.name}`;
}

export class DomainClaimWriter {
  private readonly o: DomainClaimWriterOptions;
  private readonly queue: WorkQueue;
  /** Key → the write the newest plan wants and its signature (until done or no longer wanted). */
  private readonly wanted = new Map<string, { write: ClaimWrite; sig: string }>();
  /** DomainMapping key → the resourceVersion it had when kgw patched its condition, and what it wrote. */
  private readonly handled = new Map<string, { rv: string; sig: string }>();
  private readonly counters: DomainClaimWriteStats = { writes: 0, failures: 0 };

  constructor(o: DomainClaimWriterOptions) {
    this.o = o;
    this.queue = new WorkQueue({
      name: 'domain-claims',
      log: o.log,
      baseDelayMs: o.retryMs ?? 1_000,
      maxDelayMs: o.maxRetryMs ?? 30_000,
      process: (key) => this.process(key),
    });
  }

  get stats(): Readonly<DomainClaimWriteStats> {
    return { ...this.counters };
  }

  /** Writes queued, running or waiting for a retry. */
  get pending(): number {
    return this.wanted.size;
  }

  /** Queues the writes `plan` needs; drops those it no longer needs. */
  apply(plan: ClaimPlan): void {
    const next = new Map<string, ClaimWrite>();
    const want = (w: ClaimWrite) => next.set(writeKey(w), w);
    for (const claim of plan.create) want({ kind: 'create', claim });
    for (const claim of plan.delete) want({ kind: 'delete', claim });
    for (const [mapping, verdict] of plan.verdicts) {
      if (this.conditions(mapping, verdict)) want({ kind: 'report', mapping, verdict });
    }
    for (const mapping of plan.withdraw) {
      if (this.conditions(mapping, undefined)) want({ kind: 'report', mapping, verdict: undefined });
    }
    for (const key of [...this.wanted.keys()]) {
      if (next.has(key)) continue;
      this.wanted.delete(key);
      this.queue.forget(key);
    }
    for (const [key, write] of next) {
      const sig = this.signature(write);
      // unchanged: queued already, or waiting for its retry (which keeps its backoff)
      if (this.wanted.get(key)?.sig === sig) continue;
      this.wanted.set(key, { write, sig });
      this.queue.add(key);
    }
  }

  /** The DomainMapping is gone: nothing more to write to it. */
  forgetMapping(mapping: string): void {
    this.handled.delete(mapping);
    const key = `mapping:${mapping}`;
    this.wanted.delete(key);
    this.queue.forget(key);
  }

  /** Resolves once nothing is queued or running (retries waiting on their timer do not count). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Drops every queued write and retry; resolves once the running ones have finished. */
  async stop(): Promise<void> {
    await this.queue.stop();
    this.wanted.clear();
  }

  /** What identifies a write: a changed one is queued at once, even while its key waits to retry. */
  private signature(w: ClaimWrite): string {
    const m = w.kind === 'report' ? undefined : w.claim.metadata;
    switch (w.kind) {
      case 'create':
        return `create\n${w.claim.spec?.namespace ?? ''}\n${m?.annotations?.[CLAIM_FOR_ANNOTATION] ?? ''}`;
      case 'delete':
        return `delete\n${m?.uid ?? ''}\n${m?.resourceVersion ?? ''}`;
      case 'report': {
        const rv = this.o.mapping(w.mapping)?.metadata.resourceVersion ?? '';
        return `report\n${rv}\n${verdictSig(w.verdict)}`;
      }
    }
  }

  private async process(key: string): Promise<void> {
    const entry = this.wanted.get(key);
    if (entry === undefined) return;
    if (!this.o.leading()) {
      // a new leader recomputes the plan (the controller's kick)
      this.wanted.delete(key);
      return;
    }
    const w = entry.write;
    try {
      if (w.kind === 'create') await this.create(w.claim);
      else if (w.kind === 'delete') await this.remove(w.claim);
      else await this.report(w.mapping, w.verdict);
    } catch (err) {
      this.counters.failures++;
      throw err;
    }
    if (this.wanted.get(key) === entry) this.wanted.delete(key);
  }

  private async create(c: ClusterDomainClaim): Promise<void> {
    const name = c.metadata.name;
    const namespace = c.spec?.namespace;
    try {
      this.counters.writes++;
      await this.o.rest.request('POST', CLAIMS_PATH, c);
      this.o.log.info(
        { name, namespace, domainMapping: c.metadata.annotations?.[CLAIM_FOR_ANNOTATION] },
        'ClusterDomainClaim created',
      );
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      // someone claimed it meanwhile: keep theirs; the watch brings it and the next pass reports
      const cur = await this.o.rest.get<ClusterDomainClaim>(`${CLAIMS_PATH}/${name}`);
      this.o.log.info(
        { name, namespace, owner: cur.spec?.namespace },
        'ClusterDomainClaim already exists; left as it is',
      );
    }
  }

  private async remove(c: ClusterDomainClaim): Promise<void> {
    const name = c.metadata.name;
    const preconditions: Record<string, string> = {};
    if (c.metadata.uid !== undefined) preconditions.uid = c.metadata.uid;
    // the resourceVersion too: a claim relabelled meanwhile (no longer kgw's) is not deleted
    if (c.metadata.resourceVersion !== undefined) preconditions.resourceVersion = c.metadata.resourceVersion;
    try {
      this.counters.writes++;
      await this.o.rest.request('DELETE', `${CLAIMS_PATH}/${name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions,
      });
      this.o.log.info({ name, namespace: c.spec?.namespace }, 'unused ClusterDomainClaim deleted');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      if (err instanceof ApiError && err.status === 409) {
        // changed since the cache saw it: the watch brings the new version and the next pass decides
        this.o.log.info({ name }, 'ClusterDomainClaim changed before deletion; re-evaluating');
        return;
      }
      throw err;
    }
  }

  /** The mapping's conditions with kgw's set to `v` (removed: undefined), when a write is due. */
  private conditions(key: string, v: Verdict | undefined): DomainMappingCondition[] | undefined {
    const dm = this.o.mapping(key);
    if (!dm || dm.metadata.deletionTimestamp !== undefined) return undefined;
    const h = this.handled.get(key);
    if (h && h.rv === (dm.metadata.resourceVersion ?? '') && h.sig === verdictSig(v)) return undefined; // written; the watch lags
    const now = (this.o.now ?? (() => new Date().toISOString()))();
    return v === undefined
      ? conditionsWithout(dm.status?.conditions)
      : conditionsWith(dm.status?.conditions, v, now);
  }

  /** Writes verdict `v` as kgw's condition on the mapping, or removes that condition (undefined). */
  private async report(key: string, v: Verdict | undefined): Promise<void> {
    const conditions = this.conditions(key, v);
    const dm = this.o.mapping(key);
    if (conditions === undefined || dm === undefined) return;
    const rv = dm.metadata.resourceVersion ?? '';
    const namespace = dm.metadata.namespace ?? '';
    const name = dm.metadata.name;
    try {
      this.counters.writes++;
      await this.o.rest.request(
        'PATCH',
        `/apis/serving.knative.dev/v1beta1/namespaces/${namespace}/domainmappings/${name}/status`,
        // the resourceVersion makes this a compare-and-swap: the conditions list is replaced whole,
        // so a concurrent write by Knative's reconciler must not be lost
        { metadata: { resourceVersion: rv }, status: { conditions } },
        'application/merge-patch+json',
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
      // changed meanwhile: the watch brings the newer version, and its event another pass
      if (err instanceof ApiError && err.status === 409) return;
      throw err;
    }
    this.handled.set(key, { rv, sig: verdictSig(v) });
    if (v === undefined) {
      this.o.log.info(
        { namespace, name },
        'DomainMapping no gateway answers for: domain claim condition removed',
      );
    } else {
      const log = v.allowed ? this.o.log.info.bind(this.o.log) : this.o.log.warn.bind(this.o.log);
      log({ namespace, name, reason: v.reason, detail: v.message }, 'DomainMapping domain claim verdict');
    }
  }
}

function verdictSig(v: Verdict | undefined): string {
  return v === undefined ? '' : `${v.reason}\n${v.message}`;
}
