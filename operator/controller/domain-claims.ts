// ClusterDomainClaim policy, the controller (the rules: domain-claim-plan.ts; the writes:
// domain-claim-writer.ts). `DomainClaimController` watches DomainMappings, ClusterDomainClaims and
// Namespaces, recomputes the plan on every change (debounced) and every resyncMs and, only while
// leading, hands it to the writer: claims created (a 409 is re-read, never overwritten), kgw's
// unused claims deleted with uid/resourceVersion preconditions, and the verdict written on the
// DomainMapping's status as its own condition type `DomainClaimPolicy` (the other condition types
// belong to Knative's reconciler and are kept as they are; a write happens only when the condition
// changes). Each write is one key of a work queue: a failed one is retried with its own backoff and
// never holds up the others. A mapping no gateway answers for any more (gateway deleted, ingress
// class changed) gets kgw's condition removed. `decide` answers the admission webhook from the
// same caches and rules.
import type { KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import type { Logger } from '../log.ts';
import { claimRefs, type HostOwners } from '../translate/host-ownership.ts';
import {
  type AdmissionDecision,
  CLAIMS_PATH,
  type ClaimPlan,
  type ClaimPlanInput,
  type ClusterDomainClaim,
  DOMAIN_MAPPINGS_PATH,
  type DomainMapping,
  NAMESPACES_PATH,
  type NamespaceObject,
  claimPlan,
  mappingKey,
  mappingVerdict,
} from './domain-claim-plan.ts';
import { DomainClaimWriter, type DomainClaimWriterOptions } from './domain-claim-writer.ts';

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
  /** Backoff of a failed write (DomainClaimWriterOptions: default 1 s doubling to 30 s). */
  retryMs?: DomainClaimWriterOptions['retryMs'];
  maxRetryMs?: DomainClaimWriterOptions['maxRetryMs'];
  /**
   * Told which KIngress host-rule refs a claim or namespace change concerns (`host:<h>`,
   * `host:*.<suffix>`, `ns:<namespace>`; see hostOwners()), so they are judged again.
   */
  invalidate?: (refs: string[]) => void;
}

export interface DomainClaimStats {
  /** Passes completed (plan computed and, when leading, handed to the writer) after the caches synced. */
  passes: number;
  /** API writes made (claims created/deleted, statuses patched). */
  writes: number;
  /** Writes that failed (each retried with its own backoff). */
  failures: number;
}

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
  /** The debounce of the next pass. */
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  /** Claims and DomainMapping statuses, one work-queue key each. */
  private readonly writer: DomainClaimWriter;
  private passes = 0;

  constructor(o: DomainClaimControllerOptions) {
    this.o = o;
    this.mappings = new Reflector<DM>(o.rest, { path: DOMAIN_MAPPINGS_PATH, log: o.log });
    this.claims = new Reflector<CDC>(o.rest, { path: CLAIMS_PATH, log: o.log });
    this.namespaces = new Reflector<NS>(o.rest, { path: NAMESPACES_PATH, log: o.log });
    this.writer = new DomainClaimWriter({
      rest: o.rest,
      log: o.log,
      mapping: (key) => this.mappings.store.get(key),
      leading: () => o.leading(),
      ...(o.now ? { now: o.now } : {}),
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
      ...(o.maxRetryMs !== undefined ? { maxRetryMs: o.maxRetryMs } : {}),
    });
    for (const r of [this.mappings, this.claims, this.namespaces]) r.onEvent(() => this.schedule());
    this.mappings.onEvent((e) => {
      if (e.type === 'delete') this.writer.forgetMapping(mappingKey(e.obj));
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
    return { passes: this.passes, ...this.writer.stats };
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
    await this.writer.stop();
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
      this.pass();
    }, delay);
  }

  /** One computation and, when leading, its hand-over to the writer (which writes in the background). */
  private pass(): void {
    if (!this.isSynced || this.stopped) return;
    try {
      if (this.o.leading()) this.writer.apply(this.plan());
    } catch (err) {
      // a bug in the rules: the next event or resync tries again
      this.o.log.error({ err: String(err) }, 'domain claim pass failed');
    } finally {
      this.passes++;
    }
  }
}
