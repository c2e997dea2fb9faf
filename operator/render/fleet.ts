// Assembles the Envoy resources of one fleet from the accepted IngressIRs: listeners, the plain
// and TLS route tables, clusters, endpoints (EDS) and certificates (SDS). Vhosts are rendered once
// per IngressIR object and memoised, so a change to one KIngress re-renders only that KIngress.
import type { Visibility } from '../api/kingress.ts';
import type { ClusterIR, IngressIR, VisibilityIR } from '../translate/ir.ts';
import type { Lookups } from '../translate/lookups.ts';
import { renderCluster } from './cluster.ts';
import { endpointAddresses, renderLoadAssignment } from './endpoints.ts';
import {
  HTTP_ROUTE_CONFIG,
  HTTPS_ROUTE_CONFIG,
  renderHttpListener,
  renderHttpsListener,
  type ListenerOptions,
} from './listener.ts';
import { renderSecret } from './secret.ts';
import type { Json } from './types.ts';
import { renderVirtualHost } from './vhost.ts';

export interface FleetRenderOptions extends ListenerOptions {
  visibility: Visibility;
}

export interface FleetResources {
  listeners: Map<string, Json>;
  routes: Map<string, Json>;
  clusters: Map<string, Json>;
  endpoints: Map<string, Json>;
  secrets: Map<string, Json>;
}

export interface RenderedVhosts {
  http: Json[];
  https: Json[];
}

const memo = {
  external: new WeakMap<IngressIR, RenderedVhosts>(),
  local: new WeakMap<IngressIR, RenderedVhosts>(),
};

export function visibilityPart(ir: IngressIR, visibility: Visibility): VisibilityIR {
  return visibility === 'ExternalIP' ? ir.external : ir.local;
}

/**
 * The vhosts of one IR for the plain and the TLS route table, rendered once per IR object. A
 * vhost that is not redirected renders the same for both tables and is shared (one object).
 */
export function vhostsOf(ir: IngressIR, visibility: Visibility): RenderedVhosts {
  const cache = visibility === 'ExternalIP' ? memo.external : memo.local;
  let r = cache.get(ir);
  if (!r) {
    const part = visibilityPart(ir, visibility);
    const http = part.vhosts.map((vh) => renderVirtualHost(vh, true));
    r = {
      http,
      https: part.vhosts.map((vh, i) => (vh.redirectHttp ? renderVirtualHost(vh, false) : http[i]!)),
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

export function renderEndpoints(clusters: ClusterIR[], lookups: Lookups): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const c of clusters) {
    if (c.kind !== 'eds' || !c.endpoints) continue;
    const slices = lookups.endpointSlices(c.endpoints.namespace, c.endpoints.service);
    out.set(c.name, renderLoadAssignment(c.name, endpointAddresses(slices, c)));
  }
  return out;
}

export function renderFleet(opts: FleetRenderOptions, irs: IngressIR[], lookups: Lookups): FleetResources {
  const http: Json[] = [];
  const https: Json[] = [];
  const tls = [];
  for (const ir of irs) {
    const v = vhostsOf(ir, opts.visibility);
    http.push(...v.http);
    https.push(...v.https);
    tls.push(...visibilityPart(ir, opts.visibility).tls);
  }
  const listeners = new Map<string, Json>([[HTTP_ROUTE_CONFIG, renderHttpListener(opts)]]);
  const routes = new Map<string, Json>([
    [HTTP_ROUTE_CONFIG, { name: HTTP_ROUTE_CONFIG, virtual_hosts: http }],
  ]);
  const httpsListener = renderHttpsListener(opts, tls);
  const secrets = new Map<string, Json>();
  if (httpsListener) {
    listeners.set(HTTPS_ROUTE_CONFIG, httpsListener);
    routes.set(HTTPS_ROUTE_CONFIG, { name: HTTPS_ROUTE_CONFIG, virtual_hosts: https });
    for (const t of tls) {
      if (secrets.has(t.secret)) continue;
      const [ns = '', name = ''] = t.secret.split('/');
      const s = lookups.secret(ns, name);
      if (s) secrets.set(t.secret, renderSecret(t.secret, s));
    }
  }
  const clusterIRs = fleetClusters(irs, opts.visibility);
  return {
    listeners,
    routes,
    clusters: new Map(clusterIRs.map((c) => [c.name, renderCluster(c)])),
    endpoints: renderEndpoints(clusterIRs, lookups),
    secrets,
  };
}
