// A direct canonical-JSON → protobuf-binary encoder for the forms kgw renders, beside bufbuild's
// fromJson + toBinary (protojson.ts), which it must match byte for byte. bufbuild builds a message
// object per JSON object before writing it; at 10k KIngresses that is most of a full push (5.5 MB/s).
// This writes the wire format straight from the JSON, field by field in field-number order, with
// proto3's presence rules as bufbuild's compiled writer applies them.
//
// It handles only forms whose meaning is unambiguous and returns undefined for anything else (null,
// an unknown key, bytes, negative 64-bit integers, numbers given as strings outside 64-bit fields,
// Timestamp, FieldMask, two members of one oneof, …); protojson.ts then encodes that message with
// bufbuild, which also produces the precise error. Differential tests (protojson-fast.test.ts) hold
// it to bufbuild's bytes on every golden case and on generated input.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { FeatureSet_FieldPresence } from '@bufbuild/protobuf/wkt';
import { planOf, type TypePlan } from './protojson-plan.ts';
import { findType, typeNameOfUrl } from './protos.ts';
import { byCodePoint } from '../order.ts';

/** Thrown inside the encoder for a form it leaves to bufbuild; never escapes fastEncode. */
class Unhandled extends Error {}
const UNHANDLED = new Unhandled('left to bufbuild');

const IMPLICIT = FeatureSet_FieldPresence.IMPLICIT; // bufbuild's field.presence
const WIRE_VARINT = 0;
const WIRE_64 = 1;
const WIRE_LEN = 2;
const WIRE_32 = 5;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const UINT32_MAX = 4294967295;
const FLOAT32_MAX = 3.4028234663852886e38;
const DURATION_SECONDS_MAX = 315_576_000_000;

