import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { assemble } from './protojson-assemble.ts';

/** Bytes of length-delimited fields written in the order given, by bufbuild's writer. */
function fields(...list: [no: number, bytes: Uint8Array][]): Uint8Array {
  const w = new BinaryWriter();
  for (const [no, bytes] of list) w.tag(no, 2).bytes(bytes);
  return w.finish();
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

test('elements go between the other fields in field-number order, as a whole encode writes them', () => {
  const a = bytes(3, 1);
  const c = bytes(2, 3);
  const e = bytes(1, 5);
  const b1 = bytes(4, 2);
  const b2 = bytes(0, 2);
  const d = bytes(5, 4);
  const rest = fields([1, a], [3, c], [5, e]);
  // parts in any order: assemble sorts them
  const out = assemble(rest, [
    { no: 4, elements: [d] },
    { no: 2, elements: [b1, b2] },
  ]);
  expect(out).toEqual(fields([1, a], [2, b1], [2, b2], [3, c], [4, d], [5, e]));
});

test('parts before and after every other field, and a message of parts only', () => {
  const x = bytes(2, 7);
  expect(assemble(fields([5, x]), [{ no: 1, elements: [x] }])).toEqual(fields([1, x], [5, x]));
  expect(assemble(fields([1, x]), [{ no: 9, elements: [x, x] }])).toEqual(fields([1, x], [9, x], [9, x]));
  expect(assemble(new Uint8Array(0), [{ no: 3, elements: [x] }])).toEqual(fields([3, x]));
});

test('multi-byte varints: a long element and a field number whose tag takes two bytes', () => {
  const long = bytes(300, 9);
  const small = bytes(1, 1);
  const out = assemble(fields([1, small], [40, small]), [
    { no: 20, elements: [long] },
    { no: 1000, elements: [long] },
  ]);
  expect(out).toEqual(fields([1, small], [20, long], [40, small], [1000, long]));
});
