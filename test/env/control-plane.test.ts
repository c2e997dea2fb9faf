// Starts real etcd + kube-apiserver and talks to them through @kubernetes/client-node.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { installKgwCRDs, installKnativeCRDs, knativeCRDNames } from './crds.ts';
import { applyManifests, waitForCRDs } from './manifests.ts';

const GROUP = 'networking.internal.knative.dev';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('control plane', () => {
  let cp: ControlPlane;
  let kc: KubeConfig;

  beforeAll(async () => {
    cp = await startControlPlane();
    kc = cp.kubeConfig();
    process.stderr.write(`[control-plane.test] startup ${cp.startupMs} ms\n`);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('serves with its own CA, the admin token and a kubeconfig file', async () => {
    expect(cp.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(cp.caPem).toContain('BEGIN CERTIFICATE');
    expect(existsSync(cp.kubeconfigPath)).toBe(true);
    const core = kc.makeApiClient(CoreV1Api);
    const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
    expect(names).toEqual(expect.arrayContaining(['default', 'kube-system']));
  });

  it('rejects a wrong token (authentication is on)', async () => {
    const bad = cp.kubeConfig();
    const user = bad.getCurrentUser();
    if (user === null) throw new Error('no user in kubeconfig');
    (user as { token?: string }).token = 'not-the-token';
    await expect(bad.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
  });

  it('creates a namespace and a KIngress, and updates its status subresource', async () => {
    const crds = await installKnativeCRDs(kc);
    expect(crds.map((c) => c.metadata?.name).sort()).toEqual(knativeCRDNames().sort());
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'cp-test' } } });
    const co = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: GROUP, version: 'v1alpha1', namespace: 'cp-test', plural: 'ingresses' };
    const created = (await co.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: `${GROUP}/v1alpha1`,
        kind: 'Ingress',
        metadata: {
          name: 'hello',
          annotations: { 'networking.knative.dev/ingress.class': 'kgw.ingress.networking.knative.dev' },
        },
        spec: {
          rules: [{ hosts: ['hello.cp-test.example.com'], visibility: 'ExternalIP', http: { paths: [] } }],
        },
      },
    })) as { metadata: { resourceVersion: string }; spec: { rules: { hosts: string[] }[] } };
    expect(created.spec.rules[0]?.hosts).toEqual(['hello.cp-test.example.com']); // unknown fields kept

    await co.patchNamespacedCustomObjectStatus(
      {
        ...ref,
        name: 'hello',
        body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Probed' }] } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const got = (await co.getNamespacedCustomObject({ ...ref, name: 'hello' })) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    expect(got.status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True' });
  });

  it('serves the short names and requires spec.namespace on ClusterDomainClaim', async () => {
    await installKnativeCRDs(kc); // idempotent
    const co = kc.makeApiClient(CustomObjectsApi);
    const resources = (await co.getAPIResources({ group: GROUP, version: 'v1alpha1' })).resources;
    const byName = new Map(resources.map((r) => [r.name, r]));
    expect(byName.get('ingresses')?.shortNames).toEqual(['kingress', 'king']);
    expect(byName.get('certificates')?.shortNames).toEqual(['kcert']);
    expect(byName.get('serverlessservices')?.shortNames).toEqual(['sks']);
    expect(byName.get('clusterdomainclaims')).toMatchObject({ namespaced: false, shortNames: ['cdc'] });
    expect(byName.get('ingresses/status')).toBeDefined();

    const cdc = { group: GROUP, version: 'v1alpha1', plural: 'clusterdomainclaims' };
    await expect(
      co.createClusterCustomObject({
        ...cdc,
        body: {
          apiVersion: `${GROUP}/v1alpha1`,
          kind: 'ClusterDomainClaim',
          metadata: { name: 'a.example.com' },
          spec: {},
        },
      }),
    ).rejects.toMatchObject({ code: 422 });
    await co.createClusterCustomObject({
      ...cdc,
      body: {
        apiVersion: `${GROUP}/v1alpha1`,
        kind: 'ClusterDomainClaim',
        metadata: { name: 'b.example.com' },
        spec: { namespace: 'cp-test' },
      },
    });
  });

  it('applies manifests: CRDs and their objects in one call, and again idempotently', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.test.kgw.dev' },
      spec: {
        group: 'test.kgw.dev',
        scope: 'Namespaced',
        names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    };
    const dir = mkdtempSync(join(tmpdir(), 'kgw-manifests-'));
    try {
      const file = join(dir, 'widget.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: test.kgw.dev/v1',
          'kind: Widget',
          'metadata: {name: w1, namespace: apply-test}',
          'size: 3',
          '---',
          'apiVersion: v1',
          'kind: Namespace',
          'metadata: {name: apply-test}',
          '',
        ].join('\n'),
      );
      for (let i = 0; i < 2; i++) {
        const applied = await applyManifests(kc, [crd, file]);
        expect(applied.map((o) => o.kind)).toEqual(['CustomResourceDefinition', 'Namespace', 'Widget']);
      }
      await waitForCRDs(kc, ['widgets.test.kgw.dev']);
      const w = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
        group: 'test.kgw.dev',
        version: 'v1',
        namespace: 'apply-test',
        plural: 'widgets',
        name: 'w1',
      })) as {
        size?: number;
      };
      expect(w.size).toBe(3);
      // kgw's own CRDs: an empty or missing folder installs nothing
      expect(await installKgwCRDs(kc, join(dir, 'missing'))).toEqual([]);
      writeFileSync(
        file.replace('widget.yaml', 'only.yml'),
        JSON.stringify({ ...crd, metadata: { name: 'widgets.test.kgw.dev' } }),
      );
      rmSync(file);
      expect((await installKgwCRDs(kc, dir)).map((o) => o.metadata?.name)).toEqual(['widgets.test.kgw.dev']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a bad manifest with the object and the server message', async () => {
    await expect(
      applyManifests(kc, [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'bad', namespace: 'default' },
          spec: { ports: [{ port: 0 }] },
        },
      ]),
    ).rejects.toThrow(/v1\/Service default\/bad: PATCH .*: HTTP 422/);
  });

  it('times out waiting for a CRD that does not exist, naming it', async () => {
    await expect(waitForCRDs(kc, ['nothings.test.kgw.dev'], { timeoutMs: 300 })).rejects.toThrow(
      /nothings\.test\.kgw\.dev/,
    );
  });
});

