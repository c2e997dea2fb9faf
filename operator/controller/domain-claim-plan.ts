// ClusterDomainClaim policy, the pure core: which namespace may map which domain with a
// DomainMapping, and the claims kgw creates for the mappings its policy allows.
//
// The gateway whose policy applies to a DomainMapping is the one whose ingress class the mapping
// names (`networking.knative.dev/ingress.class`), else the gateway that configures Knative. A
// mapping no gateway answers for is left alone.
//
// `claimPlan` and `mappingVerdict` decide, per DomainMapping (its domain is its name):
//   - a ClusterDomainClaim named like the domain that belongs to another namespace → denied
//     (`DomainClaimedByOtherNamespace`);
//   - else the gateway's `domainClaims` rules deny → denied (`DomainClaimPolicyDenied`);
//   - else allowed, and with `autoCreate` a missing claim is created for the mapping's namespace.
//     Mappings of one domain in several namespaces are taken oldest first (creationTimestamp, then
//     namespace/name), so the winner of a not-yet-claimed domain is deterministic.
// Claims carrying kgw's managed-by label are deleted once no DomainMapping of their namespace uses
// their domain; claims kgw did not create are never deleted. domain-claims.ts applies the plan.
import { stamp } from '../status/condition.ts';
import { claimDecision } from '../api/knativegateway-claims.ts';
import {
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  withGatewayDefaults,
  type KnativeGateway,
  type ResolvedDomainClaims,
} from '../api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, type ObjectMeta } from '../api/kingress.ts';
import { resolveGateways } from '../api/gateway-selection.ts';
import { byCodePoint } from '../order.ts';

export const DOMAIN_MAPPINGS_PATH = '/apis/serving.knative.dev/v1beta1/domainmappings';
export const CLAIMS_PATH = '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims';
export const NAMESPACES_PATH = '/api/v1/namespaces';
export const CLAIM_API_VERSION = 'networking.internal.knative.dev/v1alpha1';
export const CLAIM_KIND = 'ClusterDomainClaim';
/** Annotation on a claim kgw created: the DomainMapping (`<namespace>/<name>`) it was created for. */
export const CLAIM_FOR_ANNOTATION = 'operator.kgw.dev/domain-mapping';
/** The DomainMapping condition type kgw owns. */
export const CONDITION_TYPE = 'DomainClaimPolicy';
export const REASON_ALLOWED = 'Allowed';
export const REASON_CLAIMED = 'DomainClaimedByOtherNamespace';
export const REASON_POLICY = 'DomainClaimPolicyDenied';

export interface DomainMappingCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  [k: string]: unknown;
}

export interface DomainMapping {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: { conditions?: DomainMappingCondition[]; [k: string]: unknown };
}

export interface ClusterDomainClaim {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: { namespace?: string };
}

export interface NamespaceObject {
  metadata: ObjectMeta;
}

export interface Verdict {
  allowed: boolean;
  /** `Allowed`, `DomainClaimedByOtherNamespace` or `DomainClaimPolicyDenied`. */
  reason: string;
  message: string;
}

export interface ClaimPlanInput {
  mappings: readonly DomainMapping[];
  claims: readonly ClusterDomainClaim[];
  namespaces: readonly NamespaceObject[];
  /** The gateways kgw serves (valid ones). */
  gateways: readonly KnativeGateway[];
}

export interface ClaimPlan {
  /** Claims to create (kgw's label and annotation set). */
  create: ClusterDomainClaim[];
  /** kgw-created claims no DomainMapping of their namespace uses any more. */
  delete: ClusterDomainClaim[];
  /**
   * Verdict per DomainMapping (`<namespace>/<name>`) a gateway answers for. Mappings of no
   * gateway, being deleted, or in a namespace not seen yet (labels unknown) have none.
   */
  verdicts: Map<string, Verdict>;
  /**
   * Live mappings that still carry kgw's condition although no gateway answers for them any more
   * (the gateway was deleted, or the mapping's ingress class changed): the condition is removed.
   */
  withdraw: string[];
}

export function mappingKey(dm: { metadata: ObjectMeta }): string {
  return `${dm.metadata.namespace ?? ''}/${dm.metadata.name}`;
}

function isKgwClaim(c: ClusterDomainClaim): boolean {
  return c.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_KGW;
}

/** Oldest first: creationTimestamp, then namespace, then name. */
function olderFirst(a: DomainMapping, b: DomainMapping): number {
  return (
    byCodePoint(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '') ||
    byCodePoint(a.metadata.namespace ?? '', b.metadata.namespace ?? '') ||
    byCodePoint(a.metadata.name, b.metadata.name)
  );
}

