// End-to-end harness: a real kube-apiserver + etcd, Knative and kgw CRDs, a local network, the
// kgw operator with real Envoy fleets, real backends in their own network namespaces, and a
// KnativeGateway. Used by every test in test/e2e and by `npm run demo` (demo.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { withDefaults } from '../../operator/translate/defaults.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
  type KIngress,
} from '../../operator/api/kingress.ts';
import { readSavedReplicas, type SavedReplica } from '../../operator/fleets/local.ts';
import { LocalNetwork, type Pod } from '../../operator/fleets/network.ts';
import { KubeRest, ApiError } from '../../operator/kube/rest.ts';
import { newLogger, type Logger } from '../../operator/log.ts';
import { startOperator, type OperatorOptions, type RunningOperator } from '../../operator/run.ts';
import { isReady } from '../../operator/status/conditions.ts';
import { startControlPlane, type ControlPlane } from '../env/control-plane.ts';
import { startApiProxy, type ApiProxy } from '../env/api-proxy.ts';
import { applyManifests } from '../env/manifests.ts';
import { envoyBin } from '../env/paths.ts';
import { waitUntil } from '../env/proc.ts';
import type { ScrapeJob } from '../env/prometheus.ts';
import { knativeGatewayCrd } from '../../operator/gen/knativegateway-crd.ts';
import { routePolicyCrd } from '../../operator/gen/routepolicy-crd.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';

export const TEST_NAMESPACE = 'serving-tests';
const root = join(import.meta.dirname, '../..');

export interface Env {
  cp: ControlPlane;
  rest: KubeRest;
  kc: KubeConfig;
  network: LocalNetwork;
  operator: RunningOperator;
  log: Logger;
  workDir: string;
  /** The operator's way to the API server when started with `apiProxy` (kept across restarts). */
  proxy?: ApiProxy;
  /** What the operator was started with (fault injection, ports, …): restartOperator reuses it. */
  operatorOptions: OperatorOptions;
  stop(): Promise<void>;
}

export const sampleGateway = {
  apiVersion: 'operator.kgw.dev/v1alpha1',
  kind: 'KnativeGateway',
  metadata: { name: 'default' },
  spec: {
    fleets: [
      { name: 'external', visibility: 'ExternalIP', replicas: 2 },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
    ],
  },
};

/** sampleGateway with every fleet's stats listener on (fleets[].metrics; its default port when absent). */
export function gatewayWithMetrics(port?: number): typeof sampleGateway {
  const metrics = { enabled: true, ...(port !== undefined ? { port } : {}) };
  return { ...sampleGateway, spec: { fleets: sampleGateway.spec.fleets.map((f) => ({ ...f, metrics })) } };
}

/**
 * Prometheus scrape jobs for a kgw environment: the operator's /metrics on `operatorMetricsPort`
 * and every Envoy replica's stats listener on `statsPort`, with the labels a cluster's scrape adds
 * from the pod labels (docs/observability.md): fleet = <gateway>/<fleet>, kgw_visibility.
 */
export function kgwScrapeJobs(
  env: Env,
  operatorMetricsPort: number,
  statsPort: number,
  gateway: { spec: { fleets: { name: string; visibility: string }[] } } = sampleGateway,
): ScrapeJob[] {
  const visibility = (fleet: string) =>
    gateway.spec.fleets.find((f) => fleet.endsWith(`/${f.name}`))?.visibility ?? '';
  return [
    { name: 'kgw-operator', targets: [{ address: `127.0.0.1:${operatorMetricsPort}` }] },
    {
      name: 'kgw-envoy',
      metricsPath: '/stats/prometheus',
      targets: fleetReplicas(env).map((r) => ({
        address: `${r.address}:${statsPort}`,
        labels: { fleet: r.fleet, kgw_visibility: visibility(r.fleet) },
      })),
    },
  ];
}

/** Namespace of the bystander KIngress and RoutePolicy every e2e environment has. */
export const BYSTANDER_NAMESPACE = 'policy-bystander';