describe('two control planes at once', () => {
  it('start in parallel, are isolated, and leave nothing behind on stop', async () => {
    const [a, b] = await Promise.all([startControlPlane(), startControlPlane()]);
    try {
      expect(a.server).not.toEqual(b.server);
      expect(a.dir).not.toEqual(b.dir);
      await a
        .kubeConfig()
        .makeApiClient(CoreV1Api)
        .createNamespace({ body: { metadata: { name: 'only-in-a' } } });
      const inB = (await b.kubeConfig().makeApiClient(CoreV1Api).listNamespace()).items.map(
        (n) => n.metadata?.name,
      );
      expect(inB).not.toContain('only-in-a');
      // b does not accept a's token
      const cross = b.kubeConfig();
      (cross.getCurrentUser() as { token?: string }).token = a.token;
      await expect(cross.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    for (const cp of [a, b]) expect(existsSync(cp.dir)).toBe(false);
  });

  it('reports a failed start with the log tail and keeps the logs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kgw-cp-fail-'));
    try {
      const before = await childPidsOf(process.pid);
      await expect(startControlPlane({ dir, apiserverArgs: ['--no-such-flag=1'] })).rejects.toThrow(
        /logs kept in [\s\S]*kube-apiserver exited[\s\S]*unknown flag: --no-such-flag/,
      );
      expect(readFileSync(join(dir, 'kube-apiserver.log'), 'utf8')).toContain('unknown flag');
      const after = await childPidsOf(process.pid);
      for (const p of after.filter((x) => !before.includes(x))) expect(isAlive(p)).toBe(false); // etcd stopped
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop() ends etcd and kube-apiserver', async () => {
    const cp = await startControlPlane();
    const pids = await childPidsOf(process.pid);
    await cp.stop();
    await cp.stop(); // idempotent
    const after = await childPidsOf(process.pid);
    const gone = pids.filter((p) => !after.includes(p));
    expect(gone.length).toBeGreaterThanOrEqual(2);
    for (const p of gone) expect(isAlive(p)).toBe(false);
  });
});

/** Direct children of `pid` per /proc (bounded: one pass). */
async function childPidsOf(pid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
