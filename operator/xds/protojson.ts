// Canonical proto3 JSON (with .proto field names, i.e. snake_case) ⇄ protobuf binary, by walking
// protobufjs reflection. Handles the well-known types (Duration/Timestamp strings, wrappers as bare
// values, Any with "@type", Struct/Value/ListValue as plain JSON, FieldMask, Empty), enums by name,
// maps, oneofs, bytes as base64 and 64-bit integers as strings. Errors name the JSON path, and an
// Any whose "@type" is not loaded is an error (protobufjs would otherwise encode it empty).
import protobuf from 'protobufjs';
import { findType, messageType, typeNameOfUrl } from './protos.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A plain object in the shape protobufjs' generated encoders accept. */
type Plain = Record<string, unknown>;

/** Thrown for any JSON that does not fit the message schema; `path` is a JSONPath-like locator. */
export class ProtoJsonError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ProtoJsonError';
    this.path = path;
  }
}

/** Encodes a canonical-JSON resource of the given type URL (or full message name) to bytes. */
export function encodeResource(typeUrl: string, json: object): Buffer {
  return encodeMessage(messageType(typeNameOfUrl(typeUrl)), json);
}

/** Decodes resource bytes back to canonical JSON (snake_case, defaults omitted). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): JsonObject {
  return decodeMessage(messageType(typeNameOfUrl(typeUrl)), bytes);
}

export function encodeMessage(type: protobuf.Type, json: object, path = '$'): Buffer {
  const plain = toPlain(type, json, path);
  const out = type.encode(plain).finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): JsonObject {
  const json = toJson(type, type.decode(bytes), '$');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { value: json }; // only reachable for a top-level well-known type
  }
  return json;
}

// ---------------------------------------------------------------------------------------------
// JSON → plain message object

const WRAPPERS = new Set([
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
const SPECIAL_JSON = new Set([
  ...WRAPPERS,
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.Any',
]);

function fullName(type: protobuf.Type | protobuf.Enum): string {
  return type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${v}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

function toPlain(type: protobuf.Type, json: unknown, path: string): Plain {
  const name = fullName(type);
  if (SPECIAL_JSON.has(name)) return wellKnownToPlain(name, json, path);
  if (!isObject(json)) throw new ProtoJsonError(path, `expected an object for ${name}, got ${describe(json)}`);
  const out: Plain = {};
  const oneofSeen = new Map<string, string>();
  for (const key of Object.keys(json)) {
    const value = json[key];
    if (value === undefined) continue;
    const field = type.fields[key];
    const at = `${path}.${key}`;
    if (!field) throw unknownField(type, key, at);
    const isValueType = field.resolvedType !== null && fullName(field.resolvedType) === 'google.protobuf.Value';
    const isNullEnum =
      field.resolvedType !== null && fullName(field.resolvedType) === 'google.protobuf.NullValue';
    if (value === null && !(isValueType || isNullEnum) && !field.repeated && !field.map) continue;
    if (field.partOf) {
      const other = oneofSeen.get(field.partOf.name);
      if (other !== undefined) {
        throw new ProtoJsonError(at, `oneof ${field.partOf.name} already set by field ${other}`);
      }
      oneofSeen.set(field.partOf.name, key);
    }
    if (field.map) {
      if (value === null) continue;
      if (!isObject(value)) throw new ProtoJsonError(at, `expected an object for map field, got ${describe(value)}`);
      const map: Plain = {};
      for (const k of Object.keys(value).sort()) {
        const entry = value[k];
        if (entry === undefined) continue;
        map[k] = singleToPlain(field, entry, `${at}[${JSON.stringify(k)}]`);
      }
      if (Object.keys(map).length > 0) out[key] = map;
    } else if (field.repeated) {
      if (value === null) continue;
      if (!Array.isArray(value)) throw new ProtoJsonError(at, `expected an array, got ${describe(value)}`);
      if (value.length > 0) out[key] = value.map((v, i) => singleToPlain(field, v, `${at}[${i}]`));
    } else {
      const v = singleToPlain(field, value, at);
      if (!field.hasPresence && !(field.resolvedType instanceof protobuf.Type) && isDefaultScalar(v)) continue;
      out[key] = v;
    }
  }
  return out;
}

function unknownField(type: protobuf.Type, key: string, at: string): ProtoJsonError {
  const byJsonName = type.fieldsArray.find((f) => f.jsonName === key);
  const hint = byJsonName ? ` (use the proto field name "${byJsonName.name}")` : '';
  return new ProtoJsonError(at, `unknown field "${key}" in ${fullName(type)}${hint}`);
}

function isDefaultScalar(v: unknown): boolean {
  if (v === 0 || v === false || v === '') return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (isObject(v) && 'low' in v && 'high' in v) return v.low === 0 && v.high === 0;
  return false;
}

function singleToPlain(field: protobuf.Field, value: unknown, path: string): unknown {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) return toPlain(rt, value, path);
  if (rt instanceof protobuf.Enum) return enumToNumber(rt, value, path);
  return scalarToPlain(field.type, value, path);
}

function enumToNumber(e: protobuf.Enum, value: unknown, path: string): number {
  if (fullName(e) === 'google.protobuf.NullValue' && value === null) return 0;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') {
    const n = e.values[value];
    if (n !== undefined) return n;
    const names = Object.keys(e.values);
    const list = names.slice(0, 12).join(', ') + (names.length > 12 ? ', …' : '');
    throw new ProtoJsonError(path, `unknown value "${value}" for enum ${fullName(e)} (one of ${list})`);
  }
  throw new ProtoJsonError(path, `expected an enum name for ${fullName(e)}, got ${describe(value)}`);
}

const INT32_RANGE: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  fixed32: [0, 4294967295],
};
const SIGNED64 = new Set(['int64', 'sint64', 'sfixed64']);
const UNSIGNED64 = new Set(['uint64', 'fixed64']);

function scalarToPlain(kind: string, value: unknown, path: string): unknown {
  const range = INT32_RANGE[kind];
  if (range) {
    const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n)) {
      throw new ProtoJsonError(path, `expected an integer (${kind}), got ${describe(value)}`);
    }
    if (n < range[0] || n > range[1]) throw new ProtoJsonError(path, `${n} is out of range for ${kind}`);
    return n;
  }
  if (SIGNED64.has(kind) || UNSIGNED64.has(kind)) return int64ToLongBits(kind, value, path);
  switch (kind) {
    case 'double':
    case 'float':
      return floatToPlain(kind, value, path);
    case 'bool':
      if (typeof value !== 'boolean') throw new ProtoJsonError(path, `expected a boolean, got ${describe(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw new ProtoJsonError(path, `expected a string, got ${describe(value)}`);
      return value;
    case 'bytes':
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) {
        throw new ProtoJsonError(path, `expected base64 bytes, got ${describe(value)}`);
      }
      return Buffer.from(value, 'base64');
    default:
      throw new ProtoJsonError(path, `unsupported scalar type ${kind}`);
  }
}

function floatToPlain(kind: string, value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  throw new ProtoJsonError(path, `expected a number (${kind}), got ${describe(value)}`);
}

/** A {low, high} pair protobufjs' writer accepts for 64-bit fields (see util.LongBits.from). */
function int64ToLongBits(kind: string, value: unknown, path: string): { low: number; high: number; unsigned: boolean } {
  let big: bigint;
  if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) big = BigInt(value);
  else throw new ProtoJsonError(path, `expected an integer (${kind}) as string or number, got ${describe(value)}`);
  const unsigned = UNSIGNED64.has(kind);
  const min = unsigned ? 0n : -(2n ** 63n);
  const max = unsigned ? 2n ** 64n - 1n : 2n ** 63n - 1n;
  if (big < min || big > max) throw new ProtoJsonError(path, `${big} is out of range for ${kind}`);
  const bits = BigInt.asUintN(64, big);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned };
}

