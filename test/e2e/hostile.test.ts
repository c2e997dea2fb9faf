// KIngresses and Services written by a hostile or careless tenant, against the real apiserver and
// real Envoy: each gets a specific condition and the KIngresses around it keep serving.
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS } from '../../operator/api/kingress.ts';
import { httpRequest } from '../backends/client.ts';
import { waitUntil } from '../env/proc.ts';
import { createReady, rule, split } from './conformance.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  ensureNamespace,
  ingressPath,
  publicGateway,
  startEnv,
  startTestBackend,
  waitReason,
  type Env,
} from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

async function externalNameService(ns: string, name: string, externalName: string, port: number) {
  await env.rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: { type: 'ExternalName', externalName, ports: [{ name: 'http', port }] },
  });
}

test('ExternalName Services never lead to Envoy itself or into another tenant', async () => {
  await startTestBackend(env, { name: 'steady' });
  const steady = await createReady(env, 'steady', {
    rules: [rule(['steady.example.com'], [{ splits: [split('steady')] }])],
  });
  const gw = await publicGateway(env, steady);

  // Contour CVE-2021-32783: an ExternalName naming localhost on Envoy's (former) admin port.
  await externalNameService(TEST_NAMESPACE, 'envoy-admin', 'localhost', 19000);
  await createIngress(env, 'admin-attack', {
    rules: [rule(['admin-attack.example.com'], [{ splits: [split('envoy-admin', { servicePort: 19000 })] }])],
  });
  const refused = await waitReason(env, 'admin-attack', 'ExternalNameRefused');
  expect(refused.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
    status: 'False',
    message: `Service ${TEST_NAMESPACE}/envoy-admin is an ExternalName for "localhost", which kgw does not route to: it names this host (localhost)`,
  });
  const notRouted = await httpRequest({
    address: gw.address,
    port: gw.port,
    host: 'admin-attack.example.com',
    path: '/server_info',
  });
  expect(notRouted.status).toBe(404);

  // Another tenant's Service, named through an ExternalName of this namespace.
  await ensureNamespace(env.rest, 'tenant-b');
  await startTestBackend(env, { name: 'private-db', namespace: 'tenant-b' });
  await externalNameService(TEST_NAMESPACE, 'sneaky', 'private-db.tenant-b.svc.cluster.local', 80);
  await createIngress(env, 'cross-tenant', {
    rules: [rule(['cross-tenant.example.com'], [{ splits: [split('sneaky')] }])],
  });
  const denied = await waitReason(env, 'cross-tenant', 'ExternalNameNotAllowed');
  expect(denied.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
    'it points into namespace tenant-b',
  );
  const noRoute = await httpRequest({ address: gw.address, port: gw.port, host: 'cross-tenant.example.com' });
  expect(noRoute.status).toBe(404);

  // The steady KIngress never noticed.
  const res = await httpRequest({ address: gw.address, port: gw.port, host: 'steady.example.com' });
  expect(res.status).toBe(200);
});

