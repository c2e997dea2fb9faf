// Host conflicts between KIngresses: a host may be served by one KIngress per visibility. The
// oldest KIngress (creation time, then namespace/name) keeps it; a younger one claiming any taken
// host is rejected as a whole with DomainConflict and never disturbs the winner.
import type { IngressIR } from './ir.ts';

export interface Candidate {
  ir: IngressIR;
  /** RFC 3339 creation timestamp; older wins. */
  created: string;
}

export interface Conflict {
  host: string;
  owner: string;
}

/**
 * The DomainConflict message for a KIngress of `namespace`: the owner (`<ns>/<name>`) is named
 * only when it is in the same namespace; another tenant's object is not (that would tell one
 * namespace about another's).
 */
export function conflictMessage(namespace: string, c: Conflict): string {
  const slash = c.owner.indexOf('/');
  const sameNamespace = slash >= 0 && c.owner.slice(0, slash) === namespace;
  return `host ${c.host} is already served by ${sameNamespace ? `KIngress ${c.owner}` : 'a KIngress of another namespace'}`;
}

export function resolveConflicts(candidates: Candidate[]): {
  accepted: IngressIR[];
  conflicts: Map<string, Conflict>;
} {
  const ordered = [...candidates].sort((a, b) =>
    a.created !== b.created
      ? a.created < b.created
        ? -1
        : 1
      : a.ir.key < b.ir.key
        ? -1
        : a.ir.key > b.ir.key
          ? 1
          : 0,
  );
  const owners = { external: new Map<string, string>(), local: new Map<string, string>() };
  const accepted: IngressIR[] = [];
  const conflicts = new Map<string, Conflict>();
  for (const { ir } of ordered) {
    let conflict: Conflict | undefined;
    for (const vis of ['external', 'local'] as const) {
      for (const vh of ir[vis].vhosts) {
        const owner = owners[vis].get(vh.host);
        if (owner !== undefined && owner !== ir.key) {
          conflict = { host: vh.host, owner };
          break;
        }
      }
      if (conflict) break;
    }
    if (conflict) {
      conflicts.set(ir.key, conflict);
      continue;
    }
    for (const vis of ['external', 'local'] as const)
      for (const vh of ir[vis].vhosts) owners[vis].set(vh.host, ir.key);
    accepted.push(ir);
  }
  accepted.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { accepted, conflicts };
}

/** Older first: creation time, then `<ns>/<name>`. */
function olderFirst(aCreated: string, aKey: string, bCreated: string, bKey: string): number {
  if (aCreated !== bCreated) return aCreated < bCreated ? -1 : 1;
  return aKey < bKey ? -1 : aKey > bKey ? 1 : 0;
}

type Side = 'external' | 'local';
const SIDES: readonly Side[] = ['external', 'local'];

interface Claimant {
  ir: IngressIR;
  created: string;
  hosts: Record<Side, string[]>;
  accepted: boolean;
  conflict: Conflict | undefined;
}

/**
 * A binary min-heap of KIngress keys, oldest first. The creation time is captured when a key is
 * pushed; if the key is pushed again with another time (deleted and re-created), the earlier
 * item is stale and skipped when popped.
 */
class AgeQueue {
  private readonly heap: { key: string; created: string }[] = [];
  private readonly queued = new Map<string, string>();

  push(key: string, created: string): void {
    if (this.queued.get(key) === created) return;
    this.queued.set(key, created);
    const h = this.heap;
    h.push({ key, created });
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (less(h[parent]!, h[i]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): string | undefined {
    for (;;) {
      const h = this.heap;
      const top = h[0];
      if (top === undefined) return undefined;
      const last = h.pop()!;
      if (h.length > 0) {
        h[0] = last;
        for (let i = 0; ;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < h.length && less(h[l]!, h[m]!)) m = l;
          if (r < h.length && less(h[r]!, h[m]!)) m = r;
          if (m === i) break;
          [h[i], h[m]] = [h[m]!, h[i]!];
          i = m;
        }
      }
      if (this.queued.get(top.key) !== top.created) continue; // stale
      this.queued.delete(top.key);
      return top.key;
    }
  }
}

function less(a: { key: string; created: string }, b: { key: string; created: string }): boolean {
  return olderFirst(a.created, a.key, b.created, b.key) < 0;
}

/**
 * Incremental resolveConflicts: an index of host claims per visibility that gives the same
 * outcome as resolveConflicts over the current candidates, at a cost proportional to the
 * KIngresses that share hosts with the one that changed (not to all KIngresses).
 *
 * Each host has at most one owner (an accepted KIngress). A KIngress's outcome depends only on
 * the owners of its own hosts that are older than it, so a change is propagated through a queue
 * processed oldest first: whenever a KIngress gains or loses its hosts, the younger claimants of
 * those hosts are re-evaluated, and so on. When an owner goes away the next claimant wins (and
 * shows up in drainChanged(), so its status is re-evaluated).
 */
export class HostClaims {
  private readonly entries = new Map<string, Claimant>();
  /** host → the key claiming it, or the keys when several do (most hosts have one claimant). */
  private readonly claimants: Record<Side, Map<string, string | Set<string>>> = {
    external: new Map(),
    local: new Map(),
  };
  private readonly owners: Record<Side, Map<string, string>> = { external: new Map(), local: new Map() };
  private readonly queue = new AgeQueue();
  /** Outcome before the first change since the last drain, per touched key ('' = absent). */
  private readonly before = new Map<string, string>();

