// Conformance `headers/*`: appendHeaders are SET semantics at path level (pre-split) and split
// level (post-split); the probe contract (K-Network-Probe/K-Network-Hash) reaches the backend with
// the stored KIngress's hash; header-matched paths (tags).
import { randomBytes } from 'node:crypto';
import { httpRequest } from '../backends/client.ts';
import { ingressHash } from '../../operator/translate/hash.ts';
import { createReady, rule, runtimeGet, seen, split, startBackends } from './conformance.ts';
import { getIngress, publicGateway, startEnv, TEST_NAMESPACE, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

const HEADER = 'Foo-Bar-Baz';

test('headers/pre-split', async () => {
  const name = 'headers-pre-split';
  await startBackends(env, [{ name }]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, {
    rules: [rule([host], [{ splits: [split(name)], appendHeaders: { [HEADER]: name } }])],
  });
  const gw = await publicGateway(env, ing);
  const without = await runtimeGet(gw, host);
  expect(seen(without, HEADER)).toBe(name);
  expect(without.request.headers[HEADER]).toEqual([name]);
  const overridden = await runtimeGet(gw, host, { headers: { [HEADER]: 'bogus' } });
  expect(seen(overridden, HEADER)).toBe(name);
  expect(overridden.request.headers[HEADER]).toEqual([name]);
});

test('headers/post-split', async () => {
  const name = 'headers-post-split';
  const names = [0, 1, 2, 3].map((i) => `${name}-${i}`);
  await startBackends(
    env,
    names.map((n) => ({ name: n })),
  );
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, {
    rules: [
      rule([host], [{ splits: names.map((n) => split(n, { percent: 25, appendHeaders: { [HEADER]: n } })) }]),
    ],
  });
  const gw = await publicGateway(env, ing);
  const seenNames = new Set<string>();
  for (let i = 0; i < 100 && seenNames.size < names.length; i++) {
    const info = await runtimeGet(gw, host, i % 2 === 0 ? {} : { headers: { [HEADER]: 'bogus' } });
    const v = seen(info, HEADER);
    expect(info.request.headers[HEADER]).toEqual([v]);
    // The header names the split that served the request.
    expect(v).toBe(info.host.suffix);
    seenNames.add(v!);
  }
  expect([...seenNames].sort()).toEqual([...names].sort());
});

test('headers/probe', async () => {
  const name = 'headers-probe';
  await startBackends(env, [{ name }]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, { rules: [rule([host], [{ splits: [split(name)] }])] });
  const gw = await publicGateway(env, ing);
  const stored = await getIngress(env, name);
  const want = ingressHash(stored.spec, TEST_NAMESPACE, name);

  const probe = await httpRequest({
    address: gw.address,
    port: gw.port,
    host,
    headers: { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'override' },
  });
  expect(probe.status).toBe(200);
  expect(probe.headers['k-network-hash']).toBe(want);

  const random = randomBytes(32).toString('hex');
  const echoed = await httpRequest({
    address: gw.address,
    port: gw.port,
    host,
    headers: { 'K-Network-Probe': 'probe', 'K-Network-Hash': random },
  });
  expect(echoed.status).toBe(200);
  expect(echoed.headers['k-network-hash']).toBe(random);
});

test('headers/tags', async () => {
  const name = 'headers-tags';
  await startBackends(env, [{ name }]);
  const host = `${name}.example.com`;
  const TAG = 'Knative-Serving-Tag';
  const ing = await createReady(env, name, {
    rules: [
      rule(
        [host],
        [
          {
            headers: { [TAG]: { exact: 'the-tag' } },
            splits: [split(name)],
            appendHeaders: { 'Which-Backend': 'tag' },
          },
          { splits: [split(name)], appendHeaders: { 'Which-Backend': 'no-tag' } },
        ],
      ),
    ],
  });
  const gw = await publicGateway(env, ing);
  const cases: { headers: Record<string, string>; want: string }[] = [
    { headers: { [TAG]: 'the-tag' }, want: 'tag' },
    { headers: {}, want: 'no-tag' },
    { headers: { [TAG]: '' }, want: 'no-tag' },
    { headers: { [TAG]: 'not-the-tag' }, want: 'no-tag' },
  ];
  for (const c of cases) {
    const info = await runtimeGet(gw, host, { headers: c.headers });
    expect({ sent: c.headers, got: seen(info, 'Which-Backend') }).toEqual({ sent: c.headers, got: c.want });
  }
});
