// RoutePolicy features on Envoy. Every HTTP connection manager carries the policy filters once, each
// disabled; a host with a policy enables them through its virtual host's typed_per_filter_config, so
// a policy changes only its own hosts' route configuration and never a listener. Probe copies, ACME
// HTTP-01 challenges and HTTPS redirects switch auth and IP rules off again at route level: Knative's
// prober must reach the activator/queue-proxy (which answer probes themselves) or the KIngress never
// turns Ready, and a challenge must reach cert-manager's solver.
//
// Filter order: cors (answers preflights before anything can refuse them) → rbac (IP rules: 403
// before credentials are looked at) → header_mutation (removes the client-identity headers from
// client requests, so they cannot be forged) → basic_auth (401; sets x-kgw-user) → api_key_auth
// (401/403; sets its client header) → local_ratelimit (429; refused requests are not counted) →
// ratelimit (fleets whose limits are Global only: asks the rate-limit service,
// global-rate-limit.ts) → router.
import type {
  ApiKeyAuthIR,
  BasicAuthIR,
  BucketIR,
  CorsIR,
  HostPolicyIR,
  IpAccessIR,
  RateLimitIR,
} from '../translate/ir.ts';
import { HEADER_PROBE } from '../api/kingress.ts';
import { BASIC_AUTH_USER_HEADER } from '../api/routepolicy-constants.ts';
import type { RateLimitSharing } from '../api/knativegateway-constants.ts';
import { regexEscape } from '../translate/routing-rules.ts';
import {
  RATE_LIMIT_FILTER,
  rateLimitHttpFilter,
  rateLimitPerRoute,
  type GlobalRateLimitOptions,
} from './global-rate-limit.ts';
import { TYPE_PREFIX, type Json } from './types.ts';

export const FILTER = {
  cors: 'envoy.filters.http.cors',
  rbac: 'envoy.filters.http.rbac',
  headerMutation: 'envoy.filters.http.header_mutation',
  basicAuth: 'envoy.filters.http.basic_auth',
  apiKeyAuth: 'envoy.filters.http.api_key_auth',
  localRateLimit: 'envoy.filters.http.local_ratelimit',
  rateLimit: RATE_LIMIT_FILTER,
} as const;

export const POLICY_TYPES = {
  cors: `${TYPE_PREFIX}envoy.extensions.filters.http.cors.v3.Cors`,
  corsPolicy: `${TYPE_PREFIX}envoy.extensions.filters.http.cors.v3.CorsPolicy`,
  rbac: `${TYPE_PREFIX}envoy.extensions.filters.http.rbac.v3.RBAC`,
  rbacPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.rbac.v3.RBACPerRoute`,
  headerMutation: `${TYPE_PREFIX}envoy.extensions.filters.http.header_mutation.v3.HeaderMutation`,
  headerMutationPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute`,
  basicAuth: `${TYPE_PREFIX}envoy.extensions.filters.http.basic_auth.v3.BasicAuth`,
  basicAuthPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute`,
  apiKeyAuth: `${TYPE_PREFIX}envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuth`,
  apiKeyAuthPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuthPerRoute`,
  filterConfig: `${TYPE_PREFIX}envoy.config.route.v3.FilterConfig`,
  localRateLimit: `${TYPE_PREFIX}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`,
} as const;

/**
 * The policy filters of every HTTP connection manager, before the router, all disabled; with
 * `global` (the fleet's rate limits are Global) the ratelimit filter too.
 */
export function policyHttpFilters(
  global?: Pick<GlobalRateLimitOptions, 'failureMode' | 'timeoutMs'>,
): Json[] {
  return [
    { name: FILTER.cors, typed_config: { '@type': POLICY_TYPES.cors }, disabled: true },
    { name: FILTER.rbac, typed_config: { '@type': POLICY_TYPES.rbac }, disabled: true },
    { name: FILTER.headerMutation, typed_config: { '@type': POLICY_TYPES.headerMutation }, disabled: true },
    {
      name: FILTER.basicAuth,
      typed_config: {
        '@type': POLICY_TYPES.basicAuth,
        // Envoy requires users here even with the filter disabled; a comment line is none
        users: { inline_string: '# users are set per host\n' },
        forward_username_header: BASIC_AUTH_USER_HEADER,
      },
      disabled: true,
    },
    { name: FILTER.apiKeyAuth, typed_config: { '@type': POLICY_TYPES.apiKeyAuth }, disabled: true },
    {
      name: FILTER.localRateLimit,
      typed_config: { '@type': POLICY_TYPES.localRateLimit, stat_prefix: 'kgw_rate_limit' },
      disabled: true,
    },
    ...(global ? [rateLimitHttpFilter(global)] : []),
  ];
}

