// Which RoutePolicy features are in force on which host, and what each policy's status says. Pure:
// (policies, KIngresses, DomainMappings, Secrets) → per KIngress and host the features, per policy
// the outcome. Rules (docs/policies.md):
// - a policy reaches only its own namespace: targets are resolved among the KIngresses of that
//   namespace, Secrets are read from it;
// - hosts are never free-form: they are the hosts of the target's KIngresses — the Route's
//   (external, cluster-local and tag hosts) and, for a Service, those of every DomainMapping to
//   it — optionally narrowed by spec.hosts;
// - two policies setting one feature on one host: the older (creation time, then name) wins, the
//   other reports Conflicted;
// - API-key and basic auth fail closed: with their Secrets missing or invalid the hosts refuse every
//   request.
// - routing (gray release) applies to the hosts of a Route's own KIngress; a rule naming a revision
//   or tag that KIngress does not route to is left out (fails open) and reported
//   (RevisionNotRouted); translate/ingress.ts uses the policy's rules in place of the annotation's.
import {
  DEFAULT_CLIENT_HEADER,
  POLICY_FEATURES,
  RoutePolicySpecSchema,
  type PolicyFeature,
  type RoutePolicy,
  type RoutePolicySpec,
  type TargetRef,
} from '../api/routepolicy.ts';
import { schemaProblems } from '../api/schema-check.ts';
import { ruleProblems } from '../api/schema-rules.ts';
import type { BucketIR, HostPolicyIR, RateLimitIR, RoutingIR } from '../translate/ir.ts';
import { bucketText, underCeiling } from './admin.ts';
import {
  notRoutedProblem,
  routedTargets,
  routingRule,
  ROUTING_RULES_ANNOTATION,
  TAG_TO_HOST_ANNOTATION,
  type RoutedTargets,
  type RoutingRule,
} from '../translate/routing-rules.ts';
import { readBasicAuthUsers, readCredentials, type BasicAuthUser, type SecretData } from './credentials.ts';
import { corsIR, ipAccessIR, rateLimitIR } from './features.ts';
import { byCodePoint } from '../order.ts';

export const LABEL_ROUTE = 'serving.knative.dev/route';
export const LABEL_DOMAIN_MAPPING_UID = 'serving.knative.dev/domainMappingUID';

/** A KIngress of kgw's class as the resolver reads it. */
export interface IngressView {
  namespace: string;
  name: string;
  labels: Readonly<Record<string, string>>;
  /** Every host of its rules. */
  hosts: readonly string[];
  /** The revisions and tags it routes to (what routing rules may name); read only for policies with routing. */
  routed(): RoutedTargets;
  /** Whether it carries the kgw.dev/routing-rules annotation (a policy's routing replaces it). */
  routingAnnotation: boolean;
  /** The rate ceiling of the KnativeGateway serving it (spec.policy.ceilings.rateLimit). */
  rateCeiling?: RateCeilingView;
}

export interface RateCeilingView {
  gateway: string;
  bucket: BucketIR;
}