const MAX_DURATION_SECONDS = 315576000000n;

function wellKnownToPlain(name: string, json: unknown, path: string): Plain {
  if (WRAPPERS.has(name)) {
    const inner = messageType(name).fields.value;
    if (!inner) throw new ProtoJsonError(path, `${name} has no value field`);
    const v = scalarToPlain(inner.type, json, path);
    return isDefaultScalar(v) ? {} : { value: v };
  }
  switch (name) {
    case 'google.protobuf.Duration':
      return durationToPlain(json, path);
    case 'google.protobuf.Timestamp':
      return timestampToPlain(json, path);
    case 'google.protobuf.FieldMask':
      if (typeof json !== 'string') throw new ProtoJsonError(path, `expected a FieldMask string, got ${describe(json)}`);
      return { paths: json === '' ? [] : json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
    case 'google.protobuf.Struct':
      if (!isObject(json)) throw new ProtoJsonError(path, `expected an object for Struct, got ${describe(json)}`);
      return structToPlain(json, path);
    case 'google.protobuf.Value':
      return valueToPlain(json, path);
    case 'google.protobuf.ListValue':
      if (!Array.isArray(json)) throw new ProtoJsonError(path, `expected an array for ListValue, got ${describe(json)}`);
      return { values: json.map((v, i) => valueToPlain(v, `${path}[${i}]`)) };
    case 'google.protobuf.Any':
      return anyToPlain(json, path);
    default:
      throw new ProtoJsonError(path, `no JSON mapping for ${name}`);
  }
}

function durationToPlain(json: unknown, path: string): Plain {
  const m = typeof json === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (!m) throw new ProtoJsonError(path, `expected a Duration like "1.5s", got ${describe(json)}`);
  const negative = m[1] === '-';
  const seconds = BigInt(m[2] ?? '0');
  if (seconds > MAX_DURATION_SECONDS) throw new ProtoJsonError(path, `Duration ${String(json)} is out of range`);
  const nanos = Number((m[3] ?? '').padEnd(9, '0'));
  const out: Plain = {};
  const signedSeconds = negative ? -seconds : seconds;
  if (signedSeconds !== 0n) out.seconds = int64ToLongBits('int64', signedSeconds.toString(), path);
  if (nanos !== 0) out.nanos = negative ? -nanos : nanos;
  return out;
}

function timestampToPlain(json: unknown, path: string): Plain {
  const m =
    typeof json === 'string'
      ? /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(json)
      : null;
  if (!m) throw new ProtoJsonError(path, `expected an RFC 3339 Timestamp, got ${describe(json)}`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    ms -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  if (Number.isNaN(ms)) throw new ProtoJsonError(path, `invalid Timestamp ${String(json)}`);
  const out: Plain = {};
  const seconds = Math.floor(ms / 1000);
  if (seconds !== 0) out.seconds = int64ToLongBits('int64', seconds, path);
  const nanos = Number((frac ?? '').padEnd(9, '0'));
  if (nanos !== 0) out.nanos = nanos;
  return out;
}

function structToPlain(json: Record<string, unknown>, path: string): Plain {
  const fields: Plain = {};
  for (const k of Object.keys(json).sort()) {
    if (json[k] === undefined) continue;
    fields[k] = valueToPlain(json[k], `${path}.${k}`);
  }
  return { fields };
}

type ValueKind = 'null_value' | 'number_value' | 'string_value' | 'bool_value' | 'struct_value' | 'list_value';
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
function vf(kind: ValueKind): string {
  if (!valueFields) {
    const fields = messageType('google.protobuf.Value').fieldsArray;
    const byProto = (k: ValueKind): string => fields.find((f) => f.protoName === k || f.name === k)?.name ?? k;
    valueFields = Object.fromEntries(VALUE_KINDS.map((k) => [k, byProto(k)])) as Record<ValueKind, string>;
  }
  return valueFields[kind];
}

function valueToPlain(json: unknown, path: string): Plain {
  if (json === null) return { [vf('null_value')]: 0 };
  if (typeof json === 'number') return { [vf('number_value')]: json };
  if (typeof json === 'string') return { [vf('string_value')]: json };
  if (typeof json === 'boolean') return { [vf('bool_value')]: json };
  if (Array.isArray(json)) {
    return { [vf('list_value')]: { values: json.map((v, i) => valueToPlain(v, `${path}[${i}]`)) } };
  }
  if (isObject(json)) return { [vf('struct_value')]: structToPlain(json, path) };
  throw new ProtoJsonError(path, `cannot represent ${describe(json)} as google.protobuf.Value`);
}

function anyToPlain(json: unknown, path: string): Plain {
  if (!isObject(json)) throw new ProtoJsonError(path, `expected an object for Any, got ${describe(json)}`);
  const typeUrl = json['@type'];
  if (typeUrl === undefined && Object.keys(json).length === 0) return {};
  if (typeof typeUrl !== 'string' || typeUrl === '') {
    throw new ProtoJsonError(path, 'google.protobuf.Any needs an "@type" string');
  }
  const typeName = typeNameOfUrl(typeUrl);
  const inner = findType(typeName);
  if (!inner) {
    throw new ProtoJsonError(
      path,
      `Any has "@type" ${typeUrl} but ${typeName} is not loaded by kgw's xDS server (add its .proto to operator/xds/protos.ts)`,
    );
  }
  let body: unknown;
  if (SPECIAL_JSON.has(typeName)) {
    body = json.value;
  } else {
    const rest: Record<string, unknown> = { ...json };
    delete rest['@type'];
    body = rest;
  }
  const plain = toPlain(inner, body, path);
  return { type_url: typeUrl, value: inner.encode(plain).finish() };
}

// ---------------------------------------------------------------------------------------------
// decoded message → JSON

function toJson(type: protobuf.Type, msg: Plain, path: string): JsonValue {
  const name = fullName(type);
  if (SPECIAL_JSON.has(name)) return wellKnownToJson(name, msg, path);
  const out: JsonObject = {};
  for (const field of type.fieldsArray) {
    const key = field.name;
    if (!Object.prototype.hasOwnProperty.call(msg, key)) continue;
    const value = msg[key];
    if (value === null || value === undefined) continue;
    const at = `${path}.${key}`;
    if (field.map) {
      const entries = value as Record<string, unknown>;
      const keys = Object.keys(entries);
      if (keys.length === 0) continue;
      const map: JsonObject = {};
      for (const k of keys) map[k] = singleToJson(field, entries[k], `${at}[${JSON.stringify(k)}]`);
      out[key] = map;
    } else if (field.repeated) {
      const list = value as unknown[];
      if (list.length === 0) continue;
      out[key] = list.map((v, i) => singleToJson(field, v, `${at}[${i}]`));
    } else {
      const isMessage = field.resolvedType instanceof protobuf.Type;
      if (!isMessage && !field.hasPresence && isDefaultDecoded(value)) continue;
      out[key] = singleToJson(field, value, at);
    }
  }
  return out;
}

function isDefaultDecoded(v: unknown): boolean {
  if (v === 0 || v === false || v === '') return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (isObject(v) && 'low' in v && 'high' in v) return v.low === 0 && v.high === 0;
  return false;
}

function singleToJson(field: protobuf.Field, value: unknown, path: string): JsonValue {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) return toJson(rt, value as Plain, path);
  if (rt instanceof protobuf.Enum) {
    if (fullName(rt) === 'google.protobuf.NullValue') return null;
    const n = value as number;
    return rt.valuesById[n] ?? n;
  }
  return scalarToJson(field.type, value);
}

function scalarToJson(kind: string, value: unknown): JsonValue {
  if (SIGNED64.has(kind) || UNSIGNED64.has(kind)) return longToBigInt(kind, value).toString();
  switch (kind) {
    case 'double':
      return numberToJson(value as number);
    case 'float':
      return numberToJson(shortestFloat32(value as number));
    case 'bytes':
      return Buffer.from(value as Uint8Array).toString('base64');
    default:
      return value as JsonValue;
  }
}

function numberToJson(n: number): JsonValue {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return n;
}

/** The shortest decimal that reads back as the same float32 (0.1f decodes as 0.10000000149…). */
function shortestFloat32(n: number): number {
  if (!Number.isFinite(n)) return n;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(n.toPrecision(digits));
    if (Math.fround(candidate) === n) return candidate;
  }
  return n;
}

