// What one ADS session should send for one resource type, from the type's state (session-state.ts)
// and the fleet's snapshot: the resources the proxy should have (its subscription's part of the
// snapshot, plus those retained for make-before-break), what a delta response would change, and
// the unchanged resources that must go out again. Each result is memoised on the state's revision
// counters, so a pump with nothing new to send costs O(1) per type. session.ts decides when to send.
import { setVersion, type CachedResource, type TypeSnapshot } from './cache.ts';
import type { DeltaWork, Desired, Entry, TypeState } from './session-state.ts';
import { responseLabel } from './types.ts';

/** Resources the proxy has that left the snapshot become retained (make-before-break). */
export function adoptRemoved(st: TypeState | undefined, ts: TypeSnapshot | undefined, gen: number): void {
  if (!st?.subscribed || !ts) return;
  const m = st.adoptMemo;
  const sameState = m !== undefined && m.sentRev === st.sentRev && m.subRev === st.subRev;
  if (sameState && m.ts === ts) return;
  if (sameState && ts.patchOf !== undefined && ts.patchOf.seq === m.ts.seq) {
    // only the snapshot changed, by these names
    for (const name of ts.patchOf.names) {
      const e = st.sent.get(name);
      if (ts.resources.has(name)) {
        if (st.retained.delete(name)) st.retainedRev++;
      } else if (e && !st.retained.has(name) && st.inScope(name)) {
        st.retained.set(name, { ...e, since: gen });
        st.retainedRev++;
      }
    }
    st.adoptMemo = { ts, sentRev: st.sentRev, subRev: st.subRev };
    return;
  }
  for (const [name, e] of st.sent) {
    if (!ts.resources.has(name) && !st.retained.has(name) && st.inScope(name)) {
      st.retained.set(name, { ...e, since: gen });
      st.retainedRev++;
    }
  }
  for (const name of [...st.retained.keys()]) {
    if (ts.resources.has(name) || !st.inScope(name) || !st.sent.has(name)) {
      st.retained.delete(name);
      st.retainedRev++;
    }
  }
  st.adoptMemo = { ts, sentRev: st.sentRev, subRev: st.subRev };
}

/**
 * A delta response just changed `sent` (from revision `sentRevBefore`): it only ever adds or
 * updates resources of the wanted set and removes `removed`, so the retained resources change only
 * by those removed, and the adoption above stays valid without a walk over `sent`.
 */
export function noteDeltaSent(st: TypeState, sentRevBefore: number, removed: readonly string[]): void {
  for (const n of removed) if (st.retained.delete(n)) st.retainedRev++;
  const m = st.adoptMemo;
  if (m && m.sentRev === sentRevBefore) st.adoptMemo = { ...m, sentRev: st.sentRev };
}

/**
 * The resources the proxy should have: the subscribed part of the snapshot and the retained ones
 * still in scope. `key` and `label` are the snapshot's set version when that is exactly the
 * snapshot, else a hash of the entries (and the set version suffixed with it). When only the
 * snapshot changed since the last call and it is a patch of the snapshot that call saw, only the
 * patched names are looked at (the last result's entries are taken over: O(the change)).
 */
export function desiredOf(st: TypeState, ts: TypeSnapshot): Desired {
  const m = st.desiredMemo;
  const sameState = m !== undefined && m.subRev === st.subRev && m.retainedRev === st.retainedRev;
  if (sameState && m.ts === ts) return m.value;
  const value =
    sameState && ts.patchOf !== undefined && ts.patchOf.seq === m.ts.seq
      ? patchDesired(st, ts, m.value, ts.patchOf.names)
      : fullDesired(st, ts);
  st.desiredMemo = { ts, subRev: st.subRev, retainedRev: st.retainedRev, value };
  return value;
}

let desiredIds = 0;

function wants(st: TypeState, name: string): boolean {
  return st.wildcard || st.names.has(name);
}

function fullDesired(st: TypeState, ts: TypeSnapshot): Desired {
  const entries = new Map<string, Entry>();
  if (st.wildcard) {
    for (const [name, res] of ts.resources)
      if (wants(st, name)) entries.set(name, { version: res.version, res });
  } else {
    for (const name of st.names) {
      const res = ts.resources.get(name);
      if (res) entries.set(name, { version: res.version, res });
    }
  }
  const fromSnapshot = entries.size;
  for (const [name, r] of st.retained) {
    if (!entries.has(name) && st.inScope(name)) entries.set(name, r);
  }
  return finish(ts, entries, fromSnapshot, undefined);
}

