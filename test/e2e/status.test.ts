// The operator and an API server that misbehaves: the operator talks to the API server through a
// fault-injecting proxy (test/env/api-proxy.ts). Status writes survive 500s; a replica whose
// watches fail for longer than its staleness bound (2 s here, 30 s by default) says so: /readyz
// 503, kgw_apiserver_stale_seconds, and, while it can still write, FleetsReady=False
// ControlPlaneStale on the KnativeGateway; all of it clears once the watches work again. The Envoys
// keep serving meanwhile.
import { httpRequest } from '../backends/client.ts';
import { freePorts, waitUntil } from '../env/proc.ts';
import { createReady, rule, split } from './conformance.ts';
import { createIngress, publicGateway, startEnv, startTestBackend, waitReady, type Env } from './harness.ts';

let env: Env;
let healthPort: number;
let metricsPort: number;
beforeAll(async () => {
  [healthPort = 0, metricsPort = 0] = await freePorts(2);
  env = await startEnv({ apiProxy: true, operator: { healthPort, metricsPort, staleAfterMs: 2000 } });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('a status write the API server fails is retried until it lands', async () => {
  await startTestBackend(env, { name: 'retry-me' });
  const proxy = env.proxy!;
  // the first two status writes of this KIngress fail (whatever they carry: Unknown or Ready)
  proxy.failNext((method, path) => method === 'PATCH' && path.includes('/ingresses/retry-me/status'), 500, 2);
  await createIngress(env, 'retry-me', {
    rules: [rule(['retry-me.example.com'], [{ splits: [split('retry-me')] }])],
  });
  const ing = await waitReady(env, 'retry-me');
  expect(ing.status?.observedGeneration).toBe(ing.metadata.generation);
  expect(proxy.failed.filter((r) => r.includes('/ingresses/retry-me/status'))).toHaveLength(2);
});

const BOUND = { timeoutMs: 30_000, intervalMs: 200 };
const readyz = async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status;
const staleSeconds = async () => {
  const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^kgw_apiserver_stale_seconds (\S+)$/m.exec(body)?.[1] ?? 'NaN');
};
const fleetsReady = async () => {
  const gw = await env.rest.get<{
    status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
  }>('/apis/operator.kgw.dev/v1alpha1/knativegateways/default');
  return gw.status?.conditions?.find((c) => c.type === 'FleetsReady');
};

test('a replica cut off from the API server reports stale configuration, and recovers', async () => {
  await startTestBackend(env, { name: 'cut-off' });
  const ing = await createReady(env, 'cut-off', {
    rules: [rule(['cut-off.example.com'], [{ splits: [split('cut-off')] }])],
  });
  const gw = await publicGateway(env, ing);
  const proxy = env.proxy!;
  expect(await readyz()).toBe(200);
  expect(await staleSeconds()).toBe(0);

  // One watch failing (its list and watch requests answered 500) while writes still work: the
  // gateway says so.
  proxy.failNext((method, path) => method === 'GET' && path.startsWith('/api/v1/secrets'), 500, 1_000_000);
  proxy.cut(); // every open watch breaks and reconnects; the Secrets one cannot
  proxy.restore();
  const stale = await waitUntil(
    'FleetsReady=False ControlPlaneStale',
    async () => {
      const c = await fleetsReady();
      return c?.reason === 'ControlPlaneStale' ? c : undefined;
    },
    BOUND,
  );
  expect(stale.message).toMatch(/^kgw has not been able to watch Secrets for \d+ s/);
  expect(await readyz()).toBe(503);
  expect(await staleSeconds()).toBeGreaterThanOrEqual(2);
  proxy.clearFaults();
  await waitUntil(
    'FleetsReady to recover',
    async () => {
      const c = await fleetsReady();
      if (c?.status !== 'True') throw new Error(JSON.stringify(c));
      return true;
    },
    BOUND,
  );
  expect(await readyz()).toBe(200);

  // Cut off entirely: nothing can be written, but readiness and the metric tell, and Envoy keeps
  // serving what it has.
  proxy.cut();
  await waitUntil('readiness to fail', async () => ((await readyz()) === 503 ? true : undefined), BOUND);
  expect(await staleSeconds()).toBeGreaterThanOrEqual(2);
  const res = await httpRequest({ address: gw.address, port: gw.port, host: 'cut-off.example.com' });
  expect(res.status).toBe(200);
  proxy.restore();
  await waitUntil('readiness to come back', async () => ((await readyz()) === 200 ? true : undefined), BOUND);
  expect(await staleSeconds()).toBe(0);
}, 120_000);
