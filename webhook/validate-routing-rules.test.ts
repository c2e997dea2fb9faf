import { validateRoutingRules } from './validate-routing-rules.ts';

const A = 'kgw.dev/routing-rules';
const traffic = [
  { revisionName: 'hello-00001', percent: 100 },
  { revisionName: 'hello-00002', percent: 0 },
  { revisionName: 'hello-00002', percent: 0, tag: 'canary' },
];
const ksvc = (rules: unknown, spec: Record<string, unknown> = { traffic }) => ({
  apiVersion: 'serving.knative.dev/v1',
  kind: 'Service',
  metadata: {
    name: 'hello',
    namespace: 'team-a',
    annotations: { [A]: typeof rules === 'string' ? rules : JSON.stringify(rules) },
  },
  spec,
});

const good = [
  { revision: 'hello-00002', headers: { demo: 'test' } },
  { tag: 'canary', cookies: { demo: 'always' } },
  { default: true, cookies: { demo: 'never' } },
];

describe('validateRoutingRules', () => {
  test('good rules pass: to a pinned revision at 0%, a tag, the default split', () => {
    expect(validateRoutingRules(ksvc(good), undefined)).toEqual({ allowed: true });
  });

  test('objects without the annotation, or that are not objects, are allowed untouched', () => {
    expect(validateRoutingRules({ metadata: { name: 'x' }, spec: {} }, undefined)).toEqual({ allowed: true });
    expect(validateRoutingRules({ metadata: { annotations: { other: 'x' } } }, undefined)).toEqual({
      allowed: true,
    });
    expect(validateRoutingRules('nonsense', undefined)).toEqual({ allowed: true });
  });

  test.each([
    ['not JSON', '[{', /^kgw\.dev\/routing-rules is not JSON: /],
    ['not a list', '{}', /^kgw\.dev\/routing-rules must be a JSON list of rules$/],
    [
      'a reserved header',
      [{ tag: 'canary', headers: { Host: 'x' } }],
      /^kgw\.dev\/routing-rules\[0\]\.headers: Host is reserved$/,
    ],
    [
      "Knative's probe header",
      [{ tag: 'canary', headers: { 'K-Network-Probe': 'probe' } }],
      /\[0\]\.headers: K-Network-Probe is reserved$/,
    ],
    [
      '17 rules',
      Array.from({ length: 17 }, () => ({ tag: 'canary', headers: { a: 'b' } })),
      /^kgw\.dev\/routing-rules: at most 16 rules$/,
    ],
    [
      '9 matches',
      [
        {
          tag: 'canary',
          headers: { a: '1', b: '2', c: '3', d: '4', e: '5' },
          cookies: { f: '1', g: '2', h: '3', i: '4' },
        },
      ],
      /\[0\]: at most 8 headers and cookies$/,
    ],
    ['no match', [{ tag: 'canary' }], /\[0\]: give headers or cookies to match$/],
    ['an unknown field', [{ tag: 'canary', headers: { a: 'b' }, weight: 5 }], /\[0\]: unknown field weight$/],
    [
      'a tag not among spec.traffic',
      [{ tag: 'beta', headers: { a: 'b' } }],
      /^kgw\.dev\/routing-rules\[0\]: tag beta is not among spec\.traffic's tags \(canary\)$/,
    ],
    [
      'a revision not among pinned spec.traffic',
      [{ revision: 'hello-00009', headers: { a: 'b' } }],
      /^kgw\.dev\/routing-rules\[0\]: revision hello-00009 is not among spec\.traffic's revisions \(hello-00001, hello-00002\)$/,
    ],
  ])('%s is refused with its message', (_what, rules, message) => {
    const v = validateRoutingRules(ksvc(rules), undefined);
    expect(v.allowed).toBe(false);
    expect(v.message).toMatch(message);
  });

  test('every problem of the traffic check is listed', () => {
    const v = validateRoutingRules(
      ksvc([
        { tag: 'beta', headers: { a: 'b' } },
        { revision: 'x-00001', headers: { a: 'b' } },
      ]),
      undefined,
    );
    expect(v.message).toBe(
      "kgw.dev/routing-rules[0]: tag beta is not among spec.traffic's tags (canary); " +
        "kgw.dev/routing-rules[1]: revision x-00001 is not among spec.traffic's revisions (hello-00001, hello-00002)",
    );
  });

  test('without spec.traffic (100% to the latest revision) a tag is refused, a revision cannot be checked', () => {
    expect(validateRoutingRules(ksvc([{ tag: 'canary', headers: { a: 'b' } }], {}), undefined).message).toBe(
      "kgw.dev/routing-rules[0]: tag canary is not among spec.traffic's tags (none)",
    );
    expect(
      validateRoutingRules(ksvc([{ revision: 'hello-00007', headers: { a: 'b' } }], {}), undefined),
    ).toEqual({
      allowed: true,
    });
  });

  test('with a latestRevision target the revisions are not known: any revision passes', () => {
    const spec = {
      traffic: [
        { latestRevision: true, percent: 100 },
        { revisionName: 'hello-00001', percent: 0 },
      ],
    };
    expect(
      validateRoutingRules(ksvc([{ revision: 'hello-00003', headers: { a: 'b' } }], spec), undefined),
    ).toEqual({ allowed: true });
  });

  test('an update that leaves a bad annotation as it was is allowed with a warning; one making it bad is not', () => {
    const bad = ksvc([{ tag: 'beta', headers: { a: 'b' } }]);
    const updated = { ...bad, spec: { ...bad.spec, template: { spec: { containers: [{ image: 'new' }] } } } };
    expect(validateRoutingRules(updated, bad)).toEqual({
      allowed: true,
      warnings: [
        "kgw.dev/routing-rules[0]: tag beta is not among spec.traffic's tags (canary) (not changed by this update; kgw ignores these rules)",
      ],
    });
    expect(validateRoutingRules(ksvc([{ tag: 'gamma', headers: { a: 'b' } }]), bad).allowed).toBe(false);
    // an update of the traffic that makes a good annotation bad is refused
    expect(validateRoutingRules(ksvc(good, { traffic: traffic.slice(0, 1) }), ksvc(good)).allowed).toBe(
      false,
    );
  });
});
