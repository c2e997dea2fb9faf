// The rate-limit service of a fleet whose RoutePolicy rate limits are Global, as an EDS cluster
// (render/global-rate-limit.ts renders what uses it): the admin's Service reference resolved
// against the Service object, like a KIngress backend's port.
import type { Service } from '../api/core.ts';
import type { ClusterIR } from './ir.ts';

/** The fleet's cluster of the rate-limit service (KIngress clusters are `<ns>/<svc>:<port>`: no clash). */
export const RATE_LIMIT_CLUSTER = 'kgw-ratelimit';

/**
 * The EDS cluster (HTTP/2) of the rate-limit Service's ready endpoints. The Service port is looked
 * up by number to find the endpoint port (by the port's name in the EndpointSlices, else its
 * numeric targetPort); an unknown Service or port gives the port itself as the target port.
 */
export function rateLimitServiceCluster(
  ref: { name: string; namespace: string; port: number },
  service: Service | undefined,
): ClusterIR {
  const ports = Array.isArray(service?.spec?.ports) ? service.spec.ports : [];
  const p = ports.find((x) => typeof x === 'object' && x !== null && x.port === ref.port);
  const name = typeof p?.name === 'string' ? p.name : '';
  const targetPort =
    p === undefined
      ? ref.port
      : typeof p.targetPort === 'number'
        ? p.targetPort
        : p.targetPort
          ? undefined
          : p.port;
  return {
    name: RATE_LIMIT_CLUSTER,
    kind: 'eds',
    http2: true,
    endpoints: {
      namespace: ref.namespace,
      service: ref.name,
      port: { name, ...(targetPort !== undefined ? { targetPort } : {}) },
    },
  };
}
