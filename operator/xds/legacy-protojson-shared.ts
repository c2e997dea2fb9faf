// Shared pieces of kgw's canonical proto3 JSON mapping (protojson-encode.ts / protojson-decode.ts):
// JSON types, the error type, which well-known types have a special JSON form, and small helpers.
import protobuf from 'protobufjs';
import { messageType } from './legacy-protos.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A message as a plain object with proto field names, as protobufjs encodes and decodes it. */
export type Plain = Record<string, unknown>;

/** Thrown for any JSON that does not fit the message schema; `path` is a JSONPath-like locator. */
export class ProtoJsonError extends Error {
  readonly path: string;
  /** The message without the path. */
  readonly detail: string;
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'ProtoJsonError';
    this.path = path;
    this.detail = detail;
  }
}

export const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

/** Well-known types whose JSON form inside an Any is `{ "@type": ..., "value": <json> }`. */
export const SPECIAL_JSON = new Set([
  ...WRAPPERS,
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.Any',
]);

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/** Full name without the leading dot (protobufjs computes fullName on every access: memoised). */
export function fullName(type: protobuf.ReflectionObject): string {
  let name = fullNames.get(type);
  if (name === undefined) {
    name = type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
    fullNames.set(type, name);
  }
  return name;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

export const SIGNED64 = new Set(['int64', 'sint64', 'sfixed64']);
export const UNSIGNED64 = new Set(['uint64', 'fixed64']);

export type ValueKind =
  'null_value' | 'number_value' | 'string_value' | 'bool_value' | 'struct_value' | 'list_value';
const VALUE_KINDS: readonly ValueKind[] = [
  'null_value',
  'number_value',
  'string_value',
  'bool_value',
  'struct_value',
  'list_value',
];
let valueFields: Record<ValueKind, string> | undefined;

/** google.protobuf.Value's field names as loaded (protobufjs bundles it with camelCase names). */
export function vf(kind: ValueKind): string {
  if (!valueFields) {
    const fields = messageType('google.protobuf.Value').fieldsArray;
    const byProto = (k: ValueKind): string =>
      fields.find((f) => f.protoName === k || f.name === k)?.name ?? k;
    valueFields = Object.fromEntries(VALUE_KINDS.map((k) => [k, byProto(k)])) as Record<ValueKind, string>;
  }
  return valueFields[kind];
}
