// Assembles the Envoy resources of one fleet from the accepted IngressIRs: listeners, the plain
// and TLS route tables, clusters, endpoints (EDS) and certificates (SDS, including the fleet's
// default certificate). Vhosts are rendered once per IngressIR object and memoised, so a change
// to one KIngress re-renders only that KIngress.
import type { Visibility } from '../api/kingress.ts';
import type {
  BackendData,
  ClusterIR,
  IngressIR,
  RateLimitIR,
  TlsIR,
  TranslateProblem,
  VisibilityIR,
} from '../translate/ir.ts';
import { renderCluster } from './cluster.ts';
import { renderLoadAssignment } from './endpoints.ts';
import {
  HTTP_ROUTE_CONFIG,
  HTTPS_ROUTE_CONFIG,
  renderHttpListener,
  renderHttpsListener,
  type ListenerOptions,
} from './listener.ts';
import type { RateLimitSharing } from './policy.ts';
import { renderSecret } from './secret.ts';
import type { Json } from './types.ts';
import { scopesOf } from './scoped.ts';
import { renderTracingCluster, TRACING_CLUSTER } from './tracing.ts';
import { RATE_LIMIT_CLUSTER } from './global-rate-limit.ts';
import { renderVirtualHost } from './vhost.ts';

export interface FleetRenderOptions extends ListenerOptions {
  visibility: Visibility;
  /**
   * The fleet's fallback certificate (e.g. a wildcard), a kubernetes.io/tls Secret `<ns>/<name>`:
   * served over SDS on the HTTPS listener's default filter chain, for connections whose SNI
   * matches no KIngress TLS host. A missing or invalid Secret leaves the fleet without the
   * fallback chain and is reported by defaultCertificateProblem / FleetAssembler.problems().
   */
  defaultCertificate?: { secret: string };
  /**
   * How the fleet's rate limits count across its Envoys (policy.ts RateLimitSharing; default
   * PerReplica). SharedEvenly needs the bootstrap's fleet-members cluster (bootstrap.ts); Global
   * needs `globalRateLimit` (ListenerOptions: the service's cluster, timeout and failure mode).
   */
  rateLimitSharing?: RateLimitSharing;
}

/** A problem with a fleet's own configuration (not of one KIngress), for the gateway status. */
export type FleetProblem = TranslateProblem;

/** `<ns>/<name>` split, or undefined when the reference is malformed. */
export function secretRef(key: string): { namespace: string; name: string } | undefined {
  const parts = key.split('/');
  const [namespace, name] = parts;
  return parts.length === 2 && namespace && name ? { namespace, name } : undefined;
}

/** Why the fleet's default certificate cannot be served (undefined: none configured, or fine). */
export function defaultCertificateProblem(
  opts: FleetRenderOptions,
  data: BackendData,
): FleetProblem | undefined {
  const key = opts.defaultCertificate?.secret;
  if (key === undefined) return undefined;
  const ref = secretRef(key);
  if (!ref) {
    return {
      reason: 'DefaultCertificateInvalid',
      message: `default certificate: Secret reference ${JSON.stringify(key)} is not <namespace>/<name>`,
    };
  }
  const c = data.certificate(key);
  return c.ok
    ? undefined
    : { reason: c.problem.reason, message: `default certificate: ${c.problem.message}` };
}

/** The fleet's default certificate Secret key when it can be served, else undefined. */
export function servableDefaultCertificate(opts: FleetRenderOptions, data: BackendData): string | undefined {
  const key = opts.defaultCertificate?.secret;
  return key !== undefined && !defaultCertificateProblem(opts, data) ? key : undefined;
}

export interface FleetResources {
  listeners: Map<string, Json>;
  routes: Map<string, Json>;
  /** Scoped route configurations (scoped.ts, `<listener>/<vhost>`); empty unless the fleet is scoped. */
  scopes: Map<string, Json>;
  clusters: Map<string, Json>;
  endpoints: Map<string, Json>;
  secrets: Map<string, Json>;
}

export interface RenderedVhosts {
  http: Json[];
  https: Json[];
}

/** Rendered vhosts per visibility and rate-limit sharing (fleets alike in both share them). */
const memo = new Map<string, WeakMap<IngressIR, RenderedVhosts>>();

export function visibilityPart(ir: IngressIR, visibility: Visibility): VisibilityIR {
  return visibility === 'ExternalIP' ? ir.external : ir.local;
}

/**
 * The rate limits of the RoutePolicies on the hosts of these IRs that a fleet of `visibility`
 * serves, in the given order (one per host), for the rate-limit service of a Global fleet.
 */
export function fleetRateLimits(irs: Iterable<IngressIR>, visibility: Visibility): RateLimitIR[] {
  const out: RateLimitIR[] = [];
  for (const ir of irs) {
    for (const vh of visibilityPart(ir, visibility).vhosts)
      if (vh.policy?.rateLimit) out.push(vh.policy.rateLimit);
  }
  return out;
}

