// Conformance `dispatch/path` (first matching prefix wins, catch-all last), `dispatch/percentage`
// (weighted splits within ±10 percentage points over 1000 requests; 0% gets nothing) and
// `dispatch/path_and_percentage` (a 50/50 split on /foo, a catch-all elsewhere).
import {
  checkPercentages,
  createReady,
  distribution,
  rule,
  runtimeGet,
  seen,
  split,
  startBackends,
} from './conformance.ts';
import { publicGateway, startEnv, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('dispatch/path', async () => {
  const name = 'dispatch-path';
  const backends = ['foo', 'bar', 'baz', 'catchall'].map((p) => `${name}-${p}`);
  await startBackends(
    env,
    backends.map((n) => ({ name: n })),
  );
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, {
    rules: [
      rule(
        [host],
        [
          {
            path: '/foo',
            splits: [split(backends[0]!, { appendHeaders: { 'Which-Backend': backends[0]! } })],
          },
          {
            path: '/bar',
            splits: [split(backends[1]!, { appendHeaders: { 'Which-Backend': backends[1]! } })],
          },
          {
            path: '/baz',
            splits: [split(backends[2]!, { appendHeaders: { 'Which-Backend': backends[2]! } })],
          },
          { splits: [split(backends[3]!, { appendHeaders: { 'Which-Backend': backends[3]! } })] },
        ],
      ),
    ],
  });
  const gw = await publicGateway(env, ing);
  const cases: [string, string][] = [
    ['/foo', backends[0]!],
    ['/bar', backends[1]!],
    ['/baz', backends[2]!],
    ['/', backends[3]!],
    ['/asdf', backends[3]!],
  ];
  for (const [path, want] of cases) {
    const info = await runtimeGet(gw, host, { path });
    expect({ path, got: seen(info, 'Which-Backend') }).toEqual({ path, got: want });
    expect(info.host.suffix).toBe(want);
  }
});

test('dispatch/percentage', async () => {
  const name = 'dispatch-percentage';
  const weights = [1, 2, 4, 8, 16, 32, 37, 0, 0, 0];
  const names = weights.map((_, i) => `${name}-${i}`);
  await startBackends(
    env,
    names.map((n) => ({ name: n })),
  );
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, {
    rules: [rule([host], [{ splits: names.map((n, i) => split(n, { percent: weights[i]! })) }])],
  });
  const gw = await publicGateway(env, ing);
  const total = 1000;
  const { counts, errors } = await distribution(total, 8, () => runtimeGet(gw, host));
  expect(errors).toEqual([]);
  const expected = Object.fromEntries(names.map((n, i) => [n, weights[i]!]));
  expect(checkPercentages(counts, expected, total)).toEqual([]);
});

test('dispatch/path_and_percentage', async () => {
  const name = 'dispatch-path-pct';
  const [one, two, other] = [`${name}-one`, `${name}-two`, `${name}-other`];
  await startBackends(env, [{ name: one }, { name: two }, { name: other }]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, {
    rules: [
      rule(
        [host],
        [
          { path: '/foo', splits: [split(one, { percent: 50 }), split(two, { percent: 50 })] },
          { splits: [split(other)] },
        ],
      ),
    ],
  });
  const gw = await publicGateway(env, ing);
  const total = 1000;
  const { counts, errors } = await distribution(total, 8, () => runtimeGet(gw, host, { path: '/foo' }));
  expect(errors).toEqual([]);
  expect(counts.get(other) ?? 0).toBe(0);
  expect([...counts.keys()].sort()).toEqual([one, two].sort());
  for (const n of [one, two]) {
    const got = counts.get(n) ?? 0;
    expect({ backend: n, within: Math.abs(got - 500) <= 150, got }).toEqual({
      backend: n,
      within: true,
      got,
    });
  }
});
