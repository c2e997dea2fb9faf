// KIngresses and KnativeGateways over the Kubernetes API, as Knative and an admin meet them: create
// a KIngress of kgw's class, wait (polling, bounded) for it or a KnativeGateway to be Ready, and
// find the Envoy address a KIngress's status names. Shared by the e2e harness and `npm run demo`.
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
  type KIngress,
} from '../../operator/api/kingress.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import type { KubeRest } from '../../operator/kube/rest.ts';
import { isReady } from '../../operator/status/conditions.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import { waitUntil } from './proc.ts';

/** Whatever reaches the API server: the e2e Env, the demo's own objects. */
export interface KubeAccess {
  rest: KubeRest;
}

const POLL_MS = 200;

export function ingressPath(ns: string, name = ''): string {
  return `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses${name ? `/${name}` : ''}`;
}

/** Creates a KIngress of kgw's class the way Knative's conformance does (defaults, httpOption). */
export async function createKgwIngress(
  kube: KubeAccess,
  name: string,
  spec: IngressSpec,
  ns: string,
  labels?: Record<string, string>,
): Promise<KIngress> {
  const s = withDefaults(spec);
  if (!s.httpOption) s.httpOption = 'Enabled';
  return kube.rest.request<KIngress>('POST', ingressPath(ns), {
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

export function getIngress(kube: KubeAccess, name: string, ns: string): Promise<KIngress> {
  return kube.rest.get<KIngress>(ingressPath(ns, name));
}

/**
 * Polls (every 200 ms, at most `timeoutMs`) until `get` returns an object `done` accepts; the
 * error names `what` and the last object's status.
 */
async function pollStatus<T extends { status?: unknown }>(
  what: string,
  timeoutMs: number,
  get: () => Promise<T>,
  done: (obj: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await get();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`${what} after ${timeoutMs} ms: ${JSON.stringify(last?.status)}`);
}

/** Polls (every 200 ms, bounded) until the KIngress is Ready for its current generation. */
export function waitIngressReady(
  kube: KubeAccess,
  name: string,
  ns: string,
  timeoutMs = 60_000,
): Promise<KIngress> {
  return pollStatus(`KIngress ${ns}/${name} not ready`, timeoutMs, () => getIngress(kube, name, ns), isReady);
}

/**
 * Polls (every 200 ms, bounded) until the KIngress's Ready condition has `reason` for its current
 * generation; returns the KIngress.
 */
export function waitIngressReason(
  kube: KubeAccess,
  name: string,
  reason: string,
  ns: string,
  timeoutMs = 30_000,
): Promise<KIngress> {
  return pollStatus(
    `KIngress ${ns}/${name}: no Ready reason ${reason}`,
    timeoutMs,
    () => getIngress(kube, name, ns),
    (ing) =>
      ing.status?.observedGeneration === ing.metadata.generation &&
      ing.status?.conditions?.find((c) => c.type === 'Ready')?.reason === reason,
  );
}

/** Polls (every 200 ms, bounded) until the KnativeGateway's Ready condition is True. */
export function waitGatewayReady(
  kube: KubeAccess,
  name: string,
  timeoutMs = 60_000,
): Promise<KnativeGateway> {
  return pollStatus(
    `KnativeGateway ${name} not Ready`,
    timeoutMs,
    () => kube.rest.get<KnativeGateway>(`/apis/operator.kgw.dev/v1alpha1/knativegateways/${name}`),
    (g) => g.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
  );
}

/**
 * Resolves a `domainInternal` (svc.ns.svc.<domain>) to an endpoint address and target port. The
 * fleet's EndpointSlice is written on its own (by the local runtime, or by Kubernetes from Pod
 * readiness), so it may trail the KIngress's Ready by a moment: polled every 200 ms, at most
 * `timeoutMs` (a loaded CI once resolved too early).
 */
export async function resolveGateway(
  kube: KubeAccess,
  domainInternal: string,
  servicePort = 80,
  timeoutMs = 30_000,
): Promise<{ address: string; port: number }> {
  const [svc, ns] = domainInternal.split('.');
  const service = await kube.rest.get<{
    spec: { ports: { name?: string; port: number; targetPort: number }[] };
  }>(`/api/v1/namespaces/${ns}/services/${svc}`);
  const sp = service.spec.ports.find((p) => p.port === servicePort);
  if (!sp) throw new Error(`${domainInternal} has no port ${servicePort}`);
  return waitUntil(
    `ready endpoints of ${domainInternal}`,
    async () => {
      const slices = await kube.rest.get<{
        items: { endpoints?: { addresses: string[] }[]; ports?: { name?: string; port: number }[] }[];
      }>(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
        labelSelector: `kubernetes.io/service-name=${svc}`,
      });
      for (const s of slices.items) {
        const p = s.ports?.find((x) => x.name === sp.name);
        const a = s.endpoints?.[0]?.addresses[0];
        if (p && a) return { address: a, port: p.port };
      }
      return undefined;
    },
    { timeoutMs, intervalMs: POLL_MS, retryIf: () => false },
  );
}

/** The Envoy address and port of the public fleet the KIngress's status names. */
export async function publicGateway(kube: KubeAccess, ing: KIngress, servicePort = 80) {
  const d = ing.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal;
  if (!d) throw new Error('no public domainInternal in status');
  return resolveGateway(kube, d, servicePort);
}

/** The Envoy address and port of the cluster-local fleet the KIngress's status names. */
export async function privateGateway(kube: KubeAccess, ing: KIngress, servicePort = 80) {
  const d = ing.status?.privateLoadBalancer?.ingress?.[0]?.domainInternal;
  if (!d) throw new Error('no private domainInternal in status');
  return resolveGateway(kube, d, servicePort);
}
