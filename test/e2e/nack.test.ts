// An Envoy NACK is attributed to the KIngress that caused it: it gets EnvoyRejected on its
// status, Envoy keeps serving the last accepted config (including that KIngress's previous
// version), other KIngresses keep being programmed, and fixing the spec makes it Ready again.
// The NACKs here are caused by fault injection (nack-poison.ts): the real Envoy rejects a route
// table in which the header value POISON was made oversized.
// A change Envoy accepts in part (a new cluster) and rejects in part (its route) is not taken as
// served, so the rejected route never comes back to get a later, innocent change blamed.
import { httpRequest } from '../backends/client.ts';
import { POISON, poison } from './nack-poison.ts';
import { createReady, rule, split, startBackends, updateIngressReady } from './conformance.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  getIngress,
  ingressPath,
  publicGateway,
  startEnv,
  startTestBackend,
  waitReady,
  waitReason,
  type Env,
} from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv({ snapshotFilter: poison });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('a NACKed KIngress is reported, reverted to its accepted config, and others keep flowing', async () => {
  await startTestBackend(env, { name: 'nack-app' });
  const header = (v: string) => ({ splits: [split('nack-app', { appendHeaders: { 'Who-Are-You': v } })] });
  const ing = await createReady(env, 'nacked', { rules: [rule(['nacked.example.com'], [header('v1')])] });
  const gw = await publicGateway(env, ing);
  const who = async (host: string) => {
    const res = await httpRequest({ address: gw.address, port: gw.port, host });
    expect(res.status).toBe(200);
    return res.json<{ request: { headers: Record<string, string[]> } }>().request.headers['Who-Are-You']?.[0];
  };
  expect(await who('nacked.example.com')).toBe('v1');

  // Update with a value Envoy refuses.
  const cur = await getIngress(env, 'nacked');
  cur.spec.rules![0]!.http!.paths[0]!.splits[0]!.appendHeaders = { 'Who-Are-You': POISON };
  await env.rest.request('PUT', ingressPath(TEST_NAMESPACE, 'nacked'), cur);
  const rejected = await waitReason(env, 'nacked', 'EnvoyRejected');
  expect(rejected.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(
    /^Envoy default\/.+ rejected the /,
  );
  // The previous, accepted version keeps serving.
  expect(await who('nacked.example.com')).toBe('v1');

  // A gateway spec change rebuilds the gateway's config: the accepted version still serves.
  const gwPath = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';
  const patched = await env.rest.request<{ metadata: { generation: number } }>(
    'PATCH',
    gwPath,
    { spec: { domains: { template: '{{.Name}}.{{.Namespace}}.{{.Domain}}' } } },
    'application/merge-patch+json',
  );
  for (let i = 0; i < 150; i++) {
    const g = await env.rest.get<{ status?: { observedGeneration?: number } }>(gwPath);
    if (g.status?.observedGeneration === patched.metadata.generation) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(await who('nacked.example.com')).toBe('v1');

  // Another KIngress is still programmed after the NACK.
  await createReady(env, 'after-nack', { rules: [rule(['after-nack.example.com'], [header('after')])] });
  expect(await who('after-nack.example.com')).toBe('after');
  expect(await who('nacked.example.com')).toBe('v1');

  // Fixing the spec makes it Ready with the new config.
  await updateIngressReady(env, 'nacked', (spec) => {
    spec.rules![0]!.http!.paths[0]!.splits[0]!.appendHeaders = { 'Who-Are-You': 'v2' };
  });
  expect(await who('nacked.example.com')).toBe('v2');
}, 120_000);

test('a change Envoy accepts in one type (a new cluster) and rejects in another (its route) is not taken as served', async () => {
  // The update adds a split to a new service (CDS: accepted) with a header Envoy refuses (RDS:
  // rejected). The KIngress must be reverted to v1 everywhere, so a later, unrelated change in
  // the same fleet is accepted and not blamed for the bad route.
  await startBackends(env, [{ name: 'mixed-a' }, { name: 'mixed-b' }]);
  const ing = await createReady(env, 'mixed', {
    rules: [
      rule(
        ['mixed.example.com'],
        [{ splits: [split('mixed-a', { appendHeaders: { 'Who-Are-You': 'v1' } })] }],
      ),
    ],
  });
  const gw = await publicGateway(env, ing);
  const cur = await getIngress(env, 'mixed');
  cur.spec.rules![0]!.http!.paths[0]!.splits = [
    split('mixed-a', { percent: 50, appendHeaders: { 'Who-Are-You': POISON } }),
    split('mixed-b', { percent: 50 }),
  ];
  await env.rest.request('PUT', ingressPath(TEST_NAMESPACE, 'mixed'), cur);
  await waitReason(env, 'mixed', 'EnvoyRejected');

  // An unrelated KIngress in the same fleet becomes Ready, and both answer.
  await createReady(env, 'bystander', {
    rules: [
      rule(
        ['bystander.example.com'],
        [{ splits: [split('mixed-b', { appendHeaders: { 'Who-Are-You': 'by' } })] }],
      ),
    ],
  });
  const who = async (host: string) => {
    const res = await httpRequest({ address: gw.address, port: gw.port, host });
    expect(res.status).toBe(200);
    return res.json<{ request: { headers: Record<string, string[]> } }>().request.headers['Who-Are-You']?.[0];
  };
  expect(await who('bystander.example.com')).toBe('by');
  expect(await who('mixed.example.com')).toBe('v1');
  const by = await getIngress(env, 'bystander');
  expect(by.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  expect((await getIngress(env, 'mixed')).status?.conditions?.find((c) => c.type === 'Ready')?.reason).toBe(
    'EnvoyRejected',
  );
}, 120_000);

test('a burst with one KIngress Envoy rejects: only that one is rejected, the others become Ready', async () => {
  // Created together, they reach Envoy in one update, which it rejects as a whole; kgw retries the
  // suspects in halves until the NACK names one KIngress.
  await startBackends(env, [{ name: 'burst-app' }]);
  const names = ['burst-0', 'burst-1', 'burst-2', 'burst-3', 'burst-4'];
  const bad = 'burst-3';
  await Promise.all(
    names.map((n) =>
      createIngress(env, n, {
        rules: [
          rule(
            [`${n}.example.com`],
            [
              {
                splits: [
                  split('burst-app', {
                    appendHeaders: { 'Who-Are-You': n === bad ? POISON : n },
                  }),
                ],
              },
            ],
          ),
        ],
      }),
    ),
  );
  const good = names.filter((n) => n !== bad);
  const ready = await Promise.all(good.map((n) => waitReady(env, n)));
  const rejected = await waitReason(env, bad, 'EnvoyRejected');
  expect(rejected.status?.conditions?.find((c) => c.type === 'Ready')?.message).toMatch(
    /rejected the (SRDS|RDS) update/, // delta fleets send each host's scope (SRDS), SotW fleets whole tables
  );
  const gw = await publicGateway(env, ready[0]!);
  for (const n of good) {
    const res = await httpRequest({ address: gw.address, port: gw.port, host: `${n}.example.com` });
    expect({ n, status: res.status }).toEqual({ n, status: 200 });
    expect(
      res.json<{ request: { headers: Record<string, string[]> } }>().request.headers['Who-Are-You']?.[0],
    ).toBe(n);
  }
  const res = await httpRequest({ address: gw.address, port: gw.port, host: `${bad}.example.com` });
  expect(res.status).toBe(404);
  for (const n of good) {
    const cond = (await getIngress(env, n)).status?.conditions?.find((c) => c.type === 'Ready');
    expect({ n, status: cond?.status }).toEqual({ n, status: 'True' });
  }
}, 120_000);
