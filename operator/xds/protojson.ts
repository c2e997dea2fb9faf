// Canonical proto3 JSON (with .proto field names, i.e. snake_case) ⇄ protobuf binary for xDS
// resources, on @bufbuild/protobuf (a conformance-tested runtime) over Envoy's descriptors
// (protos.ts). The mapping itself is bufbuild's fromJson/toBinary and fromBinary/toJson; kgw adds:
//
// - Keys: only .proto field names are accepted. A lowerCamelCase JSON name (which the proto3 JSON
//   spec also allows) is rejected with a hint, so what kgw renders reads back the same; a key whose
//   value is `undefined` is left out, as JSON.stringify would.
// - Determinism: map entries (and google.protobuf.Struct fields) are written in key order, so equal
//   content always gives equal bytes (and so equal versions); fields are in field-number order.
// - Errors: a ProtoJsonError names the JSON path ($.virtual_hosts[3].routes[0].match) of what does
//   not fit, found by re-running bufbuild on the parts of a value that failed.
// - Reuse: elements of long repeated message fields near the top of a resource (the virtual hosts
//   of a route table, the filter chains of a listener, and the routes of a virtual host with many)
//   are encoded on their own and their bytes remembered per JSON object (WeakMap): a later snapshot
//   that passes the same, unmutated object again reuses those bytes instead of encoding it again
//   (spliced into the message by protojson-assemble.ts).
// - Speed: a message whose JSON has only the forms kgw renders is written by protojson-fast.ts,
//   straight from the JSON to the same bytes; bufbuild does the rest (and reports errors).
//
// What each message type's fields and JSON form are is worked out once per type (protojson-plan.ts).
import {
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescField,
  type DescMessage,
  type JsonValue as BufJsonValue,
} from '@bufbuild/protobuf';
import { assemble, type Split } from './protojson-assemble.ts';
import { fastEncode } from './protojson-fast.ts';
import { planOf, type TypePlan } from './protojson-plan.ts';
import { ENVOY_API, envoyRegistry, findType, messageType, typeNameOfUrl } from './protos.ts';
import { byCodePoint } from '../order.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

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

/** Encodes a canonical-JSON resource of the given type URL (or full message name) to bytes. */
export function encodeResource(typeUrl: string, json: object): Buffer {
  return encodeMessage(messageType(typeNameOfUrl(typeUrl)), json);
}

/** Decodes resource bytes back to canonical JSON (snake_case, implicit defaults omitted). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): JsonObject {
  return decodeMessage(messageType(typeNameOfUrl(typeUrl)), bytes);
}

/** Encodes a message from canonical JSON; throws ProtoJsonError naming the JSON path. */
export function encodeMessage(desc: DescMessage, json: object, path = '$'): Buffer {
  try {
    const out = encodeAt(desc, json, 0);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    if (err instanceof PathError)
      throw new ProtoJsonError(path + err.segments.reverse().join(''), err.detail);
    throw err;
  }
}