/**
 * A Knative-like Route KIngress in its own namespace with a RoutePolicy (API keys, IP rules, CORS,
 * a rate limit) on it: policies attached to other hosts must change nothing for a test's hosts.
 */
export function bystanderPolicyObjects(): object[] {
  const ns = BYSTANDER_NAMESPACE;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'guarded', namespace: ns },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'guarded-keys', namespace: ns },
      stringData: { client: 'bystander-key' },
    },
    {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: {
        name: 'guarded',
        namespace: ns,
        labels: { 'serving.knative.dev/route': 'guarded' },
        annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS },
      },
      spec: withDefaults({
        rules: [
          {
            hosts: [`guarded.${ns}.example.com`],
            visibility: 'ExternalIP',
            http: {
              paths: [{ splits: [{ serviceNamespace: ns, serviceName: 'guarded', servicePort: 80 }] }],
            },
          },
        ],
      }),
    },
    {
      apiVersion: 'policy.kgw.dev/v1alpha1',
      kind: 'RoutePolicy',
      metadata: { name: 'guarded', namespace: ns },
      spec: {
        targetRefs: [{ kind: 'Route', name: 'guarded' }],
        apiKeyAuth: {
          keySources: [{ header: 'x-key' }],
          credentialsFrom: [{ secretRef: { name: 'guarded-keys' } }],
        },
        ipAccess: { deny: ['203.0.113.0/24'] },
        cors: { allowOrigins: ['https://bystander.example.com'] },
        rateLimit: { rules: [{ name: 'all', requests: 10, per: 'Second' }] },
      },
    },
  ];
}

export interface EnvOptions {
  gateway?: object;
  log?: Logger;
  xdsProtocol?: 'delta' | 'sotw';
  /** Fault injection: what the operator sends Envoy is rewritten by this (see OperatorOptions). */
  snapshotFilter?: OperatorOptions['snapshotFilter'];
  /** The operator talks to the API server through a fault-injecting proxy (env.proxy). */
  apiProxy?: boolean;
  /** More operator options (health and metrics ports, staleness bound, …). */
  operator?: Pick<OperatorOptions, 'healthPort' | 'metricsPort' | 'staleAfterMs' | 'trafficWindowMs'>;
}

