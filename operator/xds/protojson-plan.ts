// What protojson.ts needs to know about one protobuf message type, worked out once per type
// descriptor and remembered: its fields by .proto name, whether it is a well-known type with a JSON
// form of its own (Any, the plain-JSON Struct family, the others bufbuild maps), and its repeated
// message fields (whose elements protojson.ts may encode one by one).
import type { DescField, DescMessage } from '@bufbuild/protobuf';

/** Well-known types with their own JSON form (bufbuild maps them; kgw only canonicalises some). */
export type Special = 'any' | 'plain' | 'other';

const PLAIN_JSON = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue']);
const OTHER_SPECIAL = new Set([
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
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

export type ListOfMessages = Extract<DescField, { fieldKind: 'list'; listKind: 'message' }>;

export interface TypePlan {
  readonly desc: DescMessage;
  readonly special: Special | undefined;
  /** Fields by .proto name. */
  readonly fields: ReadonlyMap<string, DescField>;
  /** Repeated message fields, by .proto name: their elements are encoded alone near the top. */
  readonly split: ReadonlyMap<string, ListOfMessages>;
}

const plans = new WeakMap<DescMessage, TypePlan>();

/** The plan of a message type, made once per descriptor. */
export function planOf(desc: DescMessage): TypePlan {
  let plan = plans.get(desc);
  if (plan) return plan;
  const name = desc.typeName;
  const special: Special | undefined =
    name === 'google.protobuf.Any'
      ? 'any'
      : PLAIN_JSON.has(name)
        ? 'plain'
        : OTHER_SPECIAL.has(name)
          ? 'other'
          : undefined;
  const fields = new Map<string, DescField>();
  const split = new Map<string, ListOfMessages>();
  for (const f of desc.fields) {
    fields.set(f.name, f);
    if (f.fieldKind === 'list' && f.listKind === 'message') split.set(f.name, f);
  }
  plan = { desc, special, fields, split };
  plans.set(desc, plan);
  return plan;
}
