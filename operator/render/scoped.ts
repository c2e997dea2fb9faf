// A fleet's route tables as scoped routes (SRDS): every exact host's virtual host is a scope of its
// own, a ScopedRouteConfiguration carrying a one-vhost route configuration inline, so a change to
// one KIngress sends and makes Envoy rebuild only that KIngress's scopes. With one route table
// (RDS, or VHDS on top of it) Envoy rebuilds the whole table on every update: 1.8–2.9 s at 10k
// KIngresses on this machine kind, which is what bounded create → Ready (bench/README.md).
// Delta xDS only.
//
// How Envoy picks the scope of a request (renderScopedRoutes):
// - the HTTP connection manager's early header mutation, before any route is looked up, writes
//   its listener's name (`http`, `https`) into LISTENER_HEADER and copies the Host into
//   ROUTE_KEY_HEADER, overwriting whatever the client sent in either;
// - the scope key is [listener, Host up to a `:`], so the plain and the TLS listener share one set
//   of scopes (the same scoped_routes), each finding its own. (Not
//   x-forwarded-proto: behind a load balancer that ends TLS and is trusted (clientIP), it says
//   `https` on the plain listener, which may have no TLS scopes at all.);
// - a host with no scope of its own (upper case, a wildcard host, unknown) finds no route: then,
//   and only then, the route-key filter (a few lines of Lua) runs. An upper-case Host is answered
//   308 to the lower-case one; any other host is looked up in the listener's wildcard scope
//   (`<listener>/*`, key `*`), which holds the vhosts of wildcard hosts (`*.example.com`, `*`) and
//   lets Envoy's domain matching choose among them.
// - Filters are chosen when a request's route is first looked up, so a request routed by that
//   second look-up runs without the policy filters its vhost enables (render/policy.ts). The
//   filter therefore refuses (403) a wildcard vhost that has per-filter configuration
//   (NEEDS_FILTERS, set on its routes), instead of serving it unguarded, and an upper-case Host is
//   redirected rather than served for the same reason.
//
// Names: a scope (and its route configuration) is named `<listener>/<vhost with / written ~>`,
// the VHDS name kgw used before, so the vhost statistics keep their labels (stats-names.ts).
import { byCodePoint } from '../order.ts';
import { ADS_SOURCE, TYPE_PREFIX, type Json } from './types.ts';

/** The request header the scope key's listener part is read from (set by Envoy; removed before the backend). */
export const LISTENER_HEADER = 'x-kgw-listener';
/** The request header the scope key's host part is read from (set by Envoy; removed before the backend). */
export const ROUTE_KEY_HEADER = 'x-kgw-route-key';
/** The HTTP filter that handles hosts without a scope of their own. */
export const ROUTE_KEY_FILTER = 'kgw.route-key';
/** The key (and name suffix) of a listener's wildcard scope. */
export const WILDCARD_KEY = '*';
/** The route metadata key (under ROUTE_KEY_FILTER) marking a wildcard vhost with policy filters. */
export const NEEDS_FILTERS = 'filters';

const SCOPED_ROUTES_NAME = 'kgw';
const FILTER_CONFIG = `${TYPE_PREFIX}envoy.config.route.v3.FilterConfig`;
const LUA = `${TYPE_PREFIX}envoy.extensions.filters.http.lua.v3.Lua`;
const EARLY_HEADER_MUTATION = `${TYPE_PREFIX}envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation`;

/** The scope name of vhost `vhost` (its kgw name) of listener `listener`. */
export function scopeName(listener: string, vhost: string): string {
  return `${listener}/${vhost.replaceAll('/', '~')}`;
}

/** The name of a listener's wildcard scope. */
export function wildcardScopeName(listener: string): string {
  return `${listener}/${WILDCARD_KEY}`;
}

/** A vhost's host: its first domain (render/vhost.ts vhostDomains). */
function hostOf(vhost: Json): string {
  const d = (vhost.domains as string[] | undefined)?.[0];
  if (d === undefined) throw new Error(`virtual host ${String(vhost.name)} has no domains`);
  return d;
}

/** Whether the vhost is served from the listener's wildcard scope (`*` or `*.suffix`). */
export function isWildcardVhost(vhost: Json): boolean {
  return hostOf(vhost).includes('*');
}

/** The HCM's `scoped_routes`: one shared set of scopes over ADS, keyed [listener, host]. */
export function renderScopedRoutes(): Json {
  return {
    name: SCOPED_ROUTES_NAME,
    scope_key_builder: {
      fragments: [
        { header_value_extractor: { name: LISTENER_HEADER, index: 0 } },
        { header_value_extractor: { name: ROUTE_KEY_HEADER, element_separator: ':', index: 0 } },
      ],
    },
    rds_config_source: ADS_SOURCE,
    scoped_rds: { scoped_rds_config_source: ADS_SOURCE },
  };
}