interface GatewayPolicy {
  gateway: string;
  policy: ResolvedDomainClaims;
}

/** Resolves which gateway's policy applies to a mapping (by its annotations). */
class GatewayIndex {
  private readonly byClass = new Map<string, GatewayPolicy>();
  private readonly owner: GatewayPolicy | undefined;

  constructor(gateways: readonly KnativeGateway[]) {
    const selection = resolveGateways(gateways);
    const policyOf = (g: KnativeGateway): GatewayPolicy => ({
      gateway: g.metadata.name,
      policy: withGatewayDefaults(g.spec).domainClaims,
    });
    for (const [cls, g] of selection.byClass) this.byClass.set(cls, policyOf(g));
    this.owner = selection.knativeOwner && policyOf(selection.knativeOwner);
  }

  forAnnotations(annotations: Readonly<Record<string, string>> | undefined): GatewayPolicy | undefined {
    const cls = annotations?.[INGRESS_CLASS_ANNOTATION];
    if (cls !== undefined && cls !== '') return this.byClass.get(cls);
    return this.owner;
  }
}

/** Which gateway's policy applies to a DomainMapping with these annotations (undefined: none). */
export function gatewayForMapping(
  annotations: Readonly<Record<string, string>> | undefined,
  gateways: readonly KnativeGateway[],
): string | undefined {
  return new GatewayIndex(gateways).forAnnotations(annotations)?.gateway;
}

interface Context {
  gateways: GatewayIndex;
  claims: Map<string, ClusterDomainClaim>;
  labels: Map<string, Record<string, string>>;
}

function context(input: Omit<ClaimPlanInput, 'mappings'>): Context {
  return {
    gateways: new GatewayIndex(input.gateways),
    claims: new Map(input.claims.map((c) => [c.metadata.name, c])),
    labels: new Map(input.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}])),
  };
}

function claimedMessage(domain: string, owner: string): string {
  return `domain ${domain} is claimed by namespace ${owner} (ClusterDomainClaim ${domain})`;
}

/**
 * Verdicts for the live mappings of one domain, oldest first, and the claim to create if any.
 * `owner` starts as the existing claim's namespace; an allowed mapping whose claim kgw creates
 * becomes the owner for the younger ones.
 */
function evaluateDomain(
  ctx: Context,
  domain: string,
  sorted: readonly DomainMapping[],
): { verdicts: Map<string, Verdict>; create?: ClusterDomainClaim } {
  const verdicts = new Map<string, Verdict>();
  let owner = ctx.claims.get(domain)?.spec?.namespace;
  let create: ClusterDomainClaim | undefined;
  for (const dm of sorted) {
    const gp = ctx.gateways.forAnnotations(dm.metadata.annotations);
    if (gp === undefined) continue;
    const ns = dm.metadata.namespace ?? '';
    if (owner !== undefined && owner !== '' && owner !== ns) {
      verdicts.set(mappingKey(dm), {
        allowed: false,
        reason: REASON_CLAIMED,
        message: claimedMessage(domain, owner),
      });
      continue;
    }
    const labels = ctx.labels.get(ns);
    if (labels === undefined) continue; // namespace not seen yet: decide when its labels are known
    const d = claimDecision(gp.policy, gp.gateway, domain, ns, labels);
    if (!d.allowed) {
      verdicts.set(mappingKey(dm), {
        allowed: false,
        reason: REASON_POLICY,
        message: d.message ?? `domain ${domain} is not allowed in namespace ${ns}`,
      });
      continue;
    }
    verdicts.set(mappingKey(dm), {
      allowed: true,
      reason: REASON_ALLOWED,
      message: `KnativeGateway ${gp.gateway}'s domainClaims policy allows namespace ${ns} to map ${domain}`,
    });
    if ((owner === undefined || owner === '') && gp.policy.autoCreate) {
      owner = ns;
      create = {
        apiVersion: CLAIM_API_VERSION,
        kind: CLAIM_KIND,
        metadata: {
          name: domain,
          labels: { [LABEL_MANAGED_BY]: MANAGED_BY_KGW },
          annotations: { [CLAIM_FOR_ANNOTATION]: mappingKey(dm) },
        },
        spec: { namespace: ns },
      };
    }
  }
  return create ? { verdicts, create } : { verdicts };
}

function live(dm: DomainMapping): boolean {
  return dm.metadata.deletionTimestamp === undefined;
}

