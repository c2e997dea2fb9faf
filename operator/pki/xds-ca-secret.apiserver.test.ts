import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { loadOrCreateXdsCa } from './xds-ca-secret.ts';

let cp: ControlPlane;
let rest: KubeRest;
const log = newLogger('test', 'silent');

beforeAll(async () => {
  cp = await startControlPlane();
  rest = new KubeRest(cp.kubeConfig());
  for (const name of ['kgw-system', 'other']) {
    await rest.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
  }
}, 120_000);
afterAll(async () => {
  rest?.close();
  await cp?.stop();
});

test('created once, labelled as kgw’s; concurrent replicas end up with the same CA', async () => {
  const opts = { rest, namespace: 'kgw-system', name: 'kgw-xds-ca', log };
  const [a, b] = await Promise.all([loadOrCreateXdsCa(opts), loadOrCreateXdsCa(opts)]);
  expect(a.certPem).toBe(b.certPem);
  const again = await loadOrCreateXdsCa(opts);
  expect(again.certPem).toBe(a.certPem);
  expect(again.keyPem).toBe(a.keyPem);
  const secret = await rest.get<{ metadata: { labels?: Record<string, string> } }>(
    '/api/v1/namespaces/kgw-system/secrets/kgw-xds-ca',
  );
  expect(secret.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('kgw');
});

test('a Secret kgw did not create that holds no CA is an error and stays untouched', async () => {
  const created = await rest.request<{ metadata: { resourceVersion: string } }>(
    'POST',
    '/api/v1/namespaces/other/secrets',
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kgw-xds-ca' }, stringData: { 'ca.crt': 'nope' } },
  );
  await expect(loadOrCreateXdsCa({ rest, namespace: 'other', name: 'kgw-xds-ca', log })).rejects.toThrow(
    /Secret other\/kgw-xds-ca does not hold a usable xDS CA .*kgw does not overwrite it/,
  );
  const after = await rest.get<{ metadata: { resourceVersion: string } }>(
    '/api/v1/namespaces/other/secrets/kgw-xds-ca',
  );
  expect(after.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
});
