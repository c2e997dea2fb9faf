// Fault injection for NACKs. kgw refuses at translation everything it knows Envoy would reject, so
// tests that need Envoy to reject a configuration start the operator with this snapshot filter
// (OperatorOptions.snapshotFilter): route tables that carry the header value POISON get a copy in
// which it is replaced by a value over Envoy's 16 KiB header limit, which the real Envoy refuses.
import type { SnapshotInput } from '../../operator/xds/cache.ts';
import { TYPE_ROUTE } from '../../operator/xds/protos.ts';

/** A header value kgw accepts and the filter below makes Envoy reject. */
export const POISON = 'kgw-test-nack-poison';
const OVERSIZED = 'x'.repeat(20_000);

/** Route tables that carry POISON get a copy with the oversized value instead (never mutated). */
export function poison(_fleet: string, resources: SnapshotInput): SnapshotInput {
  const routes = resources[TYPE_ROUTE];
  if (!routes) return resources;
  const out = new Map<string, object>();
  for (const [name, r] of routes) {
    const json = JSON.stringify(r);
    out.set(name, json.includes(POISON) ? (JSON.parse(json.replaceAll(POISON, OVERSIZED)) as object) : r);
  }
  return { ...resources, [TYPE_ROUTE]: out };
}
