// The same data path with Envoys speaking state-of-the-world ADS instead of delta: a KIngress
// becomes Ready and serves, an update is served by the very next request after Ready, and an
// endpoint-only change (backend moved) keeps serving.
import { httpRequest } from '../backends/client.ts';
import { createReady, deleteBackend, rule, split, updateIngressReady } from './conformance.ts';
import { publicGateway, startEnv, startTestBackend, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv({ xdsProtocol: 'sotw' });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('sotw: create, update and backend switch are served', async () => {
  const a = await startTestBackend(env, { name: 'sotw-a' });
  await startTestBackend(env, { name: 'sotw-b' });
  const host = 'sotw.example.com';
  const ing = await createReady(env, 'sotw', {
    rules: [rule([host], [{ splits: [split('sotw-a', { appendHeaders: { 'Who-Are-You': 'one' } })] }])],
  });
  const conns = env.operator.xds.connections();
  expect(conns.length).toBe(3); // 2 external + 1 local replica
  expect(conns.map((c) => c.mode)).toEqual(['sotw', 'sotw', 'sotw']);
  const gw = await publicGateway(env, ing);
  const first = await httpRequest({ address: gw.address, port: gw.port, host });
  expect(first.status).toBe(200);
  expect(
    first.json<{ request: { headers: Record<string, string[]> } }>().request.headers['Who-Are-You'],
  ).toEqual(['one']);
  await updateIngressReady(env, 'sotw', (spec) => {
    spec.rules![0]!.http!.paths[0]!.splits = [
      split('sotw-b', { percent: 100, appendHeaders: { 'Who-Are-You': 'two' } }),
    ];
  });
  const second = await httpRequest({ address: gw.address, port: gw.port, host });
  const body = second.json<{ request: { headers: Record<string, string[]> }; host: { suffix: string } }>();
  expect(body.request.headers['Who-Are-You']).toEqual(['two']);
  expect(body.host.suffix).toBe('sotw-b');
  await deleteBackend(env, a);
  expect((await httpRequest({ address: gw.address, port: gw.port, host })).status).toBe(200);
});
