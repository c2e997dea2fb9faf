// String order by UTF-16 code units, the one kgw uses wherever it sorts names, keys or hosts.
// Unlike localeCompare it does not depend on ICU's collation (output and hashes are the same on
// every node build and locale), and it keeps ICU's collation data out of the operator's memory
// (localeCompare maps about 4 MiB of it on first use).

/** Sort comparator: `a` before `b` when its code units are smaller (`'Z' < 'a' < '~'`). */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
