import { KnativeGatewaySpecSchema } from './knativegateway-spec-schema.ts';
import { RoutePolicySpecSchema } from './routepolicy.ts';
import { CEL_CHECK, Arr, Int, Obj, cel, type CelRule } from './schema-builders.ts';
import { ruleProblems } from './schema-rules.ts';

const Pair = Obj(
  'Two numbers that must differ.',
  { a: Int('First.'), b: Int('Second.') },
  {
    validations: [
      cel('self.a != self.b', 'a and b must differ', (p: { a?: number; b?: number }) => p.a !== p.b, {
        fieldPath: '.b',
      }),
    ],
  },
);
const Pairs = Obj('Pairs.', { pairs: Arr('Some pairs.', Pair) });

test('a broken rule is reported at its node plus its fieldPath, each item on its own', () => {
  const value = {
    pairs: [
      { a: 1, b: 2 },
      { a: 3, b: 3 },
    ],
  };
  expect(ruleProblems(Pairs, value, 'spec')).toEqual(['spec.pairs[1].b: a and b must differ']);
});

test('rules are not evaluated at or above a node with a blocking schema error', () => {
  const value = { pairs: [{ a: 3, b: 3 }] };
  expect(ruleProblems(Pairs, value, 'spec', ['/pairs/0/a'])).toEqual([]);
  expect(ruleProblems(Pairs, value, 'spec', ['/pairs/1'])).toEqual(['spec.pairs[0].b: a and b must differ']);
});

test.each([
  ['KnativeGateway', KnativeGatewaySpecSchema, 20],
  ['RoutePolicy', RoutePolicySpecSchema, 9],
] as const)('every CEL rule of the %s schema carries its TypeScript check', (_api, schema, moreThan) => {
  const rules: CelRule[] = [];
  const walk = (s: Record<string, unknown>): void => {
    rules.push(...((s['x-kubernetes-validations'] as CelRule[] | undefined) ?? []));
    for (const v of Object.values(
      (s.properties as Record<string, Record<string, unknown>> | undefined) ?? {},
    )) {
      walk(v);
    }
    for (const k of ['items', 'additionalProperties'] as const) {
      const v = s[k];
      if (typeof v === 'object' && v !== null) walk(v as Record<string, unknown>);
    }
  };
  walk(schema);
  expect(rules.length).toBeGreaterThan(moreThan);
  expect(rules.filter((r) => typeof r[CEL_CHECK] !== 'function').map((r) => r.message)).toEqual([]);
});
