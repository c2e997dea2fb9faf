// What one ADS session should send for one resource type, from the type's state (session-state.ts)
// and the fleet's snapshot: the resources the proxy should have (its subscription's part of the
// snapshot, plus those retained for make-before-break), what a delta response would change, and
// the unchanged resources that must go out again. Each result is memoised on the state's revision
// counters, so a pump with nothing new to send costs O(1) per type. session.ts decides when to send.
import { setVersion, type CachedResource, type TypeSnapshot } from './cache.ts';
import type { DeltaWork, Desired, Entry, TypeState } from './session-state.ts';

/** Resources the proxy has that left the snapshot become retained (make-before-break). */
export function adoptRemoved(st: TypeState | undefined, ts: TypeSnapshot | undefined, gen: number): void {
  if (!st?.subscribed || !ts) return;
  const m = st.adoptMemo;
  if (m && m.ts === ts && m.sentRev === st.sentRev && m.subRev === st.subRev) return;
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
 * The resources the proxy should have: the subscribed part of the snapshot and the retained ones
 * still in scope. `key` and `label` are the snapshot's set version when that is exactly the
 * snapshot, else a hash of the entries (and the set version suffixed with it).
 */
export function desiredOf(st: TypeState, ts: TypeSnapshot): Desired {
  const m = st.desiredMemo;
  if (
    m &&
    m.ts === ts &&
    m.subRev === st.subRev &&
    m.retainedRev === st.retainedRev &&
    m.gateRev === st.gateRev
  )
    return m.value;
  const entries = new Map<string, Entry>();
  const gate = st.gate;
  if (st.wildcard) {
    for (const [name, res] of ts.resources) {
      if (!gate || gate(name)) entries.set(name, { version: res.version, res });
    }
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
  const exact = entries.size === fromSnapshot && fromSnapshot === ts.resources.size;
  const key = exact ? ts.version : hashEntries(entries);
  const value: Desired = {
    entries,
    key,
    exact,
    label: exact ? ts.version : `${ts.version}+${key.slice(0, 8)}`,
  };
  st.desiredMemo = { ts, subRev: st.subRev, retainedRev: st.retainedRev, gateRev: st.gateRev, value };
  return value;
}

/** Delta: the resources whose version the proxy does not have, and the names it should drop. */
export function deltaWorkOf(st: TypeState, desired: Desired): DeltaWork {
  const m = st.workMemo;
  if (m && m.desired === desired && m.sentRev === st.sentRev) return m.value;
  const updates: CachedResource[] = [];
  const removals: string[] = [];
  for (const [name, e] of desired.entries) {
    if (e.res && st.sent.get(name)?.version !== e.version) updates.push(e.res);
  }
  for (const name of st.sent.keys()) if (!desired.entries.has(name)) removals.push(name);
  const value = { updates, removals };
  st.workMemo = { desired, sentRev: st.sentRev, value };
  return value;
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
