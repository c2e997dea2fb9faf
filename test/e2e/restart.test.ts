// Restarting the operator under traffic fails no request: the Envoy replicas keep their last
// config while the xDS server is gone, the new operator pushes nothing until its caches are
// synced (so no empty config), adopts the replicas, and programs later changes.
import { httpRequest } from '../backends/client.ts';
import { createReady, rule, split, updateIngressReady, sleep } from './conformance.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  publicGateway,
  restartOperator,
  startEnv,
  startTestBackend,
  waitReady,
  type Env,
} from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('operator restart under traffic: every request answers 200, and changes after it are served', async () => {
  await startTestBackend(env, { name: 'restart-a' });
  await startTestBackend(env, { name: 'restart-b' });
  const host = 'restart.example.com';
  const ing = await createReady(env, 'restart', {
    rules: [rule([host], [{ splits: [split('restart-a')] }])],
  });
  const gws = [await publicGateway(env, ing)];

  let stop = false;
  const statuses = new Map<number, number>();
  let sent = 0;
  const loop = async () => {
    const deadline = Date.now() + 90_000;
    for (let i = 0; i < 50_000 && !stop && Date.now() < deadline; i++) {
      const gw = gws[i % gws.length]!;
      const res = await httpRequest({ address: gw.address, port: gw.port, host, timeoutMs: 5000 }).catch(
        () => ({
          status: -1,
        }),
      );
      sent++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  };
  const loops = [loop(), loop()];
  await sleep(500);
  for (let r = 0; r < 2; r++) {
    await restartOperator(env);
    await sleep(1000);
  }
  // The new operator programs changes: switch the backend and wait for Ready.
  const after = await updateIngressReady(env, 'restart', (spec) => {
    spec.rules![0]!.http!.paths[0]!.splits = [split('restart-b', { percent: 100 })];
  });
  const gw = await publicGateway(env, after);
  const res = await httpRequest({ address: gw.address, port: gw.port, host });
  expect(res.json<{ host: { suffix: string } }>().host.suffix).toBe('restart-b');
  stop = true;
  await Promise.all(loops);
  expect(sent).toBeGreaterThan(20);
  expect(Object.fromEntries(statuses)).toEqual({ 200: sent });
}, 180_000);

test('a KIngress created while the operator is down is Ready after the restart', async () => {
  // The Envoys keep serving while the operator is gone and back off reconnecting; after the
  // restart they must pick up the new KIngress, and the probe verdict must land (it was lost when
  // the KIngress was re-translated to an equal IR during the round, which left it Unknown).
  await startTestBackend(env, { name: 'while-down' });
  const host = 'while-down.example.com';
  await restartOperator(env, async () => {
    await createIngress(env, 'while-down', { rules: [rule([host], [{ splits: [split('while-down')] }])] });
    await sleep(5000); // long enough for the Envoys' reconnect backoff to grow
  });
  const ing = await waitReady(env, 'while-down', TEST_NAMESPACE, 60_000);
  const gw = await publicGateway(env, ing);
  expect((await httpRequest({ address: gw.address, port: gw.port, host })).status).toBe(200);
}, 120_000);
