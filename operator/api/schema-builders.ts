// TypeBox builders for Kubernetes API schemas: every builder takes the `kubectl explain`
// description first, so no field can be written without one, and constraints in an options
// object. They return TypeBox schemas, so the TypeScript types come from the same definition
// (Static) as the CRD's structural schema (gen/kube-schema.ts) and the runtime validation
// (api/schema-check.ts). Objects list their required fields; every other field is optional.
// Unknown fields are not refused (no additionalProperties: false): the API server prunes them.
import {
  Type,
  type Static,
  type TObject,
  type TOptional,
  type TProperties,
  type TSchema,
  type TUnsafe,
} from '@sinclair/typebox';
import { DNS1123_SUBDOMAIN_PATTERN } from './knativegateway-constants.ts';

/** Whether `o` has a value at `key` (CEL's `has(self.<key>)`, for the TypeScript equals of rules). */
export const has = (o: object, key: string): boolean => (o as Record<string, unknown>)[key] !== undefined;

/** A Kubernetes object name (DNS-1123 subdomain: lower case, at most 253 characters). */
export const dnsName = (description: string) =>
  Type.String({ description, minLength: 1, maxLength: 253, pattern: DNS1123_SUBDOMAIN_PATTERN });

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The TypeScript equal of a CEL rule, for callers that do not go through the API server (see
 * api/schema-rules.ts). Under a symbol key, so it stays out of the generated CRD.
 */
export const CEL_CHECK = Symbol('kgw.celCheck');
/** What kgw says about a string that does not match the node's pattern (not in the CRD either). */
export const PATTERN_MESSAGE = Symbol('kgw.patternMessage');

/** A CEL rule the API server evaluates (x-kubernetes-validations). */
export interface CelRule {
  /** CEL expression evaluated with `self` bound to the node the rule sits on. */
  rule: string;
  message: string;
  /** Where the error is reported, relative to the node (e.g. `.ports`). */
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  /** True when the value the rule sits on passes it (given a value of the schema's types). */
  [CEL_CHECK]?: (self: never) => boolean;
}

interface Common {
  default?: JsonValue;
  validations?: readonly CelRule[];
}

/** Options in the order the keys appear in the generated schema. */
function options(description: string | undefined, o: Record<string, unknown>, c: Common): object {
  const out: Record<string, unknown> = {};
  if (description !== undefined) out.description = description;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  if (c.default !== undefined) out.default = c.default;
  if (c.validations !== undefined && c.validations.length > 0) {
    out['x-kubernetes-validations'] = c.validations.map((r) => ({ ...r }));
  }
  return out;
}

/** A CEL rule and its TypeScript equal `check` (the same condition on the node's value). */
export function cel<S>(
  rule: string,
  message: string,
  check: (self: S) => boolean,
  extra: Pick<CelRule, 'fieldPath' | 'reason'> = {},
): CelRule {
  return { rule, message, ...extra, [CEL_CHECK]: check };
}

/** `(value) => message` for a string that does not match the pattern. */
export type PatternMessage = (value: string) => string;

function withPatternMessage<T extends object>(schema: T, message: PatternMessage | undefined): T {
  if (message !== undefined) Object.assign(schema, { [PATTERN_MESSAGE]: message });
  return schema;
}

export interface StringOptions extends Common {
  pattern?: string;
  /** kgw's message for a value that does not match `pattern` (default: by pattern, api/schema-messages.ts). */
  invalid?: PatternMessage;
  minLength?: number;
  maxLength?: number;
  format?: string;
}

export function Str(description: string, o: StringOptions = {}) {
  return withPatternMessage(
    Type.String(
      options(
        description,
        { format: o.format, pattern: o.pattern, minLength: o.minLength, maxLength: o.maxLength },
        o,
      ),
    ),
    o.invalid,
  );
}

/** A string that is one of `enum` (a structural enum; TypeBox's union of literals would be an anyOf). */
export function Enum<const T extends readonly string[]>(
  description: string,
  o: Common & { enum: T },
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', ...options(description, { enum: [...o.enum] }, o) });
}

