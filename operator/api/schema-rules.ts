// The CEL rules of a TypeBox API schema (x-kubernetes-validations), evaluated in TypeScript for
// callers that do not go through the API server (the local runtime, the operator reading stored
// objects, tests). Each rule carries its TypeScript equal (api/schema-builders.ts, `cel`), so the
// rule, its message and its check are written once, side by side; gen/*.apiserver.test.ts checks
// the CEL against a real API server and the TypeScript against the same cases.
import type { TSchema } from '@sinclair/typebox';
import { CEL_CHECK, type CelRule } from './schema-builders.ts';

interface Node {
  properties?: Record<string, Node>;
  items?: Node;
  additionalProperties?: Node | boolean;
  'x-kubernetes-validations'?: CelRule[];
}

/** A key as a JSON pointer token (ajv's instancePath). */
function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `<path><rule's fieldPath>: <message>` for each rule `value` breaks (the path the API server
 * reports too). Rules are not evaluated on a node at or under which `blocked` has a JSON pointer
 * (a value of the wrong type, a missing required field): the API server does not evaluate them
 * then either, and the checks assume the schema's types.
 */
export function ruleProblems(
  schema: TSchema,
  value: unknown,
  root: string,
  blocked: readonly string[] = [],
): string[] {
  const out: string[] = [];
  const walk = (s: Node, v: unknown, path: string, pointer: string): void => {
    if (v === undefined) return;
    const isBlocked = blocked.some((b) => b === pointer || b.startsWith(`${pointer}/`));
    if (!isBlocked) {
      for (const r of s['x-kubernetes-validations'] ?? []) {
        const check = r[CEL_CHECK] as ((self: unknown) => boolean) | undefined;
        if (check !== undefined && !check(v)) out.push(`${path}${r.fieldPath ?? ''}: ${r.message}`);
      }
    }
    if (isObject(v)) {
      for (const [k, p] of Object.entries(s.properties ?? {}))
        walk(p, v[k], `${path}.${k}`, `${pointer}/${escape(k)}`);
      const values = s.additionalProperties;
      if (typeof values === 'object') {
        for (const [k, x] of Object.entries(v)) walk(values, x, `${path}.${k}`, `${pointer}/${escape(k)}`);
      }
    }
    if (Array.isArray(v) && s.items !== undefined) {
      const item = s.items;
      v.forEach((x, i) => walk(item, x, `${path}[${i}]`, `${pointer}/${i}`));
    }
  };
  walk(schema as Node, value, root, '');
  return out;
}
