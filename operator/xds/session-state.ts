// What one ADS session knows per resource type (session.ts): the subscription (names, wildcard),
// what was sent and is in flight, ACK/NACK bookkeeping, resources retained for make-before-break,
// and the memos that keep a pump with nothing new to send O(1). Data only; session.ts and
// session-desired.ts act on it.
import type { CachedResource, TypeSnapshot } from './cache.ts';
import { TYPE_CLUSTER, TYPE_LISTENER, TYPE_SCOPED_ROUTE, type TypeUrl } from './protos.ts';
import type { AckEvent, NackInfo } from './types.ts';

export interface Entry {
  version: string;
  /** Absent only for delta resources the proxy announced in initial_resource_versions. */
  res?: CachedResource;
}

interface Retained extends Entry {
  /** Snapshot generation at which the resource left the set (or was found missing). */
  since: number;
}

export interface Desired {
  entries: Map<string, Entry>;
  /**
   * Content key: the snapshot's set version when the entries are exactly the snapshot, else a
   * hash of the entries' names and versions.
   */
  key: string;
  /** Whether the entries are exactly the type's snapshot (`key` is its set version). */
  exact: boolean;
  /** How many entries come from the snapshot (the others are retained). */
  fromSnapshot: number;
  /** Unique per Desired. */
  id: number;
  /** Made by patching Desired `id`: only `names` can differ from it. */
  patchOf?: { id: number; names: readonly string[] };
  /** version_info sent: the snapshot set version, suffixed when the response is a subset/superset. */
  label: string;
}

interface Pending {
  nonce: string;
  label: string;
  generation: number;
  names: string[];
  removed: string[];
  /**
   * Delta: what `sent` held for each name this response updated or removed, and the type's
   * snapshot it was built from. A NACK rejects the whole response (Envoy keeps what it had), so
   * `sent` goes back to these entries, and the type waits for a new snapshot before sending again.
   */
  previous?: Map<string, Entry | undefined>;
  from?: TypeSnapshot;
}

export interface DeltaWork {
  updates: CachedResource[];
  removals: string[];
}

export class TypeState {
  subscribed = false;
  wildcard = false;
  names = new Set<string>();
  subRev = 0;
  sent = new Map<string, Entry>();
  sentRev = 0;
  /** SotW: content key of the last response, and whether it was a set version (Desired.exact). */
  sentKey: string | undefined;
  sentExact = false;
  /** Delta: the first request of the type must be answered even if nothing differs. */
  initialPending = false;
  pending: Pending | undefined;
  lastNonce: string | undefined;
  lastAnswerAck = true;
  /** Delta: resources of NACKed responses not ACKed since. */
  nacked = new Set<string>();
  /**
   * Delta: the snapshot of this type a NACKed response was built from. Nothing is sent while the
   * type's snapshot is still that one: the same content would only be rejected again. A new
   * snapshot (the NACKed change reverted, or its suspects retried apart) is sent in full against
   * what Envoy really has, innocent resources of the rejected response included.
   */
  holdFor: TypeSnapshot | undefined;
  /** Resources to send again even though unchanged (load assignments of modified clusters). */
  resend = new Set<string>();
  ackedGeneration = 0;
  lastAck: AckEvent | undefined;
  lastNack: NackInfo | undefined;
  retained = new Map<string, Retained>();
  retainedRev = 0;
  desiredMemo: { ts: TypeSnapshot; subRev: number; retainedRev: number; value: Desired } | undefined;
  workMemo: { desired: Desired; sentRev: number; value: DeltaWork } | undefined;
  adoptMemo: { ts: TypeSnapshot; sentRev: number; subRev: number } | undefined;

  inScope(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }

  setNames(names: Iterable<string>, wildcard: boolean): void {
    const next = new Set(names);
    const same =
      wildcard === this.wildcard &&
      next.size === this.names.size &&
      [...next].every((n) => this.names.has(n));
    if (same) return;
    this.names = next;
    this.wildcard = wildcard;
    this.subRev++;
  }
}

// Envoy subscribes to SRDS with no names: every scope of the fleet (render/scoped.ts).
export const WILDCARD_TYPES: readonly TypeUrl[] = [TYPE_LISTENER, TYPE_CLUSTER, TYPE_SCOPED_ROUTE];

export function* resourcesOf(desired: Desired): Iterable<CachedResource> {
  for (const e of desired.entries.values()) if (e.res) yield e.res;
}
