// One EDS or DNS cluster of a fleet as the incremental assembler (assembler.ts) keeps it: the
// KIngresses that use it, each with the ClusterIR it carries for the name (renderFleet keeps the
// one of the last KIngress in key order: the winner), and what was rendered from the winner.
import type { ClusterIR } from '../translate/ir.ts';
import type { Json } from './types.ts';

export interface ClusterSlot {
  /**
   * KIngress key → the ClusterIR it carries for this name; renderFleet keeps the last one in key
   * order (the winner). Most clusters serve one KIngress: that user is kept inline, not in a Map.
   */
  soloKey: string | undefined;
  soloIR: ClusterIR | undefined;
  many: Map<string, ClusterIR> | undefined;
  winner: string;
  /** The ClusterIR `json` was rendered from; an equal replacement re-renders nothing. */
  current: ClusterIR | undefined;
  json: Json;
  /** `<ns>/<service>` whose EndpointSlices feed this cluster (EDS clusters only). */
  service: string | undefined;
}

export function userOf(slot: ClusterSlot, key: string): ClusterIR | undefined {
  return slot.many ? slot.many.get(key) : slot.soloKey === key ? slot.soloIR : undefined;
}

export function setUser(slot: ClusterSlot, key: string, c: ClusterIR): void {
  if (slot.many) slot.many.set(key, c);
  else if (slot.soloKey === undefined || slot.soloKey === key) {
    slot.soloKey = key;
    slot.soloIR = c;
  } else {
    slot.many = new Map([[slot.soloKey, slot.soloIR!]]);
    slot.many.set(key, c);
    slot.soloKey = undefined;
    slot.soloIR = undefined;
  }
}

/** Removes a user; returns how many remain. */
export function deleteUser(slot: ClusterSlot, key: string): number {
  if (slot.many) {
    slot.many.delete(key);
    return slot.many.size;
  }
  if (slot.soloKey === key) {
    slot.soloKey = undefined;
    slot.soloIR = undefined;
  }
  return slot.soloKey === undefined ? 0 : 1;
}

export function lastUser(slot: ClusterSlot): string {
  if (!slot.many) return slot.soloKey ?? '';
  let last = '';
  for (const k of slot.many.keys()) if (k > last) last = k;
  return last;
}
