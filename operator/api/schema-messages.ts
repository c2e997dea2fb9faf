// ajv's errors as kgw's messages: `<field path>: <what is wrong>`, naming the limits and the value
// in the words the operator and the admission webhook have always used ("must be between 1 and
// 100, is 0"). The schema is the one the CRD is generated from (api/schema-builders.ts).
import type { ErrorObject } from 'ajv';
import { fieldPath } from './schema-check.ts';
import { PATTERN_MESSAGE, type PatternMessage } from './schema-builders.ts';

/** The schema node an error is about (ajv's `verbose` option). */
type Node = Record<string | symbol, unknown>;

const TYPE_NAMES: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  string: 'a string',
  object: 'an object',
  array: 'a list',
};

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** "must be a number from 0 to 100" for a number with both bounds. */
function numberRange(s: Node): string | undefined {
  const min = num(s.minimum);
  const max = num(s.maximum);
  return s.type === 'number' && min !== undefined && max !== undefined
    ? `must be a number from ${min} to ${max}`
    : undefined;
}

function bounds(s: Node, data: unknown): string {
  const min = num(s.minimum);
  const max = num(s.maximum);
  const is = `, is ${JSON.stringify(data)}`;
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max}${is}`;
  return min !== undefined ? `must be at least ${min}${is}` : `must be at most ${String(max)}${is}`;
}

function items(s: Node, data: unknown): string {
  const min = num(s.minItems);
  const max = num(s.maxItems);
  const n = Array.isArray(data) ? data.length : 0;
  if (min !== undefined && max !== undefined) return `must have ${min} to ${max} items, has ${n}`;
  return min !== undefined ? `must have at least ${min} items` : `must have at most ${String(max)} items`;
}

function what(e: ErrorObject, patterns: ReadonlyMap<string, PatternMessage>): string {
  const s = (e.parentSchema ?? {}) as Node;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return numberRange(s) ?? `must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}`;
    case 'anyOf':
      return s['x-kubernetes-int-or-string'] === true
        ? 'must be an integer or a string'
        : (e.message ?? 'anyOf');
    case 'minimum':
    case 'maximum':
      return numberRange(s) ?? bounds(s, e.data);
    case 'minItems':
    case 'maxItems':
      return items(s, e.data);
    case 'minLength':
      return params.limit === 1
        ? 'must be a non-empty string'
        : `must be at least ${String(params.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(params.limit)} characters`;
    case 'maxProperties':
      return `must have at most ${String(params.limit)} entries`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'pattern': {
      const v = String(e.data);
      const own = s[PATTERN_MESSAGE] as PatternMessage | undefined;
      const byPattern = patterns.get(String(params.pattern));
      return (own ?? byPattern)?.(v) ?? `${JSON.stringify(v)} must match ${String(params.pattern)}`;
    }
    default:
      return e.message ?? e.keyword;
  }
}

/**
 * One message per problem, each starting with the field path under `root`. `patterns` words the
 * pattern mismatches a node does not word itself (PATTERN_MESSAGE).
 */
export function schemaMessages(
  errors: readonly ErrorObject[],
  root: string,
  patterns: ReadonlyMap<string, PatternMessage>,
): string[] {
  const out: string[] = [];
  for (const e of errors) {
    // The branches of an int-or-string: the anyOf error itself says it.
    if (e.schemaPath.includes('/anyOf/')) continue;
    if (e.keyword === 'required') {
      const missing = String((e.params as { missingProperty: unknown }).missingProperty);
      out.push(`${fieldPath(root, `${e.instancePath}/${missing}`)}: required`);
    } else {
      out.push(`${fieldPath(root, e.instancePath)}: ${what(e, patterns)}`);
    }
  }
  return [...new Set(out)];
}

/** Errors after which the CEL rules on the value (and its parents) cannot be evaluated. */
export function isBlocking(e: ErrorObject): boolean {
  return e.keyword === 'type' || e.keyword === 'required' || e.keyword === 'anyOf';
}
