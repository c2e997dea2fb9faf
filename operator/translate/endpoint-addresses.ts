// EndpointSlices of a Service → the endpoints of one EDS cluster. Ready (or ready-unknown)
// addresses only; the port is the slice port named like the Service port, else the Service's
// numeric targetPort.
//
// Slices of a selector-less Service are written by whoever owns its namespace, so every value is
// checked: an address must be an IP of the slice's family and not loopback, link-local (cloud
// metadata lives at 169.254.169.254), unspecified or multicast, and the port an integer from 1 to
// 65535. Anything else is skipped: Envoy would reject the whole EDS update for it, or connect to
// itself or to the node.
import { isIPv4, isIPv6 } from 'node:net';
import type { EndpointSlice } from '../api/core.ts';
import type { ClusterIR, EndpointIR } from './ir.ts';

/** Whether an EndpointSlice address may be an upstream (see the header). */
export function usableAddress(address: unknown, family: 'IPv4' | 'IPv6'): address is string {
  if (typeof address !== 'string') return false;
  if (family === 'IPv4') {
    if (!isIPv4(address)) return false;
    const [a = 0, b = 0] = address.split('.').map(Number);
    // 0/8 unspecified, 127/8 loopback, 169.254/16 link-local, 224/4 multicast and 240/4 reserved
    return !(a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224);
  }
  if (!isIPv6(address)) return false;
  const a = address.toLowerCase();
  if (a === '::' || a === '::1') return false;
  if (/^fe[89ab]/.test(a) || a.startsWith('ff')) return false; // link-local, multicast
  // IPv4-mapped addresses are judged as the IPv4 address they carry
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped?.[1] === undefined || usableAddress(mapped[1], 'IPv4');
}

function usablePort(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;
}

export function endpointAddresses(slices: EndpointSlice[], c: ClusterIR): EndpointIR[] {
  const sel = c.endpoints?.port;
  if (!sel) return [];
  const out: EndpointIR[] = [];
  const seen = new Set<string>();
  for (const slice of slices) {
    const family = slice.addressType;
    if (family !== 'IPv4' && family !== 'IPv6') continue;
    const ports = Array.isArray(slice.ports) ? slice.ports : [];
    const named = ports.find((p) => typeof p === 'object' && p !== null && (p.name ?? '') === sel.name);
    const port = named?.port ?? sel.targetPort;
    if (!usablePort(port)) continue;
    for (const ep of Array.isArray(slice.endpoints) ? slice.endpoints : []) {
      if (typeof ep !== 'object' || ep === null || ep.conditions?.ready === false) continue;
      for (const address of Array.isArray(ep.addresses) ? ep.addresses : []) {
        if (!usableAddress(address, family)) continue;
        const k = `${address}:${port}`;
        if (seen.has(k)) continue;
        seen.add(k);
        out.push({ address, port });
      }
    }
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
}