/**
 * An htpasswd list without users (a comment line: Envoy refuses an empty DataSource at filter level);
 * with it every request gets 401.
 */
export const NO_USERS = '# no users: every request gets 401\n';

const disabled: Json = { '@type': POLICY_TYPES.filterConfig, disabled: true };

/** Route-level config that switches auth, IP rules and rate limits off (probe copies, ACME, redirects). */
export const EXEMPT_ROUTE_FILTERS: Json = Object.freeze({
  [FILTER.rbac]: disabled,
  [FILTER.basicAuth]: disabled,
  [FILTER.apiKeyAuth]: disabled,
  [FILTER.localRateLimit]: disabled,
});

/** EXEMPT_ROUTE_FILTERS on a fleet whose rate limits are Global: the ratelimit filter off too. */
export const EXEMPT_ROUTE_FILTERS_GLOBAL: Json = Object.freeze({
  ...EXEMPT_ROUTE_FILTERS,
  [FILTER.rateLimit]: disabled,
});

/**
 * A route on a host with a policy, with auth, IP rules and rate limits off (ACME, redirects);
 * `global`: the fleet's rate limits are Global (its HCMs have the ratelimit filter).
 */
export function exemptRoute(route: Json, global = false): Json {
  return { ...route, typed_per_filter_config: global ? EXEMPT_ROUTE_FILTERS_GLOBAL : EXEMPT_ROUTE_FILTERS };
}

/**
 * A probe copy on a host with a policy: exempt, and matched only with `K-Network-Probe: probe` as
 * well (Knative's prober sends it with `K-Network-Hash: override`). With that header the activator
 * and queue-proxy answer the request themselves, so the exemption never lets a request through to
 * the app; `K-Network-Hash: override` alone takes the guarded route like any other request.
 */
export function exemptProbeRoute(route: Json, global = false): Json {
  const match = route.match as { headers?: Json[] } & Json;
  return exemptRoute(
    {
      ...route,
      match: {
        ...match,
        headers: [...(match.headers ?? []), { name: HEADER_PROBE, string_match: { exact: 'probe' } }],
      },
    },
    global,
  );
}

/** An allowed origin as an Envoy StringMatcher: `*` any, `scheme://*.domain[:port]` any subdomain. */
export function originMatcher(origin: string): Json {
  if (origin === '*') return { safe_regex: { regex: '.*' } };
  const wild = /^([a-z][a-z0-9+.-]*:\/\/)\*\.(.+)$/.exec(origin);
  if (wild) return { safe_regex: { regex: `${regexEscape(wild[1]!)}[^/]+\\.${regexEscape(wild[2]!)}` } };
  return { exact: origin };
}

function corsPolicy(c: CorsIR): Json {
  return {
    '@type': POLICY_TYPES.corsPolicy,
    allow_origin_string_match: c.allowOrigins.map(originMatcher),
    ...(c.allowMethods.length > 0 ? { allow_methods: c.allowMethods.join(',') } : {}),
    ...(c.allowHeaders.length > 0 ? { allow_headers: c.allowHeaders.join(',') } : {}),
    ...(c.exposeHeaders.length > 0 ? { expose_headers: c.exposeHeaders.join(',') } : {}),
    ...(c.maxAgeSeconds !== undefined ? { max_age: String(c.maxAgeSeconds) } : {}),
    ...(c.allowCredentials ? { allow_credentials: true } : {}),
  };
}

/** `203.0.113.0/24` → an RBAC remote_ip principal (the address the fleet's client-IP settings resolve). */
function cidrPrincipal(cidr: string): Json {
  const [address = '', len] = cidr.split('/');
  const prefixLen = Number(len ?? (address.includes(':') ? 128 : 32));
  return { remote_ip: { address_prefix: address, ...(prefixLen > 0 ? { prefix_len: prefixLen } : {}) } };
}

function anyOf(cidrs: string[]): Json {
  return cidrs.length === 1 ? cidrPrincipal(cidrs[0]!) : { or_ids: { ids: cidrs.map(cidrPrincipal) } };
}

/** One layer of IP rules as a principal: in an allow range (if any), and in no deny range. */
function ipPrincipal(ip: IpAccessIR): Json {
  const ids: Json[] = [];
  if (ip.allow.length > 0) ids.push(anyOf(ip.allow));
  if (ip.deny.length > 0) ids.push({ not_id: anyOf(ip.deny) });
  return ids.length === 1 ? ids[0]! : { and_ids: { ids } };
}

