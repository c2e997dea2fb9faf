// Golden cases: Kubernetes objects in test/golden/cases/<case>.yaml, translated and rendered for
// an external and a cluster-local fleet (shared by the golden and the Envoy-validation tests).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EndpointSlice, Secret, Service } from '../../operator/api/core.ts';
import {
  withClientIPDefaults,
  withHttpDefaults,
  type FleetClientIP,
  type FleetHttp,
} from '../../operator/api/knativegateway.ts';
import { hasClass, KGW_INGRESS_CLASS, ingressKey, type KIngress } from '../../operator/api/kingress.ts';
import { conflictMessage, resolveConflicts, type Candidate } from '../../operator/translate/conflicts.ts';
import { translateIngress } from '../../operator/translate/ingress.ts';
import { withGatewayDefaults, type KnativeGateway } from '../../operator/api/knativegateway.ts';
import { gatewayExternalNamePolicy } from '../../operator/translate/external-names.ts';
import { gatewayHostPolicy } from '../../operator/translate/host-ownership.ts';
import {
  lookupsFromObjects,
  type ClaimObject,
  type Lookups,
  type NamespaceObject,
} from '../../operator/translate/lookups.ts';
import { decodeSecretData } from '../../operator/api/core.ts';
import type { RoutePolicy } from '../../operator/api/routepolicy.ts';
import {
  ingressView,
  resolvePolicies,
  type DomainMappingView,
  type PolicyResolution,
} from '../../operator/policy/resolve.ts';
import {
  defaultCertificateProblem,
  fleetRateLimits,
  renderFleet,
  type FleetRenderOptions,
  type FleetResources,
} from '../../operator/render/fleet.ts';
import { backendData } from '../../operator/translate/backend-data.ts';
import type { ResolvedGlobalRateLimit } from '../../operator/api/knativegateway-defaults.ts';
import { rateLimitConfigs } from '../../operator/render/global-rate-limit.ts';
import { rateLimitServiceCluster } from '../../operator/translate/rate-limit-service.ts';
import { adminPolicyIR, type AdminPolicyIR } from '../../operator/policy/admin.ts';

export const goldenDir = join(import.meta.dirname, '../golden/cases');

/** The fleets' edge settings: kgw's defaults. */
const EDGE = { http: withHttpDefaults(undefined), clientIP: withClientIPDefaults(undefined) };

export const goldenFleets: Record<string, FleetRenderOptions> = {
  external: { visibility: 'ExternalIP', httpPort: 8080, httpsPort: 8443, accessLog: false as const, ...EDGE },
  local: { visibility: 'ClusterLocal', httpPort: 8081, httpsPort: 8444, accessLog: false as const, ...EDGE },
};

/**
 * A case's overrides of a golden fleet's options; `http` and `clientIP` as written in a
 * KnativeGateway fleet (the defaults fill in the rest).
 */
export type GoldenFleetOverrides = Partial<
  Omit<FleetRenderOptions, 'http' | 'clientIP' | 'globalRateLimit'>
> & {
  http?: FleetHttp;
  clientIP?: FleetClientIP;
  /** As resolved from a KnativeGateway fleet; the service's cluster is looked up among the case's Services. */
  globalRateLimit?: ResolvedGlobalRateLimit;
};

export interface Objects {
  ingresses: KIngress[];
  services: Service[];
  slices: EndpointSlice[];
  secrets: Secret[];
  /**
   * The case's KnativeGateway, when it has one: its ExternalName policy and host policy (domains,
   * template, claim rules) apply to translation.
   */
  gateway?: KnativeGateway;
  /** ClusterDomainClaims and Namespaces (labels) the host rule reads. */
  claims?: ClaimObject[];
  namespaces?: NamespaceObject[];
  /** RoutePolicies and DomainMappings (policy/resolve.ts attaches them to the case's hosts). */
  policies?: RoutePolicy[];
  domainMappings?: DomainMappingView[];
  /**
   * Per-fleet render options of this case over goldenFleets, from a test-only document
   * `kind: GoldenFleets` with `fleets: { <fleet>: { defaultCertificate: … } }`.
   */
  fleetOptions?: Record<string, GoldenFleetOverrides>;
}

