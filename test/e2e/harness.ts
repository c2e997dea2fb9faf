// End-to-end harness: a real kube-apiserver + etcd, Knative and kgw CRDs, a local network, the
// kgw operator with real Envoy fleets, real backends in their own network namespaces, and a
// KnativeGateway. Used by every test in test/e2e (`npm run demo` runs the operator's CLI instead:
// demo.ts; what both need is in test/env and test/backends).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { withDefaults } from '../../operator/translate/defaults.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
  type KIngress,
} from '../../operator/api/kingress.ts';
import { readSavedReplicas, type SavedReplica } from '../../operator/fleets/local.ts';
import { LocalNetwork } from '../../operator/fleets/network.ts';
import { ensureNamespace } from '../../operator/fleets/publish.ts';
import { sampleKnativeGateway } from '../../operator/gen/sample.ts';
import type { RoutePolicy } from '../../operator/api/routepolicy.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { newLogger, type Logger } from '../../operator/log.ts';
import { startOperator, type OperatorOptions, type RunningOperator } from '../../operator/run.ts';
import { startPodBackend, type PodBackend, type PodBackendSpec } from '../backends/pod-backend.ts';
import { startControlPlane, type ControlPlane } from '../env/control-plane.ts';
import {
  createKgwIngress,
  getIngress as getKgwIngress,
  ingressPath,
  waitIngressReady,
  waitIngressReason,
} from '../env/kingress.ts';
import { startApiProxy, type ApiProxy } from '../env/api-proxy.ts';
import { applyManifests } from '../env/manifests.ts';
import { envoyBin } from '../env/paths.ts';
import { waitUntil } from '../env/proc.ts';
import { Teardown } from '../env/teardown.ts';
import type { ScrapeJob } from '../env/prometheus.ts';
import { knativeGatewayCrd } from '../../operator/gen/knativegateway-crd.ts';
import { routePolicyCrd } from '../../operator/gen/routepolicy-crd.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';

export { ensureNamespace, ingressPath };
export { privateGateway, publicGateway, resolveGateway, waitGatewayReady } from '../env/kingress.ts';

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

/**
 * The product's sample gateway (crds/samples/knativegateway.yaml, from operator/gen/sample.ts) with
 * two replicas in its public fleet: the tests see traffic, metrics and status over more than one.
 */
export const sampleGateway: KnativeGateway = ((g) => ({
  ...g,
  spec: {
    ...g.spec,
    fleets: g.spec.fleets.map((f) => (f.visibility === 'ExternalIP' ? { ...f, replicas: 2 } : f)),
  },
}))(sampleKnativeGateway());

/** sampleGateway with every fleet's stats listener on (fleets[].metrics; its default port when absent). */
export function gatewayWithMetrics(port?: number): KnativeGateway {
  const metrics = { enabled: true, ...(port !== undefined ? { port } : {}) };
  return {
    ...sampleGateway,
    spec: { ...sampleGateway.spec, fleets: sampleGateway.spec.fleets.map((f) => ({ ...f, metrics })) },
  };
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
  gateway: { spec: { fleets: { name: string; visibility?: string }[] } } = sampleGateway,
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

/** Starts it all; a failure halfway stops what was started and rethrows. */
export async function startEnv(opts: EnvOptions = {}): Promise<Env> {
  const teardown = new Teardown();
  try {
    return await startParts(opts, teardown);
  } catch (err) {
    await teardown.run();
    throw err;
  }
}

async function startParts(opts: EnvOptions, teardown: Teardown): Promise<Env> {
  const log = opts.log ?? newLogger('e2e');
  const workDir = mkdtempSync(join(tmpdir(), 'kgw-e2e-'));
  teardown.add('work dir', () => rmSync(workDir, { recursive: true, force: true }));
  const cp = await startControlPlane({ log });
  teardown.add('control plane', () => cp.stop());
  const kc = cp.kubeConfig();
  const rest = new KubeRest(kc);
  await applyManifests(kc, [join(root, 'test/env/crds/knative'), knativeGatewayCrd(), routePolicyCrd()]);
  await ensureNamespace(rest, TEST_NAMESPACE);
  const network = await LocalNetwork.create();
  teardown.add('network', () => network.destroy());
  await applyManifests(kc, [opts.gateway ?? sampleGateway]);
  // Every e2e test (the conformance behaviours included) runs with RoutePolicies in force on
  // another namespace's hosts: their filters sit in every listener and route table.
  await applyManifests(kc, bystanderPolicyObjects());
  const proxy = opts.apiProxy ? await startApiProxy(cp) : undefined;
  if (proxy) teardown.add('API proxy', () => proxy.stop());
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
      const failures = await teardown.run();
      if (failures.length > 0) throw new Error(`stopping the e2e environment: ${failures.join('; ')}`);
    },
  };
  teardown.add('operator', () => env.operator.stop()); // the current one: restartOperator replaces it
  return env;
}