/**
 * IP rules of a host: a RoutePolicy's (or the gateway's default) and the gateway's domain rules. A
 * request must meet every layer, so one ALLOW policy whose principal is all layers' AND.
 */
function rbacPerRoute(layers: IpAccessIR[]): Json {
  const principals = layers.map(ipPrincipal);
  const principal = principals.length === 1 ? principals[0]! : { and_ids: { ids: principals } };
  return {
    '@type': POLICY_TYPES.rbacPerRoute,
    rbac: {
      rules: {
        // ALLOW is proto3's default enum value: left out (canonical form)
        policies: {
          [layers.map((l) => l.policy).join('+')]: {
            permissions: [{ any: true }], // any: Envoy's RBAC Permission field (every request), not a type
            principals: [principal],
          },
        },
      },
    },
  };
}

/** The x-ratelimit-* headers (IETF draft 03) Envoy's rate-limit filters add to responses. */
export const RATE_LIMIT_RESPONSE_HEADERS = [
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
];

/**
 * The host's header_mutation: the client-identity headers removed from requests (API-key auth's,
 * basic auth's x-kgw-user), and on a Global fleet the x-ratelimit-* headers from responses when the
 * policy turned them Off (the ratelimit filter adds them for every host of the connection manager).
 */
function headerMutation(
  a: ApiKeyAuthIR | undefined,
  b: BasicAuthIR | undefined,
  removeRateLimitHeaders: boolean,
): Json | undefined {
  const remove = [...new Set([...(b ? [BASIC_AUTH_USER_HEADER] : []), ...(a ? [a.forwardHeader] : [])])];
  if (remove.length === 0 && !removeRateLimitHeaders) return undefined;
  return {
    '@type': POLICY_TYPES.headerMutationPerRoute,
    mutations: {
      ...(remove.length > 0 ? { request_mutations: remove.map((h) => ({ remove: h })) } : {}),
      ...(removeRateLimitHeaders
        ? { response_mutations: RATE_LIMIT_RESPONSE_HEADERS.map((h) => ({ remove: h })) }
        : {}),
    },
  };
}

/** A host's users as Envoy's htpasswd (`<user>:{SHA}<base64 sha1>` lines), or NO_USERS. */
export function htpasswd(b: BasicAuthIR): string {
  return b.users.length > 0 ? b.users.map((u) => `${u.user}:{SHA}${u.sha1}\n`).join('') : NO_USERS;
}

function basicAuthPerRoute(b: BasicAuthIR): Json {
  return {
    '@type': POLICY_TYPES.basicAuthPerRoute,
    users: { inline_string: htpasswd(b) },
    ...(b.realm !== undefined ? { realm: b.realm } : {}),
  };
}

function apiKeyAuthPerRoute(a: ApiKeyAuthIR): Json {
  return {
    '@type': POLICY_TYPES.apiKeyAuthPerRoute,
    ...(a.credentials.length > 0
      ? { credentials: a.credentials.map((c) => ({ key: c.key, client: c.client })) }
      : {}),
    key_sources: a.keySources.map((s) =>
      s.header !== undefined ? { header: s.header } : { query: s.query },
    ),
    ...(a.allowedClients !== undefined && a.allowedClients.length > 0
      ? { allowed_clients: a.allowedClients }
      : {}),
    forwarding: { header: a.forwardHeader, ...(a.hideCredentials ? { hide_credentials: true } : {}) },
  };
}

/** Envoy's token bucket: `requests` per period, starting full (a burst of the period is allowed). */
function tokenBucket(b: BucketIR): Json {
  return { max_tokens: b.requests, tokens_per_fill: b.requests, fill_interval: `${b.seconds}s` };
}

/** The default bucket when no rule limits the host as a whole: never empties. */
const UNLIMITED: Json = { max_tokens: 4_294_967_295, tokens_per_fill: 4_294_967_295, fill_interval: '1s' };

/**
 * How a rate limit counts across a fleet's Envoys. PerReplica: each Envoy has its own buckets (N
 * replicas admit N× the limit). SharedEvenly: Envoy's local_cluster_rate_limit divides every
 * bucket by the number of members of the bootstrap's local cluster (FLEET_MEMBERS_CLUSTER, the
 * fleet's ready replicas), so the fleet admits about the limit when load is spread evenly.
 */