/** The golden fleets of a case: goldenFleets with the case's overrides. */
export function caseFleets(objs: Objects): Record<string, FleetRenderOptions> {
  return Object.fromEntries(
    Object.entries(goldenFleets).map(([name, opts]) => {
      const { http, clientIP, globalRateLimit: g, ...rest } = objs.fleetOptions?.[name] ?? {};
      const edge = {
        ...(http !== undefined ? { http: withHttpDefaults(http) } : {}),
        ...(clientIP !== undefined ? { clientIP: withClientIPDefaults(clientIP) } : {}),
        ...(g !== undefined
          ? {
              globalRateLimit: {
                failureMode: g.failureMode,
                timeoutMs: g.timeoutMs,
                cluster: rateLimitServiceCluster(
                  g.service,
                  objs.services.find(
                    (s) => s.metadata.name === g.service.name && s.metadata.namespace === g.service.namespace,
                  ),
                ),
              },
            }
          : {}),
      };
      return [name, { ...opts, ...rest, ...edge }];
    }),
  );
}

export function loadCase(file: string): Objects {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind?: string });
  const of = <T>(kind: string) => docs.filter((d) => d.kind === kind) as T[];
  const [fleets] = of<{ fleets?: Record<string, GoldenFleetOverrides> }>('GoldenFleets');
  return {
    ingresses: of<KIngress>('Ingress'),
    services: of<Service>('Service'),
    slices: of<EndpointSlice>('EndpointSlice'),
    secrets: of<Secret>('Secret'),
    claims: of<ClaimObject>('ClusterDomainClaim'),
    namespaces: of<NamespaceObject>('Namespace'),
    policies: of<RoutePolicy>('RoutePolicy'),
    domainMappings: of<{ metadata: { name: string; namespace?: string }; spec?: { ref?: object } }>(
      'DomainMapping',
    ).map((d) => ({ namespace: d.metadata.namespace ?? '', name: d.metadata.name, ref: d.spec?.ref ?? {} })),
    ...(fleets?.fleets ? { fleetOptions: fleets.fleets } : {}),
    ...(of<KnativeGateway>('KnativeGateway')[0] ? { gateway: of<KnativeGateway>('KnativeGateway')[0] } : {}),
  };
}

/** The case's RoutePolicies resolved against its KIngresses, DomainMappings and Secrets. */
function casePolicies(objs: Objects): PolicyResolution {
  const gw = objs.gateway;
  const bucket = gw ? caseAdminPolicy(gw)?.ceiling : undefined;
  const secrets = new Map(objs.secrets.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s]));
  return resolvePolicies({
    policies: objs.policies ?? [],
    ingresses: objs.ingresses
      .filter((i) => hasClass(i, KGW_INGRESS_CLASS))
      .map((i) => ingressView(i, bucket && gw ? { gateway: gw.metadata.name, bucket } : undefined)),
    domainMappings: objs.domainMappings ?? [],
    secret: (ns, name) => {
      const s = secrets.get(`${ns}/${name}`);
      return s ? { found: true, data: decodeSecretData(s.data) } : { found: false };
    },
  });
}

/** The case's objects as translation sees them, with its gateway's ExternalName and host policy. */
export function caseLookups(objs: Objects, policies = casePolicies(objs)): Lookups {
  const gw = objs.gateway;
  const spec = gw ? withGatewayDefaults(gw.spec) : undefined;
  return {
    ...lookupsFromObjects(
      objs,
      'cluster.local',
      gw && spec ? gatewayExternalNamePolicy(gw.metadata.name, spec) : undefined,
      gw && spec ? gatewayHostPolicy(gw.metadata.name, spec) : undefined,
    ),
    routePolicy: (key, host) => policies.attached.get(key)?.get(host),
    ...(gw && caseAdminPolicy(gw) ? { adminPolicy: caseAdminPolicy(gw) } : {}),
  };
}