function groupByDomain(mappings: readonly DomainMapping[]): Map<string, DomainMapping[]> {
  const out = new Map<string, DomainMapping[]>();
  for (const dm of mappings) {
    if (!live(dm)) continue;
    const list = out.get(dm.metadata.name);
    if (list) list.push(dm);
    else out.set(dm.metadata.name, [dm]);
  }
  for (const list of out.values()) list.sort(olderFirst);
  return out;
}

/** What to create, delete and report, from the current objects. Pure. */
export function claimPlan(input: ClaimPlanInput): ClaimPlan {
  const ctx = context(input);
  const plan: ClaimPlan = { create: [], delete: [], verdicts: new Map(), withdraw: [] };
  const byDomain = groupByDomain(input.mappings);
  for (const domain of [...byDomain.keys()].sort(byCodePoint)) {
    const mappings = byDomain.get(domain) ?? [];
    const r = evaluateDomain(ctx, domain, mappings);
    for (const [k, v] of r.verdicts) plan.verdicts.set(k, v);
    if (r.create) plan.create.push(r.create);
    for (const dm of mappings) {
      const ours = dm.status?.conditions?.some((c) => c.type === CONDITION_TYPE) ?? false;
      if (ours && ctx.gateways.forAnnotations(dm.metadata.annotations) === undefined)
        plan.withdraw.push(mappingKey(dm));
    }
  }
  for (const c of [...input.claims].sort((a, b) => byCodePoint(a.metadata.name, b.metadata.name))) {
    if (!isKgwClaim(c) || c.metadata.deletionTimestamp !== undefined) continue;
    const used = (byDomain.get(c.metadata.name) ?? []).some(
      (dm) => dm.metadata.namespace === c.spec?.namespace,
    );
    if (!used) plan.delete.push(c);
  }
  return plan;
}

export interface AdmissionDecision {
  allowed: boolean;
  message?: string;
}

/**
 * May a DomainMapping for `domain` in `namespace` (with `annotations`) be admitted? Same rules as
 * the plan: the existing mappings of that domain count (an older allowed mapping in another
 * namespace holds the domain when its gateway creates claims); the one being admitted is taken as
 * it is stored (an update) or as the newest (a create). Pure.
 */
export function mappingVerdict(
  input: ClaimPlanInput,
  domain: string,
  namespace: string,
  annotations: Readonly<Record<string, string>> | undefined,
): AdmissionDecision {
  const ctx = context(input);
  const others = input.mappings.filter(
    (dm) => live(dm) && dm.metadata.name === domain && dm.metadata.namespace !== namespace,
  );
  const stored = input.mappings.find(
    (dm) => dm.metadata.name === domain && dm.metadata.namespace === namespace,
  );
  const self: DomainMapping = {
    metadata: {
      name: domain,
      namespace,
      // a new mapping sorts after every stored one ('~' is after every RFC 3339 digit)
      creationTimestamp: stored?.metadata.creationTimestamp ?? '~',
      ...(annotations !== undefined ? { annotations: { ...annotations } } : {}),
    },
  };
  if (ctx.gateways.forAnnotations(annotations) === undefined) return { allowed: true };
  if (!ctx.labels.has(namespace)) ctx.labels.set(namespace, {}); // not seen yet: judge with no labels
  const r = evaluateDomain(ctx, domain, [...others, self].sort(olderFirst));
  const v = r.verdicts.get(mappingKey(self));
  if (v === undefined || v.allowed) return { allowed: true };
  return { allowed: false, message: v.message };
}

// ---------------------------------------------------------------------------------------------
// The condition on the DomainMapping

/** The mapping's conditions with kgw's set to `v`; undefined when it already says that. */
export function conditionsWith(
  current: readonly DomainMappingCondition[] | undefined,
  v: Verdict,
  now: string,
): DomainMappingCondition[] | undefined {
  const list = current ?? [];
  const status = v.allowed ? 'True' : 'False';
  const old = list.find((c) => c.type === CONDITION_TYPE);
  if (old && old.status === status && old.reason === v.reason && old.message === v.message) return undefined;
  const cond = stamp<DomainMappingCondition>(
    list,
    { type: CONDITION_TYPE, status, reason: v.reason, message: v.message },
    now,
  );
  return old ? list.map((c) => (c.type === CONDITION_TYPE ? cond : c)) : [...list, cond];
}

/** The mapping's conditions without kgw's; undefined when it has none. */
export function conditionsWithout(
  current: readonly DomainMappingCondition[] | undefined,
): DomainMappingCondition[] | undefined {
  const list = current ?? [];
  return list.some((c) => c.type === CONDITION_TYPE)
    ? list.filter((c) => c.type !== CONDITION_TYPE)
    : undefined;
}