/** Polls `check` every 200 ms for at most `ms` until it returns a value (waitUntil, test/env/proc.ts). */
export const until = <T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> =>
  waitUntil(what, check, { timeoutMs: ms, intervalMs: 200 });

/** What a RoutePolicy's conditions must say (undefined: anything). */
export interface PolicyWant {
  Accepted?: string;
  Programmed?: string;
  /** The Accepted condition's reason. */
  reason?: string;
}

/** Polls (every 200 ms, at most `timeoutMs`) until the RoutePolicy's status at its generation matches. */
export async function waitRoutePolicy(
  kube: { rest: KubeRest },
  namespace: string,
  name: string,
  want: PolicyWant,
  timeoutMs = 30_000,
): Promise<RoutePolicy> {
  let last: RoutePolicy | undefined;
  const path = `/apis/policy.kgw.dev/v1alpha1/namespaces/${namespace}/routepolicies/${name}`;
  try {
    return await until(`RoutePolicy ${namespace}/${name} ${JSON.stringify(want)}`, timeoutMs, async () => {
      const p = await kube.rest.get<RoutePolicy>(path);
      last = p;
      const c = (t: string) => p.status?.conditions?.find((x) => x.type === t);
      const ok =
        p.status?.observedGeneration === p.metadata.generation &&
        (want.Accepted === undefined || c('Accepted')?.status === want.Accepted) &&
        (want.Programmed === undefined || c('Programmed')?.status === want.Programmed) &&
        (want.reason === undefined || c('Accepted')?.reason === want.reason);
      return ok ? p : undefined;
    });
  } catch (err) {
    throw new Error(`${String(err)}; last status: ${JSON.stringify(last?.status)}`);
  }
}

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

export type TestBackend = PodBackend;
export type BackendSpec = Omit<PodBackendSpec, 'namespace'> & { namespace?: string };

/** A backend process in its own pod plus a Service and EndpointSlice (namespace default: TEST_NAMESPACE). */
export function startTestBackend(env: Env, spec: BackendSpec): Promise<TestBackend> {
  return startPodBackend(env, { ...spec, namespace: spec.namespace ?? TEST_NAMESPACE });
}

/** Creates a KIngress of kgw's class the way Knative's conformance does (defaults, httpOption). */
export function createIngress(
  env: Env,
  name: string,
  spec: IngressSpec,
  ns = TEST_NAMESPACE,
  labels?: Record<string, string>,
): Promise<KIngress> {
  return createKgwIngress(env, name, spec, ns, labels);
}

export function getIngress(env: Env, name: string, ns = TEST_NAMESPACE): Promise<KIngress> {
  return getKgwIngress(env, name, ns);
}

/** Polls (every 200 ms, bounded) until the KIngress is Ready for its current generation. */
export function waitReady(
  env: Env,
  name: string,
  ns = TEST_NAMESPACE,
  timeoutMs?: number,
): Promise<KIngress> {
  return waitIngressReady(env, name, ns, timeoutMs);
}

/**
 * Polls (every 200 ms, bounded) until the KIngress's Ready condition has `reason` for its current
 * generation; returns the KIngress.
 */
export function waitReason(
  env: Env,
  name: string,
  reason: string,
  ns = TEST_NAMESPACE,
  timeoutMs?: number,
): Promise<KIngress> {
  return waitIngressReason(env, name, reason, ns, timeoutMs);
}