const overwrite = (key: string, value: string): Json => ({
  append: { header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
});

/**
 * The early header mutation of listener `listener`'s HCM: the scope key is this listener and the
 * Host, whatever the client sent (`%` in a listener name would be a format string: kgw's are
 * `http` and `https`).
 */
export function renderRouteKeyMutation(listener: string): Json[] {
  return [
    {
      name: 'kgw.route-key',
      typed_config: {
        '@type': EARLY_HEADER_MUTATION,
        mutations: [overwrite(LISTENER_HEADER, listener), overwrite(ROUTE_KEY_HEADER, '%REQ(:authority)%')],
      },
    },
  ];
}

// Runs only for a request whose key found no scope (every scope's route configuration disables
// it). metadata() looks the route up again after clearRouteCache().
const ROUTE_KEY_LUA = `function envoy_on_request(h)
  local headers = h:headers()
  local host = headers:get(":authority") or ""
  local lower = string.lower(host)
  if lower ~= host then
    local scheme = headers:get("x-forwarded-proto")
    if scheme ~= "https" then scheme = "http" end
    h:respond({[":status"] = "308", ["location"] = scheme .. "://" .. lower .. (headers:get(":path") or "/")}, "")
    return
  end
  headers:replace("${ROUTE_KEY_HEADER}", "${WILDCARD_KEY}")
  h:clearRouteCache()
  if h:metadata():get("${NEEDS_FILTERS}") then
    h:respond({[":status"] = "403", ["content-type"] = "text/plain"}, "kgw: the policy of this wildcard host cannot be enforced for this request\\n")
  end
end
`;

/** The route-key filter (first in the chain; see the header comment). */
export function renderRouteKeyFilter(): Json {
  return {
    name: ROUTE_KEY_FILTER,
    typed_config: { '@type': LUA, default_source_code: { inline_string: ROUTE_KEY_LUA } },
  };
}

// Parts every scope has, shared (never mutated): one copy instead of one per host.
const DISABLE_ROUTE_KEY_FILTER: Json = {
  [ROUTE_KEY_FILTER]: { '@type': FILTER_CONFIG, disabled: true },
};
const REMOVE_ROUTE_KEY: readonly string[] = [LISTENER_HEADER, ROUTE_KEY_HEADER];
const listenerFragments = new Map<string, Json>();

function scope(name: string, listener: string, key: string, vhosts: Json[], routeKeyFilter: boolean): Json {
  let first = listenerFragments.get(listener);
  if (!first) listenerFragments.set(listener, (first = { string_key: listener }));
  return {
    name,
    route_configuration: {
      name,
      virtual_hosts: vhosts,
      request_headers_to_remove: REMOVE_ROUTE_KEY,
      ...(routeKeyFilter ? {} : { typed_per_filter_config: DISABLE_ROUTE_KEY_FILTER }),
    },
    key: { fragments: [first, { string_key: key }] },
  };
}

const scopes = new WeakMap<Json, Map<string, Json>>();

/**
 * The scope of exact-host vhost `vhost` on listener `listener` (`http` or `https`, which is also
 * the first part of its key), memoised per vhost object and listener, so an unchanged vhost is the
 * same object at every flush and the xDS cache does not encode it again.
 */
export function asScope(listener: string, vhost: Json): Json {
  let byListener = scopes.get(vhost);
  if (!byListener) {
    byListener = new Map();
    scopes.set(vhost, byListener);
  }
  let out = byListener.get(listener);
  if (!out) {
    const name = scopeName(listener, String(vhost.name));
    out = scope(name, listener, hostOf(vhost), [{ ...vhost, name }], false);
    byListener.set(listener, out);
  }
  return out;
}

/** Routes of a wildcard vhost, marked when the vhost has policy filters (see the header comment). */
function markedRoutes(vhost: Json): Json[] {
  const routes = (vhost.routes ?? []) as Json[];
  if (vhost.typed_per_filter_config === undefined) return routes;
  return routes.map((r) => ({
    ...r,
    metadata: { filter_metadata: { [ROUTE_KEY_FILTER]: { [NEEDS_FILTERS]: true } } },
  }));
}

/**
 * A listener's wildcard scope: the vhosts of its wildcard hosts in vhost name order, reached by the
 * route-key filter for a host without a scope of its own. Undefined when there are none.
 */
export function wildcardScope(listener: string, vhosts: readonly Json[]): Json | undefined {
  if (vhosts.length === 0) return undefined;
  const name = wildcardScopeName(listener);
  const sorted = [...vhosts].sort((a, b) => byCodePoint(String(a.name), String(b.name)));
  return scope(
    name,
    listener,
    WILDCARD_KEY,
    sorted.map((v) => ({ ...v, name: scopeName(listener, String(v.name)), routes: markedRoutes(v) })),
    true,
  );
}

/** Route tables (listener name → RouteConfiguration with virtual_hosts) → scopes by name. */
export function scopesOf(routes: ReadonlyMap<string, Json>): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [listener, table] of routes) {
    const wild: Json[] = [];
    for (const vh of (table.virtual_hosts ?? []) as Json[]) {
      if (isWildcardVhost(vh)) {
        wild.push(vh);
        continue;
      }
      const s = asScope(listener, vh);
      const key = String(s.name);
      if (out.has(key)) throw new Error(`two virtual hosts named ${key} on listener ${listener}`);
      out.set(key, s);
    }
    const w = wildcardScope(listener, wild);
    if (w) out.set(String(w.name), w);
  }
  return out;
}
