import type { RateLimitIR, VirtualHostIR } from '../translate/ir.ts';
import { encodeResource } from '../xds/protojson.ts';
import {
  GLOBAL_RATE_LIMIT_TYPES,
  RATE_LIMIT_CLUSTER,
  RATE_LIMIT_FILTER,
  rateLimitConfig,
  rateLimitConfigs,
  rateLimitHttpFilter,
  rateLimitPerRoute,
} from './global-rate-limit.ts';
import { FILTER, hostPolicyFilters, policyHttpFilters } from './policy.ts';
import type { Json } from './types.ts';
import { renderVirtualHost } from './vhost.ts';

const limits: RateLimitIR = {
  policy: 'team-a/quota',
  responseHeaders: true,
  rules: [
    {
      name: 'per-key',
      key: { header: 'x-ca-key' },
      each: { requests: 2, seconds: 60 },
      limits: [{ value: 'alice', bucket: { requests: 4, seconds: 60 } }],
    },
    {
      name: 'per-ip',
      key: { clientIP: true },
      limits: [{ value: '10.0.0.1', bucket: { requests: 1, seconds: 1 } }],
    },
    { name: 'whole', each: { requests: 1000, seconds: 3600 }, limits: [] },
  ],
};

/** Encodes a typed config with the xDS encoder (throws on a field Envoy's API does not have). */
function encodes(json: Json): boolean {
  const { '@type': type, ...rest } = json as { '@type': string } & Json;
  return encodeResource(type, rest).length > 0;
}

test('the HCM filter: disabled, after local_ratelimit, the fleet timeout and failure mode; only on Global fleets', () => {
  expect(policyHttpFilters().map((f) => f.name)).not.toContain(RATE_LIMIT_FILTER);
  const filters = policyHttpFilters({ failureMode: 'Allow', timeoutMs: 20 });
  expect(filters.map((f) => f.name).slice(-2)).toEqual([FILTER.localRateLimit, RATE_LIMIT_FILTER]);
  const allow = filters.at(-1)!;
  expect(allow.disabled).toBe(true);
  expect(allow.typed_config).toMatchObject({ timeout: '0.020s' });
  expect(allow.typed_config).not.toHaveProperty('failure_mode_deny');
  const deny = rateLimitHttpFilter({ failureMode: 'Deny', timeoutMs: 1500 }).typed_config as Json;
  expect(deny).toMatchObject({
    timeout: '1.500s',
    failure_mode_deny: true,
    rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: RATE_LIMIT_CLUSTER } } },
  });
  expect(encodes(deny)).toBe(true);
});

test("a host's descriptors: the policy's domain, one per rule with its index and name, the host, then the key", () => {
  const perRoute = rateLimitPerRoute(limits, 'quota.example.com');
  expect(perRoute).toEqual({
    '@type': GLOBAL_RATE_LIMIT_TYPES.rateLimitPerRoute,
    domain: 'kgw/team-a/quota',
    rate_limits: [
      {
        actions: [
          { generic_key: { descriptor_key: 'rule', descriptor_value: '0_per-key' } },
          { generic_key: { descriptor_key: 'host', descriptor_value: 'quota.example.com' } },
          { request_headers: { header_name: 'x-ca-key', descriptor_key: 'key' } },
        ],
      },
      {
        actions: [
          { generic_key: { descriptor_key: 'rule', descriptor_value: '1_per-ip' } },
          { generic_key: { descriptor_key: 'host', descriptor_value: 'quota.example.com' } },
          { remote_address: {} },
        ],
      },
      {
        actions: [
          { generic_key: { descriptor_key: 'rule', descriptor_value: '2_whole' } },
          { generic_key: { descriptor_key: 'host', descriptor_value: 'quota.example.com' } },
        ],
      },
    ],
  });
  expect(encodes(perRoute)).toBe(true);
});

test("the service's config: listed values, each other value, per client address and the whole host", () => {
  const c = rateLimitConfig(limits);
  expect(c).toEqual({
    name: 'kgw/team-a/quota',
    domain: 'kgw/team-a/quota',
    descriptors: [
      {
        key: 'rule',
        value: '0_per-key',
        descriptors: [
          {
            key: 'host',
            descriptors: [
              { key: 'key', value: 'alice', rate_limit: { unit: 'MINUTE', requests_per_unit: 4 } },
              { key: 'key', rate_limit: { unit: 'MINUTE', requests_per_unit: 2 } },
            ],
          },
        ],
      },
      {
        key: 'rule',
        value: '1_per-ip',
        descriptors: [
          {
            key: 'host',
            descriptors: [
              {
                key: 'remote_address',
                value: '10.0.0.1',
                rate_limit: { unit: 'SECOND', requests_per_unit: 1 },
              },
            ],
          },
        ],
      },
      {
        key: 'rule',
        value: '2_whole',
        descriptors: [{ key: 'host', rate_limit: { unit: 'HOUR', requests_per_unit: 1000 } }],
      },
    ],
  });
  expect(encodeResource(GLOBAL_RATE_LIMIT_TYPES.rateLimitConfig, c).length).toBeGreaterThan(0);
  // a rule without any limit (no listed value, no eachOtherValue) and a period without a unit: left out
  const none = rateLimitConfig({
    policy: 'a/b',
    responseHeaders: false,
    rules: [
      { name: 'k', key: { header: 'x' }, limits: [] },
      { name: 'odd', each: { requests: 1, seconds: 7 }, limits: [] },
    ],
  });
  expect(none).toEqual({ name: 'kgw/a/b', domain: 'kgw/a/b' });
});

test('the configs of a fleet: one per policy (a policy on several hosts once), sorted by name', () => {
  const other: RateLimitIR = { ...limits, policy: 'team-0/x' };
  expect([...rateLimitConfigs([limits, other, limits]).keys()]).toEqual(['kgw/team-0/x', 'kgw/team-a/quota']);
});

test('on a Global fleet a host enables the ratelimit filter (not local_ratelimit) and its probe routes switch it off', () => {
  expect(Object.keys(hostPolicyFilters({ rateLimit: limits }, 'Global', 'h.example.com'))).toEqual([
    RATE_LIMIT_FILTER,
  ]);
  expect(Object.keys(hostPolicyFilters({ rateLimit: limits }, 'PerReplica', 'h.example.com'))).toEqual([
    FILTER.localRateLimit,
  ]);
  const route = (name: string, probe: boolean) => ({
    name,
    prefix: '/',
    headers: [],
    setHeaders: [],
    targets: [{ cluster: 'team-a/h:80', weight: 100, headers: [] }],
    acme: false,
    probe,
  });
  const vh: VirtualHostIR = {
    host: 'h.example.com',
    owner: 'team-a/h',
    redirectHttp: false,
    policy: { rateLimit: limits },
    routes: [route('team-a/h/r0/p0/probe', true), route('team-a/h/r0/p0', false)],
  };
  const global = renderVirtualHost(vh, false, 'Global') as { routes: Json[]; typed_per_filter_config: Json };
  expect(global.routes[0]?.typed_per_filter_config).toHaveProperty([RATE_LIMIT_FILTER, 'disabled'], true);
  expect(global.routes[1]?.typed_per_filter_config).toBeUndefined();
  expect(global.typed_per_filter_config[RATE_LIMIT_FILTER]).toMatchObject({ domain: 'kgw/team-a/quota' });
  // other modes: their HCMs have no ratelimit filter, so their routes do not name it
  const local = renderVirtualHost(vh, false, 'PerReplica') as { routes: Json[] };
  expect(local.routes[0]?.typed_per_filter_config).not.toHaveProperty(RATE_LIMIT_FILTER);
});
