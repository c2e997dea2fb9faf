// kgw installed the way an admin does, on the real single-node cluster: the images imported into
// containerd (no registry), Knative's CRDs and namespace as Knative Serving would leave them, then
// `kubectl apply --server-side -f deploy/kgw.yaml` and `kubectl rollout status`; the webhooks admit
// with the caBundle kgw injected (a KnativeGateway applied right after the rollout, a valid
// KIngress; an invalid one denied with kgw's message); the sample KnativeGateway's Envoy fleets
// become Ready (xDS over mTLS to the operator Service, found by DNS); a KIngress to a backend Pod
// becomes Ready and answers through the external fleet's ClusterIP and NodePort; and
// `kubectl delete -f deploy/kgw.yaml` leaves no object of kgw's behind (the API objects before the
// install and after the uninstall are compared). Figures (timings) are printed, never asserted.
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseAllDocuments } from 'yaml';
import { KubeRest } from '../../operator/kube/rest.ts';
import { WEBHOOKS } from '../../webhook/webhooks.ts';
import { waitUntil } from '../env/proc.ts';
import { httpRequest, type HttpResponse } from '../backends/client.ts';
import { DEFAULT_ENVOY_IMAGE } from '../../operator/api/knativegateway.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
  type KIngress,
} from '../../operator/api/kingress.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { NODE_IP, startCluster, type Cluster, type StopReport } from './cluster.ts';
import { builtImages, ensureImages, imageTarball } from './images.ts';
import { clusterStartFigure, getOrUndefined, kubectlWith, steadyLoad, type Run } from './harness.ts';
import { knativePrerequisites } from './knative.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MANIFEST = join(root, 'deploy/kgw.yaml');
const SAMPLE_GATEWAY = join(root, 'crds/samples/knativegateway.yaml');
const NS = 'install-test';
const HOST = `rt.${NS}.example.com`;
const LOCAL_HOSTS = [`rt.${NS}`, `rt.${NS}.svc`, `rt.${NS}.svc.cluster.local`];

let cluster: Cluster | undefined;
let rest: KubeRest;
let stopReport: StopReport | undefined;
const figures: string[] = [];
const fig = (line: string): void => {
  figures.push(line);
  process.stderr.write(`[install] ${line}\n`);
};

const k = kubectlWith(() => cluster?.kubeconfigPath ?? '');
const { kubectl, kubectlOk } = k;

/** One TCP connect to address:port: 'open', 'refused' or another error code. */
function tcpProbe(address: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve('open');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('error', (err: NodeJS.ErrnoException) =>
      resolve(err.code === 'ECONNREFUSED' ? 'refused' : (err.code ?? err.message)),
    );
  });
}

