// Publishes a fleet to the API server the way a cluster would see it: a selector-less Service
// `kgw-<gateway>-<fleet>` with ports http/https, and an EndpointSlice listing the ready replicas.
// Objects are labelled managed-by kgw; an existing object without that label is never changed.
import { fleetLabels, LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../api/knativegateway.ts';
import type { Logger } from '../log.ts';
import { ApiError, getIfExists, type KubeRest } from '../kube/rest.ts';
import type { FleetDef, Replica } from './runtime.ts';

export class NotOwnedError extends Error {}

function labels(def: FleetDef): Record<string, string> {
  return fleetLabels(def.gateway, def.name);
}

async function apply(rest: KubeRest, path: string, obj: Record<string, unknown>): Promise<void> {
  const existing = await getIfExists<{ metadata: { labels?: Record<string, string> } }>(rest, path);
  if (existing && existing.metadata.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
    throw new NotOwnedError(`${path} exists and is not managed by kgw; refusing to change it`);
  }
  await rest.request('PATCH', path, obj, 'application/apply-patch+yaml', {
    fieldManager: 'kgw',
    force: true,
  });
}

export async function ensureNamespace(rest: KubeRest, name: string): Promise<void> {
  if (await getIfExists(rest, `/api/v1/namespaces/${name}`)) return;
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

export async function publishFleet(
  rest: KubeRest,
  def: FleetDef,
  replicas: Replica[],
  log: Logger,
): Promise<void> {
  const ns = def.namespace;
  await ensureNamespace(rest, ns);
  await apply(rest, `/api/v1/namespaces/${ns}/services/${def.serviceName}`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: def.serviceName, namespace: ns, labels: labels(def) },
    spec: {
      type: 'ClusterIP',
      ports: [
        { name: 'http', port: def.service.httpPort, targetPort: def.ports.http, protocol: 'TCP' },
        { name: 'https', port: def.service.httpsPort, targetPort: def.ports.https, protocol: 'TCP' },
      ],
    },
  });
  const ready = replicas.filter((r) => r.ready);
  await apply(rest, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${def.serviceName}-kgw`, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${def.serviceName}-kgw`,
      namespace: ns,
      labels: {
        ...labels(def),
        'kubernetes.io/service-name': def.serviceName,
        'endpointslice.kubernetes.io/managed-by': 'kgw.dev',
      },
    },
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: def.ports.http, protocol: 'TCP' },
      { name: 'https', port: def.ports.https, protocol: 'TCP' },
    ],
    endpoints: ready.map((r) => ({
      addresses: [r.address],
      conditions: { ready: true },
      targetRef: undefined,
    })),
  });
  log.debug({ fleet: def.key, ready: ready.length }, 'fleet published');
}
