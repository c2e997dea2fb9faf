// ReferencedSecrets against a real kube-apiserver: with 1,000 unrelated Secrets in the cluster,
// kgw holds the data of the one Secret it references and only the name, namespace and
// resourceVersion of the others; changes to the referenced Secret are seen, deletes too, and the
// data is dropped once nothing references it.
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { newLogger } from '../log.ts';
import { ReferencedSecrets } from './referenced-secrets.ts';
import { KubeRest } from './rest.ts';

let cp: ControlPlane;
let rest: KubeRest;
const log = newLogger('test');
const BOUND = { timeoutMs: 20_000, intervalMs: 50 };
const UNRELATED = 1000;

async function createSecret(ns: string, name: string, data: Record<string, string>): Promise<void> {
  await rest.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
}

beforeAll(async () => {
  cp = await startControlPlane();
  rest = new KubeRest(cp.kubeConfig());
  for (const ns of ['apps', 'other']) {
    await rest.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
  }
  const blob = 'x'.repeat(1024);
  for (let i = 0; i < UNRELATED; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, j) => createSecret('other', `unrelated-${i + j}`, { password: blob })),
    );
  }
  await createSecret('apps', 'cert', { 'tls.crt': 'v1', 'tls.key': 'k' });
}, 180_000);

afterAll(async () => {
  rest?.close();
  await cp?.stop();
});

test('only the referenced Secret is held with its data; changes and deletes are followed', async () => {
  const changes: string[] = [];
  const secrets = new ReferencedSecrets({ rest, log, onChange: (k) => changes.push(k) });
  secrets.start();
  try {
    await secrets.synced;
    expect(secrets.meta.store.size).toBeGreaterThanOrEqual(UNRELATED + 1);
    // no data, no annotations, no managedFields: just what tells a change
    for (const m of secrets.meta.store.values()) {
      expect(Object.keys(m)).toEqual(['metadata']);
      expect(Object.keys(m.metadata).sort()).toEqual(['name', 'namespace', 'resourceVersion']);
    }
    expect(secrets.dataCount).toBe(0);

    await secrets.prefetch(['apps/cert', 'apps/missing']);
    expect(secrets.dataCount).toBe(1);
    expect(Buffer.from(secrets.get('apps', 'cert')?.data?.['tls.crt'] ?? '', 'base64').toString()).toBe('v1');
    expect(secrets.get('other', 'unrelated-0')).toBeUndefined();
    expect(secrets.isPending('apps/missing')).toBe(false); // does not exist: nothing to wait for

    // an update of the referenced Secret is fetched and announced
    await rest.request(
      'PATCH',
      '/api/v1/namespaces/apps/secrets/cert',
      { data: { 'tls.crt': Buffer.from('v2').toString('base64') } },
      'application/merge-patch+json',
    );
    await waitUntil(
      'the new data',
      () =>
        Promise.resolve(
          Buffer.from(secrets.get('apps', 'cert')?.data?.['tls.crt'] ?? '', 'base64').toString() === 'v2',
        ),
      BOUND,
    );
    expect(changes).toContain('apps/cert');
    expect(secrets.isPending('apps/cert')).toBe(false);

    // an unrelated change is never fetched
    const before = secrets.meta.store.get('other/unrelated-1')?.metadata.resourceVersion;
    await rest.request(
      'PATCH',
      '/api/v1/namespaces/other/secrets/unrelated-1',
      { data: { password: 'eQ==' } },
      'application/merge-patch+json',
    );
    await waitUntil(
      'the watch to see it',
      () => Promise.resolve(secrets.meta.store.get('other/unrelated-1')?.metadata.resourceVersion !== before),
      BOUND,
    );
    expect(secrets.dataCount).toBe(1);

    // delete: the data goes and the users hear of it
    changes.length = 0;
    await rest.request('DELETE', '/api/v1/namespaces/apps/secrets/cert');
    await waitUntil('the delete', () => Promise.resolve(secrets.get('apps', 'cert') === undefined), BOUND);
    expect(changes).toEqual(['apps/cert']);

    // recreated: fetched again; no longer referenced: dropped
    await createSecret('apps', 'cert', { 'tls.crt': 'v3', 'tls.key': 'k' });
    await waitUntil(
      'the new Secret',
      () => Promise.resolve(secrets.get('apps', 'cert') !== undefined),
      BOUND,
    );
    secrets.setWanted([]);
    expect(secrets.dataCount).toBe(0);
  } finally {
    await secrets.stop();
  }
}, 120_000);