/** Decodes a message to canonical JSON; a top-level well-known type comes back as `{ value }`. */
export function decodeMessage(desc: DescMessage, bytes: Uint8Array): JsonObject {
  let json: BufJsonValue;
  try {
    json = toJson(desc, fromBinary(desc, bytes), { registry: envoyRegistry(), useProtoFieldName: true });
  } catch (err) {
    throw new ProtoJsonError('$', err instanceof Error ? err.message : String(err));
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return { value: json };
  return json;
}

// ---------------------------------------------------------------------------------------------
// errors: segments are added on the way out, so the happy path builds no path strings

class PathError extends Error {
  /** Innermost first. */
  readonly segments: string[] = [];
  readonly detail: string;
  constructor(detail: string, segment?: string) {
    super(detail);
    this.detail = detail;
    if (segment !== undefined) this.segments.push(segment);
  }
}

/** The error, with `segment` added to its path if it is a PathError (for `catch` blocks). */
function under(err: unknown, segment: string): unknown {
  if (err instanceof PathError) err.segments.push(segment);
  return err;
}

const keySegment = (key: string): string => `.${key}`;
const indexSegment = (key: string, i: number): string => `.${key}[${i}]`;
const mapSegment = (key: string, k: string): string => `.${key}[${JSON.stringify(k)}]`;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

// ---------------------------------------------------------------------------------------------
// encoding

/** Depth below which repeated message elements are encoded alone and remembered (see header). */
const ELEMENT_CACHE_DEPTH = 2;
/**
 * Elements are encoded alone only in lists at least this long: a short list is encoded with its
 * parent for less than keeping its elements apart costs (a bufbuild message per element).
 */
const SPLIT_MIN = 8;
const elementBytes = new WeakMap<object, { desc: DescMessage; bytes: Uint8Array }>();

function encodeAt(desc: DescMessage, json: unknown, depth: number): Uint8Array {
  const plan = planOf(desc);
  if (depth >= ELEMENT_CACHE_DEPTH || plan.split.size === 0 || !isObject(json))
    return encodeWhole(plan, json);
  let rest: Record<string, unknown> | undefined;
  let parts: Split[] | undefined;
  for (const key in json) {
    const f = plan.split.get(key);
    const value = json[key];
    if (f === undefined || !Array.isArray(value) || value.length < SPLIT_MIN) continue;
    rest ??= { ...json };
    delete rest[key];
    const elements: Uint8Array[] = [];
    for (let i = 0; i < value.length; i++) {
      try {
        elements.push(elementOf(f.message, value[i], depth + 1));
      } catch (err) {
        throw under(err, indexSegment(key, i));
      }
    }
    (parts ??= []).push({ no: f.number, elements });
  }
  if (!rest || !parts) return encodeWhole(plan, json);
  return assemble(encodeWhole(plan, rest), parts);
}

function elementOf(desc: DescMessage, json: unknown, depth: number): Uint8Array {
  if (!isObject(json)) return encodeAt(desc, json, depth);
  const hit = elementBytes.get(json);
  if (hit && hit.desc === desc) return hit.bytes;
  const bytes = encodeAt(desc, json, depth);
  elementBytes.set(json, { desc, bytes });
  return bytes;
}

/** One message: by protojson-fast.ts when it handles the JSON's form, else by bufbuild. */
function encodeWhole(plan: TypePlan, json: unknown): Uint8Array {
  return (!slowOnly && fastEncode(plan.desc, json)) || encodeByBufbuild(plan, json);
}

let slowOnly = false;

/**
 * Encodes with bufbuild alone, never the direct encoder (tests and benchmarks compare the two);
 * element bytes remembered from earlier encodes are not reused.
 */
export function encodeMessageByBufbuild(desc: DescMessage, json: object): Buffer {
  slowOnly = true;
  try {
    const out = encodeByBufbuild(planOf(desc), json);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    if (err instanceof PathError) throw new ProtoJsonError('$' + err.segments.reverse().join(''), err.detail);
    throw err;
  } finally {
    slowOnly = false;
  }
}

/** One message by bufbuild, after canonicalising its JSON (see the header). */
function encodeByBufbuild(plan: TypePlan, json: unknown): Uint8Array {
  const canonical = canonMessage(plan.desc, json) as BufJsonValue;
  const registry = envoyRegistry();
  let message;
  try {
    message = fromJson(plan.desc, canonical, { registry });
  } catch (err) {
    throw locate(plan.desc, canonical, err);
  }
  return toBinary(plan.desc, message);
}

// ---------------------------------------------------------------------------------------------
// canonical JSON: .proto names only, no undefined, map keys sorted. Returns its input when that is
// already canonical, else a copy of only what had to change. Values are left to bufbuild.

function canonMessage(desc: DescMessage, json: unknown): unknown {
  const plan = planOf(desc);
  if (plan.special === 'any') return canonAny(json);
  if (plan.special === 'plain') return canonPlain(json);
  if (plan.special === 'other' || !isObject(json)) return json;
  return canonFields(plan, json, false);
}

function canonFields(
  plan: TypePlan,
  json: Record<string, unknown>,
  skipType: boolean,
): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(json);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const value = json[key];
    if (value === undefined || (skipType && key === '@type')) {
      if (value === undefined) out ??= copyOf(json, keys, i);
      else if (out) out[key] = value;
      continue;
    }
    const f = plan.fields.get(key);
    if (!f) throw unknownField(plan.desc, key);
    let v: unknown = value;
    if (value !== null) {
      if (f.fieldKind === 'message') {
        try {
          v = canonMessage(f.message, value);
        } catch (err) {
          throw under(err, keySegment(key));
        }
      } else if (f.fieldKind === 'list' && f.listKind === 'message' && Array.isArray(value))
        v = canonList(f.message, key, value);
      else if (f.fieldKind === 'map' && isObject(value)) v = canonMap(f, key, value);
    }
    if (out) out[key] = v;
    else if (v !== value) {
      out = copyOf(json, keys, i);
      out[key] = v;
    }
  }
  return out ?? json;
}