interface Deployment {
  metadata: { name: string; namespace?: string };
  spec?: { replicas?: number; template?: { spec?: { containers?: { image?: string }[] } } };
  status?: {
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
  };
}
interface Service {
  spec?: { type?: string; clusterIP?: string; ports?: { name?: string; port: number; nodePort?: number }[] };
}
interface EndpointSlice {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}
interface Webhooks {
  metadata: { labels?: Record<string, string> };
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

const gatewayPath = (name: string): string => `/apis/operator.kgw.dev/v1alpha1/knativegateways/${name}`;
const ingressPath = (ns: string, name = ''): string =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses${name ? `/${name}` : ''}`;

function isReady(ing: KIngress): boolean {
  return (
    ing.status?.observedGeneration === ing.metadata.generation &&
    (ing.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** The objects of the API, by `<group>/<resource> <namespace>/<name>`, with their labels (metadata only). */
async function inventory(): Promise<Map<string, Record<string, string>>> {
  const groupVersions: string[] = ['v1'];
  const groups = await rest.get<{ groups: { preferredVersion: { groupVersion: string } }[] }>('/apis');
  groupVersions.push(...groups.groups.map((g) => g.preferredVersion.groupVersion));
  const out = new Map<string, Record<string, string>>();
  for (const gv of groupVersions) {
    const base = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
    const list = await rest.get<{ resources: { name: string; namespaced: boolean; verbs: string[] }[] }>(
      base,
    );
    for (const r of list.resources) {
      if (r.name.includes('/') || !r.verbs.includes('list') || r.name === 'events') continue;
      const items = await rest.get<{
        items?: { metadata: { name: string; namespace?: string; labels?: Record<string, string> } }[];
      }>(
        `${base}/${r.name}`,
        undefined,
        undefined,
        'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
      );
      const group = gv.includes('/') ? gv.split('/')[0] : 'core';
      for (const i of items.items ?? []) {
        out.set(
          `${group}/${r.name} ${i.metadata.namespace ?? ''}/${i.metadata.name}`,
          i.metadata.labels ?? {},
        );
      }
    }
  }
  return out;
}

/** Whether labels mark an object as kgw's: the release manifest's labels and the fleets' (fleetLabels). */
function kgwLabelled(labels: Record<string, string>): boolean {
  return Object.entries(labels).some(
    ([k, v]) =>
      k.startsWith('operator.kgw.dev/') ||
      (['app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/name'].includes(k) &&
        v === 'kgw'),
  );
}

/**
 * Polls the webhook Service from the host every 25 ms until stopped (at most 5 minutes): its TCP
 * answer on the ClusterIP (open / refused / …) and the number of ready endpoints in its
 * EndpointSlices, recording each change as `<what> @<ms since t0>`.
 */
function watchWebhookService(t0: number): { timeline: string[]; stop(): Promise<void> } {
  const timeline: string[] = [];
  let stopped = false;
  let last = '';
  const loop = (async () => {
    const deadline = Date.now() + 300_000;
    let clusterIP = '';
    let i = 0;
    while (!stopped && Date.now() < deadline) {
      try {
        if (clusterIP === '') {
          const svc = await getOrUndefined<Service>(
            rest,
            '/api/v1/namespaces/kgw-system/services/kgw-operator-service',
          );
          clusterIP = svc?.spec?.clusterIP ?? '';
        }
        let endpoints = -1;
        if (i++ % 4 === 0 || last === '') {
          const slices = await rest.get<{ items: EndpointSlice[] }>(
            '/apis/discovery.k8s.io/v1/namespaces/kgw-system/endpointslices',
            { labelSelector: 'kubernetes.io/service-name=kgw-operator-service' },
          );
          endpoints = slices.items
            .flatMap((sl) => sl.endpoints ?? [])
            .filter((e) => e.conditions?.ready === true).length;
        }
        const tcp = clusterIP === '' ? 'no Service' : await tcpProbe(clusterIP, 9443, 200);
        const epText =
          endpoints >= 0 ? `${endpoints} ready endpoints` : (/\d+ ready endpoints/.exec(last)?.[0] ?? '');
        const state = `${tcp}, ${epText}`;
        if (state !== last) {
          timeline.push(`${state} @${Date.now() - t0}`);
          last = state;
        }
      } catch (err) {
        timeline.push(`error ${String(err)} @${Date.now() - t0}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  return {
    timeline,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

const KINGRESS_SPEC: IngressSpec = {
  rules: [
    {
      hosts: [HOST],
      visibility: 'ExternalIP',
      http: {
        paths: [{ splits: [{ serviceNamespace: NS, serviceName: 'rt', servicePort: 80, percent: 100 }] }],
      },
    },
    {
      hosts: LOCAL_HOSTS,
      visibility: 'ClusterLocal',
      http: {
        paths: [{ splits: [{ serviceNamespace: NS, serviceName: 'rt', servicePort: 80, percent: 100 }] }],
      },
    },
  ],
  httpOption: 'Enabled',
};

function kingress(name: string, spec: IngressSpec): object {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { name, namespace: NS, annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS } },
    spec,
  };
}

let before: Map<string, Record<string, string>>;
let tInstall = 0;
let externalService: Service | undefined;

beforeAll(async () => {
  const built = ensureImages(['kgw', 'envoy', 'pause', 'coredns', 'backends']);
  if (built.rebuilt.length > 0)
    fig(`images rebuilt: ${built.rebuilt.join(', ')} (${built.seconds.toFixed(0)} s)`);
  const t0 = Date.now();
  cluster = await startCluster({
    images: [imageTarball('kgw'), imageTarball('envoy'), imageTarball('backends')],
    sandboxImage: imageTarball('pause'),
    corednsImage: imageTarball('coredns'),
  });
  rest = new KubeRest(cluster.kubeConfig());
  fig(clusterStartFigure(cluster, t0));
}, 600_000);

afterAll(async () => {
  rest?.close();
  if (cluster !== undefined && stopReport === undefined) stopReport = await cluster.stop();
  if (figures.length > 0) process.stderr.write(`\n[install figures]\n${figures.join('\n')}\n`);
}, 180_000);