  /** Adds or replaces a candidate. */
  set(ir: IngressIR, created: string): void {
    const key = ir.key;
    this.remember(key);
    const old = this.entries.get(key);
    if (old) this.release(key, old);
    const e: Claimant = {
      ir,
      created,
      hosts: { external: ir.external.vhosts.map((v) => v.host), local: ir.local.vhosts.map((v) => v.host) },
      accepted: false,
      conflict: undefined,
    };
    this.entries.set(key, e);
    for (const side of SIDES) {
      const claims = this.claimants[side];
      for (const host of e.hosts[side]) {
        const c = claims.get(host);
        if (c === undefined || c === key) claims.set(host, key);
        else if (typeof c === 'string') claims.set(host, new Set([c, key]));
        else c.add(key);
      }
    }
    this.queue.push(key, created);
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.remember(key);
    this.release(key, old);
    this.entries.delete(key);
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The IR last set for `key` (accepted or not). */
  get(key: string): IngressIR | undefined {
    return this.entries.get(key)?.ir;
  }

  get size(): number {
    return this.entries.size;
  }

  isAccepted(key: string): boolean {
    this.settle();
    return this.entries.get(key)?.accepted === true;
  }

  conflict(key: string): Conflict | undefined {
    this.settle();
    return this.entries.get(key)?.conflict;
  }

  /** Accepted IRs sorted by key (what resolveConflicts returns as `accepted`). */
  accepted(): IngressIR[] {
    this.settle();
    const out: IngressIR[] = [];
    for (const e of this.entries.values()) if (e.accepted) out.push(e.ir);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  conflicts(): Map<string, Conflict> {
    this.settle();
    const out = new Map<string, Conflict>();
    for (const [k, e] of this.entries) if (e.conflict) out.set(k, e.conflict);
    return out;
  }

  /**
   * Keys whose outcome (accepted, or the conflicting host/owner) differs from what it was at the
   * previous drain, including keys added or deleted. A KIngress whose IR was replaced but whose
   * outcome is the same is not listed.
   */
  drainChanged(): Set<string> {
    this.settle();
    const out = new Set<string>();
    for (const [k, was] of this.before) if (this.outcome(k) !== was) out.add(k);
    this.before.clear();
    return out;
  }

  private outcome(key: string): string {
    const e = this.entries.get(key);
    if (!e) return '';
    return e.accepted
      ? 'accepted'
      : `conflict\u0000${e.conflict?.host ?? ''}\u0000${e.conflict?.owner ?? ''}`;
  }

  private remember(key: string): void {
    if (!this.before.has(key)) this.before.set(key, this.outcome(key));
  }

  /** Drops the claims of `key`; the younger claimants of the hosts it owned are re-evaluated. */
  private release(key: string, e: Claimant): void {
    if (e.accepted) this.disown(key, e);
    for (const side of SIDES) {
      const claims = this.claimants[side];
      for (const host of e.hosts[side]) {
        const c = claims.get(host);
        if (c === key) claims.delete(host);
        else if (typeof c === 'object') {
          c.delete(key);
          if (c.size === 1) claims.set(host, c.values().next().value!);
        }
      }
    }
    e.accepted = false;
  }

  private disown(key: string, e: Claimant): void {
    for (const side of SIDES) {
      for (const host of e.hosts[side]) {
        if (this.owners[side].get(host) === key) this.owners[side].delete(host);
      }
    }
    this.enqueueYounger(key, e);
  }

  private enqueueYounger(key: string, e: Claimant): void {
    for (const side of SIDES) {
      for (const host of e.hosts[side]) {
        const c = this.claimants[side].get(host);
        for (const other of typeof c === 'string' ? [c] : (c ?? [])) {
          if (other === key) continue;
          const o = this.entries.get(other);
          if (o && olderFirst(e.created, key, o.created, other) < 0) {
            this.remember(other);
            this.queue.push(other, o.created);
          }
        }
      }
    }
  }

  /** Processes the queue oldest first until every outcome is consistent. */
  private settle(): void {
    for (let key = this.queue.pop(); key !== undefined; key = this.queue.pop()) {
      const e = this.entries.get(key);
      if (!e) continue;
      let conflict: Conflict | undefined;
      for (const side of SIDES) {
        for (const host of e.hosts[side]) {
          const owner = this.owners[side].get(host);
          if (owner === undefined || owner === key) continue;
          const o = this.entries.get(owner);
          // An owner younger than `key` is stale: it is queued and will lose this host.
          if (o && olderFirst(o.created, owner, e.created, key) < 0) {
            conflict = { host, owner };
            break;
          }
        }
        if (conflict) break;
      }
      if (conflict) {
        const wasAccepted = e.accepted;
        e.accepted = false;
        e.conflict = conflict;
        if (wasAccepted) this.disown(key, e);
      } else {
        e.conflict = undefined;
        if (!e.accepted) {
          e.accepted = true;
          for (const side of SIDES) for (const host of e.hosts[side]) this.owners[side].set(host, key);
          this.enqueueYounger(key, e);
        }
      }
    }
  }
}
