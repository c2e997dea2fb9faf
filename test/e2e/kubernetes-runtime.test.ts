// The Kubernetes runtime end to end against the real apiserver (no kubelet: pods are created by
// the test, as a ReplicaSet would): applying a KnativeGateway creates the fleet objects and the
// xDS client-certificate Secret, editing it updates them, pod readiness shows in the gateway's
// status, and a real Envoy started from the rendered bootstrap ConfigMap with that Secret's
// certificate gets its configuration over xDS/mTLS on TCP, while one without it gets nothing.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { LocalNetwork } from '../../operator/fleets/network.ts';
import { knativeGatewayCrd } from '../../operator/gen/knativegateway-crd.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { newLogger } from '../../operator/log.ts';
import { startOperator, type RunningOperator } from '../../operator/run.ts';
import { startControlPlane, type ControlPlane } from '../env/control-plane.ts';
import { applyManifests } from '../env/manifests.ts';
import { envoyBin } from '../env/paths.ts';
import { sleep } from './conformance.ts';
import { ensureNamespace, until } from './harness.ts';
import { freePorts } from '../env/proc.ts';

const root = join(import.meta.dirname, '../..');
const GW = '/apis/operator.kgw.dev/v1alpha1/knativegateways/edge';
const NS = 'kgw-system';

let cp: ControlPlane;
let rest: KubeRest;
let op: RunningOperator | undefined;
let network: LocalNetwork;
let dir: string;
let xdsPort: number;
let metricsPort: number;
let webhookPort: number;
let healthPort: number;
const envoys: ChildProcess[] = [];
/** kgw's webhook CA, once the webhook test has read it from the configuration. */
let webhookCa = '';
const log = newLogger('e2e-k8s');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kgw-k8s-'));
  cp = await startControlPlane({ log });
  rest = new KubeRest(cp.kubeConfig());
  await applyManifests(cp.kubeConfig(), [join(root, 'test/env/crds/knative'), knativeGatewayCrd()]);
  await ensureNamespace(rest, NS);
  await rest.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'default' },
  });
  network = await LocalNetwork.create();
  [xdsPort, metricsPort, webhookPort, healthPort] = (await freePorts(4)) as [number, number, number, number];
  // kgw's webhook configuration, as the release manifest creates it (labelled kgw's, no caBundle);
  // its rules match nothing here: the apiserver cannot reach a Service without kube-proxy, so the
  // test calls the server itself, as the apiserver would.
  await rest.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'kgw-validation', labels: { 'app.kubernetes.io/managed-by': 'kgw' } },
    webhooks: ['kingress', 'domainmapping'].map((w) => ({
      name: `${w}.validation.kgw.dev`,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      clientConfig: {
        service: { name: 'kgw-operator-service', namespace: NS, port: 9443, path: `/validate/${w}` },
      },
      rules: [
        {
          apiGroups: ['never.kgw.test'],
          apiVersions: ['v1'],
          operations: ['CREATE'],
          resources: ['nothings'],
        },
      ],
    })),
  });
  op = await startOperator({
    kubeconfig: cp.kubeconfigPath,
    runtime: 'kubernetes',
    workDir: join(dir, 'operator'),
    xdsPort,
    metricsPort,
    healthPort,
    webhook: { port: webhookPort, certSource: 'self' }, // drainMs: the kubernetes default (5 s)
    log: log.child({ component: 'operator' }),
    leaderElection: { namespace: NS, identity: 'k8s-test' },
  });
}, 180_000);

