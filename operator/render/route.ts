// RouteIR → Envoy Route. Prefix match, exact header matches, weighted clusters with per-split
// set-headers, path-level set-headers, no timeout and no retry policy (Knative's contract:
// activator and queue-proxy own timeouts; 5xx must never be retried by the ingress).
import { escapeHeaderValue } from '../translate/envoy-limits.ts';
import type { HeaderSet, RouteIR } from '../translate/ir.ts';
import { cookieRegex } from '../translate/routing-rules.ts';
import { routeStatPrefix } from './stats-names.ts';
import { spanName } from './tracing.ts';
import type { Json } from './types.ts';

/** Headers added literally: `%` is escaped, so Envoy never evaluates a value as a format string. */
export function setHeaders(headers: HeaderSet[]): Json[] {
  return headers.map((h) => ({
    header: { key: h.name, value: escapeHeaderValue(h.value) },
    append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
  }));
}

function match(r: RouteIR): Json {
  const m: Json = { prefix: r.prefix };
  const cookies = r.cookies ?? [];
  if (r.headers.length > 0 || cookies.length > 0) {
    m.headers = [
      ...r.headers.map((h) => ({ name: h.name, string_match: { exact: h.exact } })),
      // a cookie among others, quoted or not: Envoy joins a request's Cookie headers with "; "
      ...cookies.map((c) => ({
        name: 'cookie',
        string_match: { safe_regex: { regex: cookieRegex(c.name, c.value) } },
      })),
    ];
  }
  return m;
}

export function renderRoute(r: RouteIR): Json {
  const action: Json = { timeout: '0s' };
  const [only] = r.targets;
  if (r.targets.length === 1 && only) {
    action.cluster = only.cluster;
  } else {
    action.weighted_clusters = {
      clusters: r.targets.map((t) => ({
        name: t.cluster,
        weight: t.weight,
        ...(t.headers.length > 0 ? { request_headers_to_add: setHeaders(t.headers) } : {}),
      })),
    };
  }
  if (r.rewriteHost) action.host_rewrite_literal = r.rewriteHost;
  // With a single target the split's headers move to the route, after the path-level ones.
  const headers = [...r.setHeaders, ...(r.targets.length === 1 && only ? only.headers : [])];
  return {
    name: r.name,
    match: match(r),
    route: action,
    // per-Knative-Service request metrics (stats-names.ts) and span name (tracing.ts; used only
    // by fleets that trace)
    ...(r.knative
      ? { stat_prefix: routeStatPrefix(r.knative), decorator: { operation: spanName(r.knative) } }
      : {}),
    // kgw's readiness probes are never traced (a fleet that traces would send a span per probe)
    ...(r.probe === true ? { tracing: { overall_sampling: {} } } : {}),
    ...(headers.length > 0 ? { request_headers_to_add: setHeaders(headers) } : {}),
  };
}

const renderedRoutes = new WeakMap<RouteIR, Json>();

/**
 * renderRoute once per RouteIR object (IRs are never mutated): the vhosts of one rule's hosts and
 * the external and cluster-local fleets all serve the same route object, which keeps memory
 * per KIngress down.
 */
export function renderRouteOnce(r: RouteIR): Json {
  let out = renderedRoutes.get(r);
  if (!out) {
    out = renderRoute(r);
    renderedRoutes.set(r, out);
  }
  return out;
}

export function renderRedirectRoute(name: string): Json {
  return {
    name,
    match: { prefix: '/' },
    // response_code defaults to MOVED_PERMANENTLY (301), what Knative's httpoption test expects;
    // render emits no proto3 default values (canonical form, see render/validate.test.ts).
    redirect: { https_redirect: true },
  };
}
