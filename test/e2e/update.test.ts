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
  sleep,
  split,
  startBackends,
  updateIngressReady,
} from './conformance.ts';
import {
  getIngress,
  ingressPath,
  publicGateway,
  startEnv,
  TEST_NAMESPACE,
  waitReady,
  type Env,
  type TestBackend,
} from './harness.ts';
import type { RuntimeInfo } from '../backends/runtime.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';

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

// What Knative's conformance `update` met on a busy real cluster (test/cluster): the KIngress is
// pointed at a new Service whose EndpointSlice appears only later (the mirroring controller lags
// the Endpoints Knative waits for). Meanwhile the old backend must keep answering — not Envoy's 503
// "no healthy upstream" — and once the slice is there the new backend serves and the KIngress is
// Ready.
test('update to a Service whose EndpointSlice comes later: the old backend keeps serving until it does', async () => {
  const name = 'update-late-slice';
  const host = `${name}.example.com`;
  const [oldB, newB] = await startBackends(env, [{ name: `${name}-old` }, { name: `${name}-new` }]);
  const slicePath = `/apis/discovery.k8s.io/v1/namespaces/${TEST_NAMESPACE}/endpointslices`;
  const newSlice = await env.rest.get<object>(`${slicePath}/${newB!.name}-1`);
  await env.rest.request('DELETE', `${slicePath}/${newB!.name}-1`);
  const spec = (svc: string) => ({ rules: [rule([host], [{ splits: [split(svc)] }])] });
  const ing = await createReady(env, name, spec(oldB!.name));
  const gw = await publicGateway(env, ing);

  const cur = await getIngress(env, name);
  cur.spec = withDefaults(spec(newB!.name));
  await env.rest.request('PUT', ingressPath(TEST_NAMESPACE, name), cur);
  const answers = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const res = await httpRequest({ address: gw.address, port: gw.port, host, timeoutMs: 5000 });
    const who = res.status === 200 ? res.json<RuntimeInfo>().host.suffix : `status ${res.status}`;
    answers.set(who, (answers.get(who) ?? 0) + 1);
    await sleep(50);
  }
  expect([...answers]).toEqual([[oldB!.name, 30]]);

  const { metadata, ...rest } = newSlice as { metadata: { name: string; namespace: string; labels: object } };
  await env.rest.request('POST', slicePath, {
    ...rest,
    metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels },
  });
  await waitReady(env, name);
  expect((await runtimeGet(gw, host)).host.suffix).toBe(newB!.name);
}, 120_000);
