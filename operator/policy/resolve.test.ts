import type { RoutePolicy, RoutePolicySpec } from '../api/routepolicy.ts';
import type { SecretData } from './credentials.ts';
import type { RoutedTargets } from '../translate/routing-rules.ts';
import {
  ingressView,
  LABEL_DOMAIN_MAPPING_UID,
  LABEL_ROUTE,
  resolvePolicies,
  type DomainMappingView,
  type IngressView,
  type PolicyWorld,
} from './resolve.ts';

const NO_ROUTES = { revisions: new Set<string>(), tags: new Set<string>() };
const routeIngress = (
  ns: string,
  route: string,
  hosts: string[],
  routed: RoutedTargets = {
    revisions: new Set([`${route}-00001`, `${route}-00002`]),
    tags: new Set(['canary']),
  },
  routingAnnotation = false,
): IngressView => ({
  namespace: ns,
  name: route,
  labels: { [LABEL_ROUTE]: route, 'serving.knative.dev/service': route },
  hosts,
  routed: () => routed,
  routingAnnotation,
});
const dmIngress = (ns: string, name: string): IngressView => ({
  namespace: ns,
  name,
  labels: { [LABEL_DOMAIN_MAPPING_UID]: 'uid', 'serving.knative.dev/domainMappingNamespace': ns },
  hosts: [name],
  routed: () => NO_ROUTES,
  routingAnnotation: false,
});

const HELLO_HOSTS = [
  'hello.team-a.example.com',
  'hello.team-a',
  'hello.team-a.svc',
  'hello.team-a.svc.cluster.local',
  'canary-hello.team-a.example.com',
];

function policy(
  name: string,
  spec: Partial<RoutePolicySpec>,
  created = '2026-12-01T00:00:00Z',
  ns = 'team-a',
): RoutePolicy {
  return {
    metadata: { name, namespace: ns, generation: 2, creationTimestamp: created },
    spec: { targetRefs: [{ group: 'serving.knative.dev', kind: 'Service', name: 'hello' }], ...spec },
  };
}

const keyAuth = {
  keySources: [{ header: 'x-ca-key' }],
  credentialsFrom: [{ secretRef: { name: 'consumers' } }],
  allowedClients: ['consumer2'],
};

function world(
  policies: RoutePolicy[],
  secrets: Record<string, Record<string, string>> = {
    'team-a/consumers': { consumer1: 'k1', consumer2: 'k2' },
  },
  extra: { ingresses?: IngressView[]; domainMappings?: DomainMappingView[] } = {},
): PolicyWorld {
  return {
    policies,
    ingresses: [
      routeIngress('team-a', 'hello', HELLO_HOSTS),
      dmIngress('team-a', 'api.example.com'),
      routeIngress('team-b', 'hello', ['hello.team-b.example.com']),
      ...(extra.ingresses ?? []),
    ],
    domainMappings: extra.domainMappings ?? [
      { namespace: 'team-a', name: 'api.example.com', ref: { kind: 'Service', name: 'hello' } },
    ],
    secret: (ns, n): SecretData => {
      const data = secrets[`${ns}/${n}`];
      return data ? { found: true, data } : { found: false };
    },
  };
}

test('a Service target covers every host of its Route (external, cluster-local, tag) and its DomainMappings, in its namespace only', () => {
  const r = resolvePolicies(world([policy('p', { apiKeyAuth: keyAuth })]));
  const o = r.outcomes.get('team-a/p')!;
  expect(o).toMatchObject({
    accepted: true,
    reason: 'Accepted',
    hostCount: 6,
    message: 'in force on 6 hosts',
  });
  expect(o.targets).toEqual([
    { kind: 'Service', name: 'hello', hosts: [...HELLO_HOSTS, 'api.example.com'].sort() },
  ]);
  expect(o.ingressKeys).toEqual(['team-a/api.example.com', 'team-a/hello']);
  expect(o.secrets).toEqual(['team-a/consumers']);
  expect([...r.attached.keys()].sort()).toEqual(['team-a/api.example.com', 'team-a/hello']);
  const auth = r.attached.get('team-a/hello')?.get('canary-hello.team-a.example.com')?.apiKeyAuth;
  expect(auth).toEqual({
    policy: 'team-a/p',
    keySources: [{ header: 'x-ca-key' }],
    credentials: [
      { client: 'consumer1', key: 'k1' },
      { client: 'consumer2', key: 'k2' },
    ],
    allowedClients: ['consumer2'],
    forwardHeader: 'x-kgw-consumer',
    hideCredentials: false,
  });
  expect(r.attached.has('team-b/hello')).toBe(false);
});

