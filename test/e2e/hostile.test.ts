// KIngresses and Services written by a hostile or careless tenant, against the real apiserver and
// real Envoy: each gets a specific condition and the KIngresses around it keep serving.
import { httpRequest } from '../backends/client.ts';
import { createReady, rule, split } from './conformance.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  ensureNamespace,
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