/** `prev` (for the snapshot `ts` patched) with the patched names brought up to date; takes over its entries. */
function patchDesired(st: TypeState, ts: TypeSnapshot, prev: Desired, names: readonly string[]): Desired {
  const entries = prev.entries;
  let fromSnapshot = prev.fromSnapshot;
  for (const name of names) {
    const had = entries.get(name);
    const retained = st.retained.get(name);
    const hadFromSnapshot = had !== undefined && had !== retained;
    const res = ts.resources.get(name);
    if (res && wants(st, name)) {
      entries.set(name, { version: res.version, res });
      if (!hadFromSnapshot) fromSnapshot++;
      continue;
    }
    if (hadFromSnapshot) fromSnapshot--;
    if (retained && st.inScope(name)) entries.set(name, retained);
    else entries.delete(name);
  }
  return finish(ts, entries, fromSnapshot, { id: prev.id, names });
}

function finish(
  ts: TypeSnapshot,
  entries: Map<string, Entry>,
  fromSnapshot: number,
  patchOf: Desired['patchOf'],
): Desired {
  const exact = entries.size === fromSnapshot && fromSnapshot === ts.resources.size;
  const key = exact ? ts.version : hashEntries(entries);
  return {
    entries,
    key,
    exact,
    fromSnapshot,
    id: ++desiredIds,
    patchOf,
    label: responseLabel(ts.version, exact, key),
  };
}

const NO_WORK: DeltaWork = { updates: [], removals: [] };

/**
 * Delta: the resources whose version the proxy does not have, and the names it should drop. When
 * nothing was left to send for the Desired that `desired` patches (and nothing was sent since),
 * only the patched names can need sending.
 */
export function deltaWorkOf(st: TypeState, desired: Desired): DeltaWork {
  const m = st.workMemo;
  if (m && m.sentRev === st.sentRev) {
    if (m.desired === desired) return m.value;
    const nothingLeft = m.value.updates.length === 0 && m.value.removals.length === 0;
    if (nothingLeft && desired.patchOf?.id === m.desired.id) {
      const value = workFor(st, desired, desired.patchOf.names);
      st.workMemo = { desired, sentRev: st.sentRev, value };
      return value;
    }
  }
  const value = workFor(st, desired, undefined);
  st.workMemo = { desired, sentRev: st.sentRev, value };
  return value;
}

/** The work over `names` (every name of `desired` and of what was sent when undefined). */
function workFor(st: TypeState, desired: Desired, names: readonly string[] | undefined): DeltaWork {
  const updates: CachedResource[] = [];
  const removals: string[] = [];
  if (names) {
    for (const name of names) {
      const e = desired.entries.get(name);
      if (e) {
        if (e.res && st.sent.get(name)?.version !== e.version) updates.push(e.res);
      } else if (st.sent.has(name)) removals.push(name);
    }
    return updates.length === 0 && removals.length === 0 ? NO_WORK : { updates, removals };
  }
  for (const [name, e] of desired.entries) {
    if (e.res && st.sent.get(name)?.version !== e.version) updates.push(e.res);
  }
  for (const name of st.sent.keys()) if (!desired.entries.has(name)) removals.push(name);
  return { updates, removals };
}

/** Records that everything `desired` needed was just sent: its work is now empty. */
export function sentAll(st: TypeState, desired: Desired): void {
  st.workMemo = { desired, sentRev: st.sentRev, value: NO_WORK };
}

/**
 * SotW: whether the last response already held exactly `desired`. Set versions are labels (a set
 * that changes gets a new one), so where one side is not the whole snapshot (a subset or retained
 * resources) the entries are compared: a subset equal to what was sent is not sent again.
 */
export function sotwSent(st: TypeState, desired: Desired): boolean {
  if (st.sentKey === undefined) return false;
  if (st.sentKey === desired.key) return true;
  if (st.sentExact && desired.exact) return false;
  if (st.sent.size !== desired.entries.size) return false;
  for (const [name, e] of desired.entries) if (st.sent.get(name)?.version !== e.version) return false;
  return true;
}

/** Unchanged resources that must go out again (see Session's #noteModifiedClusters). */
export function resendableOf(st: TypeState, desired: Desired): CachedResource[] {
  if (st.resend.size === 0) return [];
  const out: CachedResource[] = [];
  for (const name of st.resend) {
    const res = desired.entries.get(name)?.res;
    if (res) out.push(res);
  }
  return out;
}

function hashEntries(entries: Map<string, Entry>): string {
  const list: { name: string; version: string }[] = [];
  for (const [name, e] of entries) list.push({ name, version: e.version });
  return setVersion(list);
}