class Writer {
  buf = Buffer.allocUnsafe(64 * 1024);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A non-negative integer below 2^53. */
  varint(n: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (n > 0x7f) {
      b[p++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[p++] = n;
    this.pos = p;
  }

  /** int32 / enum: a negative value is sign-extended to 10 bytes, as protobuf requires. */
  int32(n: number): void {
    if (n >= 0) return this.varint(n);
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    let lo = n >>> 0;
    for (let i = 0; i < 4; i++) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // bits 28..31 of the low word and the first three of the (all ones) high word
    b[p++] = (lo & 0x0f) | 0x70 | 0x80;
    for (let i = 0; i < 4; i++) b[p++] = 0xff;
    b[p++] = 0x01;
    this.pos = p;
  }

  tag(no: number, wire: number): void {
    this.varint(no * 8 + wire);
  }

  string(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.varint(len);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  double(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  float(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeFloatLE(v, this.pos);
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  sfixed32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32LE(v, this.pos);
  }

  /** Reserves one byte for a length; join() writes it (moving the body if it needs more). */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  join(at: number): void {
    const len = this.pos - at - 1;
    let size = 1;
    for (let v = len; v > 0x7f; v = Math.floor(v / 0x80)) size++;
    if (size > 1) {
      this.ensure(size - 1);
      this.buf.copyWithin(at + size, at + 1, this.pos);
      this.pos += size - 1;
    }
    const end = this.pos;
    this.pos = at;
    this.varint(len);
    this.pos = end;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

let busy = false;
const shared = new Writer();

/**
 * The message's bytes, as bufbuild would write them from this canonical JSON; undefined when the
 * JSON has a form left to bufbuild (see the header).
 */
export function fastEncode(desc: DescMessage, json: unknown): Uint8Array | undefined {
  const w = busy ? new Writer() : shared;
  const outer = !busy;
  busy = true;
  w.pos = 0;
  try {
    writeMessageBody(w, planOf(desc), json);
    return Uint8Array.prototype.slice.call(w.buf, 0, w.pos);
  } catch (err) {
    if (err instanceof Unhandled) return undefined;
    throw err;
  } finally {
    if (outer) busy = false;
    // a buffer grown for one big message is not kept
    if (outer && w.buf.length > 4 * 1024 * 1024) w.buf = Buffer.allocUnsafe(64 * 1024);
  }
}

function writeMessageBody(w: Writer, plan: TypePlan, json: unknown): void {
  switch (plan.special) {
    case 'any':
      return writeAny(w, json);
    case 'plain':
      return writePlain(w, plan.desc.typeName, json);
    case 'other':
      return writeOther(w, plan.desc.typeName, json);
  }
  if (!isObject(json)) throw UNHANDLED;
  writeFields(w, plan, json, false);
}

function writeFields(w: Writer, plan: TypePlan, json: Record<string, unknown>, skipType: boolean): void {
  const fields: DescField[] = [];
  let sorted = true;
  for (const key in json) {
    if (json[key] === undefined || (skipType && key === '@type')) continue;
    const f = plan.fields.get(key);
    if (f === undefined) throw UNHANDLED; // unknown (bufbuild's path names it)
    const prev = fields[fields.length - 1];
    if (prev !== undefined && f.number < prev.number) sorted = false;
    fields.push(f);
  }
  if (!sorted) fields.sort((a, b) => a.number - b.number);
  let oneofs: Set<unknown> | undefined;
  for (const f of fields) {
    if (f.oneof) {
      oneofs ??= new Set();
      if (oneofs.has(f.oneof)) throw UNHANDLED; // two members of one oneof
      oneofs.add(f.oneof);
    }
    writeField(w, f, json[f.name]);
  }
}

function writeField(w: Writer, f: DescField, value: unknown): void {
  if (value === null) throw UNHANDLED;
  switch (f.fieldKind) {
    case 'message': {
      w.tag(f.number, WIRE_LEN);
      const at = w.fork();
      writeMessageBody(w, planOf(f.message), value);
      w.join(at);
      return;
    }
    case 'scalar': {
      const v = scalarValue(f.scalar, value);
      if (f.presence === IMPLICIT && f.oneof === undefined && isZero(f.scalar, v)) return;
      writeScalar(w, f.number, f.scalar, v);
      return;
    }
    case 'enum': {
      const n = enumNumber(f.enum.values, value);
      if (f.presence === IMPLICIT && f.oneof === undefined && n === f.enum.values[0]?.number) return;
      w.tag(f.number, WIRE_VARINT);
      w.int32(n);
      return;
    }
    case 'list': {
      if (!Array.isArray(value)) throw UNHANDLED;
      if (f.listKind === 'message') {
        const plan = planOf(f.message);
        for (const item of value) {
          if (item === null || item === undefined) throw UNHANDLED;
          w.tag(f.number, WIRE_LEN);
          const at = w.fork();
          writeMessageBody(w, plan, item);
          w.join(at);
        }
        return;
      }
      if (value.length === 0) return;
      if (f.listKind === 'enum') {
        const values = f.enum.values;
        if (f.packed) {
          w.tag(f.number, WIRE_LEN);
          const at = w.fork();
          for (const item of value) w.int32(enumNumber(values, item));
          w.join(at);
        } else {
          for (const item of value) {
            w.tag(f.number, WIRE_VARINT);
            w.int32(enumNumber(values, item));
          }
        }
        return;
      }
      const type = f.scalar;
      if (f.packed) {
        w.tag(f.number, WIRE_LEN);
        const at = w.fork();
        for (const item of value) writeScalarValue(w, type, scalarValue(type, item));
        w.join(at);
      } else {
        for (const item of value) writeScalar(w, f.number, type, scalarValue(type, item));
      }
      return;
    }
    case 'map': {
      if (!isObject(value) || f.mapKey !== ScalarType.STRING) throw UNHANDLED;
      const keys = Object.keys(value).sort(byCodePoint);
      for (const k of keys) {
        const v = value[k];
        if (v === undefined) continue;
        if (v === null) throw UNHANDLED;
        w.tag(f.number, WIRE_LEN);
        const entry = w.fork();
        w.tag(1, WIRE_LEN);
        w.string(k);
        if (f.mapKind === 'message') {
          w.tag(2, WIRE_LEN);
          const at = w.fork();
          writeMessageBody(w, planOf(f.message), v);
          w.join(at);
        } else if (f.mapKind === 'enum') {
          w.tag(2, WIRE_VARINT);
          w.int32(enumNumber(f.enum.values, v));
        } else {
          writeScalar(w, 2, f.scalar, scalarValue(f.scalar, v));
        }
        w.join(entry);
      }
      return;
    }
  }
}

function enumNumber(values: readonly { name: string; number: number }[], value: unknown): number {
  if (typeof value !== 'string') throw UNHANDLED;
  for (const v of values) if (v.name === value) return v.number;
  throw UNHANDLED;
}

/** A JSON scalar as the number, boolean or string to write; UNHANDLED for any other form. */
function scalarValue(type: ScalarType, value: unknown): number | boolean | string {
  switch (type) {
    case ScalarType.STRING:
      if (typeof value !== 'string') throw UNHANDLED;
      return value;
    case ScalarType.BOOL:
      if (typeof value !== 'boolean') throw UNHANDLED;
      return value;
    case ScalarType.DOUBLE:
      if (typeof value !== 'number' || !Number.isFinite(value)) throw UNHANDLED;
      return value;
    case ScalarType.FLOAT:
      if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX)
        throw UNHANDLED;
      return value;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      if (!Number.isInteger(value) || (value as number) < INT32_MIN || (value as number) > INT32_MAX)
        throw UNHANDLED;
      return value as number;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > UINT32_MAX)
        throw UNHANDLED;
      return value as number;
    case ScalarType.INT64:
    case ScalarType.UINT64:
      // non-negative safe integers, as a number or a decimal string (proto3 JSON writes strings)
      if (typeof value === 'string' && /^(0|[1-9][0-9]{0,14})$/.test(value)) return Number(value);
      if (!Number.isSafeInteger(value) || (value as number) < 0) throw UNHANDLED;
      return value as number;
    default:
      throw UNHANDLED; // bytes, fixed64, sfixed64, sint32/64 zig-zag forms: rare in Envoy's API
  }
}

function isZero(type: ScalarType, v: number | boolean | string): boolean {
  if (type === ScalarType.DOUBLE || type === ScalarType.FLOAT) return Object.is(v, 0);
  return v === 0 || v === false || v === '';
}

function writeScalar(w: Writer, no: number, type: ScalarType, v: number | boolean | string): void {
  switch (type) {
    case ScalarType.STRING:
      w.tag(no, WIRE_LEN);
      break;
    case ScalarType.DOUBLE:
      w.tag(no, WIRE_64);
      break;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      w.tag(no, WIRE_32);
      break;
    default:
      w.tag(no, WIRE_VARINT);
  }
  writeScalarValue(w, type, v);
}

function writeScalarValue(w: Writer, type: ScalarType, v: number | boolean | string): void {
  switch (type) {
    case ScalarType.STRING:
      return w.string(v as string);
    case ScalarType.BOOL:
      return w.varint(v ? 1 : 0);
    case ScalarType.DOUBLE:
      return w.double(v as number);
    case ScalarType.FLOAT:
      return w.float(v as number);
    case ScalarType.FIXED32:
      return w.fixed32(v as number);
    case ScalarType.SFIXED32:
      return w.sfixed32(v as number);
    case ScalarType.SINT32: {
      const n = v as number;
      return w.varint(((n << 1) ^ (n >> 31)) >>> 0);
    }
    case ScalarType.INT32:
      return w.int32(v as number);
    default:
      return w.varint(v as number); // uint32, and non-negative int64/uint64
  }
}

function writeAny(w: Writer, json: unknown): void {
  if (!isObject(json)) throw UNHANDLED;
  const typeUrl = json['@type'];
  if (typeof typeUrl !== 'string' || typeUrl === '') throw UNHANDLED;
  const inner = findType(typeNameOfUrl(typeUrl));
  if (!inner) throw UNHANDLED;
  w.tag(1, WIRE_LEN);
  w.string(typeUrl);
  const before = w.pos;
  w.tag(2, WIRE_LEN);
  const at = w.fork();
  const plan = planOf(inner);
  if (plan.special === undefined) writeFields(w, plan, json, true);
  else {
    for (const k in json) if (k !== '@type' && k !== 'value' && json[k] !== undefined) throw UNHANDLED;
    writeMessageBody(w, plan, json.value);
  }
  // bytes have implicit presence: an empty body is not written
  if (w.pos === at + 1) w.pos = before;
  else w.join(at);
}

/** Struct, Value and ListValue from plain JSON (object keys in sorted order, as protojson.ts sorts). */
function writePlain(w: Writer, typeName: string, json: unknown): void {
  if (typeName === 'google.protobuf.Struct') return writeStruct(w, json);
  if (typeName === 'google.protobuf.ListValue') return writeList(w, json);
  return writeValue(w, json);
}

function writeStruct(w: Writer, json: unknown): void {
  if (!isObject(json)) throw UNHANDLED;
  const keys = Object.keys(json).sort(byCodePoint);
  for (const k of keys) {
    const v = json[k];
    if (v === undefined) continue;
    w.tag(1, WIRE_LEN);
    const entry = w.fork();
    w.tag(1, WIRE_LEN);
    w.string(k);
    w.tag(2, WIRE_LEN);
    const at = w.fork();
    writeValue(w, v);
    w.join(at);
    w.join(entry);
  }
}

function writeList(w: Writer, json: unknown): void {
  if (!Array.isArray(json)) throw UNHANDLED;
  for (const item of json) {
    if (item === undefined) throw UNHANDLED;
    w.tag(1, WIRE_LEN);
    const at = w.fork();
    writeValue(w, item);
    w.join(at);
  }
}

function writeValue(w: Writer, json: unknown): void {
  if (json === null) {
    w.tag(1, WIRE_VARINT);
    w.varint(0);
  } else if (typeof json === 'number') {
    if (!Number.isFinite(json)) throw UNHANDLED;
    w.tag(2, WIRE_64);
    w.double(json);
  } else if (typeof json === 'string') {
    w.tag(3, WIRE_LEN);
    w.string(json);
  } else if (typeof json === 'boolean') {
    w.tag(4, WIRE_VARINT);
    w.varint(json ? 1 : 0);
  } else if (Array.isArray(json)) {
    w.tag(6, WIRE_LEN);
    const at = w.fork();
    writeList(w, json);
    w.join(at);
  } else if (isObject(json)) {
    w.tag(5, WIRE_LEN);
    const at = w.fork();
    writeStruct(w, json);
    w.join(at);
  } else throw UNHANDLED;
}

const WRAPPERS: Readonly<Record<string, ScalarType>> = {
  'google.protobuf.DoubleValue': ScalarType.DOUBLE,
  'google.protobuf.FloatValue': ScalarType.FLOAT,
  'google.protobuf.Int64Value': ScalarType.INT64,
  'google.protobuf.UInt64Value': ScalarType.UINT64,
  'google.protobuf.Int32Value': ScalarType.INT32,
  'google.protobuf.UInt32Value': ScalarType.UINT32,
  'google.protobuf.BoolValue': ScalarType.BOOL,
  'google.protobuf.StringValue': ScalarType.STRING,
};

/** Duration (`1.5s`) and the wrappers; Timestamp, FieldMask and BytesValue are left to bufbuild. */
function writeOther(w: Writer, typeName: string, json: unknown): void {
  if (typeName === 'google.protobuf.Duration') {
    if (typeof json !== 'string') throw UNHANDLED;
    const m = /^([0-9]{1,12})(?:\.([0-9]{1,9}))?s$/.exec(json);
    if (!m) throw UNHANDLED;
    const seconds = Number(m[1]);
    if (seconds > DURATION_SECONDS_MAX) throw UNHANDLED;
    const nanos = m[2] === undefined ? 0 : Number(m[2].padEnd(9, '0'));
    if (seconds !== 0) {
      w.tag(1, WIRE_VARINT);
      w.varint(seconds);
    }
    if (nanos !== 0) {
      w.tag(2, WIRE_VARINT);
      w.varint(nanos);
    }
    return;
  }
  const type = WRAPPERS[typeName];
  if (type === undefined) throw UNHANDLED;
  const v = scalarValue(type, json);
  if (!isZero(type, v)) writeScalar(w, 1, type, v);
}