test('a Route target leaves DomainMappings out; a DomainMapping target covers its one host', () => {
  const r = resolvePolicies(
    world([
      policy('route', {
        targetRefs: [{ group: 'serving.knative.dev', kind: 'Route', name: 'hello' }],
        cors: { allowOrigins: ['*'] },
      }),
      policy('dm', {
        targetRefs: [{ group: 'serving.knative.dev', kind: 'DomainMapping', name: 'api.example.com' }],
        ipAccess: { deny: ['203.0.113.0/24'] },
      }),
    ]),
  );
  expect(r.outcomes.get('team-a/route')?.hostCount).toBe(5);
  expect(r.outcomes.get('team-a/dm')?.targets).toEqual([
    { kind: 'DomainMapping', name: 'api.example.com', hosts: ['api.example.com'] },
  ]);
  expect(r.attached.get('team-a/api.example.com')?.get('api.example.com')).toEqual({
    ipAccess: { policy: 'team-a/dm', allow: [], deny: ['203.0.113.0/24'] },
  });
});

test('a DomainMapping in another namespace, or pointing elsewhere, adds nothing', () => {
  const r = resolvePolicies(
    world([policy('p', { cors: { allowOrigins: ['*'] } })], undefined, {
      ingresses: [dmIngress('team-b', 'evil.example.com')],
      domainMappings: [
        {
          namespace: 'team-b',
          name: 'evil.example.com',
          ref: { kind: 'Service', name: 'hello', namespace: 'team-a' },
        },
        { namespace: 'team-a', name: 'api.example.com', ref: { kind: 'Service', name: 'other' } },
      ],
    }),
  );
  expect(r.outcomes.get('team-a/p')?.hostCount).toBe(5);
  expect(r.attached.has('team-b/evil.example.com')).toBe(false);
  expect(r.attached.has('team-a/api.example.com')).toBe(false);
});

test('spec.hosts narrows; hosts that are not the targets are reported, never added', () => {
  const r = resolvePolicies(
    world([
      policy('p', {
        hosts: ['hello.team-a.example.com', 'victim.team-b.example.com'],
        cors: { allowOrigins: ['*'] },
      }),
    ]),
  );
  const o = r.outcomes.get('team-a/p')!;
  expect(o.hostCount).toBe(1);
  expect(o.message).toBe(
    "in force on 1 host; spec.hosts not among the targets' hosts: victim.team-b.example.com",
  );
  expect([...(r.attached.get('team-a/hello')?.keys() ?? [])]).toEqual(['hello.team-a.example.com']);
});

test('a wildcard host among the targets: in force, and the status says it refuses requests on delta fleets', () => {
  const r = resolvePolicies(
    world(
      [
        policy('p', {
          cors: { allowOrigins: ['*'] },
          targetRefs: [{ group: 'serving.knative.dev', kind: 'Route', name: 'wild' }],
        }),
      ],
      undefined,
      {
        ingresses: [routeIngress('team-a', 'wild', ['*.apps.example.com', 'wild.team-a.example.com'])],
      },
    ),
  );
  const o = r.outcomes.get('team-a/p')!;
  expect(o.accepted).toBe(true);
  expect(o.message).toBe(
    'in force on 2 hosts; *.apps.example.com: a wildcard host with a policy refuses requests (403) on ' +
      'fleets whose Envoys speak delta xDS, since its filters cannot run there (docs/policies.md)',
  );
});

