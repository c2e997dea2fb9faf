// Who pays for an Envoy NACK. Envoy rejects a whole update and its message rarely names the
// object behind it, so the arbiter remembers which KIngresses changed in each pushed version
// (NackGuard) and, on a NACK, blames those changed since the last ACK of that fleet and type:
// - one suspect: it is reverted to what Envoy last accepted for it (or withdrawn) and rejected
//   (EnvoyRejected, not pushed again until its spec changes);
// - several (a burst reached Envoy in one update): all are reverted and held, then pushed again
//   in halves, one group at a time, until a NACK names one; only that one is rejected, the others
//   are served. A group with no answer within 10 s lets the next one go.
// Versions pushed, to any fleet, before a NACK's suspects were reverted were built with the blamed
// changes still in them: Envoy rejects those too, for the same culprit. A NACK of such a version
// blames nobody alone: its own changes are held and retried like a burst, and a verdict waits for
// a version built after the revert.
// A change counts as accepted only when every type it changed in that fleet was ACKed (NackGuard).
// The arbiter owns only this bookkeeping; the KIngress state it acts on stays with the pipeline,
// which it reaches through NackHost.
import type { IngressIR } from '../translate/ir.ts';
import type { Logger } from '../log.ts';
import { TYPE_SHORT, type TypeUrl } from '../xds/protos.ts';
import { setVersionOfLabel, type AckEvent } from '../xds/types.ts';
import { NackGuard } from './nack-guard.ts';

/** What the arbiter does to the pipeline's KIngresses. */
export interface NackHost {
  /** The IR the pipeline currently pushes for the KIngress (undefined: none). */
  good(key: string): IngressIR | undefined;
  /** Envoy accepted this IR of the KIngress: it is what a later NACK reverts to. */
  accepted(key: string, ir: IngressIR): void;
  /** Puts back what Envoy last accepted for the KIngress (or withdraws it). */
  revert(key: string): void;
  /** Keeps the rejected IR aside, to be pushed again with fewer others. */
  hold(key: string, ir: IngressIR): void;
  /** The KIngress alone was rejected: report it and stop pushing its generation. */
  reject(key: string, message: string): void;
  /** Pushes a held IR again (false: the KIngress is gone or not held any more). */
  retry(key: string): boolean;
  /** A flush should run (to push a retried group). */
  wake(): void;
}

/** How long a group of retried KIngresses waits for Envoy's answer before the next group goes. */
export const RETRY_GROUP_TIMEOUT_MS = 10_000;

export class NackArbiter {
  private readonly host: NackHost;
  private readonly log: Logger;
  private readonly guard = new NackGuard<IngressIR>();
  /** Groups of suspects still to be pushed again, one at a time. */
  private readonly groups: string[][] = [];
  /** The group pushed last and not yet answered (ACKed or NACKed) by Envoy. */
  private retrying: { keys: Set<string>; timer: NodeJS.Timeout } | undefined;
  private readonly timeoutMs: number;
  /** Pushes so far, in order (every fleet and type). */
  private pushes = 0;
  /** `<fleet>\0<type>\0<version>` → its place among the pushes, until Envoy answers it. */
  private readonly pushIndex = new Map<string, number>();
  /** The pushes up to this one were built before the last revert: a NACK of one blames nobody alone. */
  private revertedAfter = 0;

  constructor(host: NackHost, log: Logger, timeoutMs = RETRY_GROUP_TIMEOUT_MS) {
    this.host = host;
    this.log = log;
    this.timeoutMs = timeoutMs;
  }

  /** `version` of the fleet's resource type carried these KIngress changes. */
  pushed(fleet: string, typeUrl: TypeUrl, version: string, changes: Map<string, IngressIR>): void {
    this.guard.pushed(fleet, typeUrl, version, changes);
    this.pushIndex.set(`${fleet}\u0000${typeUrl}\u0000${version}`, ++this.pushes);
    if (this.pushIndex.size > 10_000) this.pushIndex.delete(this.pushIndex.keys().next().value ?? '');
  }

  /** The KIngress was re-translated or deleted: its earlier pushes are settled. */
  forget(key: string): void {
    this.guard.forget(key);
  }