/**
 * The vhosts of one IR for the plain and the TLS route table, rendered once per IR object. A
 * vhost that is not redirected renders the same for both tables and is shared (one object).
 */
export function vhostsOf(
  ir: IngressIR,
  visibility: Visibility,
  sharing: RateLimitSharing = 'PerReplica',
): RenderedVhosts {
  const memoKey = `${visibility}/${sharing}`;
  let cache = memo.get(memoKey);
  if (!cache) memo.set(memoKey, (cache = new WeakMap()));
  let r = cache.get(ir);
  if (!r) {
    const part = visibilityPart(ir, visibility);
    const http = part.vhosts.map((vh) => renderVirtualHost(vh, true, sharing));
    r = {
      http,
      https: part.vhosts.map((vh, i) => (vh.redirectHttp ? renderVirtualHost(vh, false, sharing) : http[i]!)),
    };
    cache.set(ir, r);
  }
  return r;
}

/** Clusters referenced by the fleet's routes (only those: a cluster used elsewhere is not sent). */
export function fleetClusters(irs: IngressIR[], visibility: Visibility): ClusterIR[] {
  const out = new Map<string, ClusterIR>();
  for (const ir of irs) {
    const part = visibilityPart(ir, visibility);
    if (part.vhosts.length === 0) continue;
    const used = new Set(
      part.vhosts.flatMap((vh) => vh.routes.flatMap((r) => r.targets.map((t) => t.cluster))),
    );
    for (const c of ir.clusters) if (used.has(c.name)) out.set(c.name, c);
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function renderEndpoints(clusters: ClusterIR[], data: BackendData): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const c of clusters) {
    if (c.kind !== 'eds' || !c.endpoints) continue;
    out.set(c.name, renderLoadAssignment(c.name, data.endpoints(c)));
  }
  return out;
}

export function renderFleet(opts: FleetRenderOptions, irs: IngressIR[], data: BackendData): FleetResources {
  const http: Json[] = [];
  const https: Json[] = [];
  const tls: TlsIR[] = [];
  // A certificate whose Secret is gone or invalid is not served: its SNI chain is left out, so the
  // listener never waits for a Secret that will not come (those hosts get the default certificate,
  // if the fleet has one). Its KIngress reports SecretNotFound/SecretInvalid meanwhile.
  const serves = (key: string): boolean => data.certificate(key).ok;
  for (const ir of irs) {
    const v = vhostsOf(ir, opts.visibility, opts.rateLimitSharing);
    http.push(...v.http);
    https.push(...v.https);
    tls.push(...visibilityPart(ir, opts.visibility).tls.filter((t) => serves(t.secret)));
  }
  const listeners = new Map<string, Json>([[HTTP_ROUTE_CONFIG, renderHttpListener(opts)]]);
  const routes = new Map<string, Json>([
    [HTTP_ROUTE_CONFIG, { name: HTTP_ROUTE_CONFIG, virtual_hosts: http }],
  ]);
  const defaultSecret = servableDefaultCertificate(opts, data);
  const httpsListener = renderHttpsListener(opts, tls, defaultSecret);
  const secrets = new Map<string, Json>();
  if (httpsListener) {
    listeners.set(HTTPS_ROUTE_CONFIG, httpsListener);
    routes.set(HTTPS_ROUTE_CONFIG, { name: HTTPS_ROUTE_CONFIG, virtual_hosts: https });
    const names = tls.map((t) => t.secret);
    if (defaultSecret !== undefined) names.push(defaultSecret);
    for (const key of names) {
      if (secrets.has(key)) continue;
      const cert = data.certificate(key);
      if (cert.ok) secrets.set(key, renderSecret(key, cert));
    }
  }
  const clusterIRs = fleetClusters(irs, opts.visibility);
  const scoped = opts.scoped === true;
  return {
    listeners,
    routes: scoped ? new Map<string, Json>() : routes,
    scopes: scoped ? scopesOf(routes) : new Map<string, Json>(),
    clusters: new Map([
      ...clusterIRs.map((c): [string, Json] => [c.name, renderCluster(c)]),
      ...(opts.tracing ? [[TRACING_CLUSTER, renderTracingCluster(opts.tracing)] as [string, Json]] : []),
      ...(opts.globalRateLimit
        ? [[RATE_LIMIT_CLUSTER, renderCluster(opts.globalRateLimit.cluster)] as [string, Json]]
        : []),
    ]),
    endpoints: renderEndpoints(
      opts.globalRateLimit ? [...clusterIRs, opts.globalRateLimit.cluster] : clusterIRs,
      data,
    ),
    secrets,
  };
}