function longToBigInt(kind: string, value: unknown): bigint {
  if (typeof value === 'number') return BigInt(value);
  if (typeof value === 'string') return BigInt(value);
  const { low, high } = value as { low: number; high: number };
  const bits = (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  return SIGNED64.has(kind) ? BigInt.asIntN(64, bits) : bits;
}

function wellKnownToJson(name: string, msg: Plain, path: string): JsonValue {
  if (WRAPPERS.has(name)) {
    const inner = messageType(name).fields.value;
    if (!inner) throw new ProtoJsonError(path, `${name} has no value field`);
    const v: unknown = Object.prototype.hasOwnProperty.call(msg, 'value') ? msg.value : inner.typeDefault;
    if (inner.type === 'bytes' && !(v instanceof Uint8Array)) return '';
    if ((SIGNED64.has(inner.type) || UNSIGNED64.has(inner.type)) && (v === null || v === undefined)) return '0';
    return scalarToJson(inner.type, v);
  }
  switch (name) {
    case 'google.protobuf.Duration':
      return durationToJson(msg);
    case 'google.protobuf.Timestamp':
      return timestampToJson(msg);
    case 'google.protobuf.FieldMask':
      return ((msg.paths as string[] | undefined) ?? [])
        .map((p) => p.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase()))
        .join(',');
    case 'google.protobuf.Struct':
      return structToJson(msg);
    case 'google.protobuf.Value':
      return valueToJson(msg);
    case 'google.protobuf.ListValue':
      return ((msg.values as Plain[] | undefined) ?? []).map(valueToJson);
    case 'google.protobuf.Any':
      return anyToJson(msg, path);
    default:
      throw new ProtoJsonError(path, `no JSON mapping for ${name}`);
  }
}

