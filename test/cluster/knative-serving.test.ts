// Knative Serving end to end on the real single-node cluster, with kgw as its networking layer,
// then Knative's own KIngress conformance suite against the same install (issue 13).
//
// Serving v0.42.2 is installed from its `config/core` YAML (cached by `build-images.sh knative`)
// with the pieces the module zip leaves out as symlinks (the networking CRDs and config-network
// from knative.dev/networking, the Image CRD from knative.dev/caching, read from the Go module
// cache), `ko://` references replaced by the local `kgw.test/knative/<c>:v0.42.2` images (nothing is
// pulled: non-latest tags, IfNotPresent, and `kgw.test` skips Knative's tag-to-digest resolution).
// Left out: the cert-manager KCertificate `routing-serving-certs` (no cert-manager here; only used
// with system-internal TLS) and the activator/webhook HPAs (no metrics-server). Serving's own
// webhook runs. Then kgw from `deploy/kgw.yaml` and the sample KnativeGateway, which writes
// `ingress-class` into config-network, and an app team's Knative Services: Ready through a kgw
// KIngress, answered through the external fleet's ClusterIP and NodePort; a tag on a 0% revision;
// 100% moved to a new revision with every request answered, and a 50/50 split; a cluster-local
// Service served only by the local fleet; scale to zero and back through the activator; a
// DomainMapping the gateway's claim policy allows and one it denies; auto-TLS with cert-manager
// running in the cluster. Figures are printed, never asserted. (The install itself: knative.ts.)
//
// The conformance part runs `ingress-conformance.test` (go test -c -tags=e2e
// knative.dev/networking/test/conformance/ingress) the way net-kourier's CI does: stable, beta
// and alpha sets, `-ingressClass kgw.ingress.networking.knative.dev`, the test images imported as
// `kgw.test/knative/<name>:conformance` (`-dockerrepo kgw.test/knative -tag conformance`),
// `-ingressendpoint <node IP>` (the suite reaches the fleet's NodePorts, there is no load
// balancer) and GATEWAY_OVERRIDE / GATEWAY_NAMESPACE_OVERRIDE naming the external fleet's Service.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeRest } from '../../operator/kube/rest.ts';
import { waitUntil } from '../env/proc.ts';
import { httpRequest, type HttpResponse } from '../backends/client.ts';
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS, type KIngress } from '../../operator/api/kingress.ts';
import { NODE_IP, startCluster, type Cluster, type StopReport } from './cluster.ts';
import { builtImages, ensureImages, knativeArtifacts, type KnativeArtifacts } from './images.ts';
import { clusterStartFigure, getOrUndefined, kubectlWith, run, steadyLoad } from './harness.ts';
import { installCertManager } from './cert-manager.ts';
import { byCodePoint } from '../../operator/order.ts';
import {
  fleetAddresses,
  GATEWAY_PATH,
  gatewayReady,
  installKgw,
  installServing,
  knativeClusterOptions,
  servingObjects,
} from './knative.ts';

const NS = 'kn-app';
const DOMAIN = 'example.com';
/** What the Knative Service's pods run: networking's `runtime` test image (echoes request and env). */
const RUNTIME_IMAGE = 'kgw.test/knative/runtime:conformance';
/** A reverse proxy to $TARGET_HOST (networking's `httpproxy` test image): an in-cluster client. */
const PROXY_IMAGE = 'kgw.test/knative/httpproxy:conformance';

let cluster: Cluster | undefined;
let rest: KubeRest;
let stopReport: StopReport | undefined;
let knative: KnativeArtifacts;
let work = '';
const figures: string[] = [];
const fig = (line: string): void => {
  figures.push(line);
  process.stderr.write(`[knative] ${line}\n`);
};

const k = kubectlWith(() => cluster?.kubeconfigPath ?? '');
const { kubectl, kubectlOk } = k;

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface KnObject {
  metadata: {
    name: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    url?: string;
    latestReadyRevisionName?: string;
    traffic?: { revisionName?: string; percent?: number; tag?: string; url?: string }[];
  };
}
interface Service {
  spec?: {
    type?: string;
    clusterIP?: string;
    externalName?: string;
    ports?: { name?: string; port: number; nodePort?: number }[];
  };
}
interface Deployment {
  spec?: { replicas?: number };
  status?: { readyReplicas?: number; replicas?: number };
}

const ksvcPath = (name = ''): string =>
  `/apis/serving.knative.dev/v1/namespaces/${NS}/services${name ? `/${name}` : ''}`;
