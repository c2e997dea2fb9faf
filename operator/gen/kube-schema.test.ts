import { Type } from '@sinclair/typebox';
import { Arr, Int, Obj } from '../api/schema-builders.ts';
import { kubeSchema } from './kube-schema.ts';

test('keys come out as description, type, shape, then constraints; TypeBox symbols are dropped', () => {
  const s = kubeSchema(
    Obj(
      'An object.',
      { items: Arr('A list.', Int('An item.', { minimum: 0 }), { maxItems: 2 }) },
      { default: {} },
    ),
  );
  expect(JSON.stringify(s)).toBe(
    JSON.stringify({
      description: 'An object.',
      type: 'object',
      properties: {
        items: {
          description: 'A list.',
          type: 'array',
          items: { description: 'An item.', type: 'integer', format: 'int32', minimum: 0 },
          maxItems: 2,
        },
      },
      default: {},
    }),
  );
});

test('additionalProperties: false goes (the API server prunes unknown fields instead)', () => {
  const s = kubeSchema(
    Type.Object({ a: Type.String({ description: 'A.' }) }, { additionalProperties: false }),
  );
  expect(s.additionalProperties).toBeUndefined();
  expect(s.required).toEqual(['a']);
});