  /**
   * Envoy accepted a version: the KIngresses changed in it are served as pushed. (A response
   * labelled `<version>+<hash>`, a subset or superset of the snapshot, answers for `<version>`:
   * pushes are recorded under the snapshot's set version.)
   */
  onAck(e: AckEvent): void {
    const version = setVersionOfLabel(e.version);
    this.pushIndex.delete(`${e.fleet}\u0000${e.typeUrl}\u0000${version}`);
    for (const [k, ir] of this.guard.acked(e.fleet, e.typeUrl, version)) {
      if (this.host.good(k) === ir) this.host.accepted(k, ir);
      this.answered(k);
    }
  }

  /** Envoy rejected a version: see the header. */
  onNack(e: AckEvent): void {
    const version = setVersionOfLabel(e.version);
    const suspects: [string, IngressIR][] = [];
    for (const [k, ir] of this.guard.nacked(e.fleet, e.typeUrl, version)) {
      if (this.host.good(k) === ir) suspects.push([k, ir]);
    }
    const id = `${e.fleet}\u0000${e.typeUrl}\u0000${version}`;
    const index = this.pushIndex.get(id);
    this.pushIndex.delete(id);
    // built before the last revert (in any fleet): it may carry a change blamed already
    const tainted = index !== undefined && index <= this.revertedAfter;
    // every push so far, in every fleet, was built with these suspects' changes
    if (suspects.length > 0) this.revertedAfter = this.pushes;
    // The suspects' earlier pushes are settled by this NACK: the same change pending in another
    // fleet (or another type) must not be answered later, landing on the group being retried.
    for (const [k] of suspects) this.guard.forget(k);
    const fromRetry = suspects.some(([k]) => this.retrying?.keys.has(k));
    const isolate = suspects.length > 1 || (tainted && suspects.length > 0);
    for (const [k, ir] of suspects) {
      this.host.revert(k);
      if (isolate) this.host.hold(k, ir);
      else {
        const shortType = (TYPE_SHORT as Record<string, string>)[e.typeUrl] ?? e.typeUrl;
        this.host.reject(
          k,
          `Envoy ${e.nodeId} rejected the ${shortType} update: ${(e.error ?? '').slice(0, 500)}`,
        );
      }
    }
    if (isolate) {
      const keys = suspects.map(([k]) => k).sort();
      const half = Math.ceil(keys.length / 2);
      const halves = [keys.slice(0, half), keys.slice(half)];
      // a group that was itself being retried is split and tried again first
      if (fromRetry) this.groups.unshift(...halves);
      else this.groups.push(...halves);
      this.log.info(
        { fleet: e.fleet, count: keys.length, error: (e.error ?? '').slice(0, 200) },
        'Envoy NACK blames several KIngresses: retrying them in halves to find the one it rejects',
      );
    }
    for (const [k] of suspects) this.answered(k);
    if (suspects.length > 0) this.host.wake();
  }

  /** Pushes the next group of held KIngresses again, when no group waits for Envoy's answer. */
  releaseGroup(): void {
    while (!this.retrying && this.groups.length > 0) {
      const keys = (this.groups.shift() ?? []).filter((k) => this.host.retry(k));
      if (keys.length === 0) continue;
      const timer = setTimeout(() => {
        // no answer (no replica connected, or nothing changed for Envoy): go on with the next group
        if (this.retrying?.timer !== timer) return;
        this.retrying = undefined;
        this.host.wake();
      }, this.timeoutMs);
      timer.unref();
      this.retrying = { keys: new Set(keys), timer };
      this.log.info(
        { count: keys.length, left: this.groups.length },
        'retrying KIngresses an Envoy NACK blamed together',
      );
    }
  }

  /** Envoy answered for a KIngress (or it went away); the next group goes once the whole group is answered. */
  answered(key: string): void {
    const r = this.retrying;
    if (!r || !r.keys.delete(key) || r.keys.size > 0) return;
    clearTimeout(r.timer);
    this.retrying = undefined;
    this.host.wake();
  }

  stop(): void {
    if (this.retrying) clearTimeout(this.retrying.timer);
    this.retrying = undefined;
  }
}
