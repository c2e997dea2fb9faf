// Canonical JSON (object keys sorted at every level) for comparing what kgw wants with what the
// API server returns (which re-orders keys), and a short digest of it.
import { createHash } from 'node:crypto';

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => [k, sortKeys(o[k])]),
  );
}

export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

/** First 12 hex digits of the SHA-256 of `s`. */
export function shortDigest(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}
