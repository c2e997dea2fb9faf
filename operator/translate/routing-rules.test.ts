import { lookupsFromObjects } from './lookups.ts';
import { translateIngress } from './ingress.ts';
import { cookieRegex, parseRoutingRules, tagHosts } from './routing-rules.ts';
import type { KIngress } from '../api/kingress.ts';

describe('parseRoutingRules', () => {
  test('rules with headers and cookies, names of headers lower-cased and sorted', () => {
    expect(
      parseRoutingRules(
        '[{"revision":"hello-00002","headers":{"Demo":"test","a":"b"}},{"tag":"canary","cookies":{"demo":"always"}}]',
      ),
    ).toEqual({
      ok: true,
      rules: [
        {
          revision: 'hello-00002',
          headers: [
            { name: 'a', value: 'b' },
            { name: 'demo', value: 'test' },
          ],
          cookies: [],
        },
        { tag: 'canary', headers: [], cookies: [{ name: 'demo', value: 'always' }] },
      ],
    });
  });

  test("default: true sends matching requests to the Route's own split", () => {
    expect(parseRoutingRules('[{"default":true,"cookies":{"demo":"never"}}]')).toEqual({
      ok: true,
      rules: [{ default: true, headers: [], cookies: [{ name: 'demo', value: 'never' }] }],
    });
  });

  test.each([
    ['{', /^kgw\.dev\/routing-rules is not JSON: /],
    ['{}', /must be a JSON list of rules$/],
    ['[{"headers":{"a":"b"}}]', /\[0\]: set exactly one of revision, tag or default$/],
    [
      '[{"revision":"a","tag":"b","headers":{"a":"b"}}]',
      /\[0\]: set exactly one of revision, tag or default$/,
    ],
    ['[{"revision":"a"}]', /\[0\]: give headers or cookies to match$/],
    ['[{"revision":"Not A Name","headers":{"a":"b"}}]', /\[0\]\.revision must be a name$/],
    ['[{"revision":"a","headers":{"a b":"c"}}]', /\[0\]\.headers: "a b" is not a valid name$/],
    ['[{"revision":"a","headers":{"host":"x"}}]', /\[0\]\.headers: host is reserved$/],
    ['[{"revision":"a","headers":{"K-Network-Probe":"x"}}]', /reserved$/],
    ['[{"revision":"a","cookies":{"c":"with space"}}]', /\[0\]\.cookies\.c must be a cookie value/],
    ['[{"revision":"a","headers":{"x":"line\\nbreak"}}]', /\[0\]\.headers\.x must be a header value/],
    ['[{"revision":"a","headers":{"x":"y"},"weight":5}]', /\[0\]: unknown field weight$/],
    ['[{"default":false,"headers":{"x":"y"}}]', /\[0\]\.default must be true$/],
    [
      '[{"default":true,"tag":"a","headers":{"x":"y"}}]',
      /\[0\]: set exactly one of revision, tag or default$/,
    ],
    [
      JSON.stringify(Array.from({ length: 17 }, () => ({ revision: 'a', headers: { x: 'y' } }))),
      /at most 16 rules$/,
    ],
  ])('refused: %s', (text, message) => {
    const r = parseRoutingRules(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toMatch(message);
  });
});

test('cookieRegex matches the cookie alone, among others, quoted, and nothing else', () => {
  const re = new RegExp(`^${cookieRegex('demo', 'always')}$`); // Envoy's safe_regex matches whole values
  for (const v of [
    'demo=always',
    'a=1; demo=always',
    'demo=always; b=2',
    'a=1;demo="always";b=2',
    'a=1;  demo=always',
  ])
    expect([v, re.test(v)]).toEqual([v, true]);
  for (const v of ['demo=never', 'xdemo=always', 'demo=alwaysx', 'a=demo=always', 'demo=al.ays', ''])
    expect([v, re.test(v)]).toEqual([v, false]);
  expect(new RegExp(`^${cookieRegex('a.b', 'x+y')}$`).test('a.b=x+y')).toBe(true);
  expect(new RegExp(`^${cookieRegex('a.b', 'x+y')}$`).test('aXb=xxy')).toBe(false);
});

test('tagHosts reads a host or a list per tag and ignores anything else', () => {
  expect([...tagHosts('{"canary":["c.example.com","c.svc"],"b":"b.example.com","x":3}')]).toEqual([
    ['canary', ['c.example.com', 'c.svc']],
    ['b', ['b.example.com']],
  ]);
  expect(tagHosts('nope').size).toBe(0);
  expect(tagHosts(undefined).size).toBe(0);
});

describe('translation', () => {
  const svc = (name: string) => ({
    metadata: { name, namespace: 'ns' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
  const lookups = lookupsFromObjects({ services: [svc('hello-00001'), svc('hello-00002')] });
  const split = (rev: string, percent: number) => ({
    serviceNamespace: 'ns',
    serviceName: rev,
    servicePort: 80,
    percent,
    appendHeaders: { 'Knative-Serving-Revision': rev, 'Knative-Serving-Namespace': 'ns' },
  });
  const ing = (annotations: Record<string, string>): KIngress => ({
    metadata: { name: 'hello', namespace: 'ns', generation: 1, annotations },
    spec: {
      rules: [
        {
          hosts: ['hello.ns.example.com'],
          visibility: 'ExternalIP',
          http: { paths: [{ splits: [split('hello-00001', 100), split('hello-00002', 0)] }] },
        },
        {
          hosts: ['canary-hello.ns.example.com'],
          visibility: 'ExternalIP',
          http: { paths: [{ splits: [split('hello-00002', 100)] }] },
        },
      ],
    },
  });

  test('a rule route per path, after the probe copy and before the path, to the 0% revision or the tag', () => {
    const res = translateIngress(
      ing({
        'kgw.dev/routing-rules': JSON.stringify([
          { revision: 'hello-00002', headers: { demo: 'test' } },
          { tag: 'canary', cookies: { demo: 'always' } },
        ]),
        'networking.internal.knative.dev/tag-to-host': '{"canary":["canary-hello.ns.example.com"]}',
      }),
      lookups,
    );
    if (!res.ok) throw new Error(res.problem.message);
    const main = res.ir.external.vhosts.find((v) => v.host === 'hello.ns.example.com')!;
    expect(
      main.routes.map((r) => [r.name, r.headers, r.cookies, r.targets.map((t) => [t.cluster, t.weight])]),
    ).toEqual([
      [
        'ns/hello/r0/p0/probe',
        [{ name: 'K-Network-Hash', exact: 'override' }],
        undefined,
        [['ns/hello-00001:80', 100]],
      ],
      ['ns/hello/r0/p0/rule0', [{ name: 'demo', exact: 'test' }], undefined, [['ns/hello-00002:80', 100]]],
      ['ns/hello/r0/p0/rule1', [], [{ name: 'demo', value: 'always' }], [['ns/hello-00002:80', 100]]],
      ['ns/hello/r0/p0', [], undefined, [['ns/hello-00001:80', 100]]],
    ]);
    // the revision route names its revision to the backend like the split does
    expect(main.routes[1]?.targets[0]?.headers).toContainEqual({
      name: 'Knative-Serving-Revision',
      value: 'hello-00002',
    });
    // the tag's own host gets no rule routes
    const tag = res.ir.external.vhosts.find((v) => v.host === 'canary-hello.ns.example.com')!;
    expect(tag.routes.map((r) => r.name)).toEqual(['ns/hello/r1/p0/probe', 'ns/hello/r1/p0']);
    expect(res.ir.notes).toBeUndefined();
  });

  test('fails open: a rule to a revision or tag the Route does not route to, or a bad annotation, is noted and left out', () => {
    const res = translateIngress(
      ing({
        'kgw.dev/routing-rules': JSON.stringify([
          { revision: 'other-00009', headers: { demo: 'x' } },
          { tag: 'nope', headers: { demo: 'y' } },
        ]),
      }),
      lookups,
    );
    if (!res.ok) throw new Error(res.problem.message);
    expect(res.ir.notes).toEqual([
      'revision other-00009 is not routed by this Route',
      'tag nope is not routed by this Route',
    ]);
    expect(res.ir.external.vhosts[0]?.routes.map((r) => r.name)).toEqual([
      'ns/hello/r0/p0/probe',
      'ns/hello/r0/p0',
    ]);
    const bad = translateIngress(ing({ 'kgw.dev/routing-rules': '[{"revision":"hello-00002"}]' }), lookups);
    expect(bad.ok && bad.ir.notes).toEqual(['kgw.dev/routing-rules[0]: give headers or cookies to match']);
  });

  test("a RoutePolicy's routing replaces the annotation on the hosts it covers only, and never becomes filter config", () => {
    const two = ing({
      'kgw.dev/routing-rules': JSON.stringify([{ revision: 'hello-00002', headers: { demo: 'test' } }]),
    });
    two.spec.rules![0]!.hosts = ['hello.ns.example.com', 'hello.ns.svc.cluster.local'];
    const policyRules = [
      { default: true as const, headers: [], cookies: [{ name: 'demo', value: 'never' }] },
      { revision: 'hello-00002', headers: [], cookies: [{ name: 'demo', value: 'always' }] },
    ];
    const res = translateIngress(two, {
      ...lookups,
      routePolicy: (key, host) =>
        key === 'ns/hello' && host === 'hello.ns.example.com'
          ? { routing: { policy: 'ns/gray', rules: policyRules } }
          : undefined,
    });
    if (!res.ok) throw new Error(res.problem.message);
    const routes = (host: string) =>
      res.ir.external.vhosts
        .find((v) => v.host === host)!
        .routes.map((r) => [r.name, r.headers, r.cookies, r.targets.map((t) => [t.cluster, t.weight])]);
    expect(routes('hello.ns.example.com')).toEqual([
      expect.arrayContaining(['ns/hello/r0/p0/probe']),
      [
        'ns/hello/r0/p0/rule0',
        [],
        [{ name: 'demo', value: 'never' }],
        [['ns/hello-00001:80', 100]], // the Route's own split (0% dropped)
      ],
      ['ns/hello/r0/p0/rule1', [], [{ name: 'demo', value: 'always' }], [['ns/hello-00002:80', 100]]],
      ['ns/hello/r0/p0', [], undefined, [['ns/hello-00001:80', 100]]],
    ]);
    // the other host of the same rule keeps the annotation's rules
    expect(routes('hello.ns.svc.cluster.local')).toEqual([
      expect.arrayContaining(['ns/hello/r0/p0/probe']),
      ['ns/hello/r0/p0/rule0', [{ name: 'demo', exact: 'test' }], undefined, [['ns/hello-00002:80', 100]]],
      ['ns/hello/r0/p0', [], undefined, [['ns/hello-00001:80', 100]]],
    ]);
    expect(res.ir.external.vhosts.find((v) => v.host === 'hello.ns.example.com')?.policy).toBeUndefined();
    expect(res.ir.notes).toEqual([
      'kgw.dev/routing-rules is ignored on hello.ns.example.com: RoutePolicy ns/gray sets routing there',
    ]);
  });

  test('policy routing next to other features: the vhost keeps the features, without routing', () => {
    const cors = {
      policy: 'ns/gray',
      allowOrigins: ['*'],
      allowMethods: [],
      allowHeaders: [],
      exposeHeaders: [],
      allowCredentials: false,
    };
    const res = translateIngress(ing({}), {
      ...lookups,
      routePolicy: () => ({
        cors,
        routing: {
          policy: 'ns/gray',
          rules: [{ revision: 'hello-00002', headers: [{ name: 'demo', value: 'test' }], cookies: [] }],
        },
      }),
    });
    if (!res.ok) throw new Error(res.problem.message);
    const main = res.ir.external.vhosts.find((v) => v.host === 'hello.ns.example.com')!;
    expect(main.policy).toEqual({ cors });
    expect(main.routes.map((r) => r.name)).toEqual([
      'ns/hello/r0/p0/probe',
      'ns/hello/r0/p0/rule0',
      'ns/hello/r0/p0',
    ]);
    expect(res.ir.notes).toBeUndefined();
  });

  test('the note on an annotation replaced by a policy names at most 3 hosts (here 6: no tag-to-host)', () => {
    const many = ing({
      'kgw.dev/routing-rules': JSON.stringify([{ revision: 'hello-00002', headers: { a: 'b' } }]),
    });
    many.spec.rules![0]!.hosts = [
      'a.ns.example.com',
      'b.ns.example.com',
      'c.ns.example.com',
      'd.ns.example.com',
      'e.ns.example.com',
    ];
    const res = translateIngress(many, {
      ...lookups,
      routePolicy: () => ({ routing: { policy: 'ns/gray', rules: [] } }),
    });
    expect(res.ok && res.ir.notes).toEqual([
      'kgw.dev/routing-rules is ignored on a.ns.example.com, b.ns.example.com, c.ns.example.com (and 3 more): RoutePolicy ns/gray sets routing there',
    ]);
  });
});