/** A KIngress as the resolver reads it; the spec may be any JSON (hosts that are not strings are skipped). */
export function ingressView(
  ing: {
    metadata: {
      namespace?: string;
      name: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    spec?: unknown;
  },
  rateCeiling?: RateCeilingView,
): IngressView {
  const annotations = ing.metadata.annotations ?? {};
  let routed: RoutedTargets | undefined;
  const rules: unknown = (ing.spec as { rules?: unknown } | undefined)?.rules;
  const hosts = Array.isArray(rules)
    ? (rules as { hosts?: unknown }[]).flatMap((r) =>
        Array.isArray(r?.hosts)
          ? (r.hosts as unknown[]).filter((h): h is string => typeof h === 'string')
          : [],
      )
    : [];
  return {
    namespace: ing.metadata.namespace ?? '',
    name: ing.metadata.name,
    labels: ing.metadata.labels ?? {},
    hosts,
    routed: () => (routed ??= routedTargets(ing.spec, annotations[TAG_TO_HOST_ANNOTATION])),
    routingAnnotation: annotations[ROUTING_RULES_ANNOTATION] !== undefined,
    ...(rateCeiling ? { rateCeiling } : {}),
  };
}

/** A DomainMapping: its name (the host) and what it points at. */
export interface DomainMappingView {
  namespace: string;
  name: string;
  ref: { kind?: string; name?: string; namespace?: string };
}

export interface PolicyWorld {
  policies: readonly RoutePolicy[];
  ingresses: readonly IngressView[];
  domainMappings: readonly DomainMappingView[];
  secret(namespace: string, name: string): SecretData;
}

export type AcceptedReason =
  | 'Accepted'
  | 'Invalid'
  | 'TargetNotFound'
  | 'SecretNotFound'
  | 'InvalidSecret'
  | 'Conflicted'
  | 'RevisionNotRouted';

export interface PolicyOutcome {
  /** `<ns>/<name>` */
  key: string;
  generation: number;
  accepted: boolean;
  reason: AcceptedReason;
  message: string;
  targets: { kind: string; name: string; hosts: string[] }[];
  hostCount: number;
  /** KIngresses (`<ns>/<name>`) on which some feature of this policy is in force. */
  ingressKeys: string[];
  /** Whether its rate limits are in force on some host. */
  rateLimited: boolean;
  /** Credential Secrets (`<ns>/<name>`) it reads. */
  secrets: string[];
}

export interface PolicyResolution {
  /** KIngress key → host → the features in force there. */
  attached: Map<string, Map<string, HostPolicyIR>>;
  /** Policy key → outcome. */
  outcomes: Map<string, PolicyOutcome>;
}

const policyKey = (p: RoutePolicy): string => `${p.metadata.namespace ?? ''}/${p.metadata.name}`;

/** Oldest first: creation time, then namespace/name (the order conflicts are decided in). */
export function olderFirst(a: RoutePolicy, b: RoutePolicy): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return byCodePoint(policyKey(a), policyKey(b));
}

interface Index {
  /** `<ns>/<route>` → KIngresses of that Route. */
  byRoute: Map<string, IngressView[]>;
  /** `<ns>/<name>` → the KIngress of the DomainMapping of that name. */
  domainMappingIngress: Map<string, IngressView>;
  /** `<ns>/<service>` → DomainMappings pointing at that Service. */
  mappingsTo: Map<string, DomainMappingView[]>;
}

function index(world: PolicyWorld): Index {
  const byRoute = new Map<string, IngressView[]>();
  const domainMappingIngress = new Map<string, IngressView>();
  for (const ing of world.ingresses) {
    const route = ing.labels[LABEL_ROUTE];
    if (route !== undefined && route !== '') {
      const k = `${ing.namespace}/${route}`;
      byRoute.set(k, [...(byRoute.get(k) ?? []), ing]);
    }
    if (ing.labels[LABEL_DOMAIN_MAPPING_UID] !== undefined)
      domainMappingIngress.set(`${ing.namespace}/${ing.name}`, ing);
  }
  const mappingsTo = new Map<string, DomainMappingView[]>();
  for (const dm of world.domainMappings) {
    const refNs = dm.ref.namespace ?? dm.namespace;
    // a DomainMapping points into its own namespace only (Knative's webhook refuses others)
    if ((dm.ref.kind ?? 'Service') !== 'Service' || refNs !== dm.namespace || !dm.ref.name) continue;
    const k = `${dm.namespace}/${dm.ref.name}`;
    mappingsTo.set(k, [...(mappingsTo.get(k) ?? []), dm]);
  }
  return { byRoute, domainMappingIngress, mappingsTo };
}

/** The KIngresses a target covers, in the policy's namespace. */
function targetIngresses(ns: string, ref: TargetRef, ix: Index): IngressView[] {
  const route = ix.byRoute.get(`${ns}/${ref.name}`) ?? [];
  switch (ref.kind) {
    case 'Route':
      return route;
    case 'Service': {
      const mapped = (ix.mappingsTo.get(`${ns}/${ref.name}`) ?? [])
        .map((dm) => ix.domainMappingIngress.get(`${ns}/${dm.name}`))
        .filter((i): i is IngressView => i !== undefined);
      return [...route, ...mapped];
    }
    case 'DomainMapping': {
      const dm = ix.domainMappingIngress.get(`${ns}/${ref.name}`);
      return dm ? [dm] : [];
    }
  }
}

interface Slot {
  ingressKey: string;
  host: string;
  ingress: IngressView;
}

