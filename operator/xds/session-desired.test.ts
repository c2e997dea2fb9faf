import { CachedResource, setVersion, type TypeSnapshot } from './cache.ts';
import { TYPE_CLUSTER } from './protos.ts';
import { adoptRemoved, deltaWorkOf, desiredOf, resendableOf } from './session-desired.ts';
import { TypeState } from './session-state.ts';

/** A resource whose bytes (and so version) follow `content`. */
const res = (name: string, content = name): CachedResource =>
  new CachedResource(TYPE_CLUSTER, name, { name }, Buffer.from(content));

function snapshot(...list: CachedResource[]): TypeSnapshot {
  return {
    resources: new Map(list.map((r) => [r.name, r])),
    version: setVersion(list),
    changedAt: 1,
  };
}

function state(names: string[] | '*'): TypeState {
  const st = new TypeState();
  st.subscribed = true;
  st.setNames(names === '*' ? [] : names, names === '*');
  return st;
}

const a = res('a');
const b = res('b');
const c = res('c');

describe('desiredOf', () => {
  test('a wildcard subscription wants the whole snapshot, under its set version', () => {
    const ts = snapshot(a, b);
    const d = desiredOf(state('*'), ts);
    expect([...d.entries.keys()]).toEqual(['a', 'b']);
    expect(d.entries.get('a')).toEqual({ version: a.version, res: a });
    expect(d.key).toBe(ts.version);
    expect(d.label).toBe(ts.version);
  });

  test('named resources: the subscribed ones the snapshot has, under a hash of them', () => {
    const ts = snapshot(a, b, c);
    const d = desiredOf(state(['a', 'c', 'missing']), ts);
    expect([...d.entries.keys()]).toEqual(['a', 'c']);
    expect(d.key).toBe(setVersion([a, c]));
    expect(d.label).toBe(`${ts.version}+${d.key.slice(0, 8)}`);
  });

  test('memoised until the snapshot, the subscription or the retained set changes', () => {
    const ts = snapshot(a, b);
    const st = state(['a']);
    const first = desiredOf(st, ts);
    expect(desiredOf(st, ts)).toBe(first);
    st.setNames(['a', 'b'], false);
    const second = desiredOf(st, ts);
    expect(second).not.toBe(first);
    expect([...second.entries.keys()]).toEqual(['a', 'b']);
    expect(desiredOf(st, snapshot(a, b))).not.toBe(second);
  });
});

describe('adoptRemoved', () => {
  test('a resource the proxy has that left the snapshot is retained, and wanted, until it is back', () => {
    const st = state('*');
    st.sent = new Map([
      ['a', { version: a.version, res: a }],
      ['b', { version: b.version, res: b }],
    ]);
    const without = snapshot(a);
    adoptRemoved(st, without, 7);
    expect([...st.retained]).toEqual([['b', { version: b.version, res: b, since: 7 }]]);
    const d = desiredOf(st, without);
    expect([...d.entries.keys()]).toEqual(['a', 'b']);
    expect(d.key).not.toBe(without.version); // more than the snapshot
    adoptRemoved(st, snapshot(a, b), 8);
    expect(st.retained.size).toBe(0);
  });

  test('nothing is retained out of scope or for a type not subscribed', () => {
    const st = state(['a']);
    st.sent = new Map([['b', { version: b.version, res: b }]]);
    adoptRemoved(st, snapshot(a), 1);
    expect(st.retained.size).toBe(0);
    const idle = new TypeState();
    idle.sent = new Map([['b', { version: b.version, res: b }]]);
    adoptRemoved(idle, snapshot(a), 1);
    adoptRemoved(undefined, snapshot(a), 1);
    expect(idle.retained.size).toBe(0);
  });
});

test('deltaWorkOf: resources at a version the proxy does not have, and names to remove', () => {
  const st = state('*');
  const b2 = res('b', 'b, changed');
  st.sent = new Map([
    ['a', { version: a.version, res: a }],
    ['b', { version: b.version, res: b }],
    ['gone', { version: 'x' }],
  ]);
  const d = desiredOf(st, snapshot(a, b2, c));
  const w = deltaWorkOf(st, d);
  expect(w).toEqual({ updates: [b2, c], removals: ['gone'] });
  expect(deltaWorkOf(st, d)).toBe(w);
  st.sent.delete('gone');
  st.sentRev++;
  expect(deltaWorkOf(st, d).removals).toEqual([]);
});

test('resendableOf: the queued names that are wanted, unchanged or not', () => {
  const st = state(['a', 'b']);
  const d = desiredOf(st, snapshot(a, b));
  expect(resendableOf(st, d)).toEqual([]);
  st.resend = new Set(['b', 'c']);
  expect(resendableOf(st, d)).toEqual([b]);
});
