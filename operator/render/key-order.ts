// Values kept in key order (the route tables list KIngresses by key, as renderFleet does), cheap
// both ways: one insert goes into place by binary search; a bulk load (start-up, a gateway change)
// is appended and sorted once, when the order is next read. A value replaced or removed during a
// bulk load is pruned then, by `current`.
export class KeyOrder<T> {
  private readonly keyOf: (v: T) => string;
  private readonly current: (v: T) => boolean;
  private order: T[] = [];
  /** Values were appended in bulk (or removed meanwhile): sort and prune before use. */
  private unsorted = false;
  /** Inserts since the order was last read: beyond a few, appending and sorting once is cheaper. */
  private inserts = 0;

  /** `current(v)`: v is still the value of its key (not replaced or removed). */
  constructor(keyOf: (v: T) => string, current: (v: T) => boolean) {
    this.keyOf = keyOf;
    this.current = current;
  }

  insert(v: T): void {
    if (this.unsorted || ++this.inserts > 64) {
      this.order.push(v);
      this.unsorted = true;
    } else {
      this.order.splice(this.search(this.keyOf(v)), 0, v);
    }
  }

  replace(old: T, v: T): void {
    if (this.unsorted) {
      this.order.push(v); // `old` is pruned when sorting
      return;
    }
    this.order[this.search(this.keyOf(old))] = v;
  }

  remove(old: T): void {
    if (this.unsorted) return; // pruned when sorting
    this.order.splice(this.search(this.keyOf(old)), 1);
  }

  /** The current values in key order (a live array: read it, never change it). */
  sorted(): readonly T[] {
    this.inserts = 0;
    if (this.unsorted) {
      this.unsorted = false;
      const key = this.keyOf;
      this.order = this.order
        .filter((v) => this.current(v))
        .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    }
    return this.order;
  }

  /** Index of `key` in the sorted values, or where it would be inserted. */
  private search(key: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.keyOf(this.order[mid]!) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
