// KIngress → IngressIR. Pure: reads only the object and the Lookups it is given.
// Implements Knative's data-plane contract: vhost per host, ordered prefix paths (first match
// wins), exact header matches, weighted splits (0% dropped), set-semantics appendHeaders at path
// and split level, probe copies of every path carrying the spec hash, rewriteHost, visibility,
// TLS by SNI and httpOption Redirected on ExternalIP rules.
import {
  ACME_PREFIX,
  HASH_OVERRIDE,
  HEADER_HASH,
  ingressKey,
  type HTTPIngressPath,
  type IngressSpec,
  type IngressTLS,
  type KIngress,
  type Visibility,
} from '../api/kingress.ts';
import { resolveBackend } from './backends.ts';
import { ingressHash } from './hash.ts';
import { knativeNames, type KnativeNames } from './knative-names.ts';
import { tlsSecretProblem } from './tls-secret.ts';
import { parseIngressSpec } from './parse.ts';
import { hostDecision, REASON_HOST_NOT_ALLOWED } from './host-ownership.ts';
import type {
  ClusterIR,
  HostPolicyIR,
  IngressIR,
  ProbeIR,
  RouteIR,
  TlsIR,
  TranslateProblem,
  TranslateResult,
  VirtualHostIR,
  VisibilityIR,
  WeightedTarget,
} from './ir.ts';
import type { Lookups } from './lookups.ts';
import { withAdminPolicy } from '../policy/admin.ts';
import {
  parseRoutingRules,
  ROUTING_RULES_ANNOTATION,
  TAG_TO_HOST_ANNOTATION,
  tagHosts,
  type RoutingRule,
} from './routing-rules.ts';
import { byCodePoint } from '../order.ts';

class Problem extends Error {
  readonly problem: TranslateProblem;
  constructor(problem: TranslateProblem) {
    super(problem.message);
    this.problem = problem;
  }
}

function setHeaders(m: Record<string, string> | undefined): { name: string; value: string }[] {
  return Object.keys(m ?? {})
    .sort()
    .map((name) => ({ name, value: m?.[name] ?? '' }));
}

interface Ctx {
  lookups: Lookups;
  namespace: string;
  key: string;
  /** Whose traffic the KIngress's routes carry (metrics, access logs). */
  names: KnativeNames;
  clusters: Map<string, ClusterIR>;
  services: Set<string>;
}

/** Resolves the splits of a path once; the probe copy and the path itself share the result. */
function resolveTargets(ctx: Ctx, p: HTTPIngressPath): WeightedTarget[] {
  const targets: WeightedTarget[] = [];
  for (const split of p.splits ?? []) {
    const weight = split.percent ?? 0;
    const res = resolveBackend(
      ctx.lookups,
      ctx.namespace, // parse.ts: a split reaches only the KIngress's own namespace
      split.serviceName,
      split.servicePort,
    );
    if (!res.ok) throw new Problem(res.problem);
    for (const s of res.services) ctx.services.add(s);
    if (weight <= 0) continue; // a 0% split must receive nothing; its Service must still exist
    ctx.clusters.set(res.cluster.name, res.cluster);
    targets.push({ cluster: res.cluster.name, weight, headers: setHeaders(split.appendHeaders) });
  }
  if (targets.length === 0) {
    throw new Problem({
      reason: 'NoBackends',
      message: `path ${p.path || '/'} has no split with a positive percent`,
    });
  }
  return targets;
}

function pathRoute(
  p: HTTPIngressPath,
  name: string,
  targets: WeightedTarget[],
  knative?: KnativeNames,
): RouteIR {
  const prefix = p.path || '/';
  const acme = prefix.startsWith(ACME_PREFIX);
  return {
    name,
    prefix,
    headers: Object.keys(p.headers ?? {})
      .sort()
      .map((h) => ({ name: h, exact: p.headers?.[h]?.exact ?? '' })),
    setHeaders: setHeaders(p.appendHeaders),
    targets,
    ...(p.rewriteHost ? { rewriteHost: p.rewriteHost } : {}),
    acme,
    ...(knative && !acme ? { knative } : {}),
  };
}

