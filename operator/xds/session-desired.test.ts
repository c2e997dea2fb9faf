import {
  CachedResource,
  nextTypeSnapshotSeq,
  setVersion,
  SnapshotCache,
  type TypeSnapshot,
} from './cache.ts';
import { TrackedMap } from '../render/tracked-map.ts';
import { edsCluster, staticCluster } from '../../test/support/xds-samples.ts';
import { TYPE_CLUSTER } from './protos.ts';
import {
  adoptRemoved,
  deltaWorkOf,
  desiredOf,
  noteDeltaSent,
  resendableOf,
  sentAll,
} from './session-desired.ts';
import { TypeState } from './session-state.ts';

/** A resource whose bytes (and so version) follow `content`. */
const res = (name: string, content = name): CachedResource =>
  new CachedResource(TYPE_CLUSTER, name, { name }, Buffer.from(content));

function snapshot(...list: CachedResource[]): TypeSnapshot {
  return {
    resources: new Map(list.map((r) => [r.name, r])),
    version: setVersion(list),
    changedAt: 1,
    seq: nextTypeSnapshotSeq(),
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

describe('patched snapshots are read in O(the change), with the results of a full read', () => {
  /** A small deterministic random generator (mulberry32), so a failure can be replayed. */
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  /** The same state with empty memos: its results are full reads. */
  function fresh(st: TypeState): TypeState {
    const f = new TypeState();
    f.subscribed = st.subscribed;
    f.setNames(st.names, st.wildcard);
    f.sent = new Map(st.sent);
    f.retained = new Map(st.retained);
    return f;
  }
  const view = (m: ReadonlyMap<string, { version: string }>) =>
    [...m].map(([n, e]) => `${n}@${e.version}`).sort();

  test.each([1, 2, 3, 4, 5, 6])('random changes, sends, subscriptions and removals (seed %i)', (seed) => {
    const rand = rng(seed);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
    const names = Array.from({ length: 12 }, (_, i) => `r${i}`);
    const cache = new SnapshotCache();
    const live = new TrackedMap<object>();
    for (const n of names.slice(0, 6)) live.set(n, staticCluster(n));
    const st = state(rand() < 0.5 ? '*' : names.slice(0, 8));
    let patched = 0;
    for (let step = 0; step < 300; step++) {
      const op = rand();
      if (op < 0.5) {
        // the snapshot changes: a resource added, changed or removed
        const n = pick(names);
        if (rand() < 0.3) live.delete(n);
        else live.set(n, rand() < 0.5 ? staticCluster(n) : edsCluster(n));
        cache.set('f', { [TYPE_CLUSTER]: live });
      } else if (op < 0.75) {
        // a pump: maybe make-before-break is over for a retained resource, then the proxy is sent
        // what it lacks (as session.ts does: sent follows, then sentAll)
        const ts = cache.get('f')?.types.get(TYPE_CLUSTER);
        if (!ts) continue;
        adoptRemoved(st, ts, step);
        const r = [...st.retained.keys()][0];
        if (r !== undefined && rand() < 0.5) {
          st.retained.delete(r);
          st.retainedRev++;
        }
        const d = desiredOf(st, ts);
        const w = deltaWorkOf(st, d);
        const before = st.sentRev;
        for (const r of w.updates) st.sent.set(r.name, { version: r.version, res: r });
        for (const n of w.removals) st.sent.delete(n);
        st.sentRev++;
        noteDeltaSent(st, before, w.removals);
        sentAll(st, d);
      } else if (op < 0.85 && !st.wildcard) {
        const n = pick(names);
        const next = new Set(st.names);
        if (next.has(n)) next.delete(n);
        else next.add(n);
        st.setNames(next, false);
      }
      const ts = cache.get('f')?.types.get(TYPE_CLUSTER);
      if (!ts) continue;
      if (ts.patchOf) patched++;
      adoptRemoved(st, ts, step);
      const full = fresh(st);
      adoptRemoved(full, ts, step);
      expect(view(st.retained)).toEqual(view(full.retained));
      const d = desiredOf(st, ts);
      const fd = desiredOf(full, ts);
      expect({ step, entries: view(d.entries), exact: d.exact }).toEqual({
        step,
        entries: view(fd.entries),
        exact: fd.exact,
      });
      const w = deltaWorkOf(st, d);
      const fw = deltaWorkOf(full, fd);
      expect({
        step,
        updates: w.updates.map((r) => r.name).sort(),
        removals: [...w.removals].sort(),
      }).toEqual({
        step,
        updates: fw.updates.map((r) => r.name).sort(),
        removals: [...fw.removals].sort(),
      });
    }
    expect(patched).toBeGreaterThan(50); // the incremental paths really ran
  });
});