const routePath = (name: string): string => `/apis/serving.knative.dev/v1/namespaces/${NS}/routes/${name}`;
const ingressPath = (name: string): string =>
  `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${NS}/ingresses/${name}`;

function ready(o: KnObject | KIngress): boolean {
  return (
    o.status?.observedGeneration === o.metadata.generation &&
    (o.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** Waits for a Knative Service to be Ready at its current generation; the error carries its conditions. */
async function ksvcReady(name: string, timeoutMs = 180_000): Promise<KnObject> {
  return waitUntil(
    `ksvc ${NS}/${name} Ready`,
    async () => {
      const s = await rest.get<KnObject>(ksvcPath(name));
      return ready(s) ? s : false;
    },
    { timeoutMs, intervalMs: 200 },
  ).catch(async (err: unknown) => {
    const s = await getOrUndefined<KnObject>(rest, ksvcPath(name));
    const pods = await kubectl(['-n', NS, 'get', 'pods,kingress,revisions', '-o', 'wide']);
    const ev = await kubectl(['-n', NS, 'get', 'events', '--sort-by=.lastTimestamp']);
    throw new Error(
      `${String(err)}\nstatus: ${JSON.stringify(s?.status)}\n${pods.stdout}\n${ev.stdout.slice(-3000)}`,
    );
  });
}

/** The runtime image's answer: the request it saw and its environment (K_REVISION, …). */
interface RuntimeInfo {
  request: { host: string; uri: string };
  host: { envs: Record<string, string> };
}

async function get(address: string, port: number, host: string, path = '/'): Promise<HttpResponse> {
  return httpRequest({ address, port, host, path, timeoutMs: 10_000 });
}

beforeAll(async () => {
  const built = ensureImages(['kgw', 'envoy', 'pause', 'coredns', 'certmanager', 'knative']);
  if (built.rebuilt.length > 0)
    fig(`images rebuilt: ${built.rebuilt.join(', ')} (${built.seconds.toFixed(0)} s)`);
  const k = knativeArtifacts();
  if (k === undefined)
    throw new Error('Knative artifacts missing: bash test/cluster/build-images.sh knative');
  knative = k;
  work = mkdtempSync(join(tmpdir(), 'kgw-knative-'));
  const t0 = Date.now();
  cluster = await startCluster(knativeClusterOptions());
  rest = new KubeRest(cluster.kubeConfig());
  fig(clusterStartFigure(cluster, t0));
}, 900_000);

afterAll(async () => {
  rest?.close();
  if (cluster !== undefined && stopReport === undefined) stopReport = await cluster.stop();
  if (work !== '') rmSync(work, { recursive: true, force: true });
  if (figures.length > 0) process.stderr.write(`\n[knative figures]\n${figures.join('\n')}\n`);
}, 180_000);

let externalIP = '';
let externalNodePort = 0;
let localIP = '';

describe('Knative Serving on kgw, end to end', () => {
  it('installs Knative Serving core from its config YAML with the local images and rolls it out', async () => {
    const objects = servingObjects(knative, DOMAIN);
    fig(
      `Serving core: ${objects.first.length + objects.rest.length} objects; left out: ${objects.left.join(', ')}`,
    );
    const images = JSON.stringify(objects.rest)
      .match(/"image":"[^"]*"/g)
      ?.map((s) => s.slice(9, -1));
    expect((images ?? []).filter((i) => !i.startsWith('kgw.test/knative/'))).toEqual([]);
    expect(JSON.stringify(objects.rest)).not.toContain('ko://');
    const t = await installServing({ rest, k, work }, objects);
    fig(`Serving core apply → 4 Deployments rolled out: ${t.rolledOutMs} ms`);
    fig(`Serving core apply → webhook admitting: ${t.admittingMs} ms`);
  }, 600_000);

  it('installs kgw from deploy/kgw.yaml and the sample KnativeGateway, which selects kgw in config-network', async () => {
    const t = await installKgw({ rest, k, work });
    fig(`kgw apply → rollout status done: ${t.rolledOutMs} ms`);
    fig(`kgw apply → KnativeGateway Ready: ${t.readyMs} ms`);
    const network = await rest.get<{ data?: Record<string, string> }>(
      '/api/v1/namespaces/knative-serving/configmaps/config-network',
    );
    expect(network.data?.['ingress-class']).toBe(KGW_INGRESS_CLASS);
    ({ externalIP, externalNodePort, localIP } = await fleetAddresses(rest));
    expect(externalIP).toMatch(/^198\.19\./);
    expect(localIP).toMatch(/^198\.19\./);
    expect(externalNodePort).toBeGreaterThan(0);
    await kubectlOk(['create', 'namespace', NS]);
  }, 600_000);

  it('serves a Knative Service: Ready through a kgw KIngress, 200 from its Pod through the external fleet', async () => {
    const t0 = Date.now();
    await rest.request('POST', ksvcPath(), {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'hello', namespace: NS },
      spec: {
        template: {
          metadata: { name: 'hello-v1', annotations: { 'autoscaling.knative.dev/min-scale': '1' } },
          spec: { containers: [{ image: RUNTIME_IMAGE, env: [{ name: 'REV', value: 'v1' }] }] },
        },
      },
    });
    const svc = await ksvcReady('hello');
    const readyMs = Date.now() - t0;
    fig(`ksvc hello create → Ready: ${readyMs} ms`);
    expect(svc.status?.url).toBe(`http://hello.${NS}.${DOMAIN}`);
    const route = await rest.get<KnObject>(routePath('hello'));
    expect(ready(route)).toBe(true);
    const ing = await rest.get<KIngress>(ingressPath('hello'));
    expect(ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION]).toBe(KGW_INGRESS_CLASS);
    expect(ready(ing)).toBe(true);
    expect(ing.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
      'kgw-default-external.kgw-system.svc.cluster.local',
    );

    const host = new URL(svc.status?.url ?? '').host;
    const t1 = Date.now();
    const first = await get(externalIP, 80, host, '/first');
    fig(
      `ksvc hello first request after Ready: ${Date.now() - t1} ms (create → first 200: ${Date.now() - t0} ms)`,
    );
    for (const [what, address, port] of [
      ['ClusterIP', externalIP, 80],
      ['NodePort', NODE_IP, externalNodePort],
    ] as const) {
      const res = what === 'ClusterIP' ? first : await get(address, port, host, '/first');
      expect([what, res.status]).toEqual([what, 200]);
      const body = res.json<RuntimeInfo>();
      expect(body.request).toMatchObject({ host, uri: '/first' });
      expect(body.host.envs).toMatchObject({ K_SERVICE: 'hello', K_REVISION: 'hello-v1', REV: 'v1' });
    }
    // the cluster-local names of a public Service are served by the local fleet only
    const localHost = `hello.${NS}.svc.cluster.local`;
    expect((await get(localIP, 80, localHost)).status).toBe(200);
    expect((await get(externalIP, 80, localHost)).status).toBe(404);
    // Knative points the Service's own name at kgw's local fleet
    const placeholder = await rest.get<Service>(`/api/v1/namespaces/${NS}/services/hello`);
    expect(placeholder.spec).toMatchObject({
      type: 'ExternalName',
      externalName: 'kgw-default-local.kgw-system.svc.cluster.local',
    });
  }, 300_000);

  it('splits traffic by revision: 100% to v1, a tag on the 0% v2 routes its host to v2', async () => {
    const t0 = Date.now();
    await rest.request(
      'PATCH',
      ksvcPath('hello'),
      {
        spec: {
          template: {
            metadata: { name: 'hello-v2', annotations: { 'autoscaling.knative.dev/min-scale': '1' } },
            spec: { containers: [{ image: RUNTIME_IMAGE, env: [{ name: 'REV', value: 'v2' }] }] },
          },
          traffic: [
            { revisionName: 'hello-v1', percent: 100 },
            { revisionName: 'hello-v2', percent: 0, tag: 'candidate' },
          ],
        },
      },
      'application/merge-patch+json',
    );
    const svc = await ksvcReady('hello');
    fig(`ksvc hello second revision + tag → Ready: ${Date.now() - t0} ms`);
    const tagged = svc.status?.traffic?.find((t) => t.tag === 'candidate');
    expect(tagged?.url).toBe(`http://candidate-hello.${NS}.${DOMAIN}`);
    const seen = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const res = await get(externalIP, 80, `hello.${NS}.${DOMAIN}`);
      expect(res.status).toBe(200);
      const rev = res.json<RuntimeInfo>().host.envs.K_REVISION ?? '?';
      seen.set(rev, (seen.get(rev) ?? 0) + 1);
    }
    expect([...seen.keys()]).toEqual(['hello-v1']);
    for (let i = 0; i < 5; i++) {
      const res = await get(externalIP, 80, `candidate-hello.${NS}.${DOMAIN}`);
      expect(res.status).toBe(200);
      expect(res.json<RuntimeInfo>().host.envs).toMatchObject({ K_REVISION: 'hello-v2', REV: 'v2' });
    }
  }, 300_000);

  it('moves 100% of the traffic from v1 to v2 with every request answered 200 during the change', async () => {
    const host = `hello.${NS}.${DOMAIN}`;
    const revisions: string[] = [];
    // one request at a time until stopped: at most 3000 requests or 150 s
    const load = steadyLoad(
      async () => {
        const res = await get(externalIP, 80, host, '/probe');
        if (res.status !== 200) return `${res.status} ${res.body.slice(0, 40)}`;
        const rev = res.json<RuntimeInfo>().host.envs.K_REVISION ?? '?';
        if (revisions.at(-1) !== rev) revisions.push(rev);
        return '200';
      },
      { maxRequests: 3000, maxMs: 150_000 },
    );
    const t0 = Date.now();
    try {
      await new Promise((r) => setTimeout(r, 500));
      await rest.request(
        'PATCH',
        ksvcPath('hello'),
        { spec: { traffic: [{ revisionName: 'hello-v2', percent: 100, tag: 'candidate' }] } },
        'application/merge-patch+json',
      );
      await ksvcReady('hello');
      fig(`ksvc hello 100% v1 → v2: Ready after ${Date.now() - t0} ms`);
      // until the fleet serves v2 only (at most 30 s), then a little more
      await waitUntil('v2 served', () => Promise.resolve(revisions.at(-1) === 'hello-v2'), {
        timeoutMs: 30_000,
        intervalMs: 50,
      });
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await load.stop();
    }
    fig(
      `requests during the change: ${JSON.stringify(Object.fromEntries(load.outcomes))}, revisions in order ${revisions.join(' → ')}`,
    );
    expect(revisions).toEqual(['hello-v1', 'hello-v2']);
    expect([...load.outcomes.keys()]).toEqual(['200']);
  }, 300_000);

  it('splits traffic 50/50 between v1 and v2: of 200 requests each revision answers between 35% and 65%', async () => {
    const t0 = Date.now();
    await rest.request(
      'PATCH',
      ksvcPath('hello'),
      {
        spec: {
          traffic: [
            { revisionName: 'hello-v1', percent: 50 },
            { revisionName: 'hello-v2', percent: 50, tag: 'candidate' },
          ],
        },
      },
      'application/merge-patch+json',
    );
    await ksvcReady('hello');
    fig(`ksvc hello 50/50 → Ready: ${Date.now() - t0} ms`);
    const seen = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const res = await get(externalIP, 80, `hello.${NS}.${DOMAIN}`, '/split');
      expect(res.status).toBe(200);
      const rev = res.json<RuntimeInfo>().host.envs.K_REVISION ?? '?';
      seen.set(rev, (seen.get(rev) ?? 0) + 1);
    }
    fig(`50/50 split, 200 requests: ${JSON.stringify(Object.fromEntries(seen))}`);
    // binomial(200, 0.5): 35%..65% is ±4.2 standard deviations
    expect([...seen.keys()].sort()).toEqual(['hello-v1', 'hello-v2']);
    for (const n of seen.values()) {
      expect(n).toBeGreaterThanOrEqual(70);
      expect(n).toBeLessThanOrEqual(130);
    }
  }, 300_000);

  it('keeps a cluster-local Knative Service off the external fleet, serves it on the local one and to an in-cluster caller by its name', async () => {
    const t0 = Date.now();
    await rest.request('POST', ksvcPath(), {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: {
        name: 'private',
        namespace: NS,
        labels: { 'networking.knative.dev/visibility': 'cluster-local' },
      },
      spec: {
        template: {
          metadata: { annotations: { 'autoscaling.knative.dev/min-scale': '1' } },
          spec: { containers: [{ image: RUNTIME_IMAGE }] },
        },
      },
    });
    const svc = await ksvcReady('private');
    fig(`ksvc private (cluster-local) create → Ready: ${Date.now() - t0} ms`);
    const host = `private.${NS}.svc.cluster.local`;
    expect(svc.status?.url).toBe(`http://${host}`);
    const ing = await rest.get<KIngress>(ingressPath('private'));
    expect((ing.spec.rules ?? []).map((r) => r.visibility)).toEqual(['ClusterLocal']);
    const local = await get(localIP, 80, host, '/local');
    expect(local.status).toBe(200);
    expect(local.json<RuntimeInfo>().host.envs).toMatchObject({ K_SERVICE: 'private' });
    for (const h of [host, `private.${NS}.${DOMAIN}`]) {
      expect([h, (await get(externalIP, 80, h)).status]).toEqual([h, 404]);
      expect([h, (await get(NODE_IP, externalNodePort, h)).status]).toEqual([h, 404]);
    }
    // what an app inside the cluster does: a public frontend (networking's httpproxy test image as
    // a Knative Service) calls http://private.kn-app.svc.cluster.local, which Knative's ExternalName
    // Service points at kgw's local fleet
    const placeholder = await rest.get<Service>(`/api/v1/namespaces/${NS}/services/private`);
    expect(placeholder.spec).toMatchObject({
      type: 'ExternalName',
      externalName: 'kgw-default-local.kgw-system.svc.cluster.local',
    });
    await rest.request('POST', ksvcPath(), {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'frontend', namespace: NS },
      spec: {
        template: {
          metadata: { annotations: { 'autoscaling.knative.dev/min-scale': '1' } },
          spec: { containers: [{ image: PROXY_IMAGE, env: [{ name: 'TARGET_HOST', value: host }] }] },
        },
      },
    });
    await ksvcReady('frontend');
    const res = await get(externalIP, 80, `frontend.${NS}.${DOMAIN}`, '/via-frontend');
    expect(res.status).toBe(200);
    const body = res.json<RuntimeInfo>();
    expect(body.request).toMatchObject({ host, uri: '/via-frontend' });
    expect(body.host.envs).toMatchObject({ K_SERVICE: 'private' });
  }, 300_000);

  it('scales a Knative Service to zero and back through the activator', async () => {
    await rest.request('POST', ksvcPath(), {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'sleepy', namespace: NS },
      spec: {
        template: {
          metadata: { name: 'sleepy-v1', annotations: { 'autoscaling.knative.dev/window': '6s' } },
          spec: { containers: [{ image: RUNTIME_IMAGE }] },
        },
      },
    });
    await ksvcReady('sleepy');
    const host = `sleepy.${NS}.${DOMAIN}`;
    expect((await get(externalIP, 80, host)).status).toBe(200);
    const tIdle = Date.now();
    await waitUntil(
      'sleepy scaled to zero',
      async () => {
        const d = await rest.get<Deployment>(
          `/apis/apps/v1/namespaces/${NS}/deployments/sleepy-v1-deployment`,
        );
        const pods = await rest.get<{ items: unknown[] }>(`/api/v1/namespaces/${NS}/pods`, {
          labelSelector: 'serving.knative.dev/revision=sleepy-v1',
        });
        return d.spec?.replicas === 0 && pods.items.length === 0;
      },
      { timeoutMs: 240_000, intervalMs: 1000 },
    );
    fig(`ksvc sleepy last request → scaled to zero (no Pods): ${Date.now() - tIdle} ms`);
    const t0 = Date.now();
    const res = await httpRequest({ address: externalIP, port: 80, host, path: '/cold', timeoutMs: 120_000 });
    fig(`ksvc sleepy cold start through the activator: ${Date.now() - t0} ms (status ${res.status})`);
    expect(res.status).toBe(200);
    expect(res.json<RuntimeInfo>().request).toMatchObject({ host, uri: '/cold' });
  }, 400_000);

  it('maps a domain the claim policy allows (kgw makes the ClusterDomainClaim) and the webhook denies one it does not', async () => {
    // the admin's policy: apps.example.net, for namespaces labelled kgw.test/domains=apps, claims
    // made by kgw; the Routes' own domain named too, or their generated hosts would have to match
    // a rule (the webhook warns about that)
    await kubectlOk(['label', 'namespace', NS, 'kgw.test/domains=apps']);
    await rest.request(
      'PATCH',
      GATEWAY_PATH,
      {
        spec: {
          domains: { default: DOMAIN },
          domainClaims: {
            autoCreate: true,
            rules: [
              {
                domains: ['apps.example.net'],
                namespaceSelector: { matchLabels: { 'kgw.test/domains': 'apps' } },
              },
            ],
          },
        },
      },
      'application/merge-patch+json',
    );
    await gatewayReady(rest);
    // the Knative Services keep answering under the policy
    expect((await get(externalIP, 80, `hello.${NS}.${DOMAIN}`)).status).toBe(200);
    const domainMapping = (name: string): object => ({
      apiVersion: 'serving.knative.dev/v1beta1',
      kind: 'DomainMapping',
      metadata: { name, namespace: NS },
      spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello', namespace: NS } },
    });
    const dmPath = (name = ''): string =>
      `/apis/serving.knative.dev/v1beta1/namespaces/${NS}/domainmappings${name ? `/${name}` : ''}`;

    await expect(
      rest.request('POST', dmPath(), domainMapping('hello.elsewhere.example.org')),
    ).rejects.toThrow(
      /admission webhook "domainmapping\.validation\.kgw\.dev" denied the request: .*domain hello\.elsewhere\.example\.org is not allowed in namespace kn-app/,
    );

    const t0 = Date.now();
    // the webhook learns the new policy from its watch: a create racing it is refused with the
    // policy's message, so it is retried (at most 30 s)
    let attempts = 0;
    await waitUntil(
      'DomainMapping hello.apps.example.net admitted',
      async () => {
        attempts++;
        try {
          await rest.request('POST', dmPath(), domainMapping('hello.apps.example.net'));
          return true;
        } catch (err) {
          if (String(err).includes('is not allowed in namespace')) return false;
          throw err;
        }
      },
      { timeoutMs: 30_000, intervalMs: 500, retryIf: () => false },
    );
    const dm = await waitUntil(
      'DomainMapping hello.apps.example.net Ready',
      async () => {
        const d = await rest.get<KnObject>(dmPath('hello.apps.example.net'));
        return ready(d) ? d : false;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    ).catch(async (err: unknown) => {
      const d = await getOrUndefined<KnObject>(rest, dmPath('hello.apps.example.net'));
      throw new Error(`${String(err)}: ${JSON.stringify(d?.status)}`);
    });
    fig(`DomainMapping create → Ready: ${Date.now() - t0} ms (${attempts} create attempts)`);
    expect(dm.status?.url).toBe('http://hello.apps.example.net');
    const claim = await rest.get<{
      metadata: { labels?: Record<string, string> };
      spec?: { namespace?: string };
    }>('/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims/hello.apps.example.net');
    expect(claim.spec?.namespace).toBe(NS);
    expect(claim.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('kgw');
    const res = await get(externalIP, 80, 'hello.apps.example.net', '/mapped');
    expect(res.status).toBe(200);
    expect(res.json<RuntimeInfo>().host.envs).toMatchObject({ K_SERVICE: 'hello' });
    expect(res.json<RuntimeInfo>().request).toMatchObject({ host: 'hello.apps.example.net', uri: '/mapped' });
    // the mapping goes, and with it the claim kgw made
    await rest.request('DELETE', dmPath('hello.apps.example.net'));
    await waitUntil(
      'ClusterDomainClaim hello.apps.example.net removed by kgw',
      async () =>
        (await getOrUndefined(
          rest,
          '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims/hello.apps.example.net',
        )) === undefined,
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    // the policy goes too (the conformance suite's hosts are under no rule): the gateway as before
    await rest.request(
      'PATCH',
      GATEWAY_PATH,
      { spec: { domainClaims: null, domains: null } },
      'application/merge-patch+json',
    );
    await gatewayReady(rest);
  }, 300_000);

  it('serves a Knative Service over HTTPS with a certificate from cert-manager running in the cluster (auto-TLS through a CA ClusterIssuer)', async () => {
    const t0 = Date.now();
    const cm = await installCertManager(cluster!, rest, builtImages().certmanager?.name ?? '', [
      'kgw-test-ca',
    ]);
    fig(`cert-manager in the cluster: controller running, ClusterIssuer Ready in ${Date.now() - t0} ms`);
    await rest.request(
      'PATCH',
      GATEWAY_PATH,
      {
        spec: { tls: { externalIssuer: { name: 'kgw-test-ca' } }, knative: { externalDomainTLS: 'Enabled' } },
      },
      'application/merge-patch+json',
    );
    await gatewayReady(rest);
    const network = await rest.get<{ data?: Record<string, string> }>(
      '/api/v1/namespaces/knative-serving/configmaps/config-network',
    );
    expect(network.data).toMatchObject({ 'external-domain-tls': 'Enabled' });
    fig(
      `config-network after enabling auto-TLS: certificate-class ${network.data?.['certificate-class'] ?? '-'}`,
    );

    const t1 = Date.now();
    await rest.request('POST', ksvcPath(), {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'secure', namespace: NS },
      spec: { template: { spec: { containers: [{ image: RUNTIME_IMAGE }] } } },
    });
    const svc = await waitUntil(
      'ksvc secure Ready with an https URL',
      async () => {
        const s = await rest.get<KnObject>(ksvcPath('secure'));
        return ready(s) && s.status?.url?.startsWith('https://') === true ? s : false;
      },
      { timeoutMs: 240_000, intervalMs: 250 },
    ).catch(async (err: unknown) => {
      const s = await getOrUndefined<KnObject>(rest, ksvcPath('secure'));
      const certs = await kubectl(['-n', NS, 'get', 'kcert,certificates.cert-manager.io', '-o', 'wide']);
      throw new Error(`${String(err)}: ${JSON.stringify(s?.status)}\n${certs.stdout}${certs.stderr}`);
    });
    fig(`ksvc secure create → Ready with https URL: ${Date.now() - t1} ms`);
    const host = `secure.${NS}.${DOMAIN}`;
    expect(svc.status?.url).toBe(`https://${host}`);
    const kcert = await rest.get<{
      items: { spec?: { dnsNames?: string[]; secretName?: string }; status?: { conditions?: Condition[] } }[];
    }>(`/apis/networking.internal.knative.dev/v1alpha1/namespaces/${NS}/certificates`);
    const mine = kcert.items.find((c) => c.spec?.dnsNames?.includes(host));
    expect(mine?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const ext = await rest.get<Service>('/api/v1/namespaces/kgw-system/services/kgw-default-external');
    const httpsPort = ext.spec?.ports?.find((p) => p.name === 'https');
    for (const [what, address, port] of [
      ['ClusterIP', externalIP, httpsPort?.port ?? 443],
      ['NodePort', NODE_IP, httpsPort?.nodePort ?? 0],
    ] as const) {
      // verified against the cluster CA that cert-manager signs with; SNI is the host
      const res = await httpRequest({
        address,
        port,
        host,
        path: '/tls',
        tls: { ca: cm.ca.certPem },
        timeoutMs: 10_000,
      });
      expect([what, res.status]).toEqual([what, 200]);
      expect(res.json<RuntimeInfo>().request).toMatchObject({ host, uri: '/tls' });
    }
    // the certificate is the one cert-manager issued into the KCertificate's Secret
    const issued = await rest.get<{ data: Record<string, string> }>(
      `/api/v1/namespaces/${NS}/secrets/${mine?.spec?.secretName ?? ''}`,
    );
    expect(Buffer.from(issued.data['tls.crt'] ?? '', 'base64').toString()).toContain('BEGIN CERTIFICATE');
    // back to plain HTTP for the conformance suite, as it runs in net-kourier's CI
    await rest.request(
      'PATCH',
      GATEWAY_PATH,
      { spec: { tls: null, knative: { externalDomainTLS: 'Disabled' } } },
      'application/merge-patch+json',
    );
    await gatewayReady(rest);
    await cm.uninstall();
  }, 400_000);
});

/** `--- PASS: TestIngressConformance/basics/http2 (1.20s)` → { 'basics/http2': 'PASS' }. */
function conformanceResults(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of output.matchAll(/^\s*--- (PASS|FAIL|SKIP): (\S+) \(/gm)) out.set(m[2] ?? '', m[1] ?? '');
  return out;
}

/**
 * Polls the Endpoints and EndpointSlices of `ns` every 100 ms (at most `maxMs`) and records, per
 * Service, when its Endpoints first listed a ready address and when one of its EndpointSlices first
 * listed a ready endpoint. The suite waits on Endpoints before pointing a KIngress at a new
 * Service; kgw reads EndpointSlices: the lag between the two is the window in which kgw knows no
 * endpoint of a backend the KIngress already names.
 */
function watchEndpointLag(ns: string, maxMs: number): { stop(): Promise<[string, number][]> } {
  const endpointsAt = new Map<string, number>();
  const slicesAt = new Map<string, number>();
  let stopped = false;
  const loop = (async () => {
    const deadline = Date.now() + maxMs;
    while (!stopped && Date.now() < deadline) {
      try {
        const [eps, slices] = await Promise.all([
          rest.get<{ items: { metadata: { name: string }; subsets?: { addresses?: unknown[] }[] }[] }>(
            `/api/v1/namespaces/${ns}/endpoints`,
          ),
          rest.get<{
            items: {
              metadata: { labels?: Record<string, string> };
              endpoints?: { conditions?: { ready?: boolean } }[];
            }[];
          }>(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`),
        ]);
        const now = Date.now();
        for (const e of eps.items) {
          if (
            (e.subsets ?? []).some((ss) => (ss.addresses ?? []).length > 0) &&
            !endpointsAt.has(e.metadata.name)
          )
            endpointsAt.set(e.metadata.name, now);
        }
        for (const sl of slices.items) {
          const svc = sl.metadata.labels?.['kubernetes.io/service-name'];
          if (svc === undefined || slicesAt.has(svc)) continue;
          if ((sl.endpoints ?? []).some((e) => e.conditions?.ready !== false)) slicesAt.set(svc, now);
        }
      } catch {
        /* the namespace may not exist yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return [...endpointsAt]
        .filter(([svc]) => slicesAt.has(svc))
        .map(([svc, t]): [string, number] => [svc, (slicesAt.get(svc) ?? t) - t])
        .sort((a, b) => a[1] - b[1]);
    },
  };
}

describe("Knative's ingress conformance suite against kgw", () => {
  it(
    'passes the stable, beta and alpha conformance tests',
    async () => {
      await kubectlOk(['create', 'namespace', 'serving-tests']);
      const suiteWork = mkdtempSync(join(work, 'conformance-'));
      const args = [
        '-test.v',
        '-test.run',
        '^TestIngressConformance$',
        '-test.timeout',
        '20m',
        '-enable-beta',
        '-enable-alpha',
        '-kubeconfig',
        cluster?.kubeconfigPath ?? '',
        '-ingressClass',
        KGW_INGRESS_CLASS,
        '-ingressendpoint',
        NODE_IP,
        '-dockerrepo',
        'kgw.test/knative',
        '-tag',
        'conformance',
      ];
      const t0 = Date.now();
      const lag = watchEndpointLag('serving-tests', 24 * 60_000);
      const r = await run(
        knative.conformanceBinary,
        args,
        22 * 60_000,
        {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: suiteWork,
          GATEWAY_OVERRIDE: 'kgw-default-external',
          GATEWAY_NAMESPACE_OVERRIDE: 'kgw-system',
        },
        suiteWork,
      );
      const lagBySvc = await lag.stop();
      const lags = lagBySvc.map(([, l]) => l);
      fig(
        `EndpointSlice ready − Endpoints ready, per backend Service (ms, 100 ms polls): n=${lags.length}, ` +
          `median ${lags[Math.floor(lags.length / 2)] ?? '-'}, max ${lags.at(-1) ?? '-'}, ` +
          `>= 500 ms: ${lagBySvc
            .filter(([, l]) => l >= 500)
            .map(([n, l]) => `${n} ${l}`)
            .join(', ')}`,
      );
      // the update test's fresh Services in the order the suite rolls them out, each with its
      // slice lag and the non-200 answers logged until the next roll-out
      const perRollout = new Map<string, number>();
      let current = '';
      for (const line of r.stdout.split('\n')) {
        const m = /Rolling out "([a-z0-9-]+)"/.exec(line);
        if (m) perRollout.set((current = m[1] ?? ''), perRollout.get(current) ?? 0);
        else if (current !== '' && line.includes('got unexpected status'))
          perRollout.set(current, (perRollout.get(current) ?? 0) + 1);
      }
      const lagOf = new Map(lagBySvc);
      fig(
        `update test roll-outs (Service: slice lag ms / non-200 answers): ` +
          [...perRollout].map(([n, bad]) => `${n.slice(-8)}: ${lagOf.get(n) ?? '?'}/${bad}`).join(', '),
      );
      const non200 = [...r.stdout.matchAll(/got unexpected status: (\d+)/g)].map((m) => m[1]);
      fig(
        `conformance requests answered with an unexpected status: ${non200.length} (${[...new Set(non200)].join(', ')})`,
      );
      const log = process.env.KGW_CONFORMANCE_LOG;
      if (log !== undefined && log !== '') writeFileSync(log, r.stdout + r.stderr);
      const results = conformanceResults(r.stdout);
      const lines = [...results.entries()]
        .sort(([a], [b]) => byCodePoint(a, b))
        .map(([name, res]) => `${res} ${name}`);
      fig(`conformance (exit ${r.code}, ${Date.now() - t0} ms):\n  ${lines.join('\n  ')}`);
      const failed = [...results.entries()].filter(([, res]) => res === 'FAIL').map(([n]) => n);
      if (failed.length > 0 || r.code !== 0) {
        process.stderr.write(r.stdout.slice(-20_000));
      }
      expect(failed).toEqual([]);
      expect(results.get('TestIngressConformance')).toBe('PASS');
      expect(r.code).toBe(0);
    },
    25 * 60_000,
  );
});

describe('cleanup', () => {
  it('stops the cluster and leaves nothing on the machine', async () => {
    rest.close();
    stopReport = await cluster!.stop();
    fig(`cluster stop: ${stopReport.ms} ms`);
    expect(stopReport.errors).toEqual([]);
    expect(stopReport.leftovers).toEqual([]);
  }, 180_000);
});