/** The first `n` entries of `json` (all defined) in a new object. */
function copyOf(json: Record<string, unknown>, keys: string[], n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const k = keys[i] as string;
    out[k] = json[k];
  }
  return out;
}

function unknownField(desc: DescMessage, key: string): PathError {
  const byJsonName = desc.fields.find((f) => f.jsonName === key);
  const hint = byJsonName ? ` (use the proto field name "${byJsonName.name}")` : '';
  return new PathError(`unknown field "${key}" in ${desc.typeName}${hint}`, keySegment(key));
}

function canonList(desc: DescMessage, key: string, list: unknown[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const value = list[i];
    let v: unknown;
    try {
      v = canonMessage(desc, value);
    } catch (err) {
      throw under(err, indexSegment(key, i));
    }
    if (out) out.push(v);
    else if (v !== value) {
      out = list.slice(0, i);
      out.push(v);
    }
  }
  return out ?? list;
}

/**
 * `obj` with each value replaced by `each(key, value)`, keys in sorted order and undefined values
 * left out; `obj` itself when that changes nothing (the common case: no copy).
 */
function canonKeys(
  obj: Record<string, unknown>,
  each: (key: string, value: unknown) => unknown,
): Record<string, unknown> {
  const keys = Object.keys(obj);
  let sorted = true;
  let changed = false;
  const values: unknown[] = [];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    if (i > 0 && (keys[i - 1] as string) > k) sorted = false;
    const value = obj[k];
    const v = each(k, value);
    if (v !== value || value === undefined) changed = true;
    values.push(v);
  }
  if (sorted && !changed) return obj;
  const order = keys.map((k, i) => [k, values[i]] as const).sort(([a], [b]) => byCodePoint(a, b));
  const out: Record<string, unknown> = {};
  for (const [k, v] of order) if (v !== undefined) out[k] = v;
  return out;
}

function canonMap(
  f: Extract<DescField, { fieldKind: 'map' }>,
  key: string,
  map: Record<string, unknown>,
): unknown {
  return canonKeys(map, (k, value) => {
    if (value === undefined || value === null || f.mapKind !== 'message') return value;
    try {
      return canonMessage(f.message, value);
    } catch (err) {
      throw under(err, mapSegment(key, k));
    }
  });
}

/** Struct / Value / ListValue: plain JSON, object keys sorted, undefined left out. */
function canonPlain(json: unknown): unknown {
  if (Array.isArray(json)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < json.length; i++) {
      const value: unknown = json[i];
      const v = canonPlain(value);
      if (out) out.push(v);
      else if (v !== value) {
        out = json.slice(0, i) as unknown[];
        out.push(v);
      }
    }
    return out ?? json;
  }
  if (!isObject(json)) return json;
  return canonKeys(json, (_k, value) => canonPlain(value));
}

