// Protobuf binary → canonical proto3 JSON (snake_case field names, implicit defaults omitted), by
// walking protobufjs reflection over a decoded message. Used by tests and tools to read back what
// the server sends; an Any whose type is not loaded is an error naming that type.
import protobuf from 'protobufjs';
import { findType, messageType, typeNameOfUrl } from './legacy-protos.ts';
import {
  ProtoJsonError,
  SIGNED64,
  SPECIAL_JSON,
  UNSIGNED64,
  WRAPPERS,
  fullName,
  isObject,
  vf,
  type JsonObject,
  type JsonValue,
  type Plain,
  type ValueKind,
} from './legacy-protojson-shared.ts';

export function decodeMessage(type: protobuf.Type, bytes: Uint8Array): JsonObject {
  const json = toJson(type, type.decode(bytes), '$');
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { value: json }; // only reachable for a top-level well-known type
  }
  return json;
}

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
    if ((SIGNED64.has(inner.type) || UNSIGNED64.has(inner.type)) && (v === null || v === undefined))
      return '0';
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
  if (has('list_value'))
    return (((msg[vf('list_value')] as Plain).values as Plain[] | undefined) ?? []).map(valueToJson);
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
