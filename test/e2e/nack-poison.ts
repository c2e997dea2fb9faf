// Fault injection for NACKs. kgw refuses at translation everything it knows Envoy would reject, so
// tests that need Envoy to reject a configuration start the operator with this snapshot filter
// (OperatorOptions.snapshotFilter): route tables, and scoped route configurations (delta fleets
// send each host's routes as a scope), that carry the header value POISON get a copy in which it is
// replaced by a value over Envoy's 16 KiB header limit, which the real Envoy refuses.
import type { SnapshotInput } from '../../operator/xds/cache.ts';
import { TYPE_ROUTE, TYPE_SCOPED_ROUTE, type TypeUrl } from '../../operator/xds/protos.ts';

/** A header value kgw accepts and the filter below makes Envoy reject. */
export const POISON = 'kgw-test-nack-poison';
const OVERSIZED = 'x'.repeat(20_000);

/** Route tables and scopes that carry POISON get a copy with the oversized value (never mutated). */
export function poison(_fleet: string, resources: SnapshotInput): SnapshotInput {
  const out: SnapshotInput = { ...resources };
  for (const t of [TYPE_ROUTE, TYPE_SCOPED_ROUTE] as TypeUrl[]) {
    const given = resources[t];
    if (!given) continue;
    const copy = new Map<string, object>();
    for (const [name, r] of given) {
      const json = JSON.stringify(r);
      copy.set(name, json.includes(POISON) ? (JSON.parse(json.replaceAll(POISON, OVERSIZED)) as object) : r);
    }
    out[t] = copy;
  }
  return out;
}
