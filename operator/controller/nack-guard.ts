// Attributes Envoy NACKs to KIngresses. Envoy's error messages rarely name the object that broke
// a resource, so the guard remembers which KIngresses changed in each pushed version of a fleet's
// resource type; a NACK of a version blames the KIngresses changed since the last ACKed version of
// that fleet and type. An ACK confirms a change only once no other type of that fleet still waits
// for Envoy's answer on it: one change can make a new cluster (accepted) and a route Envoy then
// rejects. The engine reverts the suspects to the configuration Envoy last accepted for them and
// reports the NACK on their status, or, when there are several, retries them in halves (engine.ts
// `retryGroups`) until a NACK names one.
export interface Push<V> {
  version: string;
  changes: Map<string, V>;
}

export class NackGuard<V> {
  private readonly pending = new Map<string, Push<V>[]>();

  private key(fleet: string, typeUrl: string): string {
    return `${fleet}\u0000${typeUrl}`;
  }

  /** Records that `version` of (fleet, typeUrl) carried these per-KIngress changes. */
  pushed(fleet: string, typeUrl: string, version: string, changes: Map<string, V>): void {
    if (changes.size === 0) return;
    const list = this.pending.get(this.key(fleet, typeUrl)) ?? [];
    const last = list[list.length - 1];
    if (last && last.version === version) for (const [k, v] of changes) last.changes.set(k, v);
    else list.push({ version, changes: new Map(changes) });
    // Bounded: a fleet that never answers must not grow this without end.
    if (list.length > 1000) list.splice(0, list.length - 1000);
    this.pending.set(this.key(fleet, typeUrl), list);
  }

  private take(fleet: string, typeUrl: string, version: string): Map<string, V> {
    const list = this.pending.get(this.key(fleet, typeUrl)) ?? [];
    const i = list.findIndex((p) => p.version === version);
    const out = new Map<string, V>();
    if (i < 0) return out;
    for (const p of list.splice(0, i + 1)) for (const [k, v] of p.changes) out.set(k, v);
    if (list.length === 0) this.pending.delete(this.key(fleet, typeUrl));
    return out;
  }

  /**
   * Envoy accepted `version`: returns the changes it confirmed (latest value per KIngress), that is
   * those no other type of the fleet still has pending with the same value.
   */
  acked(fleet: string, typeUrl: string, version: string): Map<string, V> {
    const out = this.take(fleet, typeUrl, version);
    for (const [key, list] of this.pending) {
      if (!key.startsWith(`${fleet}\u0000`) || key === this.key(fleet, typeUrl)) continue;
      for (const p of list) for (const [k, v] of p.changes) if (out.get(k) === v) out.delete(k);
    }
    return out;
  }

  /** Envoy rejected `version`: returns the suspects (KIngresses changed since the last ACK). */
  nacked(fleet: string, typeUrl: string, version: string): Map<string, V> {
    return this.take(fleet, typeUrl, version);
  }

  /** Forget a KIngress (deleted). */
  forget(key: string): void {
    for (const list of this.pending.values()) for (const p of list) p.changes.delete(key);
  }
}