/** A Route's own KIngress (not a DomainMapping's): the one whose splits name revisions. */
const isRouteIngress = (ing: IngressView): boolean =>
  (ing.labels[LABEL_ROUTE] ?? '') !== '' && ing.labels[LABEL_DOMAIN_MAPPING_UID] === undefined;

/** The policy's routing rules in the shared form (translate/routing-rules.ts), or why they are refused. */
function routingRules(spec: RoutePolicySpec): RoutingRule[] | string {
  const out: RoutingRule[] = [];
  for (const [i, r] of (spec.routing?.rules ?? []).entries()) {
    const rule = routingRule(`spec.routing.rules[${i}]`, { ...r.to, headers: r.headers, cookies: r.cookies });
    if (typeof rule === 'string') return rule;
    out.push(rule);
  }
  return out;
}

/**
 * The rules that can be programmed on a Route's KIngress; the others are ignored (fails open) and
 * `problems` says why (`spec.routing.rules[<i>]: … by Route <route>`).
 */
function routableRules(
  key: string,
  rules: RoutingRule[],
  ing: IngressView,
  problems: Set<string>,
): RoutingIR {
  const kept: RoutingRule[] = [];
  rules.forEach((rule, i) => {
    const problem = notRoutedProblem(rule, ing.routed());
    if (problem === undefined) kept.push(rule);
    else
      problems.add(
        `spec.routing.rules[${i}]: ${problem.replace('this Route', `Route ${ing.labels[LABEL_ROUTE] ?? ing.name}`)}; the rule is ignored`,
      );
  });
  return { policy: key, rules: kept };
}

function hostFeatures(
  spec: RoutePolicySpec,
  key: string,
  credentials: { client: string; key: string }[],
  users: BasicAuthUser[],
): HostPolicyIR {
  const out: HostPolicyIR = {};
  const a = spec.apiKeyAuth;
  if (a) {
    out.apiKeyAuth = {
      policy: key,
      keySources: a.keySources.map((s) =>
        s.header !== undefined ? { header: s.header } : { query: s.query ?? '' },
      ),
      credentials,
      ...(a.allowedClients !== undefined ? { allowedClients: [...a.allowedClients] } : {}),
      forwardHeader: a.forwardClientHeader ?? DEFAULT_CLIENT_HEADER,
      hideCredentials: a.hideCredentials ?? false,
    };
  }
  const b = spec.basicAuth;
  if (b) out.basicAuth = { policy: key, users, ...(b.realm !== undefined ? { realm: b.realm } : {}) };
  if (spec.ipAccess) out.ipAccess = ipAccessIR(key, spec.ipAccess);
  if (spec.rateLimit) out.rateLimit = rateLimitIR(key, spec.rateLimit);
  if (spec.cors) out.cors = corsIR(key, spec.cors);
  return out;
}

const list = (xs: readonly string[], max = 3): string =>
  xs.slice(0, max).join(', ') + (xs.length > max ? ` (and ${xs.length - max} more)` : '');