test('two policies setting one feature on one host: the older wins, the newer is Conflicted but keeps its other features', () => {
  const r = resolvePolicies(
    world([
      policy(
        'newer',
        { cors: { allowOrigins: ['https://b.example.com'] }, ipAccess: { allow: ['198.18.0.0/15'] } },
        '2026-12-02T00:00:00Z',
      ),
      policy('older', { cors: { allowOrigins: ['https://a.example.com'] } }, '2026-12-01T00:00:00Z'),
    ]),
  );
  expect(r.outcomes.get('team-a/older')).toMatchObject({ accepted: true });
  expect(r.outcomes.get('team-a/newer')).toMatchObject({
    accepted: false,
    reason: 'Conflicted',
    message: 'cors on hello.team-a.example.com is set by the older RoutePolicy team-a/older',
  });
  const host = r.attached.get('team-a/hello')?.get('hello.team-a');
  expect(host?.cors?.policy).toBe('team-a/older');
  expect(host?.ipAccess?.policy).toBe('team-a/newer');
});

test("rateLimited: whether the policy's rate limits are in force somewhere (Programmed then says how they count)", () => {
  const r = resolvePolicies(
    world([
      policy(
        'limits',
        { rateLimit: { rules: [{ name: 'all', requests: 5, per: 'Minute' }] } },
        '2026-12-01T00:00:00Z',
      ),
      policy('cors', { cors: { allowOrigins: ['https://a.example.com'] } }, '2026-12-01T00:00:01Z'),
    ]),
  );
  expect(r.outcomes.get('team-a/limits')?.rateLimited).toBe(true);
  expect(r.outcomes.get('team-a/cors')?.rateLimited).toBe(false);
});

test('a missing or bad credentials Secret fails closed: the hosts get auth with no valid key', () => {
  const missing = resolvePolicies(world([policy('p', { apiKeyAuth: keyAuth })], {}));
  expect(missing.outcomes.get('team-a/p')).toMatchObject({
    accepted: false,
    reason: 'SecretNotFound',
    message: 'Secret team-a/consumers not found; its hosts refuse every request until it is fixed',
  });
  expect(missing.attached.get('team-a/hello')?.get('hello.team-a')?.apiKeyAuth?.credentials).toEqual([]);

  const bad = resolvePolicies(
    world([policy('p', { apiKeyAuth: keyAuth })], { 'team-a/consumers': { c1: 'same', c2: 'same' } }),
  );
  expect(bad.outcomes.get('team-a/p')).toMatchObject({ reason: 'InvalidSecret' });
  expect(bad.outcomes.get('team-a/p')?.message).toContain('clients c1 and c2 have the same key');
  expect(bad.attached.get('team-a/hello')?.get('hello.team-a')?.apiKeyAuth?.credentials).toEqual([]);
});

test('no KIngress for the target → TargetNotFound, nothing attached; another namespace cannot be named', () => {
  const r = resolvePolicies(
    world([
      policy('p', {
        targetRefs: [{ group: 'serving.knative.dev', kind: 'Service', name: 'nope' }],
        cors: { allowOrigins: ['*'] },
      }),
      policy('q', { cors: { allowOrigins: ['*'] } }, undefined, 'team-c'),
    ]),
  );
  expect(r.outcomes.get('team-a/p')).toMatchObject({
    accepted: false,
    reason: 'TargetNotFound',
    message:
      "no KIngress of kgw's class for Service nope in namespace team-a (not Ready yet, or not served by kgw)",
  });
  expect(r.outcomes.get('team-c/q')?.reason).toBe('TargetNotFound');
  expect(r.attached.size).toBe(0);
});

test('a spec the schema refuses (written before the CRD, or by hand into etcd) is Invalid and attaches nothing', () => {
  const p = policy('p', { cors: { allowOrigins: ['https://a.example.com/path'] } });
  const r = resolvePolicies(world([p]));
  expect(r.outcomes.get('team-a/p')).toMatchObject({ accepted: false, reason: 'Invalid' });
  expect(r.outcomes.get('team-a/p')?.message).toMatch(/^spec\.cors\.allowOrigins\[0\]: must match/);
  expect(r.attached.size).toBe(0);
  expect(p.spec.cors?.allowCredentials).toBeUndefined(); // the caller's object is not defaulted in place
});

