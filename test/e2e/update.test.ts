// Conformance `update`: while a background loop keeps requesting the host (every answer must be
// 200 — no dropped traffic), the KIngress is updated 10 times changing only a split-level
// appendHeaders sentinel, then 10 times switching to a brand-new backend Service (the previous one
// is deleted after the update is Ready). The first request after each Ready must already see the
// new sentinel: Ready means every gateway replica has the new config.
import { httpRequest } from '../backends/client.ts';
import {
  createReady,
  deleteBackend,
  rule,
  runtimeGet,
  seen,
  split,
  startBackends,
  updateIngressReady,
} from './conformance.ts';
import { publicGateway, startEnv, type Env, type TestBackend } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

const SENTINEL = 'Who-Are-You';

test('update', async () => {
  const name = 'update';
  const host = `${name}.example.com`;
  let backend: TestBackend = (await startBackends(env, [{ name: `${name}-0` }]))[0]!;
  let sentinel = `${name}-sentinel-0`;
  const spec = (svc: string, s: string) => ({
    rules: [rule([host], [{ splits: [split(svc, { appendHeaders: { [SENTINEL]: s } })] }])],
  });
  const ing = await createReady(env, name, spec(backend.name, sentinel));
  const gw = await publicGateway(env, ing);
  expect(seen(await runtimeGet(gw, host), SENTINEL)).toBe(sentinel);

  // Background traffic: two sequential loops, bounded in count and time.
  const failures: string[] = [];
  let requests = 0;
  let stop = false;
  const deadline = Date.now() + 10 * 60_000;
  const loop = async (): Promise<void> => {
    while (!stop && requests < 500_000 && Date.now() < deadline) {
      requests++;
      try {
        const res = await httpRequest({ address: gw.address, port: gw.port, host, timeoutMs: 10_000 });
        if (res.status !== 200) failures.push(`status ${res.status}: ${res.body.slice(0, 200)}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  };
  const background = Promise.all([loop(), loop()]);

  try {
    for (let i = 1; i <= 10; i++) {
      sentinel = `${name}-sentinel-${i}`;
      const s = sentinel;
      await updateIngressReady(env, name, (sp) => {
        sp.rules![0]!.http!.paths[0]!.splits[0]!.appendHeaders = { [SENTINEL]: s };
      });
      expect({ update: i, got: seen(await runtimeGet(gw, host), SENTINEL) }).toEqual({ update: i, got: s });
    }
    for (let i = 1; i <= 10; i++) {
      const next = (await startBackends(env, [{ name: `${name}-${i}` }]))[0]!;
      sentinel = `${name}-backend-sentinel-${i}`;
      const s = sentinel;
      await updateIngressReady(env, name, (sp) => {
        sp.rules![0]!.http!.paths[0]!.splits = [split(next.name, { appendHeaders: { [SENTINEL]: s } })];
      });
      const info = await runtimeGet(gw, host);
      expect({ switch: i, got: seen(info, SENTINEL), backend: info.host.suffix }).toEqual({
        switch: i,
        got: s,
        backend: next.name,
      });
      await deleteBackend(env, backend);
      backend = next;
    }
  } finally {
    stop = true;
    await background;
  }
  env.log.info({ requests, failures: failures.length }, 'update: background traffic');
  expect({ requests: requests > 0, failures }).toEqual({ requests: true, failures: [] });
}, 600_000);
