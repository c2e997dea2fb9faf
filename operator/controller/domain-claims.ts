// ClusterDomainClaim policy, the controller (the rules: domain-claim-plan.ts).
// `DomainClaimController` watches DomainMappings, ClusterDomainClaims and Namespaces, recomputes the
// plan on every change (debounced, coalesced) and, only while leading, applies it: creates claims
// (a 409 is re-read, never overwritten), deletes kgw's unused claims with uid/resourceVersion
// preconditions, and writes the verdict on the DomainMapping's status as its own condition type
// `DomainClaimPolicy` (the other condition types belong to Knative's reconciler and are kept as
// they are; a write happens only when the condition changes). A mapping no gateway answers for
// any more (gateway deleted, ingress class changed) gets kgw's condition removed. `decide` answers
// the admission webhook from the same caches and rules.
import type { KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import type { Logger } from '../log.ts';
import { claimRefs, type HostOwners } from '../translate/host-ownership.ts';
import {
  type AdmissionDecision,
  CLAIMS_PATH,
  CLAIM_FOR_ANNOTATION,
  type ClaimPlan,
  type ClaimPlanInput,
  type ClusterDomainClaim,
  DOMAIN_MAPPINGS_PATH,
  type DomainMapping,
  NAMESPACES_PATH,
  type NamespaceObject,
  type Verdict,
  claimPlan,
  conditionsWith,
  conditionsWithout,
  mappingKey,
  mappingVerdict,
} from './domain-claim-plan.ts';

export interface DomainClaimControllerOptions {
  rest: KubeRest;
  log: Logger;
  /** The gateways kgw serves (the engine's valid gateways). */
  gateways: () => readonly KnativeGateway[];
  /** Writes happen only while this is true. */
  leading: () => boolean;
  /** Debounce of change events (default 100 ms). */
  debounceMs?: number;
  /** Full recompute this often even without events (default 60 s; 0: never). */
  resyncMs?: number;
  now?: () => string;
  /**
   * Told which KIngress host-rule refs a claim or namespace change concerns (`host:<h>`,
   * `host:*.<suffix>`, `ns:<namespace>`; see hostOwners()), so they are judged again.
   */
  invalidate?: (refs: string[]) => void;
}

export interface DomainClaimStats {
  /** Passes completed (plan computed and, when leading, applied) after the caches synced. */
  passes: number;
  /** API writes made (claims created/deleted, statuses patched). */
  writes: number;
  /** Writes that failed (retried with backoff). */
  failures: number;
}

const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;
/** Passes run back to back while events keep arriving during a pass, at most. */
const MAX_PASSES_IN_A_ROW = 10;

type DM = DomainMapping & KubeObject;
type CDC = ClusterDomainClaim & KubeObject;
type NS = NamespaceObject & KubeObject;

export class DomainClaimController {
  private readonly o: DomainClaimControllerOptions;
  private readonly mappings: Reflector<DM>;
  private readonly claims: Reflector<CDC>;
  private readonly namespaces: Reflector<NS>;
  /** Resolves once all three caches hold a complete list. */
  readonly synced: Promise<void>;
  private isSynced = false;
  private started = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private again = false;
  private retryMs = 0;
  /** DomainMapping key → the resourceVersion it had when kgw patched its condition, and what it wrote. */
  private readonly handled = new Map<string, { rv: string; sig: string }>();
  private readonly counters: DomainClaimStats = { passes: 0, writes: 0, failures: 0 };

  constructor(o: DomainClaimControllerOptions) {
    this.o = o;
    this.mappings = new Reflector<DM>(o.rest, { path: DOMAIN_MAPPINGS_PATH, log: o.log });
    this.claims = new Reflector<CDC>(o.rest, { path: CLAIMS_PATH, log: o.log });
    this.namespaces = new Reflector<NS>(o.rest, { path: NAMESPACES_PATH, log: o.log });
    for (const r of [this.mappings, this.claims, this.namespaces]) r.onEvent(() => this.schedule());
    this.mappings.onEvent((e) => {
      if (e.type === 'delete') this.handled.delete(mappingKey(e.obj));
    });
    this.synced = Promise.all([this.mappings.synced, this.claims.synced, this.namespaces.synced]).then(() => {
      this.isSynced = true;
    });
    // KIngress hosts: a claim concerns its host and the wildcards over it, a namespace's labels
    // the KIngresses of that namespace (only the changes that can alter a verdict)
    this.claims.onEvent((e) => {
      if (e.type === 'upsert' && e.old && e.old.spec?.namespace === e.obj.spec?.namespace) return;
      o.invalidate?.(claimRefs(e.obj.metadata.name));
    });
    this.namespaces.onEvent((e) => {
      const labels = (n: NS | undefined) => JSON.stringify(Object.entries(n?.metadata.labels ?? {}).sort());
      if (e.type === 'upsert' && e.old && labels(e.old) === labels(e.obj)) return;
      o.invalidate?.([`ns:${e.obj.metadata.name}`]);
    });
    this.ownersSynced = Promise.all([
      this.namespaces.synced,
      new Promise<void>((resolve) => {
        void this.claims.synced.then(resolve);
        this.claimsMissing = resolve;
      }),
    ]).then(() => undefined);
  }

  /** Resolves when the claim API turns out not to be installed (nothing to wait for). */
  private claimsMissing: () => void = () => undefined;
  /** Resolves once the namespaces and claims are listed (or claims are not installed). */
  private readonly ownersSynced: Promise<void>;

  /**
   * Read-only views for the KIngress host rule (translate/host-ownership.ts), from this
   * controller's caches: ClusterDomainClaims and namespace labels.
   */
  hostOwners(): HostOwners & { synced: Promise<void> } {
    return {
      synced: this.ownersSynced,
      claimOwner: (domain) => {
        const c = this.claims.store.get(`/${domain}`);
        return c ? (c.spec?.namespace ?? '') : undefined;
      },
      claimsUnder: (suffix) => {
        const out: { domain: string; namespace: string }[] = [];
        for (const c of this.claims.store.values()) {
          if (c.metadata.name.endsWith(`.${suffix}`))
            out.push({ domain: c.metadata.name, namespace: c.spec?.namespace ?? '' });
        }
        return out;
      },
      namespaceLabels: (ns) => this.namespaces.store.get(`/${ns}`)?.metadata.labels,
    };
  }

  get stats(): Readonly<DomainClaimStats> {
    return { ...this.counters };
  }

  /** Starts watching; returns at once (the CRDs may not be installed yet: the reflectors retry). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const r of [this.mappings, this.claims, this.namespaces]) r.start();
    void this.o.rest.get(CLAIMS_PATH, { limit: 1 }).then(
      () => undefined,
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 404) this.claimsMissing();
      },
    );
    void this.synced.then(() => this.kick());
    const every = this.o.resyncMs ?? 60_000;
    if (every > 0) {
      this.resync = setInterval(() => this.schedule(), every);
      this.resync.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.resync) clearInterval(this.resync);
    this.resync = undefined;
    await Promise.all([this.mappings.stop(), this.claims.stop(), this.namespaces.stop()]);
    await this.busy;
  }

  /** Recompute now (gateways changed, leadership gained). */
  kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(0);
  }

  /** The admission answer for a DomainMapping, from the caches (see `mappingVerdict`). */
  decide(
    domain: string,
    namespace: string,
    annotations: Readonly<Record<string, string>> | undefined,
  ): AdmissionDecision {
    return mappingVerdict(this.input(), domain, namespace, annotations);
  }

  /** The current plan (for inspection). */
  plan(): ClaimPlan {
    return claimPlan(this.input());
  }

  private input(): ClaimPlanInput {
    return {
      mappings: [...this.mappings.store.values()],
      claims: [...this.claims.store.values()],
      namespaces: [...this.namespaces.store.values()],
      gateways: this.o.gateways(),
    };
  }

  private schedule(delay = this.o.debounceMs ?? 100): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delay);
  }

  private async run(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    let failed = false;
    const work = (async () => {
      for (let n = 0; n < MAX_PASSES_IN_A_ROW && !this.stopped; n++) {
        this.again = false;
        failed = !(await this.pass());
        if (!this.again || failed) break;
      }
    })();
    this.busy = work;
    try {
      await work;
    } catch (err) {
      failed = true;
      this.o.log.error({ err: String(err) }, 'domain claim pass failed');
    } finally {
      this.busy = undefined;
    }
    if (failed) {
      this.retryMs = Math.min(Math.max(this.retryMs * 2, MIN_RETRY_MS), MAX_RETRY_MS);
      this.schedule(this.retryMs);
    } else {
      this.retryMs = 0;
      if (this.again) this.schedule();
    }
  }

  /** One computation and, when leading, its application. Returns false when a write failed. */
  private async pass(): Promise<boolean> {
    if (!this.isSynced) return true;
    try {
      return await this.applyPlan(this.plan());
    } finally {
      this.counters.passes++;
    }
  }

  private async applyPlan(plan: ClaimPlan): Promise<boolean> {
    if (!this.o.leading()) return true;
    let ok = true;
    for (const c of plan.create) ok = (await this.create(c)) && ok;
    for (const c of plan.delete) ok = (await this.remove(c)) && ok;
    for (const [key, v] of plan.verdicts) {
      if (this.stopped || !this.o.leading()) break;
      ok = (await this.report(key, v)) && ok;
    }
    for (const key of plan.withdraw) {
      if (this.stopped || !this.o.leading()) break;
      ok = (await this.report(key, undefined)) && ok;
    }
    return ok;
  }

  private failed(err: unknown, fields: Record<string, unknown>, msg: string): false {
    this.counters.failures++;
    this.o.log.warn({ ...fields, err: err instanceof Error ? err.message : String(err) }, msg);
    return false;
  }

  private async create(c: ClusterDomainClaim): Promise<boolean> {
    const name = c.metadata.name;
    const namespace = c.spec?.namespace;
    try {
      this.counters.writes++;
      await this.o.rest.request('POST', CLAIMS_PATH, c);
      this.o.log.info(
        { name, namespace, domainMapping: c.metadata.annotations?.[CLAIM_FOR_ANNOTATION] },
        'ClusterDomainClaim created',
      );
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        // someone claimed it meanwhile: keep theirs; the watch brings it and the next pass reports
        try {
          const cur = await this.o.rest.get<ClusterDomainClaim>(`${CLAIMS_PATH}/${name}`);
          this.o.log.info(
            { name, namespace, owner: cur.spec?.namespace },
            'ClusterDomainClaim already exists; left as it is',
          );
          return true;
        } catch (e) {
          return this.failed(e, { name }, 'reading ClusterDomainClaim after a conflict failed');
        }
      }
      return this.failed(err, { name, namespace }, 'creating ClusterDomainClaim failed');
    }
  }

  private async remove(c: ClusterDomainClaim): Promise<boolean> {
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
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return true;
      if (err instanceof ApiError && err.status === 409) {
        // changed since the cache saw it: the watch brings the new version and the next pass decides
        this.o.log.info({ name }, 'ClusterDomainClaim changed before deletion; re-evaluating');
        return true;
      }
      return this.failed(err, { name }, 'deleting ClusterDomainClaim failed');
    }
  }

  /** Writes verdict `v` as kgw's condition on the mapping, or removes that condition (undefined). */
  private async report(key: string, v: Verdict | undefined): Promise<boolean> {
    const dm = this.mappings.store.get(key);
    if (!dm || dm.metadata.deletionTimestamp !== undefined) return true;
    const now = (this.o.now ?? (() => new Date().toISOString()))();
    const conditions =
      v === undefined
        ? conditionsWithout(dm.status?.conditions)
        : conditionsWith(dm.status?.conditions, v, now);
    if (conditions === undefined) return true;
    const rv = dm.metadata.resourceVersion ?? '';
    const sig = v === undefined ? '' : `${v.reason}\n${v.message}`;
    const h = this.handled.get(key);
    if (h && h.rv === rv && h.sig === sig) return true; // written; the watch lags
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
      this.handled.set(key, { rv, sig });
      if (v === undefined) {
        this.o.log.info(
          { namespace, name },
          'DomainMapping no gateway answers for: domain claim condition removed',
        );
      } else {
        const log = v.allowed ? this.o.log.info.bind(this.o.log) : this.o.log.warn.bind(this.o.log);
        log({ namespace, name, reason: v.reason, detail: v.message }, 'DomainMapping domain claim verdict');
      }
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return true;
      // changed meanwhile: the watch brings the newer version, and its event another pass
      if (err instanceof ApiError && err.status === 409) return true;
      return this.failed(err, { namespace, name }, 'writing DomainMapping status failed');
    }
  }
}
