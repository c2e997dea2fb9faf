import { byCodePoint } from './order.ts';

describe('byCodePoint', () => {
  it('orders by code units, not by a locale: upper case before lower, punctuation by its code', () => {
    const names = ['b', 'a', 'B', '~x', '-x', 'a-b', 'ab', 'x-Ca-Key', 'x-ca-key'];
    expect([...names].sort(byCodePoint)).toEqual([
      '-x',
      'B',
      'a',
      'a-b',
      'ab',
      'b',
      'x-Ca-Key',
      'x-ca-key',
      '~x',
    ]);
    // the collation kgw no longer depends on puts these differently
    expect([...names].sort((x, y) => x.localeCompare(y, 'en'))).not.toEqual([...names].sort(byCodePoint)); // eslint-disable-line no-restricted-properties
  });

  it('is a total order: equal strings compare 0, and the order is antisymmetric', () => {
    expect(byCodePoint('a', 'a')).toBe(0);
    expect(byCodePoint('a', 'b')).toBe(-1);
    expect(byCodePoint('b', 'a')).toBe(1);
  });
});
