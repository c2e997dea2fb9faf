// RoutePolicies in the operator: watches them and DomainMappings, resolves which features are in
// force on which host (policy/resolve.ts) when something they depend on changed, tells the engine
// which KIngresses to translate again, and writes each policy's status (Accepted, Programmed,
// targets) through a work queue, with an Event per change of outcome.
import {
  POLICY_API_VERSION,
  POLICY_CONDITION_ACCEPTED,
  POLICY_CONDITION_PROGRAMMED,
  POLICY_GROUP,
  POLICY_KIND,
  POLICY_PLURAL,
  POLICY_VERSION,
  type RoutePolicy,
  type RoutePolicyCondition,
  type RoutePolicyStatus,
} from '../api/routepolicy.ts';
import { decodeSecretData } from '../api/core.ts';
import type { EventRecorder } from '../kube/events.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../log.ts';
import type { SecretData } from '../policy/credentials.ts';
import {
  attachmentFingerprint,
  resolvePolicies,
  type DomainMappingView,
  type IngressView,
  type PolicyOutcome,
  type PolicyResolution,
} from '../policy/resolve.ts';
import { programmedVerdict, type ProgrammedView } from '../policy/programmed.ts';
import { setCondition } from '../status/condition.ts';
import type { HostPolicyIR } from '../translate/ir.ts';

export const POLICIES_PATH = `/apis/${POLICY_GROUP}/${POLICY_VERSION}/${POLICY_PLURAL}`;
const DOMAIN_MAPPINGS_PATH = '/apis/serving.knative.dev/v1beta1/domainmappings';

/** Whether policies are programmed on the Envoys: computed by the engine, which knows the fleets. */
export interface Programmed {
  ok: boolean;
  reason: string;
  message: string;
}

/**
 * The credentials Secrets (`<ns>/<name>`) a policy names (apiKeyAuth's and basicAuth's
 * credentialsFrom), read from any JSON: a policy the schema refuses still has its Secrets watched.
 */
export function credentialSecrets(p: { metadata: { namespace?: string }; spec?: unknown }): string[] {
  const ns = p.metadata.namespace ?? '';
  const spec = p.spec as
    Partial<Record<'apiKeyAuth' | 'basicAuth', { credentialsFrom?: unknown }>> | undefined;
  const out = new Set<string>();
  for (const from of [spec?.apiKeyAuth?.credentialsFrom, spec?.basicAuth?.credentialsFrom]) {
    if (!Array.isArray(from)) continue;
    for (const c of from as { secretRef?: { name?: unknown } }[]) {
      const name = c?.secretRef?.name;
      if (typeof name === 'string' && name !== '') out.add(`${ns}/${name}`);
    }
  }
  return [...out];
}

/** What the controller reads of the referenced Secrets (kube/referenced-secrets.ts). */
export interface PolicySecrets {
  get(ns: string, name: string): { data?: Record<string, string> } | undefined;
  isPending(key: string): boolean;
  exists(key: string): boolean;
}

export interface RoutePoliciesOptions {
  rest: KubeRest;
  log: Logger;
  secrets: PolicySecrets;
  events?: EventRecorder;
  /** A RoutePolicy or DomainMapping changed: the engine schedules a flush. */
  onChange(): void;
  now?: () => string;
}

type PolicyObject = RoutePolicy & KubeObject;

interface DomainMappingObject extends KubeObject {
  spec?: { ref?: { kind?: string; name?: string; namespace?: string } };
}

const notFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;

export class RoutePolicies {
  readonly policies: Reflector<PolicyObject>;
  readonly domainMappings: Reflector<DomainMappingObject>;
  private readonly o: RoutePoliciesOptions;
  private needsResolve = true;
  private resolution: PolicyResolution = { attached: new Map(), outcomes: new Map() };
  private prints = new Map<string, string>();
  private readonly queue: WorkQueue;
  private readonly programmed = new Map<string, Programmed>();
  private leading = true;
  private wantedCache: Set<string> | undefined;

  constructor(o: RoutePoliciesOptions) {
    this.o = o;
    this.policies = new Reflector<PolicyObject>(o.rest, { path: POLICIES_PATH, log: o.log, quiet: notFound });
    this.domainMappings = new Reflector<DomainMappingObject>(o.rest, {
      path: DOMAIN_MAPPINGS_PATH,
      log: o.log,
      quiet: notFound,
      // only the reference is read
      transform: (dm) => ({
        metadata: dm.metadata,
        ...(dm.spec?.ref ? { spec: { ref: dm.spec.ref } } : {}),
      }),
    });
    const changed = () => {
      this.needsResolve = true;
      o.onChange();
    };
    this.policies.onEvent((e) => {
      this.wantedCache = undefined;
      // our own status writes change no generation: nothing to resolve again
      if (e.type === 'upsert' && e.old && e.old.metadata.generation === e.obj.metadata.generation) return;
      if (e.type === 'delete') this.queue.forget(keyOf(e.obj));
      changed();
    });
    this.domainMappings.onEvent(changed);
    this.queue = new WorkQueue({ name: 'routepolicy-status', log: o.log, process: (k) => this.write(k) });
  }

