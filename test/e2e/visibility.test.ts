// Conformance `visibility`, `visibility/split`, `visibility/path` and `host-rewrite`: ClusterLocal
// rules are served only by the private gateway (the public one answers 404); they are reached
// through an httpproxy backend (forwarding to the private gateway with the private Host) fronted by
// a public KIngress, or through an ExternalName Service pointing at the private gateway with
// rewriteHost.
import { httpRequest } from '../backends/client.ts';
import type { KIngress } from '../../operator/api/kingress.ts';
import {
  checkPercentages,
  createReady,
  distribution,
  rule,
  runtimeGet,
  seen,
  split,
  startBackends,
  type Gateway,
} from './conformance.ts';
import { privateGateway, publicGateway, startEnv, TEST_NAMESPACE, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

const local = (name: string) => `${name}.${TEST_NAMESPACE}.svc.cluster.local`;

/** Public host → httpproxy → private gateway with Host = privateHost. Returns the public host. */
async function proxyFor(
  privateIng: KIngress,
  name: string,
  privateHost: string,
): Promise<{ host: string; gw: Gateway }> {
  const priv = await privateGateway(env, privateIng);
  await startBackends(env, [
    { name, kind: 'httpproxy', gateway: `${priv.address}:${priv.port}`, targetHost: privateHost },
  ]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, { rules: [rule([host], [{ splits: [split(name)] }])] });
  return { host, gw: await publicGateway(env, ing) };
}

async function expectPublic404(ing: KIngress, host: string, path = '/'): Promise<void> {
  const gw = await publicGateway(env, ing);
  const res = await httpRequest({ address: gw.address, port: gw.port, host, path });
  expect({ host, path, status: res.status }).toEqual({ host, path, status: 404 });
}

test('visibility', async () => {
  const name = 'visibility';
  await startBackends(env, [{ name }]);
  const hosts = [local(name), `${name}.${TEST_NAMESPACE}.svc`, `${name}.${TEST_NAMESPACE}`];
  const ing = await createReady(env, name, {
    rules: [rule(hosts, [{ splits: [split(name)] }], 'ClusterLocal')],
  });
  for (const h of hosts) await expectPublic404(ing, h);
  for (const [i, h] of hosts.entries()) {
    const proxy = await proxyFor(ing, `${name}-proxy-${i}`, h);
    const info = await runtimeGet(proxy.gw, proxy.host);
    expect(info.host.suffix).toBe(name);
    expect(info.request.host).toBe(h);
  }
});

test('visibility/split', async () => {
  const name = 'visibility-split';
  const weights = [1, 2, 4, 8, 16, 32, 37, 0, 0, 0];
  const names = weights.map((_, i) => `${name}-${i}`);
  await startBackends(
    env,
    names.map((n) => ({ name: n })),
  );
  const privHost = local(name);
  const ing = await createReady(env, name, {
    rules: [
      rule([privHost], [{ splits: names.map((n, i) => split(n, { percent: weights[i]! })) }], 'ClusterLocal'),
    ],
  });
  await expectPublic404(ing, privHost);
  const proxy = await proxyFor(ing, `${name}-proxy`, privHost);
  const total = 1000;
  const { counts, errors } = await distribution(total, 8, () => runtimeGet(proxy.gw, proxy.host));
  expect(errors).toEqual([]);
  const expected = Object.fromEntries(names.map((n, i) => [n, weights[i]!]));
  expect(checkPercentages(counts, expected, total)).toEqual([]);
});

test('visibility/path', async () => {
  const name = 'visibility-path';
  const backends = ['foo', 'bar', 'baz', 'catchall'].map((p) => `${name}-${p}`);
  await startBackends(
    env,
    backends.map((n) => ({ name: n })),
  );
  const privHost = local(name);
  const which = (n: string) => split(n, { appendHeaders: { 'Which-Backend': n } });
  const ing = await createReady(env, name, {
    rules: [
      rule(
        [privHost],
        [
          { path: '/foo', splits: [which(backends[0]!)] },
          { path: '/bar', splits: [which(backends[1]!)] },
          { path: '/baz', splits: [which(backends[2]!)] },
          { splits: [which(backends[3]!)] },
        ],
        'ClusterLocal',
      ),
    ],
  });
  const proxy = await proxyFor(ing, `${name}-proxy`, privHost);
  const cases: [string, string][] = [
    ['/foo', backends[0]!],
    ['/bar', backends[1]!],
    ['/baz', backends[2]!],
    ['/', backends[3]!],
    ['/asdf', backends[3]!],
  ];
  for (const [path, want] of cases) {
    const info = await runtimeGet(proxy.gw, proxy.host, { path });
    expect({ path, got: seen(info, 'Which-Backend') }).toEqual({ path, got: want });
    await expectPublic404(ing, privHost, path);
  }
});

test('host-rewrite', async () => {
  const name = 'host-rewrite';
  const priv = `${name}-private`;
  const backend = `${name}-backend`;
  await startBackends(env, [{ name: backend }]);
  const privHost = local(priv);
  const privIng = await createReady(env, priv, {
    rules: [rule([privHost], [{ splits: [split(backend)] }], 'ClusterLocal')],
  });
  const domainInternal = privIng.status?.privateLoadBalancer?.ingress?.[0]?.domainInternal;
  expect(domainInternal).toBeTruthy();
  // An ExternalName Service named like the private host, pointing at the private gateway.
  await env.rest.request('POST', `/api/v1/namespaces/${TEST_NAMESPACE}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: priv, namespace: TEST_NAMESPACE },
    spec: { type: 'ExternalName', externalName: domainInternal, ports: [{ name: 'http2', port: 80 }] },
  });
  const vanity = [`${name}-vanity.example.com`, `${name}-vanity.another.example.com`];
  const ing = await createReady(env, name, {
    rules: [rule(vanity, [{ rewriteHost: privHost, splits: [split(priv)] }])],
  });
  const gw = await publicGateway(env, ing);
  for (const h of vanity) {
    const info = await runtimeGet(gw, h);
    expect(info.host.suffix).toBe(backend);
    expect(info.request.host).toBe(privHost);
  }
});
