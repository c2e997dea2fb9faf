// A Map that records which keys were set or deleted, so that a reader that saw it at one revision
// can ask what changed since. The assembler's live resource maps are TrackedMaps, and the xDS
// snapshot cache (xds/cache.ts, its ChangeLog interface) reads a change in O(the change) instead
// of walking every resource of the fleet.

export class TrackedMap<V> extends Map<string, V> {
  #revision = 0;
  /** Key → revision of its last set or delete, for changes after `#floor`; in revision order. */
  readonly #log = new Map<string, number>();
  /** Changes at or before this revision are no longer known. */
  #floor = 0;

  /** Increases with every set or delete. */
  get revision(): number {
    return this.#revision;
  }

  override set(key: string, value: V): this {
    super.set(key, value);
    this.#touch(key);
    return this;
  }

  override delete(key: string): boolean {
    const had = super.delete(key);
    if (had) this.#touch(key);
    return had;
  }

  override clear(): void {
    for (const k of this.keys()) this.#touch(k);
    super.clear();
  }

  /** Keys set or deleted after `revision`, or undefined when that is no longer known. */
  touchedSince(revision: number): string[] | undefined {
    if (revision < this.#floor || revision > this.#revision) return undefined;
    const out: string[] = [];
    for (const [k, r] of this.#log) if (r > revision) out.push(k);
    return out;
  }

  /** Forgets the changes at or before `revision` (their reader has seen them). */
  forgetUpTo(revision: number): void {
    const upTo = Math.min(revision, this.#revision);
    if (upTo <= this.#floor) return;
    for (const [k, r] of this.#log) {
      if (r > upTo) break; // in revision order
      this.#log.delete(k);
    }
    this.#floor = upTo;
  }

  #touch(key: string): void {
    this.#revision++;
    this.#log.delete(key); // re-inserted at the end: the log stays in revision order
    this.#log.set(key, this.#revision);
    // Nobody reading: keep the log bounded (a reader then walks the whole map once).
    if (this.#log.size > Math.max(1024, 2 * this.size)) {
      this.#log.clear();
      this.#floor = this.#revision;
    }
  }
}