  start(): void {
    this.policies.start();
    this.domainMappings.start();
  }

  /**
   * Resolves once both lists arrived, or an API is not installed (404), or after `boundMs`: a
   * cluster without the RoutePolicy CRD (or Knative's DomainMapping) still starts.
   */
  async synced(boundMs = 10_000): Promise<void> {
    const done = <T extends KubeObject>(r: Reflector<T>, ok: { v: boolean }) => {
      void r.synced.then(() => (ok.v = true));
      return () => ok.v || notFound(r.lastError);
    };
    const a = done(this.policies, { v: false });
    const b = done(this.domainMappings, { v: false });
    const deadline = Date.now() + boundMs;
    for (let i = 0; i < 1000 && Date.now() < deadline && !(a() && b()); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.policies.stop(), this.domainMappings.stop(), this.queue.stop()]);
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) for (const k of this.resolution.outcomes.keys()) this.queue.add(k);
  }

  /** Something policies read changed (a KIngress's hosts or labels, a credentials Secret). */
  markDirty(): void {
    this.needsResolve = true;
  }

  /** Whether something policies read changed since they were last resolved. */
  get dirty(): boolean {
    return this.needsResolve;
  }

  /** Whether any RoutePolicy exists (KIngress changes matter only then). */
  get active(): boolean {
    return this.policies.store.size > 0 || this.resolution.outcomes.size > 0;
  }

  /** The credentials Secrets (`<ns>/<name>`) any policy names: their data is kept. */
  wantedSecrets(): string[] {
    return [...this.wanted()];
  }

  /** Whether a Secret is one policies read. */
  usesSecret(key: string): boolean {
    return this.wanted().has(key);
  }

  /** wantedSecrets, computed once per change of the RoutePolicies (not per flush or Secret event). */
  private wanted(): Set<string> {
    if (this.wantedCache) return this.wantedCache;
    const out = new Set<string>();
    for (const p of this.policies.store.values()) for (const k of credentialSecrets(p)) out.add(k);
    this.wantedCache = out;
    return out;
  }

  /** The features on a host of a KIngress. */
  hostPolicy(ingressKey: string, host: string): HostPolicyIR | undefined {
    return this.resolution.attached.get(ingressKey)?.get(host);
  }

  /** The fingerprint of what is attached to a KIngress (the engine compares it with what it translated). */
  fingerprint(ingressKey: string): string {
    return this.prints.get(ingressKey) ?? '';
  }

  outcomes(): IterableIterator<PolicyOutcome> {
    return this.resolution.outcomes.values();
  }

  /**
   * Resolves again if something changed: returns the KIngresses whose attached features changed, or
   * undefined when nothing was resolved (not dirty, or a credentials Secret's data is on its way:
   * its arrival marks the policies dirty again, and auth never turns on with a half-read list).
   */
  refresh(ingresses: () => Iterable<IngressView>): string[] | undefined {
    if (!this.needsResolve) return undefined;
    if (this.wantedSecrets().some((k) => this.o.secrets.isPending(k))) return undefined;
    this.needsResolve = false;
    const secret = (ns: string, name: string): SecretData => {
      const s = this.o.secrets.get(ns, name);
      if (s?.data !== undefined) return { found: true, data: decodeSecretData(s.data) };
      return this.o.secrets.exists(`${ns}/${name}`) ? { found: true, data: {} } : { found: false };
    };
    const domainMappings: DomainMappingView[] = [...this.domainMappings.store.values()].map((dm) => ({
      namespace: dm.metadata.namespace ?? '',
      name: dm.metadata.name,
      ref: dm.spec?.ref ?? {},
    }));
    const next = resolvePolicies({
      policies: [...this.policies.store.values()],
      ingresses: [...ingresses()],
      domainMappings,
      secret,
    });
    const changed: string[] = [];
    const prints = new Map<string, string>();
    for (const [k, hosts] of next.attached) prints.set(k, attachmentFingerprint(hosts));
    for (const k of new Set([...prints.keys(), ...this.prints.keys()])) {
      if ((prints.get(k) ?? '') !== (this.prints.get(k) ?? '')) changed.push(k);
    }
    const before = this.resolution.outcomes;
    this.resolution = next;
    this.prints = prints;
    for (const [k, o] of next.outcomes) {
      const old = before.get(k);
      if (!old || old.reason !== o.reason || old.message !== o.message) {
        this.o.log.info(
          { policy: k, accepted: o.accepted, reason: o.reason, message: o.message },
          'RoutePolicy resolved',
        );
      }
      this.queue.add(k);
    }
    for (const k of before.keys()) if (!next.outcomes.has(k)) this.programmed.delete(k);
    return changed;
  }

  /**
   * Each policy's Programmed condition from the KIngresses it covers and what the fleets' Envoys
   * acknowledged (policy/programmed.ts); written when it changes.
   */
  updateProgrammed(view: Omit<ProgrammedView, 'currentPrint'>): void {
    if (!this.active) return;
    for (const o of this.outcomes()) {
      if (o.ingressKeys.length === 0) continue;
      this.setProgrammed(o.key, programmedVerdict(o, { ...view, currentPrint: (k) => this.fingerprint(k) }));
    }
  }

  /** The verdict on whether a policy runs on every Envoy; written when it changes. */
  setProgrammed(key: string, p: Programmed): void {
    const old = this.programmed.get(key);
    if (old && old.ok === p.ok && old.reason === p.reason && old.message === p.message) return;
    this.programmed.set(key, p);
    this.queue.add(key);
  }

  async idle(): Promise<void> {
    await this.queue.idle();
  }

  private desiredStatus(p: PolicyObject, o: PolicyOutcome): RoutePolicyStatus {
    const now = (this.o.now ?? (() => new Date().toISOString()))();
    const generation = p.metadata.generation ?? 0;
    let conditions: RoutePolicyCondition[] = [...(p.status?.conditions ?? [])];
    conditions = setCondition<RoutePolicyCondition>(
      conditions,
      {
        type: POLICY_CONDITION_ACCEPTED,
        status: o.accepted ? 'True' : 'False',
        reason: o.reason,
        message: o.message,
        observedGeneration: generation,
      },
      now,
    );
    const prog = this.programmed.get(o.key) ?? {
      ok: false,
      reason: 'Pending',
      message: 'waiting for the Envoys of its fleets to acknowledge the configuration',
    };
    const programmed: Programmed =
      o.ingressKeys.length === 0
        ? { ok: false, reason: 'NotProgrammed', message: 'in force on no host' }
        : prog;
    conditions = setCondition<RoutePolicyCondition>(
      conditions,
      {
        type: POLICY_CONDITION_PROGRAMMED,
        status: programmed.ok ? 'True' : 'False',
        reason: programmed.reason,
        message: programmed.message,
        observedGeneration: generation,
      },
      now,
    );
    return { observedGeneration: generation, conditions, targets: o.targets, hostCount: o.hostCount };
  }

  private async write(key: string): Promise<void> {
    const p = this.policies.store.get(key);
    const o = this.resolution.outcomes.get(key);
    if (!this.leading || !p || !o) return;
    const status = this.desiredStatus(p, o);
    if (JSON.stringify(status) === JSON.stringify(p.status ?? {})) return;
    const ns = p.metadata.namespace ?? '';
    try {
      await this.o.rest.request(
        'PATCH',
        `/apis/${POLICY_GROUP}/${POLICY_VERSION}/namespaces/${ns}/${POLICY_PLURAL}/${p.metadata.name}/status`,
        { status },
        'application/merge-patch+json',
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return; // deleted meanwhile
      throw err;
    }
    this.recordTransition(p, status);
  }

  private recordTransition(p: PolicyObject, status: RoutePolicyStatus): void {
    const events = this.o.events;
    if (!events) return;
    const find = (s: RoutePolicyStatus | undefined, t: string) => s?.conditions?.find((c) => c.type === t);
    const obj = {
      apiVersion: POLICY_API_VERSION,
      kind: POLICY_KIND,
      metadata: {
        name: p.metadata.name,
        ...(p.metadata.namespace !== undefined ? { namespace: p.metadata.namespace } : {}),
        ...(p.metadata.uid !== undefined ? { uid: p.metadata.uid } : {}),
      },
    };
    for (const type of [POLICY_CONDITION_ACCEPTED, POLICY_CONDITION_PROGRAMMED]) {
      const before = find(p.status, type);
      const after = find(status, type);
      if (!after || (before?.status === after.status && before.reason === after.reason)) continue;
      if (after.status === 'True') events.record(obj, 'Normal', after.reason, after.message);
      else if (after.reason !== 'Pending') events.record(obj, 'Warning', after.reason, after.message);
    }
  }
}

function keyOf(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
