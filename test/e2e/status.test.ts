// KIngress status writes survive API server errors: the operator talks to the API server through
// a fault-injecting proxy (test/env/api-proxy.ts) that answers status PATCHes with 500.
import { rule, split } from './conformance.ts';
import { createIngress, startEnv, startTestBackend, waitReady, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv({ apiProxy: true });
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
