import type { HostPolicyIR, VirtualHostIR } from '../translate/ir.ts';
import {
  EXEMPT_ROUTE_FILTERS,
  FILTER,
  hostPolicyFilters,
  htpasswd,
  NO_USERS,
  originMatcher,
  policyHttpFilters,
} from './policy.ts';
import { renderVirtualHost } from './vhost.ts';

test('the HCM carries the policy filters once, disabled, in order', () => {
  expect(policyHttpFilters().map((f) => [f.name, f.disabled])).toEqual([
    [FILTER.cors, true],
    [FILTER.rbac, true],
    [FILTER.headerMutation, true],
    [FILTER.basicAuth, true],
    [FILTER.apiKeyAuth, true],
    [FILTER.localRateLimit, true],
  ]);
  // basic_auth: the user header is per connection manager; Envoy needs users there even disabled
  expect(policyHttpFilters().find((f) => f.name === FILTER.basicAuth)?.typed_config).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuth',
    users: { inline_string: '# users are set per host\n' },
    forward_username_header: 'x-kgw-user',
  });
});

test('origins: exact, any, and one wildcard label', () => {
  expect(originMatcher('https://app.example.com')).toEqual({ exact: 'https://app.example.com' });
  expect(originMatcher('*')).toEqual({ safe_regex: { regex: '.*' } });
  const wild = originMatcher('https://*.example.org:8443') as { safe_regex: { regex: string } };
  const re = new RegExp(`^${wild.safe_regex.regex}$`);
  expect(re.test('https://a.example.org:8443')).toBe(true);
  expect(re.test('https://a.b.example.org:8443')).toBe(true);
  expect(re.test('https://example.org:8443')).toBe(false);
  expect(re.test('https://a.exampleXorg:8443')).toBe(false);
  expect(re.test('http://a.example.org:8443')).toBe(false);
});

const policy: HostPolicyIR = {
  apiKeyAuth: {
    policy: 'team-a/keys',
    keySources: [{ header: 'x-ca-key' }, { query: 'apikey' }],
    credentials: [{ client: 'consumer2', key: 'k2' }],
    allowedClients: ['consumer2'],
    forwardHeader: 'x-kgw-consumer',
    hideCredentials: true,
  },
  ipAccess: { policy: 'team-a/ips', allow: ['198.18.0.0/15', '2001:db8::/32'], deny: ['198.18.0.1/32'] },
  cors: {
    policy: 'team-a/cors',
    allowOrigins: ['https://app.example.com'],
    allowMethods: ['GET', 'POST'],
    allowHeaders: [],
    exposeHeaders: [],
    maxAgeSeconds: 600,
    allowCredentials: false,
  },
};

test('per-host filter config: api keys with forwarding, the identity header removed, IP rules, CORS', () => {
  const cfg = hostPolicyFilters(policy);
  expect(cfg[FILTER.apiKeyAuth]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuthPerRoute',
    credentials: [{ key: 'k2', client: 'consumer2' }],
    key_sources: [{ header: 'x-ca-key' }, { query: 'apikey' }],
    allowed_clients: ['consumer2'],
    forwarding: { header: 'x-kgw-consumer', hide_credentials: true },
  });
  expect(cfg[FILTER.headerMutation]).toMatchObject({
    mutations: { request_mutations: [{ remove: 'x-kgw-consumer' }] },
  });
  expect(cfg[FILTER.rbac]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
    rbac: {
      rules: {
        policies: {
          'team-a/ips': {
            permissions: [{ any: true }],
            principals: [
              {
                and_ids: {
                  ids: [
                    {
                      or_ids: {
                        ids: [
                          { remote_ip: { address_prefix: '198.18.0.0', prefix_len: 15 } },
                          { remote_ip: { address_prefix: '2001:db8::', prefix_len: 32 } },
                        ],
                      },
                    },
                    { not_id: { remote_ip: { address_prefix: '198.18.0.1', prefix_len: 32 } } },
                  ],
                },
              },
            ],
          },
        },
      },
    },
  });
  expect(cfg[FILTER.cors]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
    allow_origin_string_match: [{ exact: 'https://app.example.com' }],
    allow_methods: 'GET,POST',
    max_age: '600',
  });
});

test('fail closed: no credentials → no credentials field (every key unknown: 401)', () => {
  const cfg = hostPolicyFilters({ apiKeyAuth: { ...policy.apiKeyAuth!, credentials: [] } });
  expect(cfg[FILTER.apiKeyAuth]).not.toHaveProperty('credentials');
});

