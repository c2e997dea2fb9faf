// Knative Serving and kgw on the real cluster, installed as a platform admin would: Serving's
// `config/core` YAML from its module (cached by `build-images.sh knative`) with the pieces the
// module zip leaves out (the networking CRDs and config-network from knative.dev/networking, the
// Image CRD from knative.dev/caching, read from the Go module cache) and `ko://` references
// replaced by the local `kgw.test/knative/<c>:<version>` images (nothing is pulled: non-latest
// tags, IfNotPresent, and `kgw.test` skips Knative's tag-to-digest resolution); then
// `deploy/kgw.yaml` and the sample KnativeGateway. Shared by knative-serving.test.ts and the
// cluster demo (demo.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import type { KubeRest } from '../../operator/kube/rest.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { waitUntil } from '../env/proc.ts';
import type { ClusterOptions } from './cluster.ts';
import type { Kubectl } from './harness.ts';
import { imageTarball, KNATIVE_COMPONENTS, KNATIVE_TEST_IMAGES, type KnativeArtifacts } from './images.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const KGW_MANIFEST = join(root, 'deploy/kgw.yaml');
export const SAMPLE_GATEWAY = join(root, 'crds/samples/knativegateway.yaml');
export const GATEWAY_PATH = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';
/** kgw's test copies of Knative's CRDs (KIngress, Certificate, DomainMapping, …). */
const KNATIVE_CRDS = join(root, 'test/env/crds/knative');

/** startCluster's options for a cluster with Knative Serving, kgw, cert-manager and CoreDNS. */
export function knativeClusterOptions(): ClusterOptions {
  return {
    images: [
      imageTarball('kgw'),
      imageTarball('envoy'),
      imageTarball('certmanager'),
      ...KNATIVE_COMPONENTS.map((c) => imageTarball(`knative-${c}`)),
      ...KNATIVE_TEST_IMAGES.map((c) => imageTarball(`knative-test-${c}`)),
    ],
    sandboxImage: imageTarball('pause'),
    corednsImage: imageTarball('coredns'),
  };
}

/** `ko://` references → local image names, in every string of a parsed document. */
function replaceKo(v: unknown, images: Record<string, string>): unknown {
  if (typeof v === 'string') return images[v] ?? v;
  if (Array.isArray(v)) return v.map((x) => replaceKo(x, images));
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceKo(x, images)]));
  }
  return v;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return n.endsWith('.yaml') ? [p] : [];
    });
}

/** knative.dev/<name>'s directory in the Go module cache (the version serving requires). */
function moduleDir(knative: KnativeArtifacts, name: string): string {
  const go = existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : 'go';
  return execFileSync(go, ['list', '-m', '-f', '{{.Dir}}', name], {
    cwd: join(dirname(dirname(knative.configCore)), 'module'),
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off' },
    timeout: 60_000,
  }).trim();
}

export interface ServingObjects {
  /** Namespace and CRDs: applied first. */
  first: Record<string, unknown>[];
  rest: Record<string, unknown>[];
  /** What was left out, as `<kind> <name>`. */
  left: string[];
}

/**
 * Serving core as objects. Left out: the cert-manager KCertificate `routing-serving-certs`
 * (system-internal TLS only) and the activator/webhook HPAs (no metrics-server). The admin's
 * settings: `domain` in config-domain, no tag-to-digest resolution for `kgw.test`, and a 6 s
 * scale-to-zero grace period (so scale to zero is seen within a minute).
 */