describe('kgw installed from deploy/kgw.yaml on a real cluster', () => {
  it('has the images deploy/kgw.yaml and the fleets ask for, and Knative Serving prerequisites', async () => {
    const c = cluster!;
    const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map(
      (d) => d.toJS() as Record<string, unknown>,
    );
    const operator = docs.find((d) => d.kind === 'Deployment') as unknown as Deployment & {
      spec: {
        template: { spec: { containers: { image: string; env?: { name: string; value?: string }[] }[] } };
      };
    };
    const container = operator.spec.template.spec.containers[0]!;
    const images = builtImages();
    expect(images.kgw?.name).toBe(container.image);
    expect(images.envoy?.name).toBe(DEFAULT_ENVOY_IMAGE);
    expect(container.env?.find((e) => e.name === 'RELATED_IMAGE_ENVOY')?.value).toBe(DEFAULT_ENVOY_IMAGE);
    for (const slug of ['kgw', 'envoy', 'backends', 'pause', 'coredns']) {
      expect(c.images).toContain(images[slug]?.name);
    }

    await knativePrerequisites({ rest, k });
    await kubectlOk(['create', 'namespace', NS]);
    before = await inventory();
    expect([...before.entries()].filter(([, l]) => kgwLabelled(l))).toEqual([]);
  }, 120_000);

  it('installs with kubectl apply --server-side, rolls out both operator replicas and admits the sample KnativeGateway at the first try right after', async () => {
    tInstall = Date.now();
    const apply = await kubectlOk(['apply', '--server-side', '-f', MANIFEST]);
    expect(apply.stdout).toContain('deployment.apps/kgw-operator serverside-applied');
    // Meanwhile, from the host: when does the webhook Service answer TCP (kube-proxy has a ready
    // endpoint), and when does its EndpointSlice list a ready endpoint? (transitions only)
    const watch = watchWebhookService(tInstall);
    let rollout: Run;
    let gateway: Run;
    let rolledOutMs: number;
    try {
      rollout = await kubectl(
        ['-n', 'kgw-system', 'rollout', 'status', 'deploy/kgw-operator', '--timeout=240s'],
        250_000,
      );
      rolledOutMs = Date.now() - tInstall;
      // what an admin types next: nothing in between
      gateway = await kubectl(['apply', '-f', SAMPLE_GATEWAY]);
    } finally {
      await watch.stop();
    }
    if (rollout.code !== 0) {
      const pods = await kubectl(['-n', 'kgw-system', 'get', 'pods', '-o', 'wide']);
      const logs = await kubectl(['-n', 'kgw-system', 'logs', 'deploy/kgw-operator', '--tail=40']);
      throw new Error(`rollout status: ${rollout.stderr}${rollout.stdout}\n${pods.stdout}\n${logs.stdout}`);
    }
    fig(`install → rollout status done: ${rolledOutMs} ms`);
    fig(`webhook Service from the host (ms since install): ${watch.timeline.join(', ')}`);
    fig(
      `KnativeGateway apply right after rollout: exit ${gateway.code} in ${gateway.ms} ms` +
        (gateway.code !== 0 ? `: ${gateway.stderr.trim()}` : ''),
    );
    const dep = await rest.get<Deployment>('/apis/apps/v1/namespaces/kgw-system/deployments/kgw-operator');
    expect(dep.status?.readyReplicas).toBe(2);
    expect(dep.status?.updatedReplicas).toBe(2);
    expect(gateway.stderr).toBe('');
    expect(gateway.code).toBe(0);
  }, 300_000);

  it('has injected its CA into every webhook of kgw-validation', async () => {
    const cfg = await rest.get<Webhooks>(
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kgw-validation',
    );
    expect(cfg.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('kgw');
    const ca = (
      await rest.get<{ data: Record<string, string> }>(
        '/api/v1/namespaces/kgw-system/secrets/kgw-webhook-certs',
      )
    ).data['ca.crt'];
    expect(ca).toBeDefined();
    for (const w of cfg.webhooks ?? []) expect([w.name, w.clientConfig?.caBundle]).toEqual([w.name, ca]);
    // every webhook kgw defines, no other (four since the routing-rules annotation webhook)
    expect((cfg.webhooks ?? []).map((w) => w.name).sort()).toEqual(WEBHOOKS.map((w) => w.name).sort());
  }, 120_000);

  it("brings the KnativeGateway's Envoy fleets up from the envoy image and reports it Ready", async () => {
    const gw = await waitUntil(
      'KnativeGateway default Ready',
      async () => {
        const g = await rest.get<KnativeGateway>(gatewayPath('default'));
        return g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
          ? g
          : false;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    ).catch(async (err: unknown) => {
      const g = await rest.get<KnativeGateway>(gatewayPath('default'));
      const pods = await kubectl(['-n', 'kgw-system', 'get', 'pods', '-o', 'wide']);
      throw new Error(`${String(err)}\nstatus: ${JSON.stringify(g.status)}\n${pods.stdout}`);
    });
    fig(`install → KnativeGateway Ready: ${Date.now() - tInstall} ms`);
    const conds = Object.fromEntries((gw.status?.conditions ?? []).map((c) => [c.type, c.status]));
    expect(conds).toMatchObject({ Ready: 'True', FleetsReady: 'True', KnativeConfigured: 'True' });
    for (const fleet of ['external', 'local']) {
      const dep = await rest.get<Deployment>(
        `/apis/apps/v1/namespaces/kgw-system/deployments/kgw-default-${fleet}`,
      );
      expect(dep.status?.readyReplicas).toBe(1);
      expect(dep.spec?.template?.spec?.containers?.[0]?.image).toBe(DEFAULT_ENVOY_IMAGE);
    }
    const fleets = gw.status?.fleets;
    expect(fleets?.map((f) => [f.name, f.readyReplicas, f.replicas])).toEqual([
      ['external', 1, 1],
      ['local', 1, 1],
    ]);
    // connectedProxies counts the leader's own xDS connections only (reported, not asserted: an
    // Envoy may be connected to the other replica through the operator Service)
    fig(`fleets: ${JSON.stringify(fleets)}`);
    expect(gw.status?.readyFleets).toBe('2/2');
    // what the admin checks (README "Install on a cluster")
    const get = await kubectlOk(['get', 'kgw']);
    fig(`kubectl get kgw:\n${get.stdout.trimEnd()}`);
    expect(get.stdout).toMatch(/^NAME\s+READY\s+FLEETS\s+ADDRESS\s+REQ\/S\s+5XX\s+AGE\n/);
    expect(get.stdout).toMatch(/^default\s+True\s+2\/2\s/m);
    // Knative Serving now selects kgw
    const network = await rest.get<{ data?: Record<string, string> }>(
      '/api/v1/namespaces/knative-serving/configmaps/config-network',
    );
    expect(network.data?.['ingress-class']).toBe(KGW_INGRESS_CLASS);
  }, 200_000);

  it('admits a KIngress of kgw class and denies an invalid one with its message', async () => {
    await expect(
      rest.request(
        'POST',
        ingressPath(NS),
        kingress('bad', {
          rules: [
            {
              hosts: [`bad.${NS}.example.com`],
              visibility: 'ExternalIP',
              http: {
                paths: [
                  { splits: [{ serviceNamespace: NS, serviceName: 'rt', servicePort: 80, percent: 60 }] },
                ],
              },
            },
          ],
        }),
      ),
    ).rejects.toThrow(
      /admission webhook "kingress.validation.kgw.dev" denied the request: .*traffic split percentages must total to 100, got 60/,
    );
  }, 60_000);

  it('routes a KIngress to a backend Pod: Ready; the external fleet answers 200 on its ClusterIP and NodePort, 404 for an unknown or a cluster-local host; the cluster-local fleet serves the local names', async () => {
    const backendImage = builtImages().backends?.name ?? '';
    await rest.request('POST', `/apis/apps/v1/namespaces/${NS}/deployments`, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'rt', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'rt' } },
        template: {
          metadata: { labels: { app: 'rt' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'rt',
                image: backendImage,
                imagePullPolicy: 'Never',
                args: ['--kind', 'runtime', '--host', '0.0.0.0', '--port', '8080', '--suffix=rt'],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    });
    await rest.request('POST', `/api/v1/namespaces/${NS}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'rt', namespace: NS },
      spec: { selector: { app: 'rt' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    await waitUntil(
      `Deployment ${NS}/rt Ready`,
      async () =>
        (await rest.get<Deployment>(`/apis/apps/v1/namespaces/${NS}/deployments/rt`)).status
          ?.readyReplicas === 1,
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    const t0 = Date.now();
    await rest.request('POST', ingressPath(NS), kingress('rt', KINGRESS_SPEC));
    const ing = await waitUntil(
      `KIngress ${NS}/rt Ready`,
      async () => {
        const i = await rest.get<KIngress>(ingressPath(NS, 'rt'));
        return isReady(i) ? i : false;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch(async (err: unknown) => {
      const i = await rest.get<KIngress>(ingressPath(NS, 'rt'));
      throw new Error(`${String(err)}: ${JSON.stringify(i.status)}`);
    });
    fig(`KIngress create → Ready: ${Date.now() - t0} ms`);
    expect(ing.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
      'kgw-default-external.kgw-system.svc.cluster.local',
    );
    expect(ing.status?.privateLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
      'kgw-default-local.kgw-system.svc.cluster.local',
    );

    externalService = await rest.get<Service>('/api/v1/namespaces/kgw-system/services/kgw-default-external');
    const clusterIP = externalService.spec?.clusterIP ?? '';
    const http = externalService.spec?.ports?.find((p) => p.name === 'http');
    expect(externalService.spec?.type).toBe('LoadBalancer'); // no LB controller here: its NodePort serves
    expect(clusterIP).toMatch(/^198\.19\./);
    expect(http?.nodePort).toBeGreaterThan(0);
    const targets = [
      { what: 'ClusterIP', address: clusterIP, port: http?.port ?? 80 },
      { what: 'NodePort', address: NODE_IP, port: http?.nodePort ?? 0 },
    ];
    for (const t of targets) {
      const res = await httpRequest({
        address: t.address,
        port: t.port,
        host: HOST,
        path: '/hello',
        timeoutMs: 5000,
      });
      expect([t.what, res.status]).toEqual([t.what, 200]);
      const body = res.json<{ request: { host: string; uri: string }; host: { suffix: string } }>();
      expect(body.request).toMatchObject({ host: HOST, uri: '/hello' });
      expect(body.host.suffix).toBe('rt');
      const missing = await httpRequest({
        address: t.address,
        port: t.port,
        host: `nope.${NS}.example.com`,
        timeoutMs: 5000,
      });
      expect([t.what, missing.status]).toEqual([t.what, 404]);
      // a cluster-local name is never served by the public fleet
      const local = await httpRequest({
        address: t.address,
        port: t.port,
        host: LOCAL_HOSTS[2]!,
        timeoutMs: 5000,
      });
      expect([t.what, local.status]).toEqual([t.what, 404]);
    }
    // the cluster-local fleet serves the cluster-local names (and, for Pods, the public one too)
    const localService = await rest.get<Service>('/api/v1/namespaces/kgw-system/services/kgw-default-local');
    expect(localService.spec?.type).toBe('ClusterIP');
    for (const host of [...LOCAL_HOSTS, HOST]) {
      const res: HttpResponse = await httpRequest({
        address: localService.spec?.clusterIP ?? '',
        port: 80,
        host,
        path: '/local',
        timeoutMs: 5000,
      });
      expect([host, res.status]).toEqual([host, 200]);
      const body = res.json<{ request: { host: string; uri: string }; host: { suffix: string } }>();
      expect(body.request).toMatchObject({ host, uri: '/local' });
      expect(body.host.suffix).toBe('rt');
    }
  }, 200_000);

  it('upgrades under load: deploy/kgw.yaml re-applied with a new operator image rolls both replicas, a new Envoy image in the KnativeGateway rolls both fleets, and every request through the NodePort answers 200', async () => {
    const c = cluster!;
    const images = builtImages();
    const kgwImage = images.kgw?.name ?? '';
    const envoyImage = images.envoy?.name ?? '';
    // a new release as the kubelet sees it: the same content under a new reference
    const retag = (ref: string): string => `${ref.replace(/:[^:/]+$/, '')}:upgrade-test`;
    await c.tagImage(kgwImage, retag(kgwImage));
    await c.tagImage(envoyImage, retag(envoyImage));
    const manifest = readFileSync(MANIFEST, 'utf8');
    expect(manifest.split(`image: ${kgwImage}\n`)).toHaveLength(2);
    const dir = mkdtempSync(join(tmpdir(), 'kgw-upgrade-'));
    const next = join(dir, 'kgw.yaml');
    writeFileSync(next, manifest.replace(`image: ${kgwImage}\n`, `image: ${retag(kgwImage)}\n`));

    const nodePort = externalService?.spec?.ports?.find((p) => p.name === 'http')?.nodePort ?? 0;
    const load = steadyLoad(
      async () => {
        const res = await httpRequest({
          address: NODE_IP,
          port: nodePort,
          host: HOST,
          path: '/up',
          timeoutMs: 5000,
        });
        return res.status === 200 ? '200' : `${res.status} ${res.body.slice(0, 40)}`;
      },
      { workers: 2, maxMs: 420_000 },
    );
    const imagesOf = async (deployment: string): Promise<string[]> => {
      const pods = await rest.get<{
        items: { metadata: { deletionTimestamp?: string }; spec: { containers: { image: string }[] } }[];
      }>('/api/v1/namespaces/kgw-system/pods', {
        labelSelector:
          deployment === 'kgw-operator'
            ? 'app.kubernetes.io/name=kgw,app.kubernetes.io/component=operator'
            : `operator.kgw.dev/fleet=${deployment.replace('kgw-default-', '')}`,
      });
      return pods.items
        .filter((p) => p.metadata.deletionTimestamp === undefined)
        .map((p) => p.spec.containers[0]?.image ?? '');
    };
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const t0 = Date.now();
      await kubectlOk(['apply', '--server-side', '-f', next]);
      await kubectlOk(
        ['-n', 'kgw-system', 'rollout', 'status', 'deploy/kgw-operator', '--timeout=240s'],
        250_000,
      );
      fig(`operator upgrade (apply → rollout status): ${Date.now() - t0} ms`);
      expect(await imagesOf('kgw-operator')).toEqual([retag(kgwImage), retag(kgwImage)]);
      // the new operators serve changes: a spec change becomes Ready at its generation
      const t1 = Date.now();
      await rest.request(
        'PATCH',
        ingressPath(NS, 'rt'),
        {
          metadata: { annotations: { 'kgw.test/upgraded': 'yes' } },
          spec: {
            ...KINGRESS_SPEC,
            rules: KINGRESS_SPEC.rules?.map((r) => ({
              ...r,
              http: {
                paths: (r.http?.paths ?? []).map((p) => ({ ...p, appendHeaders: { 'x-upgraded': 'yes' } })),
              },
            })),
          },
        },
        'application/merge-patch+json',
      );
      await waitUntil(
        'KIngress rt Ready at its new generation after the operator upgrade',
        async () => isReady(await rest.get<KIngress>(ingressPath(NS, 'rt'))),
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      fig(`KIngress change after the operator upgrade → Ready: ${Date.now() - t1} ms`);

      // the Envoy fleets: a new image in the KnativeGateway
      const t2 = Date.now();
      const gw = await rest.get<KnativeGateway>(gatewayPath('default'));
      await rest.request(
        'PATCH',
        gatewayPath('default'),
        {
          spec: {
            fleets: (gw.spec.fleets ?? []).map((f) => ({
              ...f,
              envoy: { ...f.envoy, image: retag(envoyImage) },
            })),
          },
        },
        'application/merge-patch+json',
      );
      for (const fleet of ['external', 'local']) {
        await waitUntil(
          `fleet ${fleet} on the new image`,
          async () =>
            (
              await rest.get<Deployment>(
                `/apis/apps/v1/namespaces/kgw-system/deployments/kgw-default-${fleet}`,
              )
            ).spec?.template?.spec?.containers?.[0]?.image === retag(envoyImage),
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        await kubectlOk(
          ['-n', 'kgw-system', 'rollout', 'status', `deploy/kgw-default-${fleet}`, '--timeout=240s'],
          250_000,
        );
      }
      // rollout status returns once the new Pods are available; the old ones still drain (preStop,
      // drainSeconds) with the load on: wait until they are gone
      await waitUntil(
        'the old fleet Pods drained and gone',
        async () =>
          (
            await rest.get<{ items: unknown[] }>('/api/v1/namespaces/kgw-system/pods', {
              labelSelector: 'operator.kgw.dev/fleet',
            })
          ).items.length === 2,
        { timeoutMs: 150_000, intervalMs: 500 },
      );
      fig(`Envoy fleet upgrade: old Pods gone ${Date.now() - t2} ms after the patch`);
      await waitUntil(
        'KnativeGateway default Ready after the fleet upgrade',
        async () => {
          const g = await rest.get<KnativeGateway>(gatewayPath('default'));
          return (
            g.status?.conditions?.some((cd) => cd.type === 'Ready' && cd.status === 'True') === true &&
            g.status.readyFleets === '2/2'
          );
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      fig(`Envoy fleet upgrade (patch → both fleets rolled out, gateway Ready): ${Date.now() - t2} ms`);
      expect(await imagesOf('kgw-default-external')).toEqual([retag(envoyImage)]);
      await new Promise((r) => setTimeout(r, 2000));
    } finally {
      await load.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    const total = [...load.outcomes.values()].reduce((a, b) => a + b, 0);
    fig(
      `requests during both upgrades: ${JSON.stringify(Object.fromEntries(load.outcomes))} (${total} in all); timeline ${load.timeline.join(', ')}`,
    );
    expect([...load.outcomes.keys()]).toEqual(['200']);
    expect(total).toBeGreaterThan(100);
  }, 900_000);

  it('uninstalls with kubectl delete -f deploy/kgw.yaml and leaves nothing of kgw behind', async () => {
    const t0 = Date.now();
    await kubectlOk(
      ['delete', '-n', NS, 'ingress.networking.internal.knative.dev/rt', '--wait=true', '--timeout=60s'],
      70_000,
    );
    // as README "Install on a cluster" says: the gateways first, then the manifest
    await kubectlOk(['delete', 'kgw', '--all', '--wait=true', '--timeout=120s'], 130_000);
    // the garbage collector removes the fleets (ownerReferences to the gateway)
    await waitUntil(
      'fleet Deployments gone',
      async () => {
        const l = await rest.get<{ items: unknown[] }>('/apis/apps/v1/namespaces/kgw-system/deployments', {
          labelSelector: 'operator.kgw.dev/gateway',
        });
        return l.items.length === 0;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const del = await kubectl(['delete', '-f', MANIFEST, '--wait=true', '--timeout=180s'], 190_000);
    expect(del.stderr).toBe('');
    expect(del.code).toBe(0);
    await waitUntil(
      'namespace kgw-system gone',
      async () => (await getOrUndefined(rest, '/api/v1/namespaces/kgw-system')) === undefined,
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    fig(
      `uninstall (KIngress, KnativeGateway, kubectl delete -f deploy/kgw.yaml, namespace gone): ${Date.now() - t0} ms`,
    );

    // the test's own objects go too, so that only kgw's could be left
    await kubectlOk(['delete', 'namespace', NS, '--wait=true', '--timeout=120s'], 130_000);
    const after = await inventory();
    // the node's own Lease is renewed (and may be recreated) by the kubelet: not an install's object
    const added = [...after.keys()].filter((k) => !before.has(k) && !k.includes(' kube-node-lease/'));
    expect(added).toEqual([]);
    expect([...after.entries()].filter(([, l]) => kgwLabelled(l)).map(([k]) => k)).toEqual([]);
    expect(
      await getOrUndefined(
        rest,
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kgw-validation',
      ),
    ).toBeUndefined();
    expect(
      await getOrUndefined(
        rest,
        '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/knativegateways.operator.kgw.dev',
      ),
    ).toBeUndefined();
    const crbs = await rest.get<{ items: { metadata: { name: string } }[] }>(
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    );
    const crs = await rest.get<{ items: { metadata: { name: string } }[] }>(
      '/apis/rbac.authorization.k8s.io/v1/clusterroles',
    );
    expect(
      [...crbs.items, ...crs.items].map((i) => i.metadata.name).filter((n) => n.startsWith('kgw')),
    ).toEqual([]);
    const rbs = await rest.get<{ items: { metadata: { name: string; namespace?: string } }[] }>(
      '/apis/rbac.authorization.k8s.io/v1/rolebindings',
    );
    expect(rbs.items.map((i) => i.metadata.name).filter((n) => n.startsWith('kgw'))).toEqual([]);
    // what kgw wrote into Knative's ConfigMap stays (Knative's object; reported, not asserted)
    const network = await rest.get<{ data?: Record<string, string> }>(
      '/api/v1/namespaces/knative-serving/configmaps/config-network',
    );
    fig(`config-network after uninstall: ${JSON.stringify(network.data)}`);
  }, 600_000);

  it('stops the cluster and leaves nothing on the machine', async () => {
    rest.close();
    stopReport = await cluster!.stop();
    fig(`cluster stop: ${stopReport.ms} ms`);
    expect(stopReport.errors).toEqual([]);
    expect(stopReport.leftovers).toEqual([]);
  }, 180_000);
});