function fraction(nanos: number): string {
  if (nanos === 0) return '';
  if (nanos % 1_000_000 === 0) return `.${String(nanos / 1_000_000).padStart(3, '0')}`;
  if (nanos % 1_000 === 0) return `.${String(nanos / 1_000).padStart(6, '0')}`;
  return `.${String(nanos).padStart(9, '0')}`;
}

function durationToJson(msg: Plain): string {
  const seconds = msg.seconds === undefined || msg.seconds === null ? 0n : longToBigInt('int64', msg.seconds);
  const nanos = typeof msg.nanos === 'number' ? msg.nanos : 0;
  const negative = seconds < 0n || nanos < 0;
  const abs = seconds < 0n ? -seconds : seconds;
  return `${negative ? '-' : ''}${abs}${fraction(Math.abs(nanos))}s`;
}

function timestampToJson(msg: Plain): string {
  const seconds = msg.seconds === undefined || msg.seconds === null ? 0n : longToBigInt('int64', msg.seconds);
  const nanos = typeof msg.nanos === 'number' ? msg.nanos : 0;
  const iso = new Date(Number(seconds) * 1000).toISOString(); // 2020-01-01T00:00:00.000Z
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}

function structToJson(msg: Plain): JsonObject {
  const out: JsonObject = {};
  const fields = (msg.fields as Record<string, Plain> | undefined) ?? {};
  for (const k of Object.keys(fields)) out[k] = valueToJson(fields[k] ?? {});
  return out;
}