export interface IntegerOptions extends Common {
  minimum?: number;
  maximum?: number;
  /** int32 (default) or int64. */
  format?: 'int32' | 'int64';
}

export function Int(description: string, o: IntegerOptions = {}) {
  return Type.Integer(
    options(description, { format: o.format ?? 'int32', minimum: o.minimum, maximum: o.maximum }, o),
  );
}

/** A number that may have decimals (format double). */
export function Num(description: string, o: Omit<IntegerOptions, 'format'> = {}) {
  return Type.Number(options(description, { format: 'double', minimum: o.minimum, maximum: o.maximum }, o));
}

export function Bool(description: string, o: Common = {}) {
  return Type.Boolean(options(description, {}, o));
}

type WithOptional<P extends TProperties, R extends string> = {
  [K in keyof P]: K extends R ? P[K] : TOptional<P[K]>;
};

export interface ObjectOptions<R> extends Common {
  required?: R;
}

/** An object whose fields are all optional except `required`. */
export function Obj<P extends TProperties, const R extends readonly (keyof P & string)[] = []>(
  description: string,
  properties: P,
  o: ObjectOptions<R> = {},
): TObject<WithOptional<P, R[number]>> {
  const required: readonly string[] = o.required ?? [];
  const props = Object.fromEntries(
    Object.entries(properties).map(([k, v]) => [k, required.includes(k) ? v : Type.Optional(v)]),
  ) as WithOptional<P, R[number]>;
  return Type.Object(props, options(description, {}, o));
}

export interface ArrayOptions extends Common {
  minItems?: number;
  maxItems?: number;
  /** `x-kubernetes-list-type: map` keyed by these fields (server-side apply merges per item). */
  mapKeys?: readonly string[];
  listType?: 'atomic' | 'set';
}

export function Arr<T extends TSchema>(description: string, items: T, o: ArrayOptions = {}) {
  return Type.Array(
    items,
    options(
      description,
      {
        minItems: o.minItems,
        maxItems: o.maxItems,
        'x-kubernetes-list-type': o.mapKeys !== undefined ? 'map' : o.listType,
        'x-kubernetes-list-map-keys': o.mapKeys !== undefined ? [...o.mapKeys] : undefined,
      },
      o,
    ),
  );
}

export interface MapOptions extends Common {
  maxProperties?: number;
}

/** A string-keyed map whose values follow `values` (labels, annotations, resource quantities). */
export function MapOf<T extends TSchema>(
  description: string,
  values: T,
  o: MapOptions = {},
): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({
    type: 'object',
    ...options(description, { additionalProperties: values, maxProperties: o.maxProperties }, o),
  });
}

/** A string value without a description of its own (the values of a map). */
export function MapValue(o: Pick<StringOptions, 'pattern' | 'maxLength'>) {
  return Type.String(options(undefined, { maxLength: o.maxLength, pattern: o.pattern }, {}));
}

export interface IntOrStringOptions extends Common {
  /** Applies to string values only. */
  pattern?: string;
  /** Applies to string values only. */
  maxLength?: number;
}

/** An integer or a string (Kubernetes' IntOrString, e.g. a count or "50%", or a quantity). */
export function IntOrString(description: string, o: IntOrStringOptions = {}): TUnsafe<number | string> {
  return Type.Unsafe<number | string>({
    description,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    ...options(
      undefined,
      { 'x-kubernetes-int-or-string': true, pattern: o.pattern, maxLength: o.maxLength },
      o,
    ),
  });
}

/** A decoded JSON object kgw passes through without looking inside (a big core type such as Affinity). */
export type JsonObject = { [key: string]: unknown };

/** An object kept as written (x-kubernetes-preserve-unknown-fields): the object it ends up in validates it. */
export function Preserved(description: string, o: Common = {}): TUnsafe<JsonObject> {
  return Type.Unsafe<JsonObject>({
    type: 'object',
    ...options(description, { 'x-kubernetes-preserve-unknown-fields': true }, o),
  });
}
