import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { inClusterConnection, kubeconfigConnection } from './config.ts';
import { ApiError, KubeRest } from './rest.ts';

let cp: ControlPlane;
let dir: string;
beforeAll(async () => {
  cp = await startControlPlane();
  dir = mkdtempSync(join(tmpdir(), 'kgw-kubeconfig-'));
}, 120_000);
afterAll(async () => {
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const version = (rest: KubeRest) => rest.get<{ major: string }>('/version');

test('a kubeconfig file (token, CA data) reaches the apiserver without client-node', async () => {
  const rest = new KubeRest(kubeconfigConnection(cp.kubeconfigPath));
  expect((await version(rest)).major).toBe('1');
  // Authenticated (anonymous would be refused listing namespaces).
  await expect(rest.get('/api/v1/namespaces')).resolves.toBeDefined();
  rest.close();
});

test('token file and CA file; a wrong token is refused; exec plugins are named as unsupported', async () => {
  writeFileSync(join(dir, 'ca.crt'), cp.caPem);
  writeFileSync(join(dir, 'token'), `${cp.token}\n`);
  const config = (user: object) => {
    const p = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      p,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'c',
        contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
        clusters: [
          { name: 'k', cluster: { server: cp.server, 'certificate-authority': join(dir, 'ca.crt') } },
        ],
        users: [{ name: 'u', user }],
      }),
    );
    return p;
  };
  const good = new KubeRest(kubeconfigConnection(config({ tokenFile: join(dir, 'token') })));
  await expect(good.get('/api/v1/namespaces')).resolves.toBeDefined();
  good.close();
  const bad = new KubeRest(kubeconfigConnection(config({ token: 'nope' })));
  await expect(bad.get('/api/v1/namespaces')).rejects.toBeInstanceOf(ApiError);
  bad.close();
  expect(() => kubeconfigConnection(config({ exec: { command: 'aws' } }))).toThrow(
    /user u authenticates with an exec or auth-provider plugin, which kgw does not run/,
  );
  expect(() => kubeconfigConnection(config({}), 'missing')).toThrow(/no context "missing"/);
});

test('in-cluster: the ServiceAccount directory and KUBERNETES_SERVICE_HOST/PORT', async () => {
  const sa = join(dir, 'sa');
  mkdirSync(sa);
  writeFileSync(join(sa, 'ca.crt'), cp.caPem);
  writeFileSync(join(sa, 'token'), cp.token);
  const url = new URL(cp.server);
  const rest = new KubeRest(
    inClusterConnection(sa, { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }),
  );
  await expect(rest.get('/api/v1/namespaces')).resolves.toBeDefined();
  rest.close();
  expect(() => inClusterConnection(sa, {})).toThrow(/KUBERNETES_SERVICE_HOST is unset/);
});
