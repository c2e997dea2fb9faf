// Limits Envoy enforces on what kgw sends it (its proto validation rules, envoy/config/route/v3 and
// envoy/config/core/v3/base.proto, Envoy 1.40), and how kgw writes values Envoy would otherwise
// interpret. translate/parse.ts checks KIngresses against them, render escapes with them; one place,
// so the checks and the rendering cannot drift apart.

export const ENVOY_LIMITS = {
  /** HeaderValue.key and HeaderMatcher.name: max_bytes 16384. */
  headerNameBytes: 16384,
  /** HeaderValue.value: max_bytes 16384 (counted after `%` is escaped as `%%`). */
  headerValueBytes: 16384,
  /** request_headers_to_add on a route or weighted cluster: max_items 1000. */
  headersToAdd: 1000,
  /** kgw's own bound on exact header matches per path (Envoy has none; each costs per request). */
  headerMatches: 100,
  /** A DNS name (hosts, rewriteHost). */
  hostBytes: 253,
  /** kgw's own bound on a path prefix (Envoy has none; Knative paths are short). */
  pathBytes: 2048,
} as const;

/**
 * A header value as Envoy must receive it to add it literally: Envoy reads request_headers_to_add
 * values as format strings, where `%DOWNSTREAM_REMOTE_ADDRESS%` would be evaluated and a lone `%`
 * (as in `100%`) rejected. `%%` is a literal `%`.
 */
export function escapeHeaderValue(value: string): string {
  return value.replaceAll('%', '%%');
}

/** Bytes of a header value once escaped (what Envoy's 16 KiB limit counts). */
export function escapedHeaderValueBytes(value: string): number {
  return Buffer.byteLength(escapeHeaderValue(value));
}