const basic: HostPolicyIR['basicAuth'] = {
  policy: 'team-a/basic',
  // sha1('alice-secret'), sha1('bob-secret'), base64
  users: [
    { user: 'alice', sha1: 'KusvaLb24DJ0ziPMVrqjntyCRkM=' },
    { user: 'bob', sha1: 'Md7yGSbrVBY29morDdFNHvcmrxg=' },
  ],
  realm: 'team-a',
};

test('per-host basic auth: {SHA} htpasswd lines, the realm, and x-kgw-user removed from requests', () => {
  const cfg = hostPolicyFilters({ basicAuth: basic });
  expect(cfg[FILTER.basicAuth]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute',
    users: {
      inline_string: 'alice:{SHA}KusvaLb24DJ0ziPMVrqjntyCRkM=\nbob:{SHA}Md7yGSbrVBY29morDdFNHvcmrxg=\n',
    },
    realm: 'team-a',
  });
  expect(cfg[FILTER.headerMutation]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute',
    mutations: { request_mutations: [{ remove: 'x-kgw-user' }] },
  });
  expect(Object.keys(cfg)).toEqual([FILTER.headerMutation, FILTER.basicAuth]);
  // without a realm, Envoy's default
  expect(
    hostPolicyFilters({ basicAuth: { ...basic, realm: undefined } })[FILTER.basicAuth],
  ).not.toHaveProperty('realm');
});

test('basic auth beside API keys and Off rate-limit headers on a Global fleet: one header_mutation for all', () => {
  const cfg = hostPolicyFilters(
    {
      basicAuth: basic,
      apiKeyAuth: policy.apiKeyAuth!,
      rateLimit: {
        policy: 'team-a/rl',
        responseHeaders: false,
        rules: [{ name: 'a', limits: [], each: { requests: 1, seconds: 1 } }],
      },
    },
    'Global',
    'a.example.com',
  );
  expect(cfg[FILTER.headerMutation]).toMatchObject({
    mutations: {
      request_mutations: [{ remove: 'x-kgw-user' }, { remove: 'x-kgw-consumer' }],
      response_mutations: [
        { remove: 'x-ratelimit-limit' },
        { remove: 'x-ratelimit-remaining' },
        { remove: 'x-ratelimit-reset' },
      ],
    },
  });
  // an API-key header named like basic auth's is removed once
  const same = hostPolicyFilters({
    basicAuth: basic,
    apiKeyAuth: { ...policy.apiKeyAuth!, forwardHeader: 'x-kgw-user' },
  });
  expect(same[FILTER.headerMutation]).toMatchObject({
    mutations: { request_mutations: [{ remove: 'x-kgw-user' }] },
  });
});