function valueToJson(msg: Plain): JsonValue {
  const has = (k: ValueKind): boolean => Object.prototype.hasOwnProperty.call(msg, vf(k));
  if (has('number_value')) return numberToJson(msg[vf('number_value')] as number);
  if (has('string_value')) return msg[vf('string_value')] as string;
  if (has('bool_value')) return msg[vf('bool_value')] as boolean;
  if (has('struct_value')) return structToJson(msg[vf('struct_value')] as Plain);
  if (has('list_value')) return (((msg[vf('list_value')] as Plain).values as Plain[] | undefined) ?? []).map(valueToJson);
  return null;
}

function anyToJson(msg: Plain, path: string): JsonValue {
  const typeUrl = typeof msg.type_url === 'string' ? msg.type_url : '';
  if (typeUrl === '') return {};
  const typeName = typeNameOfUrl(typeUrl);
  const inner = findType(typeName);
  if (!inner) throw new ProtoJsonError(path, `Any has type ${typeUrl} but ${typeName} is not loaded`);
  const value = msg.value instanceof Uint8Array ? msg.value : new Uint8Array(0);
  const body = toJson(inner, inner.decode(value), path);
  if (SPECIAL_JSON.has(typeName)) return { '@type': typeUrl, value: body };
  return { '@type': typeUrl, ...(body as JsonObject) };
}
