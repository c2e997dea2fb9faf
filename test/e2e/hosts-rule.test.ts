// Conformance `hosts/multiple` (one rule, several hosts) and `dispatch/rule` (two rules with
// different hosts; path-level appendHeaders identify the rule that matched).
import { createReady, rule, runtimeGet, seen, split, startBackends } from './conformance.ts';
import { publicGateway, startEnv, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('hosts/multiple', async () => {
  const name = 'hosts-multiple';
  await startBackends(env, [{ name }]);
  const hosts = [
    `${name}.foo.com`,
    `${name}.www.foo.com`,
    `${name}.a-b-1.something-really-really-long.knative.dev`,
    `${name}.add.your.interesting.domain.here.io`,
  ];
  const ing = await createReady(env, name, { rules: [rule(hosts, [{ splits: [split(name)] }])] });
  const gw = await publicGateway(env, ing);
  for (const host of hosts) {
    const info = await runtimeGet(gw, host);
    expect(info.request.host).toBe(host);
    expect(info.host.suffix).toBe(name);
  }
});

test('dispatch/rule', async () => {
  const name = 'dispatch-rule';
  const [a, b] = [`${name}-a`, `${name}-b`];
  await startBackends(env, [{ name: a }, { name: b }]);
  const hostA = `${a}.example.com`;
  const hostB = `${b}.example.com`;
  const ing = await createReady(env, name, {
    rules: [
      rule([hostA], [{ splits: [split(a)], appendHeaders: { 'Which-Backend': a } }]),
      rule([hostB], [{ splits: [split(b)], appendHeaders: { 'Which-Backend': b } }]),
    ],
  });
  const gw = await publicGateway(env, ing);
  for (const [host, want] of [
    [hostA, a],
    [hostB, b],
  ] as const) {
    const info = await runtimeGet(gw, host);
    expect(seen(info, 'Which-Backend')).toBe(want);
    expect(info.host.suffix).toBe(want);
  }
});