test('basic auth fails closed: no users → an htpasswd without users (every request 401)', () => {
  expect(htpasswd({ policy: 'p', users: [] })).toBe(NO_USERS);
  expect(hostPolicyFilters({ basicAuth: { ...basic, users: [] } })[FILTER.basicAuth]).toMatchObject({
    users: { inline_string: NO_USERS },
  });
  expect(NO_USERS).toMatch(/^#[^\n]*\n$/); // one comment line: Envoy reads no user from it
});

test('exempt routes switch basic auth off too', () => {
  expect(EXEMPT_ROUTE_FILTERS).toHaveProperty([FILTER.basicAuth], {
    '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
    disabled: true,
  });
});

test('a host with a policy: probe copies, ACME paths and the redirect are exempt; other routes are not', () => {
  const route = (name: string, extra: object = {}) => ({
    name,
    prefix: '/',
    headers: [],
    setHeaders: [],
    targets: [{ cluster: 'ns/s:80', weight: 100, headers: [] }],
    acme: false,
    ...extra,
  });
  const vh: VirtualHostIR = {
    host: 'a.example.com',
    owner: 'ns/a',
    redirectHttp: true,
    routes: [
      route('ns/a/r0/p0/probe', { probe: true }),
      route('ns/a/acme', { acme: true, prefix: '/.well-known/acme-challenge/x' }),
      route('ns/a/r0/p0'),
    ],
    policy,
  };
  const https = renderVirtualHost(vh, false) as {
    routes: { name: string; typed_per_filter_config?: unknown; match: { headers?: unknown[] } }[];
  };
  // the exempt probe copy also needs K-Network-Probe: K-Network-Hash alone is no way around auth
  expect(https.routes[0]?.match.headers).toEqual([
    { name: 'K-Network-Probe', string_match: { exact: 'probe' } },
  ]);
  expect(https.routes.map((r) => [r.name, r.typed_per_filter_config === EXEMPT_ROUTE_FILTERS])).toEqual([
    ['ns/a/r0/p0/probe', true],
    ['ns/a/acme', true],
    ['ns/a/r0/p0', false],
  ]);
  const plain = renderVirtualHost(vh, true) as {
    routes: { name: string; typed_per_filter_config?: unknown }[];
  };
  expect(plain.routes.map((r) => [r.name, r.typed_per_filter_config === EXEMPT_ROUTE_FILTERS])).toEqual([
    ['ns/a/acme', true],
    ['ns/a/redirect', true],
  ]);
  // without a policy nothing changes (the shared rendered routes carry no filter config)
  const bare = renderVirtualHost({ ...vh, policy: undefined }, false) as { routes: object[] };
  for (const r of bare.routes) expect(r).not.toHaveProperty('typed_per_filter_config');
});

test('rate limits: a bucket per listed value and one per other value, the client address, the host as a whole', () => {
  const cfg = hostPolicyFilters({
    rateLimit: {
      policy: 'team-a/limits',
      responseHeaders: true,
      rules: [
        {
          name: 'per-key',
          key: { header: 'x-ca-key' },
          each: { requests: 3, seconds: 60 },
          limits: [{ value: '123456', bucket: { requests: 2, seconds: 60 } }],
        },
        {
          name: 'per-ip',
          key: { clientIP: true },
          limits: [{ value: '198.18.0.1', bucket: { requests: 1, seconds: 1 } }],
        },
        { name: 'whole', each: { requests: 1000, seconds: 3600 }, limits: [] },
      ],
    },
  });
  expect(cfg[FILTER.localRateLimit]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
    stat_prefix: 'kgw_team_a_limits',
    token_bucket: { max_tokens: 4294967295, tokens_per_fill: 4294967295, fill_interval: '1s' },
    filter_enabled: { default_value: { numerator: 100 } },
    filter_enforced: { default_value: { numerator: 100 } },
    descriptors: [
      {
        entries: [{ key: 'r0_per-key', value: '123456' }],
        token_bucket: { max_tokens: 2, tokens_per_fill: 2, fill_interval: '60s' },
      },
      {
        entries: [{ key: 'r0_per-key' }],
        token_bucket: { max_tokens: 3, tokens_per_fill: 3, fill_interval: '60s' },
      },
      {
        entries: [
          { key: 'r1_per-ip', value: 'per-ip' },
          { key: 'remote_address', value: '198.18.0.1' },
        ],
        token_bucket: { max_tokens: 1, tokens_per_fill: 1, fill_interval: '1s' },
      },
      {
        entries: [{ key: 'r2_whole', value: 'whole' }],
        token_bucket: { max_tokens: 1000, tokens_per_fill: 1000, fill_interval: '3600s' },
      },
    ],
    rate_limits: [
      { actions: [{ request_headers: { header_name: 'x-ca-key', descriptor_key: 'r0_per-key' } }] },
      {
        actions: [
          { generic_key: { descriptor_value: 'per-ip', descriptor_key: 'r1_per-ip' } },
          { remote_address: {} },
        ],
      },
      { actions: [{ generic_key: { descriptor_value: 'whole', descriptor_key: 'r2_whole' } }] },
    ],
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    max_dynamic_descriptors: 10000,
  });
});

test('SharedEvenly: the rate limit divides its buckets by the fleet members; PerReplica does not', () => {
  const policy: HostPolicyIR = {
    rateLimit: {
      policy: 'team-a/limits',
      responseHeaders: false,
      rules: [{ name: 'whole', each: { requests: 4, seconds: 60 }, limits: [] }],
    },
  };
  const rl = (cfg: Record<string, unknown>) => cfg[FILTER.localRateLimit] as Record<string, unknown>;
  expect(rl(hostPolicyFilters(policy, 'SharedEvenly')).local_cluster_rate_limit).toEqual({});
  expect(rl(hostPolicyFilters(policy, 'PerReplica'))).not.toHaveProperty('local_cluster_rate_limit');
  expect(rl(hostPolicyFilters(policy))).not.toHaveProperty('local_cluster_rate_limit');
  // the vhost passes the mode on; the buckets themselves are the same
  const vh: VirtualHostIR = { host: 'a.example.com', owner: 'ns/a', routes: [], redirectHttp: false, policy };
  const shared = renderVirtualHost(vh, false, 'SharedEvenly') as {
    typed_per_filter_config: Record<string, unknown>;
  };
  const perReplica = renderVirtualHost(vh, false) as { typed_per_filter_config: Record<string, unknown> };
  expect(rl(shared.typed_per_filter_config)).toEqual({
    ...rl(perReplica.typed_per_filter_config),
    local_cluster_rate_limit: {},
  });
});