export function servingObjects(knative: KnativeArtifacts, domain: string): ServingObjects {
  const networking = moduleDir(knative, 'knative.dev/networking');
  const caching = moduleDir(knative, 'knative.dev/caching');
  const files = [
    ...yamlFiles(knative.configCore),
    // upstream config/core links these from its vendor folder; the module zip drops symlinks
    ...[
      'certificate.yaml',
      'domain-claim.yaml',
      'ingress.yaml',
      'serverlessservice.yaml',
      'config-network.yaml',
    ].map((f) => join(networking, 'config', f)),
    join(caching, 'config', 'image.yaml'),
  ];
  const out: ServingObjects = { first: [], rest: [], left: [] };
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const o = replaceKo(doc.toJS(), knative.koImages) as Record<string, unknown> | null;
      if (o === null || typeof o.kind !== 'string') continue;
      const meta = o.metadata as { name: string; namespace?: string };
      if (o.kind === 'Certificate' || o.kind === 'HorizontalPodAutoscaler') {
        out.left.push(`${o.kind} ${meta.name}`);
        continue;
      }
      if (o.kind === 'ConfigMap') {
        const data = (o.data ?? {}) as Record<string, string>;
        if (meta.name === 'config-domain') data[domain] = '';
        if (meta.name === 'config-deployment')
          data['registries-skipping-tag-resolving'] = 'kind.local,ko.local,dev.local,kgw.test';
        if (meta.name === 'config-autoscaler') data['scale-to-zero-grace-period'] = '6s';
        o.data = data;
      }
      if (o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition') out.first.push(o);
      else out.rest.push(o);
    }
  }
  return out;
}

function writeList(path: string, objs: Record<string, unknown>[]): string {
  writeFileSync(path, objs.map((o) => stringify(o)).join('---\n'));
  return path;
}

export interface InstallContext {
  rest: KubeRest;
  k: Kubectl;
  /** A scratch dir for the manifests written. */
  work: string;
}

/**
 * Applies Serving core, waits for its four Deployments and for its webhook to admit; returns
 * the times (apply → rolled out, → admitting).
 */