export function resolvePolicies(world: PolicyWorld): PolicyResolution {
  const ix = index(world);
  const attached = new Map<string, Map<string, HostPolicyIR>>();
  const owner = new Map<string, string>(); // `<feature> <ingressKey> <host>` → policy key
  const outcomes = new Map<string, PolicyOutcome>();

  for (const policy of [...world.policies].sort(olderFirst)) {
    const key = policyKey(policy);
    const ns = policy.metadata.namespace ?? '';
    const outcome: PolicyOutcome = {
      key,
      generation: policy.metadata.generation ?? 0,
      accepted: true,
      reason: 'Accepted',
      message: '',
      targets: [],
      hostCount: 0,
      ingressKeys: [],
      rateLimited: false,
      secrets: [],
    };
    outcomes.set(key, outcome);
    const reject = (reason: AcceptedReason, message: string) => {
      outcome.accepted = false;
      outcome.reason = reason;
      outcome.message = message;
    };

    const spec = structuredClone<RoutePolicySpec>(policy.spec);
    // The schema (ajv, filling its defaults), then on a spec of its types the CEL rules by their
    // TypeScript equals: what the API server would have refused.
    const schema = schemaProblems(RoutePolicySpecSchema, spec, 'spec');
    const problems = schema.length > 0 ? schema : ruleProblems(RoutePolicySpecSchema, spec, 'spec');
    const rules = problems.length > 0 ? [] : routingRules(spec);
    if (typeof rules === 'string') problems.push(rules);
    if (problems.length > 0 || typeof rules === 'string') {
      reject('Invalid', list(problems));
      continue;
    }

    // targets → (KIngress, host) slots, narrowed by spec.hosts
    const narrow = spec.hosts !== undefined && spec.hosts.length > 0 ? new Set(spec.hosts) : undefined;
    const slots: Slot[] = [];
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const ref of spec.targetRefs) {
      const ings = targetIngresses(ns, ref, ix);
      if (ings.length === 0) missing.push(`${ref.kind} ${ref.name}`);
      const hosts = new Set<string>();
      for (const ing of ings) {
        for (const host of ing.hosts) {
          if (host === '*' || (narrow && !narrow.has(host))) continue;
          hosts.add(host);
          const slotKey = `${ing.namespace}/${ing.name} ${host}`;
          if (seen.has(slotKey)) continue;
          seen.add(slotKey);
          slots.push({ ingressKey: `${ing.namespace}/${ing.name}`, host, ingress: ing });
        }
      }
      outcome.targets.push({ kind: ref.kind, name: ref.name, hosts: [...hosts].sort() });
    }
    outcome.hostCount = new Set(slots.map((s) => s.host)).size;
    const notes: string[] = [];
    if (missing.length > 0) {
      notes.push(
        `no KIngress of kgw's class for ${list(missing)} in namespace ${ns} (not Ready yet, or not served by kgw)`,
      );
    }
    if (narrow) {
      const covered = new Set(slots.map((s) => s.host));
      const unknown = [...narrow].filter((h) => !covered.has(h)).sort();
      if (unknown.length > 0) notes.push(`spec.hosts not among the targets' hosts: ${list(unknown)}`);
    }
    if (slots.length === 0) {
      reject('TargetNotFound', notes.join('; ') || 'the targets have no hosts');
      continue;
    }

    // credentials (fail closed: a broken Secret leaves the hosts refusing every request); with both
    // apiKeyAuth and basicAuth broken, the status names the first
    let credentials: { client: string; key: string }[] = [];
    let users: BasicAuthUser[] = [];
    const secretNames = [
      ...(spec.apiKeyAuth?.credentialsFrom ?? []),
      ...(spec.basicAuth?.credentialsFrom ?? []),
    ].map((c) => c.secretRef.name);
    outcome.secrets = [...new Set(secretNames)].map((n) => `${ns}/${n}`);
    if (spec.apiKeyAuth) {
      const names = spec.apiKeyAuth.credentialsFrom.map((c) => c.secretRef.name);
      const creds = readCredentials(ns, names, (n) => world.secret(ns, n));
      if (creds.ok) credentials = creds.credentials;
      else reject(creds.reason, `${creds.message}; its hosts refuse every request until it is fixed`);
    }
    if (spec.basicAuth) {
      const names = spec.basicAuth.credentialsFrom.map((c) => c.secretRef.name);
      const read = readBasicAuthUsers(ns, names, (n) => world.secret(ns, n));
      if (read.ok) users = read.users;
      else if (outcome.accepted)
        reject(read.reason, `basicAuth: ${read.message}; its hosts refuse every request until it is fixed`);
    }

    // features per slot: the older policy keeps a slot
    const features = hostFeatures(spec, key, credentials, users);
    const lost = new Map<PolicyFeature, { winner: string; host: string }>();
    const ingressKeys = new Set<string>();
    const routingProblems = new Set<string>();
    const overridden = new Set<string>();
    // rate limits under the ceiling of each gateway serving the hosts, and what was lowered
    const underGateway = new Map<string, RateLimitIR>();
    const lowered = new Map<string, string[]>();
    const ceilinged = (r: RateLimitIR, c: RateCeilingView | undefined): RateLimitIR => {
      if (!c) return r;
      let ir = underGateway.get(c.gateway);
      if (!ir) {
        const u = underCeiling(r, c.bucket);
        ir = u.ir;
        underGateway.set(c.gateway, ir);
        if (u.lowered.length > 0)
          lowered.set(`KnativeGateway ${c.gateway}'s ceiling of ${bucketText(c.bucket)}`, u.lowered);
      }
      return ir;
    };
    for (const slot of slots) {
      // routing is made into the routes of a Route's KIngress; a DomainMapping's KIngress forwards
      // to the Service's cluster-local host, where the Service's routing applies
      const routing =
        spec.routing && isRouteIngress(slot.ingress)
          ? routableRules(key, rules, slot.ingress, routingProblems)
          : undefined;
      for (const feature of POLICY_FEATURES) {
        const value = feature === 'routing' ? routing : features[feature];
        if (value === undefined) continue;
        const slotKey = `${feature} ${slot.ingressKey} ${slot.host}`;
        const winner = owner.get(slotKey);
        if (winner !== undefined) {
          if (!lost.has(feature)) lost.set(feature, { winner, host: slot.host });
          continue;
        }
        owner.set(slotKey, key);
        let hosts = attached.get(slot.ingressKey);
        if (!hosts) attached.set(slot.ingressKey, (hosts = new Map<string, HostPolicyIR>()));
        const there = hosts.get(slot.host) ?? {};
        // one assignment per feature: the union type of the IR makes a loop over keys untyped
        if (feature === 'apiKeyAuth' && features.apiKeyAuth) there.apiKeyAuth = features.apiKeyAuth;
        if (feature === 'basicAuth' && features.basicAuth) there.basicAuth = features.basicAuth;
        if (feature === 'ipAccess' && features.ipAccess) there.ipAccess = features.ipAccess;
        if (feature === 'cors' && features.cors) there.cors = features.cors;
        if (feature === 'rateLimit' && features.rateLimit) {
          there.rateLimit = ceilinged(features.rateLimit, slot.ingress.rateCeiling);
          outcome.rateLimited = true;
        }
        if (feature === 'routing' && routing) {
          there.routing = routing;
          if (slot.ingress.routingAnnotation)
            overridden.add(`Route ${slot.ingress.labels[LABEL_ROUTE] ?? slot.ingress.name}`);
        }
        hosts.set(slot.host, there);
        ingressKeys.add(slot.ingressKey);
      }
    }
    outcome.ingressKeys = [...ingressKeys].sort();
    if (lost.size > 0 && outcome.accepted) {
      reject(
        'Conflicted',
        [...lost].map(([f, l]) => `${f} on ${l.host} is set by the older RoutePolicy ${l.winner}`).join('; '),
      );
    }
    if (spec.routing && !slots.some((s) => isRouteIngress(s.ingress)))
      notes.push('routing applies to the hosts of a Service or Route, not to DomainMapping targets');
    if (overridden.size > 0)
      notes.push(
        `routing replaces the ${ROUTING_RULES_ANNOTATION} annotation of ${list([...overridden].sort())}`,
      );
    for (const [ceiling, rules] of lowered) notes.push(`rateLimit over ${ceiling}: ${list(rules)}`);
    const wildcards = [...new Set(slots.map((s) => s.host).filter((h) => h.startsWith('*.')))].sort();
    if (wildcards.length > 0)
      notes.push(
        `${list(wildcards)}: a wildcard host with a policy refuses requests (403) on fleets whose Envoys ` +
          `speak delta xDS, since its filters cannot run there (docs/policies.md)`,
      );
    if (routingProblems.size > 0) {
      const message = list([...routingProblems]);
      if (outcome.accepted) reject('RevisionNotRouted', message);
      else outcome.message += `; ${message}`;
    }
    if (outcome.accepted) {
      outcome.message =
        `in force on ${outcome.hostCount} host${outcome.hostCount === 1 ? '' : 's'}` +
        (notes.length > 0 ? `; ${notes.join('; ')}` : '');
    } else if (notes.length > 0) {
      outcome.message += `; ${notes.join('; ')}`;
    }
  }
  return { attached, outcomes };
}

/** A fingerprint of what is attached to one KIngress (to tell which KIngresses to translate again). */
export function attachmentFingerprint(hosts: ReadonlyMap<string, HostPolicyIR> | undefined): string {
  if (!hosts || hosts.size === 0) return '';
  return JSON.stringify([...hosts].sort(([a], [b]) => byCodePoint(a, b)));
}
