// Bounded concurrent runner for split/distribution tests: runs fn(0..n-1) with at most
// `concurrency` in flight and collects every outcome; optional early stop and deadline.
export type Outcome<T> = { index: number; ok: true; value: T } | { index: number; ok: false; error: Error };

export interface RunOptions<T> {
  /** Stop starting new calls once this returns true for the outcomes so far. */
  until?: (outcomes: readonly Outcome<T>[]) => boolean;
  /** Stop starting new calls after this many ms (calls in flight still finish). */
  deadlineMs?: number;
}

export async function runRequests<T>(
  n: number,
  concurrency: number,
  fn: (index: number) => Promise<T>,
  opts: RunOptions<T> = {},
): Promise<Outcome<T>[]> {
  const outcomes: Outcome<T>[] = [];
  const stopAt = opts.deadlineMs === undefined ? Infinity : Date.now() + opts.deadlineMs;
  let next = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && next < n && Date.now() < stopAt) {
      const index = next++;
      try {
        outcomes.push({ index, ok: true, value: await fn(index) });
      } catch (err) {
        outcomes.push({ index, ok: false, error: err instanceof Error ? err : new Error(String(err)) });
      }
      if (opts.until?.(outcomes)) stop = true;
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(concurrency), n));
  await Promise.all(Array.from({ length: workers }, worker));
  return outcomes.sort((a, b) => a.index - b.index);
}

/** Counts values by key (e.g. which backend suffix answered). */
export function tally<T>(values: readonly T[], key: (v: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const v of values) out.set(key(v), (out.get(key(v)) ?? 0) + 1);
  return out;
}