export async function installServing(
  ctx: InstallContext,
  objects: ServingObjects,
): Promise<{ rolledOutMs: number; admittingMs: number }> {
  const { k, rest } = ctx;
  const t0 = Date.now();
  await k.kubectlOk([
    'apply',
    '--server-side',
    '-f',
    writeList(join(ctx.work, 'serving-crds.yaml'), objects.first),
  ]);
  await k.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all'], 70_000);
  await k.kubectlOk(
    ['apply', '--server-side', '-f', writeList(join(ctx.work, 'serving-core.yaml'), objects.rest)],
    120_000,
  );
  for (const d of ['controller', 'activator', 'autoscaler', 'webhook']) {
    const r = await k.kubectl(
      ['-n', 'knative-serving', 'rollout', 'status', `deploy/${d}`, '--timeout=300s'],
      310_000,
    );
    if (r.code !== 0) {
      const pods = await k.kubectl(['-n', 'knative-serving', 'get', 'pods', '-o', 'wide']);
      const logs = await k.kubectl(['-n', 'knative-serving', 'logs', `deploy/${d}`, '--tail=30']);
      throw new Error(`rollout ${d}: ${r.stderr}${r.stdout}\n${pods.stdout}\n${logs.stdout}${logs.stderr}`);
    }
  }
  const rolledOutMs = Date.now() - t0;
  // Serving's webhook has made its certificate, put it into its configurations and admits
  await waitUntil(
    'Serving webhook configurations carry a caBundle',
    async () => {
      const v = await rest.get<{ webhooks?: { clientConfig?: { caBundle?: string } }[] }>(
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/config.webhook.serving.knative.dev',
      );
      return (v.webhooks?.[0]?.clientConfig?.caBundle ?? '') !== '';
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  // A caBundle does not mean the webhook's Service answers yet: kube-proxy may not have its
  // endpoint programmed (CI once saw "connection refused" here). Retry the admitted write, bounded.
  let lastRefusal = '';
  await waitUntil(
    'Serving webhook admits a ConfigMap write',
    async () => {
      const r = await k.kubectl([
        '-n',
        'knative-serving',
        'annotate',
        'configmap',
        'config-gc',
        'kgw.test/touched=1',
        '--overwrite',
      ]);
      lastRefusal = r.stderr;
      return r.code === 0;
    },
    { timeoutMs: 90_000, intervalMs: 1000 },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${lastRefusal}`);
  });
  return { rolledOutMs, admittingMs: Date.now() - t0 };
}

/** Waits for the sample KnativeGateway to be Ready at its current generation. */
export async function gatewayReady(rest: KubeRest, timeoutMs = 120_000): Promise<KnativeGateway> {
  return waitUntil(
    'KnativeGateway default Ready at its generation',
    async () => {
      const g = await rest.get<KnativeGateway>(GATEWAY_PATH);
      const r = g.status?.conditions?.find((c) => c.type === 'Ready');
      return r?.status === 'True' && g.status?.observedGeneration === g.metadata.generation ? g : false;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/**
 * `kubectl apply --server-side -f deploy/kgw.yaml`, rollout, the sample KnativeGateway applied
 * (retried while the webhook is not reachable yet, at most 60 s) and Ready; returns the times.
 */
export async function installKgw(ctx: InstallContext): Promise<{ rolledOutMs: number; readyMs: number }> {
  const { k, rest } = ctx;
  const t0 = Date.now();
  await k.kubectlOk(['apply', '--server-side', '-f', KGW_MANIFEST]);
  const rollout = await k.kubectl(
    ['-n', 'kgw-system', 'rollout', 'status', 'deploy/kgw-operator', '--timeout=240s'],
    250_000,
  );
  if (rollout.code !== 0) {
    const logs = await k.kubectl(['-n', 'kgw-system', 'logs', 'deploy/kgw-operator', '--tail=40']);
    throw new Error(`rollout: ${rollout.stderr}${rollout.stdout}\n${logs.stdout}`);
  }
  const rolledOutMs = Date.now() - t0;
  await waitUntil(
    'KnativeGateway admitted',
    async () => (await k.kubectl(['apply', '-f', SAMPLE_GATEWAY])).code === 0,
    {
      timeoutMs: 60_000,
      intervalMs: 1000,
    },
  );
  await gatewayReady(rest, 240_000).catch(async (err: unknown) => {
    const g = await rest.get<KnativeGateway>(GATEWAY_PATH);
    const pods = await k.kubectl(['-n', 'kgw-system', 'get', 'pods', '-o', 'wide']);
    throw new Error(`${String(err)}\nstatus: ${JSON.stringify(g.status)}\n${pods.stdout}`);
  });
  return { rolledOutMs, readyMs: Date.now() - t0 };
}

export interface FleetAddresses {
  externalIP: string;
  /** NodePort of the external fleet's http port (reachable on the node address from the host). */
  externalNodePort: number;
  externalHttpsNodePort: number;
  localIP: string;
}

export async function fleetAddresses(rest: KubeRest): Promise<FleetAddresses> {
  type Svc = { spec?: { clusterIP?: string; ports?: { name?: string; nodePort?: number }[] } };
  const ext = await rest.get<Svc>('/api/v1/namespaces/kgw-system/services/kgw-default-external');
  const local = await rest.get<Svc>('/api/v1/namespaces/kgw-system/services/kgw-default-local');
  return {
    externalIP: ext.spec?.clusterIP ?? '',
    externalNodePort: ext.spec?.ports?.find((p) => p.name === 'http')?.nodePort ?? 0,
    externalHttpsNodePort: ext.spec?.ports?.find((p) => p.name === 'https')?.nodePort ?? 0,
    localIP: local.spec?.clusterIP ?? '',
  };
}

/**
 * What Knative Serving leaves for a networking layer, without running Serving: its CRDs (kgw's test
 * copies) and its namespace with the two ConfigMaps kgw writes keys into.
 */
export async function knativePrerequisites(ctx: Pick<InstallContext, 'rest' | 'k'>): Promise<void> {
  const { k, rest } = ctx;
  await k.kubectlOk(['apply', '--server-side', '-f', KNATIVE_CRDS]);
  await k.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', '-f', KNATIVE_CRDS], 70_000);
  await k.kubectlOk(['create', 'namespace', 'knative-serving']);
  for (const name of ['config-network', 'config-domain']) {
    await rest.request('POST', '/api/v1/namespaces/knative-serving/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace: 'knative-serving',
        labels: { 'app.kubernetes.io/name': 'knative-serving' },
      },
      data: { _example: '# Knative puts its documentation here' },
    });
  }
}