test("IP rules of a RoutePolicy and of the gateway's domain rules: one ALLOW policy, every layer ANDed", () => {
  const cfg = hostPolicyFilters({
    ipAccess: { policy: 'team-a/ips', allow: ['198.18.0.0/15'], deny: ['198.18.0.66/32'] },
    enforcedIpAccess: [
      { policy: 'default:office', allow: ['198.18.0.0/24'], deny: [] },
      { policy: 'default:bots', allow: [], deny: ['198.19.0.0/16', '2001:db8::/32'] },
    ],
  });
  const ip = (address_prefix: string, prefix_len: number) => ({ remote_ip: { address_prefix, prefix_len } });
  expect(cfg[FILTER.rbac]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
    rbac: {
      rules: {
        policies: {
          'team-a/ips+default:office+default:bots': {
            permissions: [{ any: true }],
            principals: [
              {
                and_ids: {
                  ids: [
                    { and_ids: { ids: [ip('198.18.0.0', 15), { not_id: ip('198.18.0.66', 32) }] } },
                    ip('198.18.0.0', 24),
                    { not_id: { or_ids: { ids: [ip('198.19.0.0', 16), ip('2001:db8::', 32)] } } },
                  ],
                },
              },
            ],
          },
        },
      },
    },
  });
  // the gateway's rules alone (a host without a RoutePolicy's IP rules)
  const alone = hostPolicyFilters({
    enforcedIpAccess: [{ policy: 'default:bots', allow: [], deny: ['198.19.0.0/16'] }],
  });
  expect(
    Object.keys((alone[FILTER.rbac] as { rbac: { rules: { policies: object } } }).rbac.rules.policies),
  ).toEqual(['default:bots']);
});

test("two client-address rules (a policy's and a domain rule's) make two distinct descriptors", () => {
  const rule = (name: string, requests: number) => ({
    name,
    key: { clientIP: true as const },
    each: { requests, seconds: 1 },
    limits: [],
  });
  const cfg = hostPolicyFilters({
    rateLimit: {
      policy: 'a/b+gw:bots',
      responseHeaders: true,
      rules: [rule('per-ip', 50), rule('per-ip', 5)],
    },
  }) as { [k: string]: { descriptors: { entries: object[] }[] } };
  const entries = cfg[FILTER.localRateLimit]!.descriptors.map((d) => JSON.stringify(d.entries));
  expect(entries).toEqual([
    JSON.stringify([{ key: 'r0_per-ip', value: 'per-ip' }, { key: 'remote_address' }]),
    JSON.stringify([{ key: 'r1_per-ip', value: 'per-ip' }, { key: 'remote_address' }]),
  ]);
});

test('Global fleets: x-ratelimit-* headers stay unless the policy turns them Off, then its header_mutation removes them', () => {
  const limits = (responseHeaders: boolean) => ({
    policy: 'team-a/limits',
    responseHeaders,
    rules: [{ name: 'whole', each: { requests: 1, seconds: 60 }, limits: [] }],
  });
  const off = hostPolicyFilters({ rateLimit: limits(false) }, 'Global', 'a.example.com');
  expect(off[FILTER.headerMutation]).toEqual({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.header_mutation.v3.HeaderMutationPerRoute',
    mutations: {
      response_mutations: [
        { remove: 'x-ratelimit-limit' },
        { remove: 'x-ratelimit-remaining' },
        { remove: 'x-ratelimit-reset' },
      ],
    },
  });
  expect(
    hostPolicyFilters({ rateLimit: limits(true) }, 'Global', 'a.example.com')[FILTER.headerMutation],
  ).toBe(undefined);
  // the local modes leave the headers out themselves (enable_x_ratelimit_headers per host)
  expect(
    hostPolicyFilters({ rateLimit: limits(false) }, 'PerReplica')[FILTER.headerMutation],
  ).toBeUndefined();
  // with API-key auth, one mutation does both
  const both = hostPolicyFilters(
    {
      rateLimit: limits(false),
      apiKeyAuth: {
        policy: 'team-a/limits',
        keySources: [{ header: 'x-key' }],
        credentials: [],
        forwardHeader: 'x-kgw-consumer',
        hideCredentials: false,
      },
    },
    'Global',
    'a.example.com',
  ) as { [k: string]: { mutations: object } };
  expect(Object.keys(both[FILTER.headerMutation]!.mutations)).toEqual([
    'request_mutations',
    'response_mutations',
  ]);
});
