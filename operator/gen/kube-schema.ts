// TypeBox schemas (api/*) as Kubernetes structural schemas for CRDs. TypeBox schemas are JSON
// Schema; the API server wants a structural subset, and kgw's generated YAML keeps a fixed key
// order so it is stable and reads like the rest of the CRD.
import type { TSchema } from '@sinclair/typebox';
import type { Schema } from './schema.ts';

/**
 * A TypeBox schema as a structural schema: TypeBox's symbol keys dropped (JSON round trip), and
 * `additionalProperties: false` removed from objects with properties (the API server prunes unknown
 * fields instead, and a structural schema may not have both).
 */
export function structural(schema: TSchema): Schema {
  const out = JSON.parse(JSON.stringify(schema)) as Schema;
  const walk = (s: Schema): void => {
    if (s.properties !== undefined && s.additionalProperties === false) delete s.additionalProperties;
    for (const v of Object.values(s.properties ?? {})) walk(v);
    if (s.items !== undefined) walk(s.items);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties);
  };
  walk(out);
  return out;
}

/** Keys that come first, in this order; the others keep the order the schema wrote them in. */
const LEADING_KEYS = ['description', 'type', 'anyOf', 'items', 'properties', 'required'] as const;

/** `schema` with the keys of every node in kgw's order (description, type, shape, then constraints). */
export function ordered(schema: Schema): Schema {
  const out: Record<string, unknown> = {};
  for (const k of LEADING_KEYS) if (schema[k] !== undefined) out[k] = schema[k];
  for (const [k, v] of Object.entries(schema)) if (!(k in out)) out[k] = v;
  const s = out as Schema;
  if (s.properties !== undefined) {
    s.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, ordered(v)]));
  }
  if (s.items !== undefined) s.items = ordered(s.items);
  if (typeof s.additionalProperties === 'object') s.additionalProperties = ordered(s.additionalProperties);
  return s;
}

/** A TypeBox schema as a structural schema in kgw's key order. */
export function kubeSchema(schema: TSchema): Schema {
  return ordered(structural(schema));
}