afterAll(async () => {
  for (const e of envoys) e.kill('SIGKILL');
  await op?.stop();
  await network?.destroy();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a KnativeGateway becomes fleet objects; edits update them; pods and Envoys over mTLS show in status', async () => {
  await applyManifests(cp.kubeConfig(), [
    {
      apiVersion: 'operator.kgw.dev/v1alpha1',
      kind: 'KnativeGateway',
      metadata: { name: 'edge' },
      spec: {
        fleets: [
          { name: 'public', visibility: 'ExternalIP', replicas: 2, podDisruptionBudget: { minAvailable: 1 } },
        ],
        knative: { configure: false },
      },
    },
  ]);
  const base = `/apis/apps/v1/namespaces/${NS}/deployments/kgw-edge-public`;
  const dep = await until('Deployment created', 30_000, () =>
    rest.get<{ spec: { replicas: number; template: { spec: { volumes?: { name: string }[] } } } }>(base),
  );
  expect(dep.spec.replicas).toBe(2);
  for (const path of [
    `/api/v1/namespaces/${NS}/services/kgw-edge-public`,
    `/api/v1/namespaces/${NS}/serviceaccounts/kgw-edge-public`,
    `/api/v1/namespaces/${NS}/configmaps/kgw-edge-public`,
    `/apis/policy/v1/namespaces/${NS}/poddisruptionbudgets/kgw-edge-public`,
    `/api/v1/namespaces/${NS}/secrets/kgw-edge-public-xds-client`,
  ]) {
    // applied in order (ServiceAccount, ConfigMap, Deployment, Service, PDB): wait for each
    await until(`${path} created`, 30_000, () => rest.get(path));
  }

  // Edit: three replicas.
  await rest.request(
    'PATCH',
    GW,
    {
      spec: {
        fleets: [
          { name: 'public', visibility: 'ExternalIP', replicas: 3, podDisruptionBudget: { minAvailable: 1 } },
        ],
      },
    },
    'application/merge-patch+json',
  );
  await until('Deployment scaled', 30_000, async () =>
    (await rest.get<{ spec: { replicas: number } }>(base)).spec.replicas === 3 ? true : undefined,
  );

  // Envoys from the rendered bootstrap, each in its own network namespace, with the client Secret.
  const cm = await rest.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NS}/configmaps/kgw-edge-public`,
  );
  const secret = await rest.get<{ data: Record<string, string> }>(
    `/api/v1/namespaces/${NS}/secrets/kgw-edge-public-xds-client`,
  );
  const startEnvoy = async (name: string, withCert: boolean) => {
    const d = join(dir, name);
    mkdirSync(join(d, 'creds'), { recursive: true });
    for (const [k, v] of Object.entries(secret.data)) {
      if (withCert || k === 'ca.crt') writeFileSync(join(d, 'creds', k), Buffer.from(v, 'base64'));
    }
    const rewrite = (text: string) =>
      text.replaceAll('/etc/envoy/kgw-xds-tls', join(d, 'creds')).replaceAll('/etc/envoy/kgw', d);
    for (const [k, v] of Object.entries(cm.data)) writeFileSync(join(d, k), rewrite(v));
    // The xDS cluster points at the operator Service's DNS name: here it is the root namespace.
    const boot = JSON.parse(rewrite(cm.data['envoy.json'] ?? '{}')) as {
      static_resources: { clusters: { name: string; type: string; load_assignment: unknown }[] };
    };
    for (const c of boot.static_resources.clusters) {
      if (c.name !== 'kgw-xds') continue;
      c.type = 'STATIC';
      c.load_assignment = {
        cluster_name: 'kgw-xds',
        endpoints: [
          {
            lb_endpoints: [
              {
                endpoint: { address: { socket_address: { address: network.gateway, port_value: xdsPort } } },
              },
            ],
          },
        ],
      };
    }
    writeFileSync(join(d, 'envoy.json'), JSON.stringify(boot));
    const pod = await network.addPod(name);
    const proc = pod.spawn(
      envoyBin(),
      ['-c', join(d, 'envoy.json'), '--use-dynamic-base-id', '--log-level', 'warn'],
      {
        stdio: 'ignore',
      },
    );
    envoys.push(proc);
    return pod;
  };
  const good = await startEnvoy('kgw-edge-public-a', true);
  await startEnvoy('kgw-edge-public-nocert', false);

  // Pods as the ReplicaSet would create them: one Ready at the Envoy's address.
  await rest.request('POST', `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'kgw-edge-public-a',
      labels: {
        'app.kubernetes.io/managed-by': 'kgw',
        'operator.kgw.dev/gateway': 'edge',
        'operator.kgw.dev/fleet': 'public',
      },
    },
    spec: { containers: [{ name: 'envoy', image: 'envoy' }] },
  });
  await rest.request(
    'PATCH',
    `/api/v1/namespaces/${NS}/pods/kgw-edge-public-a/status`,
    {
      status: {
        podIP: good.address,
        podIPs: [{ ip: good.address }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    },
    'application/merge-patch+json',
  );

  const gw = await until('gateway status shows the ready pod and the connected Envoy', 30_000, async () => {
    const g = await rest.get<KnativeGateway>(GW);
    const f = g.status?.fleets?.[0];
    return f?.readyReplicas === 1 && f.connectedProxies === 1 ? g : undefined;
  });
  const fleet = gw.status?.fleets?.[0];
  expect(fleet).toMatchObject({ name: 'public', replicas: 3, readyReplicas: 1, connectedProxies: 1 });
  expect(fleet?.configVersion).toMatch(/^[0-9a-f]{12}$/);
  expect(gw.status?.conditions?.find((c) => c.type === 'FleetsReady')).toMatchObject({
    status: 'False',
    reason: 'ReplicasNotReady',
  });
  // Only the Envoy with the fleet's certificate is connected.
  expect(op!.xds.connections().map((p) => p.fleet)).toEqual(['edge/public']);
  await sleep(1500);
  expect(op!.xds.connections()).toHaveLength(1);
  const scraped = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(scraped).toContain('kgw_leader 1');
  expect(scraped).toContain('kgw_xds_connected_proxies{fleet="edge/public"} 1');

  // The cloud's load balancer gets an address: the gateway reports it (printer column too).
  await rest.request(
    'PATCH',
    `/api/v1/namespaces/${NS}/services/kgw-edge-public/status`,
    { status: { loadBalancer: { ingress: [{ ip: '203.0.113.10' }] } } },
    'application/merge-patch+json',
  );
  const withAddress = await until('external address reported', 30_000, async () => {
    const g = await rest.get<KnativeGateway>(GW);
    return g.status?.externalAddress ? g : undefined;
  });
  expect(withAddress.status?.externalAddress).toBe('203.0.113.10');
  expect(withAddress.status?.fleets?.[0]?.address).toBe('203.0.113.10');
}, 120_000);