export async function startEnv(opts: EnvOptions = {}): Promise<Env> {
  const log = opts.log ?? newLogger('e2e');
  const workDir = mkdtempSync(join(tmpdir(), 'kgw-e2e-'));
  const cp = await startControlPlane({ log });
  const kc = cp.kubeConfig();
  const rest = new KubeRest(kc);
  await applyManifests(kc, [join(root, 'test/env/crds/knative'), knativeGatewayCrd(), routePolicyCrd()]);
  await ensureNamespace(rest, TEST_NAMESPACE);
  const network = await LocalNetwork.create();
  await applyManifests(kc, [opts.gateway ?? sampleGateway]);
  // Every e2e test (the conformance behaviours included) runs with RoutePolicies in force on
  // another namespace's hosts: their filters sit in every listener and route table.
  await applyManifests(kc, bystanderPolicyObjects());
  const proxy = opts.apiProxy ? await startApiProxy(cp) : undefined;
  const operatorOptions: OperatorOptions = {
    kubeconfig: proxy?.kubeconfigPath ?? cp.kubeconfigPath,
    runtime: 'local',
    envoyBin: envoyBin(),
    workDir,
    network,
    log: log.child({ component: 'operator' }),
    ...(opts.xdsProtocol ? { xdsProtocol: opts.xdsProtocol } : {}),
    ...(opts.snapshotFilter ? { snapshotFilter: opts.snapshotFilter } : {}),
    ...opts.operator,
  };
  const operator = await startOperator(operatorOptions);
  const env: Env = {
    operatorOptions,
    ...(proxy ? { proxy } : {}),
    cp,
    rest,
    kc,
    network,
    operator,
    log,
    workDir,
    async stop() {
      await env.operator.stop(); // the current one: restartOperator replaces it
      await proxy?.stop();
      await network.destroy();
      await cp.stop();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return env;
}

/** Polls `check` every 200 ms for at most `ms` until it returns a value (waitUntil, test/env/proc.ts). */
export const until = <T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> =>
  waitUntil(what, check, { timeoutMs: ms, intervalMs: 200 });

/** The Envoy replicas the operator's local runtime runs, of one fleet (`<gateway>/<fleet>`) or all. */
export function fleetReplicas(env: Env, fleet?: string): SavedReplica[] {
  return readSavedReplicas(join(env.workDir, 'envoy')).filter(
    (r) => fleet === undefined || r.fleet === fleet,
  );
}

/**
 * Restarts the operator in this process: the old one stops with its Envoy replicas left running,
 * `whileDown` runs (e.g. changes made while no operator runs), a new one (fresh caches, fresh xDS
 * server on the same socket, the options it was first started with) adopts them.
 */
export async function restartOperator(env: Env, whileDown?: () => Promise<void>): Promise<void> {
  await env.operator.stop({ keepFleets: true });
  await whileDown?.();
  env.operator = await startOperator(env.operatorOptions);
}

export async function ensureNamespace(rest: KubeRest, name: string): Promise<void> {
  try {
    await rest.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
  }
}

export interface TestBackend {
  name: string;
  pod: Pod;
  proc: ChildProcess;
  address: string;
  port: number;
  stop(): Promise<void>;
}

export interface BackendSpec {
  name: string;
  kind?: 'runtime' | 'timeout' | 'wsserver' | 'grpc-ping' | 'retry' | 'httpproxy';
  suffix?: string;
  /** Service port (default 80) and its name (default http). */
  servicePort?: number;
  portName?: string;
  appProtocol?: string;
  containerPort?: number;
  gateway?: string;
  targetHost?: string;
  namespace?: string;
}

/** A backend process in its own pod plus a Service and EndpointSlice pointing at it. */
export async function startTestBackend(env: Env, spec: BackendSpec): Promise<TestBackend> {
  const ns = spec.namespace ?? TEST_NAMESPACE;
  const port = spec.containerPort ?? 8000;
  const pod = await env.network.addPod(`backend-${spec.name}`);
  const args = [
    join(root, 'test/backends/main.ts'),
    '--kind',
    spec.kind ?? 'runtime',
    '--host',
    pod.address,
    '--port',
    String(port),
    // `--suffix=<s>` form: suffixes like `- pong` start with a dash, which parseArgs rejects as
    // an ambiguous separate argument.
    `--suffix=${spec.suffix ?? spec.name}`,
  ];
  if (spec.gateway) args.push('--gateway', spec.gateway);
  if (spec.targetHost) args.push('--target-host', spec.targetHost);
  const proc = pod.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`backend ${spec.name} did not start`)), 20_000);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`backend ${spec.name} exited with ${code}`));
    });
  });
  const portName = spec.portName ?? 'http';
  await env.rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: ns },
    spec: {
      ports: [
        {
          name: portName,
          port: spec.servicePort ?? 80,
          targetPort: port,
          ...(spec.appProtocol ? { appProtocol: spec.appProtocol } : {}),
        },
      ],
    },
  });
  await env.rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${spec.name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': spec.name } },
    addressType: 'IPv4',
    ports: [{ name: portName, port }],
    endpoints: [{ addresses: [pod.address], conditions: { ready: true } }],
  });
  return {
    name: spec.name,
    pod,
    proc,
    address: pod.address,
    port,
    async stop() {
      proc.kill('SIGTERM');
      await pod.destroy();
    },
  };
}

export function ingressPath(ns: string, name = ''): string {
  return `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses${name ? `/${name}` : ''}`;
}

/** Creates a KIngress of kgw's class the way Knative's conformance does (defaults, httpOption). */
export async function createIngress(
  env: Env,
  name: string,
  spec: IngressSpec,
  ns = TEST_NAMESPACE,
  labels?: Record<string, string>,
): Promise<KIngress> {
  const s = withDefaults(spec);
  if (!s.httpOption) s.httpOption = 'Enabled';
  return env.rest.request<KIngress>('POST', ingressPath(ns), {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: ns,
      annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS },
      ...(labels ? { labels } : {}),
    },
    spec: s,
  });
}

