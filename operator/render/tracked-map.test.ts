import { TrackedMap } from './tracked-map.ts';

test('reports the keys set or deleted after a revision, each once, and nothing for an absent delete', () => {
  const m = new TrackedMap<number>();
  m.set('a', 1);
  m.set('b', 2);
  const r = m.revision;
  m.set('a', 3);
  m.delete('b');
  m.delete('nope');
  m.set('a', 4);
  expect(m.touchedSince(r)?.sort()).toEqual(['a', 'b']);
  expect(m.touchedSince(m.revision)).toEqual([]);
  expect(m.touchedSince(0)?.sort()).toEqual(['a', 'b']);
  const r2 = m.revision;
  m.clear();
  expect(m.touchedSince(r2)).toEqual(['a']);
});

test('forgetUpTo: older revisions are no longer known; newer changes still are', () => {
  const m = new TrackedMap<number>();
  m.set('a', 1);
  const r1 = m.revision;
  m.set('b', 2);
  const r2 = m.revision;
  m.forgetUpTo(r2);
  expect(m.touchedSince(r1)).toBeUndefined();
  expect(m.touchedSince(r2)).toEqual([]);
  m.set('a', 5);
  expect(m.touchedSince(r2)).toEqual(['a']);
  expect(m.touchedSince(m.revision + 1)).toBeUndefined(); // a revision it never had
});

test('a log nobody reads stays bounded: readers then learn that the changes are no longer known', () => {
  const m = new TrackedMap<number>();
  m.set('k', 0);
  const r = m.revision;
  for (let i = 0; i < 3000; i++) {
    m.set(`x${i}`, i); // short-lived keys: the map stays small, the log would not
    m.delete(`x${i}`);
  }
  expect(m.touchedSince(r)).toBeUndefined();
  m.set('y', 1);
  expect(m.touchedSince(m.revision - 1)).toEqual(['y']);
});