/**
 * The routes of the kgw.dev/routing-rules annotation for one rule's paths: per path without header
 * matches and per routing rule, a copy matching the rule's headers and cookies that goes to the
 * named revision (one of the path's splits, whatever its percent) or to what the tag's host serves.
 * A rule whose revision or tag the Route does not route to is left out and noted.
 */
function routingRoutes(
  ctx: Ctx,
  spec: IngressSpec,
  rules: RoutingRule[],
  tags: Map<string, string[]>,
  paths: HTTPIngressPath[],
  base: string,
  notes: Set<string>,
): RouteIR[] {
  const out: RouteIR[] = [];
  paths.forEach((p, pi) => {
    if (Object.keys(p.headers ?? {}).length > 0 || (p.path ?? '').startsWith(ACME_PREFIX)) return;
    rules.forEach((rule, k) => {
      let targets: WeightedTarget[] | undefined;
      let headers = p.appendHeaders;
      if (rule.default) {
        targets = resolveTargets(ctx, p);
      } else if (rule.revision !== undefined) {
        const split = (p.splits ?? []).find((s) => s.serviceName === rule.revision);
        if (split) {
          const res = resolveBackend(ctx.lookups, ctx.namespace, split.serviceName, split.servicePort);
          if (res.ok) {
            ctx.clusters.set(res.cluster.name, res.cluster);
            targets = [{ cluster: res.cluster.name, weight: 100, headers: setHeaders(split.appendHeaders) }];
          }
        }
        if (!targets) notes.add(`revision ${rule.revision} is not routed by this Route`);
      } else if (rule.tag !== undefined) {
        const hosts = new Set(tags.get(rule.tag) ?? []);
        const tagPath = (spec.rules ?? [])
          .find((r) => (r.hosts ?? []).some((h) => hosts.has(h)))
          ?.http?.paths?.filter((tp) => Object.keys(tp.headers ?? {}).length === 0)
          .at(-1);
        if (tagPath) {
          targets = resolveTargets(ctx, tagPath);
          headers = tagPath.appendHeaders;
        } else notes.add(`tag ${rule.tag} is not routed by this Route`);
      }
      if (!targets) return;
      out.push({
        ...pathRoute({ ...p, appendHeaders: headers }, `${base}/p${pi}/rule${k}`, targets, ctx.names),
        headers: [
          ...Object.keys(p.headers ?? {}).map((h) => ({ name: h, exact: p.headers?.[h]?.exact ?? '' })),
          ...rule.headers.map((h) => ({ name: h.name, exact: h.value })),
        ].sort((a, b) => byCodePoint(a.name, b.name)),
        ...(rule.cookies.length > 0 ? { cookies: rule.cookies } : {}),
      });
    });
  });
  return out;
}