export async function getIngress(env: Env, name: string, ns = TEST_NAMESPACE): Promise<KIngress> {
  return env.rest.get<KIngress>(ingressPath(ns, name));
}

/** Polls (every 200 ms, bounded) until the KIngress is Ready for its current generation. */
export async function waitReady(
  env: Env,
  name: string,
  ns = TEST_NAMESPACE,
  timeoutMs = 60_000,
): Promise<KIngress> {
  const deadline = Date.now() + timeoutMs;
  let last: KIngress | undefined;
  while (Date.now() < deadline) {
    last = await getIngress(env, name, ns);
    if (isReady(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`KIngress ${ns}/${name} not ready after ${timeoutMs} ms: ${JSON.stringify(last?.status)}`);
}

/**
 * Polls (every 200 ms, bounded) until the KIngress's Ready condition has `reason` for its current
 * generation; returns the KIngress.
 */
export async function waitReason(
  env: Env,
  name: string,
  reason: string,
  ns = TEST_NAMESPACE,
  timeoutMs = 30_000,
): Promise<KIngress> {
  const deadline = Date.now() + timeoutMs;
  let last: KIngress | undefined;
  while (Date.now() < deadline) {
    last = await getIngress(env, name, ns);
    const ready = last.status?.conditions?.find((c) => c.type === 'Ready');
    if (last.status?.observedGeneration === last.metadata.generation && ready?.reason === reason) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `KIngress ${ns}/${name}: no Ready reason ${reason} after ${timeoutMs} ms: ${JSON.stringify(last?.status)}`,
  );
}

/** Polls (every 200 ms, bounded) until the KnativeGateway's Ready condition is True. */
export async function waitGatewayReady(env: Env, name: string, timeoutMs = 60_000): Promise<KnativeGateway> {
  const deadline = Date.now() + timeoutMs;
  let last: KnativeGateway | undefined;
  while (Date.now() < deadline) {
    last = await env.rest.get<KnativeGateway>(`/apis/operator.kgw.dev/v1alpha1/knativegateways/${name}`);
    if (last.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `KnativeGateway ${name} not Ready after ${timeoutMs} ms: ${JSON.stringify(last?.status?.conditions)}`,
  );
}

/** Resolves a `domainInternal` (svc.ns.svc.<domain>) to an endpoint address and target port. */
export async function resolveGateway(
  env: Env,
  domainInternal: string,
  servicePort = 80,
): Promise<{ address: string; port: number }> {
  const [svc, ns] = domainInternal.split('.');
  const service = await env.rest.get<{
    spec: { ports: { name?: string; port: number; targetPort: number }[] };
  }>(`/api/v1/namespaces/${ns}/services/${svc}`);
  const sp = service.spec.ports.find((p) => p.port === servicePort);
  if (!sp) throw new Error(`${domainInternal} has no port ${servicePort}`);
  const slices = await env.rest.get<{
    items: { endpoints?: { addresses: string[] }[]; ports?: { name?: string; port: number }[] }[];
  }>(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    labelSelector: `kubernetes.io/service-name=${svc}`,
  });
  for (const s of slices.items) {
    const p = s.ports?.find((x) => x.name === sp.name);
    const a = s.endpoints?.[0]?.addresses[0];
    if (p && a) return { address: a, port: p.port };
  }
  throw new Error(`${domainInternal} has no ready endpoints`);
}

export async function publicGateway(env: Env, ing: KIngress, servicePort = 80) {
  const d = ing.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal;
  if (!d) throw new Error('no public domainInternal in status');
  return resolveGateway(env, d, servicePort);
}

export async function privateGateway(env: Env, ing: KIngress, servicePort = 80) {
  const d = ing.status?.privateLoadBalancer?.ingress?.[0]?.domainInternal;
  if (!d) throw new Error('no private domainInternal in status');
  return resolveGateway(env, d, servicePort);
}