function canonAny(json: unknown): unknown {
  if (!isObject(json)) return json;
  const typeUrl = json['@type'];
  if (typeUrl === undefined && Object.keys(json).length === 0) return json;
  if (typeof typeUrl !== 'string' || typeUrl === '') {
    throw new PathError('google.protobuf.Any needs an "@type" string');
  }
  const typeName = typeNameOfUrl(typeUrl);
  const inner = findType(typeName);
  if (!inner) {
    throw new PathError(
      `Any has "@type" ${typeUrl} but ${typeName} is not in kgw's Envoy API ${ENVOY_API.envoy} ` +
        '(add its package to operator/xds/envoy-api/main.go and run npm run gen:protos)',
    );
  }
  const plan = planOf(inner);
  if (plan.special === undefined) return canonFields(plan, json, true);
  const value = json.value;
  const v = canonMessage(inner, value);
  return v === value ? json : { ...json, value: v };
}

// ---------------------------------------------------------------------------------------------
// finding the JSON path of a value bufbuild refused: narrow down to the smallest part that still
// fails on its own (a field, an element, a map entry, the body of an Any) and report its error.

const LOCATE_DEPTH = 100;

function locate(desc: DescMessage, json: unknown, cause: unknown): PathError {
  const segments: string[] = [];
  let detail = messageOf(cause);
  let d: DescMessage | undefined = desc;
  let j = json;
  for (let depth = 0; d && depth < LOCATE_DEPTH; depth++) {
    const next = failingPart(d, j);
    if (!next) break;
    if (next.segment) segments.push(next.segment);
    detail = next.detail;
    d = next.desc;
    j = next.json;
  }
  const err = new PathError(detail);
  err.segments.push(...segments.reverse());
  return err;
}

interface Part {
  segment: string;
  detail: string;
  /** Set when the part is a message to narrow down further. */
  desc?: DescMessage;
  json?: unknown;
}

function failure(desc: DescMessage, json: unknown): string | undefined {
  try {
    fromJson(desc, json as BufJsonValue, { registry: envoyRegistry() });
    return undefined;
  } catch (err) {
    return messageOf(err);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function failingPart(desc: DescMessage, json: unknown): Part | undefined {
  const plan = planOf(desc);
  if (plan.special === 'any' && isObject(json) && typeof json['@type'] === 'string') {
    const inner = findType(typeNameOfUrl(json['@type']));
    if (!inner || planOf(inner).special !== undefined) return undefined;
    const body = { ...json };
    delete body['@type'];
    const detail = failure(inner, body);
    return detail === undefined ? undefined : { segment: '', detail, desc: inner, json: body };
  }
  if (plan.special || !isObject(json)) return undefined;
  for (const key of Object.keys(json)) {
    const f = plan.fields.get(key);
    const value = json[key];
    if (!f) continue;
    const detail = failure(desc, { [key]: value });
    if (detail === undefined) continue;
    if (f.fieldKind === 'message') return { segment: keySegment(key), detail, desc: f.message, json: value };
    if (f.fieldKind === 'list' && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        const d = f.listKind === 'message' ? failure(f.message, item) : failure(desc, { [key]: [item] });
        if (d === undefined) continue;
        // a scalar item: the whole field's error names the same (first failing) item, by its place
        return f.listKind === 'message'
          ? { segment: indexSegment(key, i), detail: d, desc: f.message, json: item }
          : { segment: indexSegment(key, i), detail };
      }
    }
    if (f.fieldKind === 'map' && isObject(value)) {
      for (const k of Object.keys(value)) {
        const d = failure(desc, { [key]: { [k]: value[k] } });
        if (d === undefined) continue;
        return f.mapKind === 'message'
          ? { segment: mapSegment(key, k), detail: d, desc: f.message, json: value[k] }
          : { segment: mapSegment(key, k), detail: d };
      }
    }
    return { segment: keySegment(key), detail: detail + enumHint(f, value) };
  }
  return undefined;
}

function enumHint(f: DescField, value: unknown): string {
  if (f.fieldKind !== 'enum' || typeof value !== 'string') return '';
  const names = f.enum.values.map((v) => v.name);
  if (names.includes(value)) return '';
  return ` (unknown value; one of ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', …' : ''})`;
}
