// Protobuf wire-level splicing for protojson.ts: a message whose repeated message fields were
// encoded element by element (so the bytes of an unchanged element can be reused) is put together
// from the bytes of its other fields and those elements, in field-number order, exactly as one
// encode of the whole message would have written it.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

/** The separately encoded elements of one repeated message field (`no`: its field number). */
export interface Split {
  no: number;
  elements: Uint8Array[];
}

/**
 * The message from its other fields' bytes and the separately encoded elements of its repeated
 * message fields, every field in field-number order (as bufbuild writes a whole message), in one
 * allocation.
 */
export function assemble(rest: Uint8Array, parts: Split[]): Uint8Array {
  parts.sort((a, b) => a.no - b.no);
  // where each part goes: the offset in `rest` of the first field with a higher number
  const cuts: number[] = [];
  const r = new BinaryReader(rest);
  let p = 0;
  while (r.pos < r.len && p < parts.length) {
    const at = r.pos;
    const [no, wireType] = r.tag();
    for (; p < parts.length && (parts[p] as Split).no < no; p++) cuts.push(at);
    r.skip(wireType, no);
  }
  for (; p < parts.length; p++) cuts.push(rest.length);
  let size = rest.length;
  for (const part of parts) {
    const tag = varintSize(((part.no << 3) | WireType.LengthDelimited) >>> 0);
    for (const e of part.elements) size += tag + varintSize(e.length) + e.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  let from = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as Split;
    const cut = cuts[i] as number;
    out.set(rest.subarray(from, cut), at);
    at += cut - from;
    from = cut;
    const tag = ((part.no << 3) | WireType.LengthDelimited) >>> 0;
    for (const e of part.elements) {
      at = writeVarint(out, at, tag);
      at = writeVarint(out, at, e.length);
      out.set(e, at);
      at += e.length;
    }
  }
  out.set(rest.subarray(from), at);
  return out;
}

function varintSize(n: number): number {
  let size = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    out[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}
