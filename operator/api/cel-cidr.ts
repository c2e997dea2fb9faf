// CEL's isCIDR(string) as the Kubernetes API server evaluates it, in TypeScript: the equal of a
// schema's `isCIDR(self)` rule (api/schema-builders.ts, `cel`) for callers that do not go through
// the API server. gen/routepolicy-crd.apiserver.test.ts checks it against a real one.
import { isIPv4, isIPv6 } from 'node:net';

/**
 * What CEL's isCIDR accepts (Go's netip.ParsePrefix: an IPv4 or IPv6 address without a zone and a
 * prefix length within its bits; Kubernetes refuses IPv4-mapped IPv6 addresses).
 */
export function isCidr(s: string): boolean {
  const m = /^([^/%]+)\/(0|[1-9][0-9]{0,2})$/.exec(s);
  if (m === null) return false;
  const [, address = '', bits = ''] = m;
  const max = isIPv4(address) ? 32 : isIPv6(address) && !isIPv4Mapped(address) ? 128 : -1;
  return Number(bits) <= max;
}

/** `::ffff:a.b.c.d` in any spelling (the URL parser writes an IPv6 address in its canonical form). */
function isIPv4Mapped(ipv6: string): boolean {
  try {
    return /^\[::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}\]$/.test(new URL(`http://[${ipv6}]/`).hostname);
  } catch {
    return false;
  }
}