test('a malformed KIngress gets InvalidSpec and never freezes its fleet', async () => {
  await startTestBackend(env, { name: 'after' });
  // What the API server stores for a KIngress (its schema preserves anything): a header match
  // that is a number used to pass translation and then break the encoder for every later push.
  const raw = (name: string, spec: unknown) =>
    env.rest.request('POST', ingressPath(TEST_NAMESPACE), {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: {
        name,
        namespace: TEST_NAMESPACE,
        annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS },
      },
      spec,
    });
  await raw('number-header', {
    rules: [
      {
        hosts: ['number-header.example.com'],
        http: { paths: [{ headers: { 'X-Version': { exact: 5 } }, splits: [split('after')] }] },
      },
    ],
  });
  await raw('string-hosts', {
    rules: [{ hosts: 'string-hosts.example.com', http: { paths: [{ splits: [split('after')] }] } }],
  });
  await raw('no-hosts', { rules: [{ http: { paths: [{ splits: [split('after')] }] } }] });
  const messageOf = async (name: string) =>
    (await waitReason(env, name, 'InvalidSpec')).status?.conditions?.find((c) => c.type === 'Ready')?.message;
  expect(await messageOf('number-header')).toBe(
    'spec.rules[0].http.paths[0].headers.X-Version.exact: must be a string, got 5',
  );
  expect(await messageOf('string-hosts')).toBe('spec.rules[0].hosts: must be a list');
  expect(await messageOf('no-hosts')).toContain('spec.rules[0].hosts: at least one host is required');

  // kubectl describe shows why: a Warning Event on the KIngress
  const events = await waitUntil(
    'the InvalidSpec Event',
    async () => {
      const list = await env.rest.get<{ items: { type: string; reason: string; message: string }[] }>(
        `/api/v1/namespaces/${TEST_NAMESPACE}/events`,
        { fieldSelector: 'involvedObject.name=number-header' },
      );
      return list.items.length > 0 ? list.items : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200 },
  );
  expect(events).toEqual([
    expect.objectContaining({
      type: 'Warning',
      reason: 'InvalidSpec',
      message: 'spec.rules[0].http.paths[0].headers.X-Version.exact: must be a string, got 5',
    }),
  ]);

  // A KIngress created after them is programmed and served.
  const after = await createReady(env, 'after', {
    rules: [rule(['after.example.com'], [{ splits: [split('after')] }])],
  });
  const gw = await publicGateway(env, after);
  const res = await httpRequest({ address: gw.address, port: gw.port, host: 'after.example.com' });
  expect(res.status).toBe(200);
});

test('header values reach the backend as written: % is not an Envoy format string', async () => {
  await startTestBackend(env, { name: 'percent' });
  const values = { 'X-Discount': '100%', 'X-Client': '%DOWNSTREAM_REMOTE_ADDRESS%', 'X-Odd': '%%' };
  const ing = await createReady(env, 'percent', {
    rules: [rule(['percent.example.com'], [{ splits: [split('percent', { appendHeaders: values })] }])],
  });
  const gw = await publicGateway(env, ing);
  const res = await httpRequest({ address: gw.address, port: gw.port, host: 'percent.example.com' });
  expect(res.status).toBe(200);
  const headers = res.json<{ request: { headers: Record<string, string[]> } }>().request.headers;
  expect([headers['X-Discount']?.[0], headers['X-Client']?.[0], headers['X-Odd']?.[0]]).toEqual([
    '100%',
    '%DOWNSTREAM_REMOTE_ADDRESS%',
    '%%',
  ]);
});

test("the scope key is Envoy's: a client's route-key header chooses no host and never reaches the backend", async () => {
  await startTestBackend(env, { name: 'keyed' });
  await startTestBackend(env, { name: 'victim' });
  const ing = await createReady(env, 'keyed', {
    rules: [rule(['keyed.example.com'], [{ splits: [split('keyed')] }])],
  });
  await createReady(env, 'victim', {
    rules: [rule(['victim.example.com'], [{ splits: [split('victim')] }])],
  });
  const gw = await publicGateway(env, ing);
  const res = await httpRequest({
    address: gw.address,
    port: gw.port,
    host: 'keyed.example.com',
    headers: {
      'x-kgw-route-key': 'victim.example.com',
      'x-kgw-listener': 'https',
      'x-forwarded-proto': 'https',
    },
  });
  expect(res.status).toBe(200);
  const seen = res.json<{ host: { suffix: string }; request: { headers: Record<string, string[]> } }>();
  expect(seen.host.suffix).toBe('keyed');
  const names = Object.keys(seen.request.headers).map((h) => h.toLowerCase());
  expect(names).not.toContain('x-kgw-route-key');
  expect(names).not.toContain('x-kgw-listener');
  // an unknown host with the key header of a real one finds nothing
  const stray = await httpRequest({
    address: gw.address,
    port: gw.port,
    host: 'stray.example.com',
    headers: { 'x-kgw-route-key': 'victim.example.com' },
  });
  expect(stray.status).toBe(404);
  // an upper-case Host is redirected to the lower-case one, not served under another key
  const upper = await httpRequest({
    address: gw.address,
    port: gw.port,
    host: 'Keyed.Example.com',
    path: '/a?b=1',
  });
  expect([upper.status, upper.headers.location]).toEqual([308, 'http://keyed.example.com/a?b=1']);
});
