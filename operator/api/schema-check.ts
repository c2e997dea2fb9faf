// Runtime validation of objects against kgw's TypeBox API schemas with ajv: the same schema the CRD
// is generated from, so what the operator accepts is what the API server would have. The API
// server's CEL rules (x-kubernetes-validations) are not evaluated here (the API server enforces
// them on every write and gen/*.apiserver.test.ts tests them against a real one); the
// x-kubernetes-* keywords are accepted as annotations.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { TSchema } from '@sinclair/typebox';

// verbose: errors carry the schema node and the value (kgw's messages name limits and values).
// strictTypes off: a Kubernetes int-or-string node puts string constraints (pattern, maxLength)
// beside an anyOf of integer and string, which the API server allows and ajv's strict types do not.
const ajv = new Ajv({
  allErrors: true,
  strict: true,
  strictTypes: false,
  useDefaults: true,
  messages: true,
  verbose: true,
});
for (const keyword of [
  'x-kubernetes-validations',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
]) {
  ajv.addKeyword(keyword);
}
// Kubernetes' formats: date-time is checked by the API server; accepted here as written.
ajv.addFormat('date-time', true);
ajv.addFormat('int32', true);
ajv.addFormat('int64', true);
ajv.addFormat('double', true);

const compiled = new WeakMap<TSchema, ValidateFunction>();

/** `/spec/targetRefs/0/name` under `root` → `spec.targetRefs[0].name`. */
export function fieldPath(root: string, instancePath: string): string {
  let out = root;
  for (const part of instancePath.split('/').slice(1)) {
    const p = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  }
  return out === '' ? '<root>' : out;
}

function describe(root: string, e: ErrorObject): string {
  const at = fieldPath(root, e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${fieldPath(root, `${e.instancePath}/${String(params.missingProperty)}`)}: required`;
    case 'additionalProperties':
      return `${fieldPath(root, `${e.instancePath}/${String(params.additionalProperty)}`)}: unknown field`;
    case 'enum':
      return `${at}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
      return `${at}: must match ${String(params.pattern)}`;
    default:
      return `${at}: ${e.message ?? e.keyword}`;
  }
}

/**
 * Checks `value` against `schema` (filling schema defaults in place) and returns one message per
 * problem, each starting with the field path under `root` (e.g. `spec`); [] when valid.
 */
export function schemaProblems(schema: TSchema, value: unknown, root: string): string[] {
  return [...new Set(schemaErrors(schema, value).map((e) => describe(root, e)))];
}

/** ajv's errors for `value` against `schema` (filling schema defaults in place); [] when valid. */
export function schemaErrors(schema: TSchema, value: unknown): ErrorObject[] {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate(value) ? [] : [...(validate.errors ?? [])];
}