test("a spec that breaks a CEL rule (the API server's, by its TypeScript equal) is Invalid and attaches nothing", () => {
  const p = policy('p', { cors: { allowOrigins: ['*'], allowCredentials: true } });
  const r = resolvePolicies(world([p]));
  expect(r.outcomes.get('team-a/p')).toMatchObject({
    accepted: false,
    reason: 'Invalid',
    message: 'spec.cors: allowCredentials cannot be used with the origin *: list the origins',
  });
  expect(r.attached.size).toBe(0);
});

test('ingressView reads the hosts of any JSON spec, skipping what is not a host list', () => {
  const v = ingressView({
    metadata: { name: 'x', namespace: 'n', labels: { a: 'b' } },
    spec: { rules: [{ hosts: ['a.example.com', 7] }, { hosts: 'b' }, null, { hosts: ['c.example.com'] }] },
  });
  expect(v).toMatchObject({
    namespace: 'n',
    name: 'x',
    labels: { a: 'b' },
    hosts: ['a.example.com', 'c.example.com'],
    routingAnnotation: false,
  });
  expect(v.routed()).toEqual({ revisions: new Set(), tags: new Set() });
  expect(ingressView({ metadata: { name: 'y' }, spec: 'nonsense' }).hosts).toEqual([]);
});

describe('routing', () => {
  const routing = (...rules: NonNullable<RoutePolicySpec['routing']>['rules']) => ({ routing: { rules } });
  const demo = { headers: { demo: 'test' }, to: { revision: 'hello-00002' } };

  test("is attached to the Route's hosts in the shared rule form, not to DomainMapping hosts", () => {
    const r = resolvePolicies(
      world([policy('p', routing(demo, { cookies: { demo: 'always' }, to: { tag: 'canary' } }))]),
    );
    expect(r.outcomes.get('team-a/p')).toMatchObject({
      accepted: true,
      reason: 'Accepted',
      message: 'in force on 6 hosts',
    });
    const rules = [
      { revision: 'hello-00002', headers: [{ name: 'demo', value: 'test' }], cookies: [] },
      { tag: 'canary', headers: [], cookies: [{ name: 'demo', value: 'always' }] },
    ];
    for (const h of HELLO_HOSTS)
      expect(r.attached.get('team-a/hello')?.get(h)).toEqual({ routing: { policy: 'team-a/p', rules } });
    expect(r.attached.get('team-a/api.example.com')).toBeUndefined();
  });

  test('a rule to a revision or tag the Route does not route to is ignored and reported; the others stay', () => {
    const r = resolvePolicies(
      world([
        policy(
          'p',
          routing({ headers: { a: 'b' }, to: { revision: 'stranger-00001' } }, demo, {
            cookies: { c: 'd' },
            to: { tag: 'nope' },
          }),
        ),
      ]),
    );
    expect(r.outcomes.get('team-a/p')).toMatchObject({
      accepted: false,
      reason: 'RevisionNotRouted',
      message:
        'spec.routing.rules[0]: revision stranger-00001 is not routed by Route hello; the rule is ignored, ' +
        'spec.routing.rules[2]: tag nope is not routed by Route hello; the rule is ignored',
    });
    expect(
      r.attached
        .get('team-a/hello')
        ?.get('hello.team-a')
        ?.routing?.rules.map((x) => x.revision),
    ).toEqual(['hello-00002']);
  });

  test('replaces the annotation of a Route that has one, and says so', () => {
    const annotated = routeIngress('team-c', 'hello', ['hello.team-c.example.com'], undefined, true);
    const r = resolvePolicies(
      world([policy('p', routing(demo), undefined, 'team-c')], undefined, { ingresses: [annotated] }),
    );
    expect(r.outcomes.get('team-c/p')?.message).toBe(
      'in force on 1 host; routing replaces the kgw.dev/routing-rules annotation of Route hello',
    );
  });

  test('two policies setting routing on one Route: the older keeps it, the newer is Conflicted', () => {
    const r = resolvePolicies(
      world([
        policy('newer', routing({ ...demo, to: { default: true } }), '2026-12-02T00:00:00Z'),
        policy('older', routing(demo), '2026-12-01T00:00:00Z'),
      ]),
    );
    expect(r.outcomes.get('team-a/newer')).toMatchObject({ accepted: false, reason: 'Conflicted' });
    expect(r.outcomes.get('team-a/newer')?.message).toMatch(
      /^routing on \S+ is set by the older RoutePolicy team-a\/older/,
    );
    expect(r.attached.get('team-a/hello')?.get('hello.team-a')?.routing?.policy).toBe('team-a/older');
  });

  test('only a DomainMapping target: routing applies nowhere and the status says why', () => {
    const p = policy('p', routing(demo));
    p.spec.targetRefs = [{ group: 'serving.knative.dev', kind: 'DomainMapping', name: 'api.example.com' }];
    const r = resolvePolicies(world([p]));
    expect(r.outcomes.get('team-a/p')?.message).toBe(
      'in force on 1 host; routing applies to the hosts of a Service or Route, not to DomainMapping targets',
    );
    expect(r.attached.size).toBe(0);
  });

  test.each([
    [
      { headers: { host: 'x' }, to: { revision: 'hello-00002' } },
      /headers: host, pseudo-headers .* are reserved/,
    ],
    [{ headers: { 'k-network-probe': 'x' }, to: { revision: 'hello-00002' } }, /are reserved/],
    [
      { headers: { Demo: 'x' }, to: { revision: 'hello-00002' } },
      /header names must be lower-case HTTP tokens/,
    ],
    [{ cookies: { 'a b': 'x' }, to: { revision: 'hello-00002' } }, /cookie names must be HTTP tokens/],
    [{ cookies: { c: 'with space' }, to: { revision: 'hello-00002' } }, /cookies\.c: must match/],
    [{ to: { revision: 'hello-00002' } }, /: give headers or cookies to match/],
    [
      { headers: { a: 'b' }, to: { revision: 'hello-00002', tag: 'canary' } },
      /to: set exactly one of revision, tag or default/,
    ],
    [{ headers: { a: 'b' }, to: {} }, /to: set exactly one of revision, tag or default/],
    [{ headers: { a: 'b' }, to: { default: false } }, /to: default can only be true/],
    [
      {
        headers: Object.fromEntries('abcde'.split('').map((k) => [k, 'v'])),
        cookies: { f: '1', g: '2', h: '3', i: '4' },
        to: { tag: 'canary' },
      },
      /at most 8 headers and cookies in one rule/,
    ],
  ])('refused as Invalid: %j', (rule, message) => {
    const r = resolvePolicies(world([policy('p', routing(rule))]));
    expect(r.outcomes.get('team-a/p')).toMatchObject({ accepted: false, reason: 'Invalid' });
    expect(r.outcomes.get('team-a/p')?.message).toMatch(message);
    expect(r.attached.size).toBe(0);
  });

  test('at most 16 rules', () => {
    const r = resolvePolicies(world([policy('p', routing(...Array.from({ length: 17 }, () => demo)))]));
    expect(r.outcomes.get('team-a/p')).toMatchObject({ accepted: false, reason: 'Invalid' });
    expect(r.outcomes.get('team-a/p')?.message).toBe('spec.routing.rules: must NOT have more than 16 items');
  });
});