export type { RateLimitSharing };

/** Dynamic descriptors (one bucket per value) kept per host and Envoy, least recently used dropped. */
export const MAX_DYNAMIC_DESCRIPTORS = 10_000;

const ALWAYS: Json = { default_value: { numerator: 100 } };

/**
 * Rate limits of a host: each rule is one rate_limits action (a header value, the client address,
 * or a constant for the host as a whole) and descriptors with its buckets — one per listed value,
 * and for `each` one without a value, which Envoy turns into a bucket per value it sees.
 */
function localRateLimit(r: RateLimitIR, sharing: RateLimitSharing): Json {
  const descriptors: Json[] = [];
  const rateLimits: Json[] = [];
  let dynamic = false;
  r.rules.forEach((rule, i) => {
    const dk = `r${i}_${rule.name}`;
    if (!rule.key) {
      rateLimits.push({ actions: [{ generic_key: { descriptor_value: rule.name, descriptor_key: dk } }] });
      if (rule.each)
        descriptors.push({ entries: [{ key: dk, value: rule.name }], token_bucket: tokenBucket(rule.each) });
      return;
    }
    // A header rule's entry is keyed by the rule; the client address always comes as
    // `remote_address`, so a client-address rule's descriptor starts with the rule's own entry (two
    // such rules, say a RoutePolicy's and a domain rule's, would otherwise be one descriptor twice,
    // which Envoy refuses).
    const ruleEntry: Json[] = 'header' in rule.key ? [] : [{ key: dk, value: rule.name }];
    const entryKey = 'header' in rule.key ? dk : 'remote_address';
    rateLimits.push({
      actions:
        'header' in rule.key
          ? [{ request_headers: { header_name: rule.key.header, descriptor_key: dk } }]
          : [{ generic_key: { descriptor_value: rule.name, descriptor_key: dk } }, { remote_address: {} }],
    });
    for (const l of rule.limits)
      descriptors.push({
        entries: [...ruleEntry, { key: entryKey, value: l.value }],
        token_bucket: tokenBucket(l.bucket),
      });
    if (rule.each) {
      dynamic = true;
      descriptors.push({ entries: [...ruleEntry, { key: entryKey }], token_bucket: tokenBucket(rule.each) });
    }
  });
  return {
    '@type': POLICY_TYPES.localRateLimit,
    stat_prefix: `kgw_${r.policy.replace(/[^a-z0-9]/g, '_')}`,
    token_bucket: UNLIMITED,
    filter_enabled: ALWAYS,
    filter_enforced: ALWAYS,
    ...(descriptors.length > 0 ? { descriptors } : {}),
    rate_limits: rateLimits,
    ...(r.responseHeaders ? { enable_x_ratelimit_headers: 'DRAFT_VERSION_03' } : {}),
    ...(dynamic ? { max_dynamic_descriptors: MAX_DYNAMIC_DESCRIPTORS } : {}),
    ...(sharing === 'SharedEvenly' ? { local_cluster_rate_limit: {} } : {}),
  };
}

/**
 * The virtual host's typed_per_filter_config for its policy features. Rate limits go to
 * local_ratelimit, or with `sharing` Global to the ratelimit filter (the rate-limit service counts).
 */
export function hostPolicyFilters(
  p: HostPolicyIR,
  sharing: RateLimitSharing = 'PerReplica',
  host = '*',
): Json {
  const out: Json = {};
  if (p.cors) out[FILTER.cors] = corsPolicy(p.cors);
  const ipLayers = [...(p.ipAccess ? [p.ipAccess] : []), ...(p.enforcedIpAccess ?? [])];
  if (ipLayers.length > 0) out[FILTER.rbac] = rbacPerRoute(ipLayers);
  const mutation = headerMutation(
    p.apiKeyAuth,
    p.basicAuth,
    sharing === 'Global' && p.rateLimit !== undefined && !p.rateLimit.responseHeaders,
  );
  if (mutation) out[FILTER.headerMutation] = mutation;
  if (p.basicAuth) out[FILTER.basicAuth] = basicAuthPerRoute(p.basicAuth);
  if (p.apiKeyAuth) out[FILTER.apiKeyAuth] = apiKeyAuthPerRoute(p.apiKeyAuth);
  if (p.rateLimit && sharing === 'Global') out[FILTER.rateLimit] = rateLimitPerRoute(p.rateLimit, host);
  else if (p.rateLimit) out[FILTER.localRateLimit] = localRateLimit(p.rateLimit, sharing);
  return out;
}
