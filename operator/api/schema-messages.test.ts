import { schemaErrors } from './schema-check.ts';
import { Arr, Enum, Int, IntOrString, MapOf, MapValue, Num, Obj, Str } from './schema-builders.ts';
import { schemaMessages } from './schema-messages.ts';

const Schema = Obj(
  'A test object.',
  {
    name: Str('A name.', { pattern: '^[a-z]+$', minLength: 1, maxLength: 5 }),
    host: Str('A host.', { pattern: '^[a-z.]+$', invalid: () => 'must be a host name' }),
    count: Int('A count.', { minimum: 1, maximum: 3 }),
    floor: Int('A floor.', { minimum: 0 }),
    share: Num('A share.', { minimum: 0, maximum: 100 }),
    kind: Enum('A kind.', { enum: ['A', 'B'] as const }),
    list: Arr('A list.', Int('An item.'), { minItems: 1, maxItems: 2 }),
    short: Arr('A short list.', Int('An item.'), { maxItems: 1 }),
    labels: MapOf('Labels.', MapValue({ maxLength: 3 }), { maxProperties: 1 }),
    quantity: IntOrString('A quantity.', { pattern: '^[0-9]+m$' }),
  },
  { required: ['name'] },
);

const messages = (v: unknown): string[] =>
  schemaMessages(
    schemaErrors(Schema, v),
    'spec',
    new Map([['^[a-z]+$', (s: string) => `${s} is not lower case`]]),
  );

test.each<[string, unknown, string[]]>([
  ['a missing required field', {}, ['spec.name: required']],
  ['a pattern worded by the table', { name: 'A' }, ['spec.name: A is not lower case']],
  ['a pattern worded by the field', { name: 'a', host: 'A' }, ['spec.host: must be a host name']],
  [
    'an empty string',
    { name: '' },
    ['spec.name: must be a non-empty string', 'spec.name:  is not lower case'],
  ],
  ['a long string', { name: 'abcdef' }, ['spec.name: must be at most 5 characters']],
  ['an integer out of range', { name: 'a', count: 4 }, ['spec.count: must be between 1 and 3, is 4']],
  ['an integer below its minimum', { name: 'a', floor: -1 }, ['spec.floor: must be at least 0, is -1']],
  ['a fraction for an integer', { name: 'a', count: 1.5 }, ['spec.count: must be an integer']],
  ['a number out of range', { name: 'a', share: 101 }, ['spec.share: must be a number from 0 to 100']],
  ['a string for a number', { name: 'a', share: '5' }, ['spec.share: must be a number from 0 to 100']],
  ['an unknown enum value', { name: 'a', kind: 'C' }, ['spec.kind: must be one of A, B']],
  ['too few items', { name: 'a', list: [] }, ['spec.list: must have 1 to 2 items, has 0']],
  ['too many items', { name: 'a', short: [1, 2] }, ['spec.short: must have at most 1 items']],
  ['an item of the wrong type', { name: 'a', list: ['x'] }, ['spec.list[0]: must be an integer']],
  [
    'too many map entries, a long value',
    { name: 'a', labels: { a: 'abcd', b: 'c' } },
    ['spec.labels: must have at most 1 entries', 'spec.labels.a: must be at most 3 characters'],
  ],
  [
    'an int-or-string of neither',
    { name: 'a', quantity: true },
    ['spec.quantity: must be an integer or a string'],
  ],
  [
    'an int-or-string string off its pattern',
    { name: 'a', quantity: '5' },
    ['spec.quantity: "5" must match ^[0-9]+m$'],
  ],
  ['not an object', [], ['spec: must be an object']],
])('%s', (_what, value, expected) => {
  expect(messages(value)).toEqual(expected);
});

test('a valid value has no messages', () => {
  expect(messages({ name: 'a', count: 2, quantity: 5, labels: { a: 'b' } })).toEqual([]);
});