test('ingressView: the revisions of every split (any percent), the tags whose hosts it serves, the annotation', () => {
  const v = ingressView({
    metadata: {
      name: 'hello',
      annotations: {
        'kgw.dev/routing-rules': '[]',
        'networking.internal.knative.dev/tag-to-host':
          '{"canary":"canary-hello.example.com","gone":["x.example.com"]}',
      },
    },
    spec: {
      rules: [
        {
          hosts: ['hello.example.com'],
          http: {
            paths: [{ splits: [{ serviceName: 'hello-00001' }, { serviceName: 'hello-00002', percent: 0 }] }],
          },
        },
        {
          hosts: ['canary-hello.example.com'],
          http: { paths: [{ splits: [{ serviceName: 'hello-00002' }, 'junk'] }] },
        },
      ],
    },
  });
  expect(v.routingAnnotation).toBe(true);
  expect(v.routed()).toEqual({
    revisions: new Set(['hello-00001', 'hello-00002']),
    tags: new Set(['canary']),
  });
});

test("a gateway's rate ceiling lowers the buckets over it on the hosts it serves, and the message says so", () => {
  const limited = policy('limits', {
    rateLimit: {
      rules: [
        {
          name: 'per-key',
          key: { header: 'x-key' },
          requests: 100,
          per: 'Second',
          limits: [{ value: 'vip', requests: 5, per: 'Second' }],
        },
        { name: 'whole', requests: 1200, per: 'Minute' },
      ],
    },
  });
  const ceiling = { gateway: 'default', bucket: { requests: 10, seconds: 1 } };
  const w = world([limited]);
  // team-a/hello is served by a gateway with a ceiling; the DomainMapping's KIngress by one without
  const ingresses = w.ingresses.map((i) =>
    i.namespace === 'team-a' && i.name === 'hello' ? { ...i, rateCeiling: ceiling } : i,
  );
  const res = resolvePolicies({ ...w, ingresses });
  const rules = res.attached.get('team-a/hello')?.get('hello.team-a.example.com')?.rateLimit?.rules;
  expect(rules?.map((r) => [r.each, r.limits.map((l) => l.bucket)])).toEqual([
    [{ requests: 10, seconds: 1 }, [{ requests: 5, seconds: 1 }]],
    [{ requests: 600, seconds: 60 }, []],
  ]);
  const unlimited = res.attached.get('team-a/api.example.com')?.get('api.example.com')?.rateLimit?.rules;
  expect(unlimited?.map((r) => r.each)).toEqual([
    { requests: 100, seconds: 1 },
    { requests: 1200, seconds: 60 },
  ]);
  const o = res.outcomes.get('team-a/limits')!;
  expect([o.accepted, o.reason]).toEqual([true, 'Accepted']);
  expect(o.message).toBe(
    "in force on 6 hosts; rateLimit over KnativeGateway default's ceiling of 10 per Second: rule per-key: 100 per Second lowered to 10 per Second, rule whole: 1200 per Minute lowered to 600 per Minute",
  );
  // under the ceiling: nothing said
  const slow = policy('slow', { rateLimit: { rules: [{ name: 'whole', requests: 10, per: 'Second' }] } });
  const calm = resolvePolicies({ ...world([slow]), ingresses }).outcomes.get('team-a/slow')!;
  expect(calm.message).toBe('in force on 6 hosts');
  // ingressView carries the ceiling it is given
  expect(ingressView({ metadata: { name: 'x' } }, ceiling).rateCeiling).toBe(ceiling);
  expect(ingressView({ metadata: { name: 'x' } }).rateCeiling).toBeUndefined();
});

