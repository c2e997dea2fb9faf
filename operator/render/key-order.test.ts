// KeyOrder: one change goes into place; a bulk load is sorted once when read, without the values
// replaced or removed meanwhile; the result is the same either way.
import { mulberry32 } from '../../test/support/prng.ts';
import { KeyOrder } from './key-order.ts';

interface V {
  key: string;
  n: number;
}

function model() {
  const live = new Map<string, V>();
  const order = new KeyOrder<V>(
    (v) => v.key,
    (v) => live.get(v.key) === v,
  );
  return {
    live,
    order,
    set(key: string, n: number) {
      const v = { key, n };
      const old = live.get(key);
      live.set(key, v);
      if (old) order.replace(old, v);
      else order.insert(v);
    },
    del(key: string) {
      const old = live.get(key);
      if (!old) return;
      live.delete(key);
      order.remove(old);
    },
    expected: () => [...live.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
  };
}

test('single changes and bulk loads give the values in key order, replaced and removed ones gone', () => {
  for (const bulk of [5, 200]) {
    const rnd = mulberry32(bulk);
    const m = model();
    for (let round = 0; round < 20; round++) {
      // `bulk` changes between reads: 5 stay in place one by one, 200 go past the bulk threshold
      for (let i = 0; i < bulk; i++) {
        const key = `k${Math.floor(rnd() * 300)}`;
        if (rnd() < 0.25) m.del(key);
        else m.set(key, round);
      }
      expect(m.order.sorted()).toEqual(m.expected());
    }
  }
});