/** POSTs an AdmissionReview to the operator's webhook server the way the apiserver does. */
async function review(
  path: string,
  ca: string,
  kind: { group: string; version: string; kind: string },
  object: object,
) {
  const body = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind,
      resource: { group: kind.group, version: kind.version, resource: `${kind.kind.toLowerCase()}s` },
      namespace: NS,
      operation: 'CREATE',
      userInfo: { username: 'test' },
      object,
      dryRun: false,
    },
  });
  const { request } = await import('node:https');
  return new Promise<{ uid: string; allowed: boolean; status?: { message?: string } }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: webhookPort,
        path,
        method: 'POST',
        agent: false, // a connection of its own, as each API server call may be
        ca,
        servername: `kgw-operator-service.${NS}.svc`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve((JSON.parse(text) as { response: never }).response));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('the operator serves its admission webhooks with its own CA and the gateway’s claim policy', async () => {
  // self mode: kgw's CA went into its webhook configuration's caBundle.
  const cfg = await until('caBundle set', 30_000, async () => {
    const c = await rest.get<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kgw-validation',
    );
    return c.webhooks.every((w) => w.clientConfig.caBundle) ? c : undefined;
  });
  const ca = Buffer.from(cfg.webhooks[0]!.clientConfig.caBundle!, 'base64').toString();
  webhookCa = ca;

  const kingress = { group: 'networking.internal.knative.dev', version: 'v1alpha1', kind: 'Ingress' };
  const bad = await review('/validate/kingress', ca, kingress, {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name: 'bad',
      namespace: NS,
      annotations: { 'networking.knative.dev/ingress.class': 'kgw.ingress.networking.knative.dev' },
    },
    spec: {
      rules: [
        {
          hosts: ['bad.example.com'],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                splits: [{ serviceName: 's', serviceNamespace: 'elsewhere', servicePort: 80, percent: 100 }],
              },
            ],
          },
        },
      ],
    },
  });
  expect(bad.uid).toBe('u-1');
  expect(bad.allowed).toBe(false);
  expect(bad.status?.message).toContain('serviceNamespace');

  // The gateway's domainClaims policy reaches the DomainMapping webhook.
  await rest.request(
    'PATCH',
    GW,
    { spec: { domainClaims: { rules: [{ domains: ['allowed.example.com'] }] } } },
    'application/merge-patch+json',
  );
  const dm = (name: string) => ({
    apiVersion: 'serving.knative.dev/v1beta1',
    kind: 'DomainMapping',
    metadata: {
      name,
      namespace: NS,
      annotations: { 'networking.knative.dev/ingress.class': 'kgw.ingress.networking.knative.dev' },
    },
    spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' } },
  });
  const dmKind = { group: 'serving.knative.dev', version: 'v1beta1', kind: 'DomainMapping' };
  const denied = await until('policy applied to DomainMappings', 30_000, async () => {
    const r = await review('/validate/domainmapping', ca, dmKind, dm('app.evil.org'));
    return r.allowed ? undefined : r;
  });
  expect(denied.status?.message).toContain("KnativeGateway edge's domainClaims policy");
  const allowed = await review('/validate/domainmapping', ca, dmKind, dm('app.allowed.example.com'));
  expect(allowed.allowed).toBe(true);
});

test('stopping, the operator is unready at once and its webhooks answer until the drain is over', async () => {
  expect(webhookCa).not.toBe('');
  const readyz = async () =>
    (await fetch(`http://127.0.0.1:${healthPort}/readyz`, { signal: AbortSignal.timeout(2000) })).status;
  const kind = { group: 'networking.internal.knative.dev', version: 'v1alpha1', kind: 'Ingress' };
  const kingress = {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { name: 'x', namespace: NS },
    spec: {},
  };
  expect(await readyz()).toBe(200);
  const t0 = performance.now();
  const stopping = op!.stop();
  op = undefined;
  expect(await readyz()).toBe(503);
  // the API server would still reach this replica for a moment: admission keeps working
  const during = await review('/validate/kingress', webhookCa, kind, kingress);
  expect(during.uid).toBe('u-1');
  await stopping;
  // not before the drain (timers never fire early), and then the port is closed
  expect(performance.now() - t0).toBeGreaterThanOrEqual(4990);
  await expect(review('/validate/kingress', webhookCa, kind, kingress)).rejects.toThrow(/ECONNREFUSED/);
}, 60_000);