describe('basicAuth', () => {
  const basic = { credentialsFrom: [{ secretRef: { name: 'users' } }], realm: 'team-a' };
  const secrets = {
    'team-a/users': { bob: 'bob-secret', alice: 'alice-secret', carol: 'alice-secret' },
  };

  test('is attached to every host with the users sorted, each password only as its SHA-1', () => {
    const r = resolvePolicies(world([policy('p', { basicAuth: basic })], secrets));
    expect(r.outcomes.get('team-a/p')).toMatchObject({
      accepted: true,
      message: 'in force on 6 hosts',
      secrets: ['team-a/users'],
    });
    const expected = {
      policy: 'team-a/p',
      users: [
        { user: 'alice', sha1: 'KusvaLb24DJ0ziPMVrqjntyCRkM=' },
        { user: 'bob', sha1: 'Md7yGSbrVBY29morDdFNHvcmrxg=' },
        { user: 'carol', sha1: 'KusvaLb24DJ0ziPMVrqjntyCRkM=' }, // users may share a password
      ],
      realm: 'team-a',
    };
    for (const host of HELLO_HOSTS)
      expect(r.attached.get('team-a/hello')?.get(host)?.basicAuth).toEqual(expected);
    expect(r.attached.get('team-a/api.example.com')?.get('api.example.com')?.basicAuth).toEqual(expected);
    expect(JSON.stringify([...r.attached.values()].map((m) => [...m.values()]))).not.toContain('secret');
  });

  test('a missing or bad Secret fails closed: the hosts get basic auth with no user', () => {
    const missing = resolvePolicies(world([policy('p', { basicAuth: basic })], {}));
    expect(missing.outcomes.get('team-a/p')).toMatchObject({
      accepted: false,
      reason: 'SecretNotFound',
      message: 'basicAuth: Secret team-a/users not found; its hosts refuse every request until it is fixed',
    });
    expect(missing.attached.get('team-a/hello')?.get('hello.team-a')?.basicAuth).toEqual({
      policy: 'team-a/p',
      users: [],
      realm: 'team-a',
    });

    const bad = resolvePolicies(
      world([policy('p', { basicAuth: basic })], { 'team-a/users': { alice: 'pw\n' } }),
    );
    expect(bad.outcomes.get('team-a/p')).toMatchObject({
      reason: 'InvalidSecret',
      message:
        'basicAuth: Secret team-a/users: the password of user alice has control characters (a trailing newline from --from-file?); its hosts refuse every request until it is fixed',
    });
    expect(bad.attached.get('team-a/hello')?.get('hello.team-a')?.basicAuth?.users).toEqual([]);
  });

  test("another policy's broken Secret leaves this policy's hosts alone", () => {
    const r = resolvePolicies(
      world([policy('p', { basicAuth: basic })], secrets, {
        ingresses: [routeIngress('team-a', 'other', ['other.team-a.example.com'])],
      }),
    );
    const other = resolvePolicies(
      world(
        [
          policy('p', { basicAuth: basic }),
          {
            ...policy('q', { basicAuth: { credentialsFrom: [{ secretRef: { name: 'gone' } }] } }),
            spec: {
              targetRefs: [{ group: 'serving.knative.dev', kind: 'Service', name: 'other' }],
              basicAuth: { credentialsFrom: [{ secretRef: { name: 'gone' } }] },
            },
          },
        ],
        secrets,
        { ingresses: [routeIngress('team-a', 'other', ['other.team-a.example.com'])] },
      ),
    );
    expect(other.outcomes.get('team-a/q')).toMatchObject({ reason: 'SecretNotFound' });
    expect(other.attached.get('team-a/other')?.get('other.team-a.example.com')?.basicAuth?.users).toEqual([]);
    expect(other.attached.get('team-a/hello')).toEqual(r.attached.get('team-a/hello'));
    expect(other.outcomes.get('team-a/p')).toMatchObject({ accepted: true });
  });

  test('two policies setting basicAuth on one host: the older wins, the newer is Conflicted', () => {
    const r = resolvePolicies(
      world(
        [
          policy(
            'newer',
            { basicAuth: { ...basic, realm: 'newer' }, cors: { allowOrigins: ['*'] } },
            '2026-12-02T00:00:00Z',
          ),
          policy('older', { basicAuth: basic }, '2026-12-01T00:00:00Z'),
        ],
        secrets,
      ),
    );
    expect(r.outcomes.get('team-a/older')).toMatchObject({ accepted: true });
    expect(r.outcomes.get('team-a/newer')).toMatchObject({
      accepted: false,
      reason: 'Conflicted',
      message: 'basicAuth on hello.team-a.example.com is set by the older RoutePolicy team-a/older',
    });
    const host = r.attached.get('team-a/hello')?.get('hello.team-a');
    expect(host?.basicAuth?.policy).toBe('team-a/older');
    expect(host?.basicAuth?.realm).toBe('team-a');
    expect(host?.cors?.policy).toBe('team-a/newer');
  });

  test('beside apiKeyAuth: both on the hosts, both Secrets read', () => {
    const r = resolvePolicies(
      world([policy('p', { basicAuth: basic, apiKeyAuth: keyAuth })], {
        ...secrets,
        'team-a/consumers': { consumer1: 'k1', consumer2: 'k2' },
      }),
    );
    expect(r.outcomes.get('team-a/p')).toMatchObject({
      accepted: true,
      secrets: ['team-a/consumers', 'team-a/users'],
    });
    const host = r.attached.get('team-a/hello')?.get('hello.team-a');
    expect(host?.basicAuth?.users).toHaveLength(3);
    expect(host?.apiKeyAuth?.credentials).toHaveLength(2);
  });

  test('a realm with a quote is Invalid (the schema) and attaches nothing', () => {
    const r = resolvePolicies(world([policy('p', { basicAuth: { ...basic, realm: 'a"b' } })], secrets));
    expect(r.outcomes.get('team-a/p')).toMatchObject({ accepted: false, reason: 'Invalid' });
    expect(r.attached.size).toBe(0);
  });
});
