// The endpoints of one EDS cluster (translate/endpoint-addresses.ts) → Envoy ClusterLoadAssignment.
import type { EndpointIR } from '../translate/ir.ts';
import type { Json } from './types.ts';

export function renderLoadAssignment(clusterName: string, addrs: readonly EndpointIR[]): Json {
  if (addrs.length === 0) return { cluster_name: clusterName };
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        lb_endpoints: addrs.map((a) => ({
          endpoint: { address: { socket_address: { address: a.address, port_value: a.port } } },
        })),
      },
    ],
  };
}