/** The case gateway's spec.policy as translation applies it. */
function caseAdminPolicy(gw: KnativeGateway): AdminPolicyIR | undefined {
  return adminPolicyIR(gw.metadata.name, withGatewayDefaults(gw.spec).policy);
}

export function renderCase(objs: Objects): Record<string, unknown> {
  const policies = casePolicies(objs);
  const lookups = caseLookups(objs, policies);
  const ingresses: Record<string, unknown> = {};
  const candidates: Candidate[] = [];
  for (const ing of objs.ingresses) {
    const key = ingressKey(ing);
    if (!hasClass(ing, KGW_INGRESS_CLASS)) {
      ingresses[key] = { result: 'IgnoredOtherClass' };
      continue;
    }
    const res = translateIngress(ing, lookups);
    if (!res.ok) {
      ingresses[key] = { result: res.problem.reason, message: res.problem.message };
      continue;
    }
    ingresses[key] = {
      result: 'Accepted',
      hash: res.ir.hash,
      probes: res.ir.probes,
      ...(res.ir.notes ? { notes: res.ir.notes } : {}),
    };
    candidates.push({ ir: res.ir, created: ing.metadata.creationTimestamp ?? '' });
  }
  const { accepted, conflicts } = resolveConflicts(candidates);
  for (const [key, c] of conflicts) {
    const namespace = key.slice(0, key.indexOf('/'));
    ingresses[key] = {
      result: 'DomainConflict',
      host: c.host,
      owner: c.owner,
      message: conflictMessage(namespace, c),
    };
  }
  const fleets: Record<string, unknown> = {};
  for (const [name, opts] of Object.entries(caseFleets(objs))) {
    const r = renderFleet(opts, accepted, backendData(lookups));
    const problem = defaultCertificateProblem(opts, backendData(lookups));
    fleets[name] = {
      listeners: [...r.listeners.values()],
      routes: [...r.routes.values()],
      clusters: [...r.clusters.values()],
      endpoints: [...r.endpoints.values()],
      secrets: [...r.secrets.keys()],
      ...(problem ? { problems: [problem] } : {}),
      // what kgw serves the fleet's rate-limit service
      ...(opts.globalRateLimit
        ? { rateLimitConfigs: [...rateLimitConfigs(fleetRateLimits(accepted, opts.visibility)).values()] }
        : {}),
    };
  }
  const policyOutcomes = Object.fromEntries(
    [...policies.outcomes].map(([k, o]) => [
      k,
      { accepted: o.accepted, reason: o.reason, message: o.message },
    ]),
  );
  return {
    ingresses: Object.fromEntries(Object.entries(ingresses).sort()),
    ...(policies.outcomes.size > 0 ? { policies: policyOutcomes } : {}),
    fleets,
  };
}

/** The rendered resources of every golden fleet for one case. */
/** Every fleet of a case rendered whole (renderFleet), with `extra` options (e.g. scoped) on each. */
export function renderCaseFleets(
  objs: Objects,
  extra: Partial<FleetRenderOptions> = {},
): { fleet: string; res: FleetResources }[] {
  const lookups = caseLookups(objs);
  const candidates: Candidate[] = objs.ingresses
    .filter((i) => hasClass(i, KGW_INGRESS_CLASS))
    .flatMap((i) => {
      const r = translateIngress(i, lookups);
      return r.ok ? [{ ir: r.ir, created: i.metadata.creationTimestamp ?? '' }] : [];
    });
  const { accepted } = resolveConflicts(candidates);
  return Object.entries(caseFleets(objs)).map(([fleet, opts]) => ({
    fleet,
    res: renderFleet({ ...opts, ...extra }, accepted, backendData(lookups)),
  }));
}

export function goldenCases(files: string[]): string[] {
  return files
    .filter((f) => f.endsWith('.yaml') && !f.endsWith('.golden.yaml'))
    .map((f) => f.replace(/\.yaml$/, ''))
    .sort();
}
