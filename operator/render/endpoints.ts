// EndpointSlices of a Service → Envoy ClusterLoadAssignment for one EDS cluster. Ready (or
// ready-unknown) addresses only; the port is the slice port named like the Service port, else the
// Service's numeric targetPort.
import type { EndpointSlice } from '../api/core.ts';
import type { ClusterIR } from '../translate/ir.ts';
import type { Json } from './types.ts';

export function endpointAddresses(
  slices: EndpointSlice[],
  c: ClusterIR,
): { address: string; port: number }[] {
  const sel = c.endpoints?.port;
  if (!sel) return [];
  const out: { address: string; port: number }[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const named = (slice.ports ?? []).find((p) => (p.name ?? '') === sel.name);
    const port = named?.port ?? sel.targetPort;
    if (!port) continue;
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const k = `${address}:${port}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ address, port });
      }
    }
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}

export function renderLoadAssignment(clusterName: string, addrs: { address: string; port: number }[]): Json {
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
