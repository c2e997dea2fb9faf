import { setCondition, stamp, type ConditionLike } from './condition.ts';

const before: ConditionLike[] = [
  { type: 'Ready', status: 'False', reason: 'A', message: 'a', lastTransitionTime: 't0' },
];

test('lastTransitionTime changes only with the status', () => {
  expect(stamp(before, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 't1')).toEqual({
    type: 'Ready',
    status: 'False',
    reason: 'B',
    message: 'b',
    lastTransitionTime: 't0',
  });
  expect(stamp(before, { type: 'Ready', status: 'True' }, 't1').lastTransitionTime).toBe('t1');
  expect(stamp(undefined, { type: 'Ready', status: 'True' }, 't2').lastTransitionTime).toBe('t2');
});

test('empty reason and message are left out; observedGeneration is kept', () => {
  expect(
    stamp([], { type: 'X', status: 'True', reason: '', message: '', observedGeneration: 3 }, 't'),
  ).toEqual({
    type: 'X',
    status: 'True',
    observedGeneration: 3,
    lastTransitionTime: 't',
  });
});

test('setCondition replaces in place or appends', () => {
  const two = setCondition(before, { type: 'Other', status: 'True' }, 't1');
  expect(two.map((c) => c.type)).toEqual(['Ready', 'Other']);
  const replaced = setCondition(two, { type: 'Ready', status: 'True' }, 't2');
  expect(replaced.map((c) => [c.type, c.status, c.lastTransitionTime])).toEqual([
    ['Ready', 'True', 't2'],
    ['Other', 'True', 't1'],
  ]);
});