/** The features a virtual host's filters enforce: routing is made into routes, not filter config. */
function filterPolicy(p: HostPolicyIR | undefined): HostPolicyIR | undefined {
  if (!p) return undefined;
  const { routing: _routing, ...rest } = p;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

function probeCopy(p: HTTPIngressPath, hash: string): HTTPIngressPath {
  return {
    ...p,
    headers: { ...p.headers, [HEADER_HASH]: { exact: HASH_OVERRIDE } },
    appendHeaders: { ...p.appendHeaders, [HEADER_HASH]: hash },
  };
}

function checkSecret(lookups: Lookups, namespace: string, t: IngressTLS): string {
  const ns = t.secretNamespace || namespace;
  const key = `${ns}/${t.secretName ?? ''}`;
  const problem = tlsSecretProblem(key, lookups.secret(ns, t.secretName ?? ''));
  if (problem) throw new Problem(problem);
  return key;
}

/** At most this many problems are listed in the condition message (the webhook lists them all). */
const MAX_LISTED_PROBLEMS = 3;

function invalidSpec(problems: string[]): TranslateProblem {
  const more = problems.length - MAX_LISTED_PROBLEMS;
  return {
    reason: 'InvalidSpec',
    message: problems.slice(0, MAX_LISTED_PROBLEMS).join('; ') + (more > 0 ? ` (and ${more} more)` : ''),
  };
}

/**
 * Every rule host must be the KIngress's to serve (host-ownership.ts). A refusal withdraws the
 * KIngress: its last good configuration served that host too.
 */
function checkHosts(spec: IngressSpec, namespace: string, lookups: Lookups): void {
  const base = {
    namespace,
    clusterDomain: lookups.clusterDomain,
    ...(lookups.hostPolicy ? { policy: lookups.hostPolicy } : {}),
    ...(lookups.hostOwners ? { owners: lookups.hostOwners } : {}),
  };
  for (const rule of spec.rules ?? []) {
    const ctx = { ...base, visibility: rule.visibility ?? 'ExternalIP' };
    for (const host of rule.hosts ?? []) {
      const d = hostDecision(host, ctx);
      if (!d.allowed)
        throw new Problem({ reason: REASON_HOST_NOT_ALLOWED, message: d.message, withdraw: true });
    }
  }
}

export function translateIngress(ing: KIngress, lookups: Lookups): TranslateResult {
  try {
    return { ok: true, ir: translate(ing, lookups) };
  } catch (e) {
    if (e instanceof Problem) return { ok: false, problem: e.problem };
    throw e;
  }
}

function translate(ing: KIngress, lookups: Lookups): IngressIR {
  const namespace = ing.metadata.namespace ?? '';
  const name = ing.metadata.name;
  const key = ingressKey(ing);
  const parsed = parseIngressSpec(ing.spec, namespace);
  if (!parsed.ok) throw new Problem(invalidSpec(parsed.problems));
  const spec = parsed.spec;
  checkHosts(spec, namespace, lookups);
  const hash = ingressHash(spec, namespace, name);
  const names = knativeNames(ing);
  const ctx: Ctx = { lookups, namespace, key, names, clusters: new Map(), services: new Set() };
  const redirected = spec.httpOption === 'Redirected';

  // gray release (routing-rules.ts): fails open, never a problem of the KIngress. A RoutePolicy's
  // routing replaces the annotation on the hosts it covers (the annotation is noted as ignored there).
  const annotations = ing.metadata.annotations ?? {};
  const notes = new Set<string>();
  let annotationRules: RoutingRule[] = [];
  const routingText = annotations[ROUTING_RULES_ANNOTATION];
  if (routingText !== undefined) {
    const parsed = parseRoutingRules(routingText);
    if (parsed.ok) annotationRules = parsed.rules;
    else notes.add(parsed.problem);
  }
  const tags = tagHosts(annotations[TAG_TO_HOST_ANNOTATION]);
  const tagHostSet = new Set([...tags.values()].flat());
  const overridden = new Map<string, string[]>(); // policy → hosts where it replaces the annotation

  const external = new Map<string, VirtualHostIR>();
  const local = new Map<string, VirtualHostIR>();
  const hostsByVisibility: Record<Visibility, string[]> = { ExternalIP: [], ClusterLocal: [] };

  (spec.rules ?? []).forEach((rule, ri) => {
    const visibility = rule.visibility ?? 'ExternalIP';
    const paths = rule.http?.paths ?? [];
    // Probe copies of every path first (they match only the probe header), then the paths.
    const targets = paths.map((p) => resolveTargets(ctx, p));
    const probeRoutes: RouteIR[] = paths.map((p, pi) => ({
      ...pathRoute(probeCopy(p, hash), `${key}/r${ri}/p${pi}/probe`, targets[pi]!),
      probe: true,
    }));
    const mainRoutes = paths.map((p, pi) => pathRoute(p, `${key}/r${ri}/p${pi}`, targets[pi]!, ctx.names));
    // Per source of routing rules (a policy's, or the annotation's), the routes of the hosts using it.
    const bySource = new Map<string, RouteIR[]>();
    const routesOf = (host: string): RouteIR[] => {
      if ((rule.hosts ?? []).some((h) => tagHostSet.has(h))) return [...probeRoutes, ...mainRoutes];
      const fromPolicy = lookups.routePolicy?.(key, host)?.routing;
      if (fromPolicy && routingText !== undefined)
        overridden.set(fromPolicy.policy, [...(overridden.get(fromPolicy.policy) ?? []), host]);
      const source = fromPolicy ? `policy ${fromPolicy.policy}` : 'annotation';
      let routes = bySource.get(source);
      if (!routes) {
        const rules = fromPolicy ? fromPolicy.rules : annotationRules;
        const ruleRoutes =
          rules.length > 0 ? routingRoutes(ctx, spec, rules, tags, paths, `${key}/r${ri}`, notes) : [];
        routes = [...probeRoutes, ...ruleRoutes, ...mainRoutes];
        bySource.set(source, routes);
      }
      return routes;
    };
    const hosts = rule.hosts ?? []; // parse.ts: never empty
    for (const host of hosts) {
      hostsByVisibility[visibility].push(host);
      const targets: [Map<string, VirtualHostIR>, boolean][] =
        visibility === 'ExternalIP'
          ? [
              [external, redirected],
              [local, false],
            ]
          : [[local, false]];
      const routes = routesOf(host);
      for (const [map, redirectHttp] of targets) {
        const vh = map.get(host);
        if (vh) vh.routes.push(...routes);
        else {
          const policy = filterPolicy(
            withAdminPolicy(host, lookups.routePolicy?.(key, host), lookups.adminPolicy),
          );
          map.set(host, {
            host,
            owner: key,
            routes: [...routes],
            redirectHttp,
            ...(policy ? { policy } : {}),
          });
        }
      }
    }
  });

  for (const [policy, hosts] of overridden) {
    const all = [...new Set(hosts)].sort();
    const more = all.length > MAX_LISTED_PROBLEMS ? ` (and ${all.length - MAX_LISTED_PROBLEMS} more)` : '';
    notes.add(
      `${ROUTING_RULES_ANNOTATION} is ignored on ${all.slice(0, MAX_LISTED_PROBLEMS).join(', ')}${more}: RoutePolicy ${policy} sets routing there`,
    );
  }

  const secrets = new Set<string>();
  const tlsFor = (hosts: Set<string>): TlsIR[] =>
    (spec.tls ?? []).flatMap((t) => {
      const served = (t.hosts ?? []).filter((h) => hosts.has(h));
      if (served.length === 0) return [];
      const secret = checkSecret(lookups, namespace, t);
      secrets.add(secret);
      return [{ hosts: served, secret, owner: key }];
    });
  const externalIR: VisibilityIR = { vhosts: [...external.values()], tls: tlsFor(new Set(external.keys())) };
  const localIR: VisibilityIR = { vhosts: [...local.values()], tls: tlsFor(new Set(local.keys())) };

  const probes: ProbeIR[] = [];
  const tlsHosts = new Set(externalIR.tls.flatMap((t) => t.hosts));
  for (const host of hostsByVisibility.ExternalIP) {
    if (host !== '*') probes.push({ visibility: 'ExternalIP', host, tls: redirected && tlsHosts.has(host) });
  }
  const localProbeHosts =
    hostsByVisibility.ClusterLocal.length > 0 ? hostsByVisibility.ClusterLocal : hostsByVisibility.ExternalIP;
  for (const host of localProbeHosts) {
    if (host !== '*') probes.push({ visibility: 'ClusterLocal', host, tls: false });
  }

  return {
    key,
    hash,
    generation: ing.metadata.generation ?? 0,
    external: externalIR,
    local: localIR,
    clusters: [...ctx.clusters.values()],
    secrets: [...secrets],
    services: [...ctx.services],
    probes,
    ...(notes.size > 0 ? { notes: [...notes] } : {}),
  };
}
