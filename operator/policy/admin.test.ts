import type { HostPolicyIR, RateLimitIR } from '../translate/ir.ts';
import { adminPolicyIR, lowerBucket, underCeiling, underDomains, withAdminPolicy } from './admin.ts';

const admin = adminPolicyIR('gw', {
  defaults: {
    domains: ['Example.com'],
    rateLimit: { rules: [{ name: 'per-client', key: { clientIP: {} }, requests: 50, per: 'Second' }] },
    cors: { allowOrigins: ['https://portal.example.com'] },
  },
  ceilings: { rateLimit: { requests: 10, per: 'Second' } },
  domainRules: [
    { name: 'office', domains: ['admin.example.com'], ipAccess: { allow: ['198.18.0.0/24'] } },
    {
      name: 'bots',
      domains: ['example.com'],
      ipAccess: { deny: ['198.19.0.0/16'] },
      rateLimit: { rules: [{ name: 'per-client', key: { clientIP: {} }, requests: 5, per: 'Second' }] },
    },
  ],
})!;

const tenantLimit: RateLimitIR = {
  policy: 'team-a/p',
  responseHeaders: false,
  rules: [{ name: 'per-key', key: { header: 'x-key' }, each: { requests: 3, seconds: 60 }, limits: [] }],
};

test('spec.policy as IR: labels name the gateway and the part, domains lower case, the ceiling as a bucket', () => {
  expect(admin.ceiling).toEqual({ requests: 10, seconds: 1 });
  expect(admin.defaults?.domains).toEqual(['example.com']);
  expect(admin.defaults?.rateLimit?.policy).toBe('gw:defaults');
  expect(admin.domainRules.map((r) => [r.label, r.ipAccess?.policy, r.rateLimit?.policy])).toEqual([
    ['gw:office', 'gw:office', undefined],
    ['gw:bots', 'gw:bots', 'gw:bots'],
  ]);
  expect(adminPolicyIR('gw', undefined)).toBeUndefined();
  expect(adminPolicyIR('gw', {})).toBeUndefined();
  expect(adminPolicyIR('gw', { domainRules: [] })).toBeUndefined();
});

test('domains: the domain itself and names under it, never a name that merely ends alike', () => {
  expect(underDomains('example.com', ['example.com'])).toBe(true);
  expect(underDomains('A.B.Example.com', ['example.com'])).toBe(true);
  expect(underDomains('badexample.com', ['example.com'])).toBe(false);
  expect(underDomains('example.com.evil.org', ['example.com'])).toBe(false);
});

test('a host without RoutePolicy features gets the defaults and the domain rules', () => {
  const p = withAdminPolicy('web.team-b.example.com', undefined, admin)!;
  expect(p.cors?.policy).toBe('gw:defaults');
  expect(p.ipAccess).toBeUndefined();
  expect(p.enforcedIpAccess?.map((l) => l.policy)).toEqual(['gw:bots']);
  // the default's and the domain rule's limits are counted side by side
  expect(p.rateLimit?.policy).toBe('gw:defaults+gw:bots');
  expect(p.rateLimit?.rules.map((r) => r.each?.requests)).toEqual([50, 5]);
});

test("a RoutePolicy's feature replaces the default of that feature, not the domain rules", () => {
  const tenant: HostPolicyIR = {
    rateLimit: tenantLimit,
    ipAccess: { policy: 'team-a/p', allow: [], deny: ['198.18.0.66/32'] },
  };
  const p = withAdminPolicy('admin.example.com', tenant, admin)!;
  expect(p.rateLimit?.policy).toBe('team-a/p+gw:bots');
  expect(p.rateLimit?.responseHeaders).toBe(false); // the RoutePolicy's choice
  expect(p.rateLimit?.rules.map((r) => r.name)).toEqual(['per-key', 'per-client']);
  expect(p.ipAccess?.policy).toBe('team-a/p');
  expect(p.enforcedIpAccess?.map((l) => l.policy)).toEqual(['gw:office', 'gw:bots']);
  expect(p.cors?.policy).toBe('gw:defaults');
  expect(tenant.enforcedIpAccess).toBeUndefined(); // not modified
});

test('hosts under no domain of the policy keep what the RoutePolicies set, as the same object', () => {
  const tenant: HostPolicyIR = { rateLimit: tenantLimit };
  expect(withAdminPolicy('hello.team-a.svc.cluster.local', tenant, admin)).toBe(tenant);
  expect(withAdminPolicy('hello.team-a.svc.cluster.local', undefined, admin)).toBeUndefined();
  expect(withAdminPolicy('x.example.com', tenant, undefined)).toBe(tenant);
  // defaults without domains reach every host
  const everywhere = adminPolicyIR('gw', { defaults: { cors: { allowOrigins: ['*'] } } });
  expect(withAdminPolicy('hello.team-a.svc.cluster.local', undefined, everywhere)?.cors?.policy).toBe(
    'gw:defaults',
  );
});

test('the ceiling: a faster bucket keeps its period at the ceiling rate, or becomes the ceiling', () => {
  const c = { requests: 10, seconds: 1 };
  expect(lowerBucket({ requests: 10, seconds: 1 }, c)).toBeUndefined(); // equal: kept
  expect(lowerBucket({ requests: 599, seconds: 60 }, c)).toBeUndefined();
  expect(lowerBucket({ requests: 100, seconds: 1 }, c)).toEqual({ requests: 10, seconds: 1 });
  expect(lowerBucket({ requests: 1200, seconds: 60 }, c)).toEqual({ requests: 600, seconds: 60 });
  // 1 per Day as a ceiling: 2 per Second cannot keep its period (0 requests), so 1 per Day
  expect(lowerBucket({ requests: 2, seconds: 1 }, { requests: 1, seconds: 86_400 })).toEqual({
    requests: 1,
    seconds: 86_400,
  });
  const r: RateLimitIR = {
    policy: 'a/b',
    responseHeaders: true,
    rules: [
      {
        name: 'k',
        key: { header: 'x' },
        each: { requests: 100, seconds: 1 },
        limits: [
          { value: 'vip', bucket: { requests: 5, seconds: 1 } },
          { value: 'big', bucket: { requests: 1000, seconds: 1 } },
        ],
      },
    ],
  };
  const u = underCeiling(r, c);
  expect(u.ir.rules[0]!.each).toEqual({ requests: 10, seconds: 1 });
  expect(u.ir.rules[0]!.limits.map((l) => l.bucket.requests)).toEqual([5, 10]);
  expect(u.lowered).toEqual([
    'rule k: 100 per Second lowered to 10 per Second',
    'rule k value big: 1000 per Second lowered to 10 per Second',
  ]);
  expect(r.rules[0]!.each).toEqual({ requests: 100, seconds: 1 }); // not modified
  expect(underCeiling(r, { requests: 1000, seconds: 1 }).ir).toBe(r);
});
