// Canonical proto3 JSON (snake_case field names) → protobuf binary, written straight into a
// protobufjs Writer while walking the reflection (no intermediate message objects). Fields are
// written in field-number order and map entries in key order, so equal content always gives equal
// bytes (and so equal versions). Implicit-presence defaults are left out. Well-known types take
// their JSON forms (Duration/Timestamp strings, bare wrapper values, Struct as plain JSON, Any
// with "@type"); an Any whose "@type" is not loaded is an error naming it.
//
// Elements of repeated message fields near the top of a resource (virtual hosts and their routes,
// filter chains and their filters, locality endpoints and their hosts) are encoded on their own
// and their bytes remembered per JSON object (WeakMap): a later snapshot that passes the same,
// unmutated object again reuses those bytes instead of walking it.
import protobuf from 'protobufjs';
import { findType, messageType, typeNameOfUrl } from './legacy-protos.ts';
import {
  ProtoJsonError,
  SIGNED64,
  SPECIAL_JSON,
  UNSIGNED64,
  WRAPPERS,
  describe,
  fullName,
  isObject,
  vf,
  type Plain,
} from './legacy-protojson-shared.ts';

type Writer = protobuf.Writer;
type LongBits = { low: number; high: number; unsigned: boolean };

/** Encodes a message from canonical JSON; throws ProtoJsonError naming the JSON path. */
export function encodeMessage(type: protobuf.Type, json: object, path = '$'): Buffer {
  const w = protobuf.Writer.create();
  writeBody(w, type, json, path, 0);
  const out = w.finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

// ---------------------------------------------------------------------------------------------
// per-type plans

interface Scalar {
  wire: number;
  write: (w: Writer, v: unknown) => void;
}

const SCALARS: Record<string, Scalar> = {
  double: { wire: 1, write: (w, v) => w.double(v as number) },
  float: { wire: 5, write: (w, v) => w.float(v as number) },
  int32: { wire: 0, write: (w, v) => w.int32(v as number) },
  uint32: { wire: 0, write: (w, v) => w.uint32(v as number) },
  sint32: { wire: 0, write: (w, v) => w.sint32(v as number) },
  fixed32: { wire: 5, write: (w, v) => w.fixed32(v as number) },
  sfixed32: { wire: 5, write: (w, v) => w.sfixed32(v as number) },
  int64: { wire: 0, write: (w, v) => w.int64(v as LongBits) },
  uint64: { wire: 0, write: (w, v) => w.uint64(v as LongBits) },
  sint64: { wire: 0, write: (w, v) => w.sint64(v as LongBits) },
  fixed64: { wire: 1, write: (w, v) => w.fixed64(v as LongBits) },
  sfixed64: { wire: 1, write: (w, v) => w.sfixed64(v as LongBits) },
  bool: { wire: 0, write: (w, v) => w.bool(v as boolean) },
  string: { wire: 2, write: (w, v) => w.string(v as string) },
  bytes: { wire: 2, write: (w, v) => w.bytes(v as Uint8Array) },
};
const ENUM_SCALAR = SCALARS.int32 as Scalar;

interface FieldPlan {
  readonly name: string;
  readonly id: number;
  /** Tag of one (non-packed) element: field number and wire type. */
  readonly tag: number;
  readonly kind: string;
  readonly message: protobuf.Type | undefined;
  readonly enumType: protobuf.Enum | undefined;
  readonly scalar: Scalar | undefined;
  readonly map: boolean;
  readonly keyKind: string;
  readonly repeated: boolean;
  readonly packed: boolean;
  /** Singular scalar/enum without presence: its default value is not encoded. */
  readonly implicit: boolean;
  /** JSON null is a value here (google.protobuf.Value / NullValue), not "absent". */
  readonly nullable: boolean;
  readonly oneof: string | undefined;
}

interface TypePlan {
  readonly type: protobuf.Type;
  readonly name: string;
  readonly special: boolean;
  readonly fields: ReadonlyMap<string, FieldPlan>;
}

const plans = new WeakMap<protobuf.Type, TypePlan>();

function planOf(type: protobuf.Type): TypePlan {
  let plan = plans.get(type);
  if (plan) return plan;
  const fields = new Map<string, FieldPlan>();
  for (const field of type.fieldsArray) {
    field.resolve();
    const rt = field.resolvedType;
    const message = rt instanceof protobuf.Type ? rt : undefined;
    const enumType = rt instanceof protobuf.Enum ? rt : undefined;
    const scalar = message ? undefined : enumType ? ENUM_SCALAR : SCALARS[field.type];
    const rtName = rt ? fullName(rt) : '';
    const wire = message || field.map ? 2 : (scalar?.wire ?? 2);
    fields.set(field.name, {
      name: field.name,
      id: field.id,
      tag: ((field.id << 3) | wire) >>> 0,
      kind: field.type,
      message,
      enumType,
      scalar,
      map: field.map,
      keyKind: field instanceof protobuf.MapField ? field.keyType : '',
      repeated: field.repeated,
      packed: field.repeated && field.packed && scalar !== undefined && scalar.wire !== 2,
      implicit: !field.map && !field.repeated && !message && !field.hasPresence,
      nullable: rtName === 'google.protobuf.Value' || rtName === 'google.protobuf.NullValue',
      oneof: field.partOf?.name,
    });
  }
  const name = fullName(type);
  plan = { type, name, special: SPECIAL_JSON.has(name), fields };
  plans.set(type, plan);
  return plan;
}

// ---------------------------------------------------------------------------------------------
// messages

/** Depth below which repeated message elements are encoded alone and remembered (see header). */
const ELEMENT_CACHE_DEPTH = 2;
const elementBytes = new WeakMap<object, { type: protobuf.Type; bytes: Uint8Array }>();

function writeBody(w: Writer, type: protobuf.Type, json: unknown, path: string, depth: number): void {
  const plan = planOf(type);
  if (plan.special) {
    type.encode(wellKnownToPlain(plan.name, json, path, depth), w);
    return;
  }
  if (!isObject(json))
    throw new ProtoJsonError(path, `expected an object for ${plan.name}, got ${describe(json)}`);
  const present: FieldPlan[] = [];
  let ordered = true;
  let oneofs: Map<string, string> | undefined;
  for (const key in json) {
    const value = json[key];
    if (value === undefined) continue;
    const f = plan.fields.get(key);
    if (!f) throw unknownField(type, key, `${path}.${key}`);
    if (value === null && !f.nullable) continue;
    if (f.oneof !== undefined) {
      oneofs ??= new Map();
      const other = oneofs.get(f.oneof);
      if (other !== undefined)
        throw new ProtoJsonError(`${path}.${key}`, `oneof ${f.oneof} already set by field ${other}`);
      oneofs.set(f.oneof, key);
    }
    const last = present[present.length - 1];
    if (last && last.id > f.id) ordered = false;
    present.push(f);
  }
  if (!ordered) present.sort((a, b) => a.id - b.id);
  for (const f of present) writeField(w, f, json[f.name], path, depth);
}

function unknownField(type: protobuf.Type, key: string, at: string): ProtoJsonError {
  const byJsonName = type.fieldsArray.find((f) => f.jsonName === key);
  const hint = byJsonName ? ` (use the proto field name "${byJsonName.name}")` : '';
  return new ProtoJsonError(at, `unknown field "${key}" in ${fullName(type)}${hint}`);
}

function writeField(w: Writer, f: FieldPlan, value: unknown, path: string, depth: number): void {
  if (f.map) {
    writeMap(w, f, value, `${path}.${f.name}`, depth);
  } else if (f.repeated) {
    const at = `${path}.${f.name}`;
    if (!Array.isArray(value)) throw new ProtoJsonError(at, `expected an array, got ${describe(value)}`);
    if (value.length === 0) return;
    if (f.message) {
      const cache = depth < ELEMENT_CACHE_DEPTH;
      for (let i = 0; i < value.length; i++)
        writeMessageField(w, f, f.message, value[i], `${at}[${i}]`, depth, cache);
    } else if (f.packed) {
      w.uint32(((f.id << 3) | 2) >>> 0).fork();
      for (let i = 0; i < value.length; i++) f.scalar?.write(w, scalarValue(f, value[i], `${at}[${i}]`));
      w.ldelim();
    } else {
      for (let i = 0; i < value.length; i++) {
        const v = scalarValue(f, value[i], `${at}[${i}]`);
        w.uint32(f.tag);
        f.scalar?.write(w, v);
      }
    }
  } else if (f.message) {
    writeMessageField(w, f, f.message, value, `${path}.${f.name}`, depth, false);
  } else {
    const v = scalarValue(f, value, path, f.name);
    if (f.implicit && isDefaultScalar(v)) return;
    w.uint32(f.tag);
    f.scalar?.write(w, v);
  }
}

function writeMessageField(
  w: Writer,
  f: FieldPlan,
  type: protobuf.Type,
  value: unknown,
  path: string,
  depth: number,
  cache: boolean,
): void {
  if (cache && isObject(value)) {
    const hit = elementBytes.get(value);
    if (hit && hit.type === type) {
      w.uint32(f.tag).bytes(hit.bytes);
      return;
    }
    const sub = protobuf.Writer.create();
    writeBody(sub, type, value, path, depth + 1);
    const bytes = sub.finish();
    elementBytes.set(value, { type, bytes });
    w.uint32(f.tag).bytes(bytes);
    return;
  }
  w.uint32(f.tag).fork();
  writeBody(w, type, value, path, depth + 1);
  w.ldelim();
}

function writeMap(w: Writer, f: FieldPlan, value: unknown, path: string, depth: number): void {
  if (!isObject(value))
    throw new ProtoJsonError(path, `expected an object for map field, got ${describe(value)}`);
  const keyScalar = SCALARS[f.keyKind];
  if (!keyScalar) throw new ProtoJsonError(path, `unsupported map key type ${f.keyKind}`);
  for (const k of Object.keys(value).sort()) {
    const entry = value[k];
    if (entry === undefined) continue;
    const at = `${path}[${JSON.stringify(k)}]`;
    w.uint32(((f.id << 3) | 2) >>> 0).fork();
    w.uint32(((1 << 3) | keyScalar.wire) >>> 0);
    keyScalar.write(w, mapKey(f.keyKind, k, at));
    if (f.message) {
      w.uint32((2 << 3) | 2).fork();
      writeBody(w, f.message, entry, at, depth + 1);
      w.ldelim();
    } else {
      w.uint32(((2 << 3) | (f.scalar?.wire ?? 0)) >>> 0);
      f.scalar?.write(w, scalarValue(f, entry, at));
    }
    w.ldelim();
  }
}

function mapKey(kind: string, key: string, path: string): unknown {
  if (kind === 'string') return key;
  if (kind === 'bool') {
    if (key === 'true' || key === 'false') return key === 'true';
    throw new ProtoJsonError(path, `map key ${JSON.stringify(key)} is not a bool`);
  }
  return scalarToPlain(kind, key, path);
}

function isDefaultScalar(v: unknown): boolean {
  if (v === 0 || v === false || v === '') return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (isObject(v) && 'low' in v && 'high' in v) return v.low === 0 && v.high === 0;
  return false;
}

// ---------------------------------------------------------------------------------------------
// scalars

/** The writer value of a scalar/enum field; `name` (if given) is appended to `path` on error. */
function scalarValue(f: FieldPlan, value: unknown, path: string, name?: string): unknown {
  try {
    return f.enumType ? enumToNumber(f.enumType, value, '') : scalarToPlain(f.kind, value, '');
  } catch (err) {
    if (!(err instanceof ProtoJsonError)) throw err;
    const at = name === undefined ? path : `${path}.${name}`;
    throw new ProtoJsonError(at, err.detail);
  }
}

function enumToNumber(e: protobuf.Enum, value: unknown, path: string): number {
  if (value === null && fullName(e) === 'google.protobuf.NullValue') return 0;
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
      if (typeof value !== 'boolean')
        throw new ProtoJsonError(path, `expected a boolean, got ${describe(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string')
        throw new ProtoJsonError(path, `expected a string, got ${describe(value)}`);
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
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  throw new ProtoJsonError(path, `expected a number (${kind}), got ${describe(value)}`);
}

/** A {low, high} pair protobufjs' writer accepts for 64-bit fields (see util.LongBits.from). */
function int64ToLongBits(kind: string, value: unknown, path: string): LongBits {
  let big: bigint;
  if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) big = BigInt(value);
  else
    throw new ProtoJsonError(
      path,
      `expected an integer (${kind}) as string or number, got ${describe(value)}`,
    );
  const unsigned = UNSIGNED64.has(kind);
  const min = unsigned ? 0n : -(2n ** 63n);
  const max = unsigned ? 2n ** 64n - 1n : 2n ** 63n - 1n;
  if (big < min || big > max) throw new ProtoJsonError(path, `${big} is out of range for ${kind}`);
  const bits = BigInt.asUintN(64, big);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned };
}

// ---------------------------------------------------------------------------------------------
// well-known types (small messages: built as plain objects, encoded by protobufjs)

const MAX_DURATION_SECONDS = 315576000000n;

function wellKnownToPlain(name: string, json: unknown, path: string, depth: number): Plain {
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
      if (typeof json !== 'string')
        throw new ProtoJsonError(path, `expected a FieldMask string, got ${describe(json)}`);
      return {
        paths:
          json === '' ? [] : json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)),
      };
    case 'google.protobuf.Struct':
      if (!isObject(json))
        throw new ProtoJsonError(path, `expected an object for Struct, got ${describe(json)}`);
      return structToPlain(json, path);
    case 'google.protobuf.Value':
      return valueToPlain(json, path);
    case 'google.protobuf.ListValue':
      if (!Array.isArray(json))
        throw new ProtoJsonError(path, `expected an array for ListValue, got ${describe(json)}`);
      return { values: json.map((v, i) => valueToPlain(v, `${path}[${i}]`)) };
    case 'google.protobuf.Any':
      return anyToPlain(json, path, depth);
    default:
      throw new ProtoJsonError(path, `no JSON mapping for ${name}`);
  }
}

function durationToPlain(json: unknown, path: string): Plain {
  const m = typeof json === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (!m) throw new ProtoJsonError(path, `expected a Duration like "1.5s", got ${describe(json)}`);
  const negative = m[1] === '-';
  const seconds = BigInt(m[2] ?? '0');
  if (seconds > MAX_DURATION_SECONDS)
    throw new ProtoJsonError(path, `Duration ${String(json)} is out of range`);
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

function anyToPlain(json: unknown, path: string, depth: number): Plain {
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
  const w = protobuf.Writer.create();
  writeBody(w, inner, body, path, depth + 1);
  return { type_url: typeUrl, value: w.finish() };
}
