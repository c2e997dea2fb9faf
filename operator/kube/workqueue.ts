// A keyed work queue with per-key rate-limited retries, in the manner of client-go's: a key waits
// in the queue at most once however often it is added; a key is never processed twice at the same
// time (added while being processed, it runs again afterwards); a failed key is retried after a
// backoff that doubles per consecutive failure of that key (base → max) and starts over after a
// success; a key can also be queued after a delay (addAfter: e.g. a certificate's renewal time).
// Every writer of kgw that must not lose a write to one API server error uses it.
import type { Logger } from '../log.ts';

/** The longest one timer waits (setTimeout's limit is about 24.8 days). */
export const MAX_TIMER_MS = 3_600_000;

export interface WorkQueueOptions {
  /** For logs. */
  name: string;
  log: Logger;
  /** Does the work of one key; a rejection retries the key after its backoff. */
  process(key: string): Promise<void>;
  /** Keys processed at the same time (default 8). */
  concurrency?: number;
  /** First retry delay (default 100 ms) and the longest (default 30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly o: WorkQueueOptions;
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  /** Added while being processed: goes again once done. */
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** When each key's timer fires (performance.now), for addAfter. */
  private readonly due = new Map<string, number>();
  private stopped = false;
  private readonly waiters: (() => void)[] = [];

  constructor(o: WorkQueueOptions) {
    this.o = o;
  }

  /** Queues `key` now (a pending retry of it is brought forward). */
  add(key: string): void {
    if (this.stopped) return;
    this.clearTimer(key);
    if (this.active.has(key)) {
      this.again.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /**
   * Queues `key` once `ms` have passed, unless a timer of it (a retry, an earlier addAfter) fires
   * sooner. Delays are capped at MAX_TIMER_MS: a key due later is processed then and may ask
   * again.
   */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const delay = Math.max(0, Math.min(ms, MAX_TIMER_MS));
    const at = performance.now() + delay;
    const current = this.due.get(key);
    if (current !== undefined && current <= at) return;
    this.setTimer(key, delay);
  }

  /** Consecutive failures of `key` (0 after a success). */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Forgets a key: no retry, its failure count reset (e.g. the object is gone). */
  forget(key: string): void {
    this.clearTimer(key);
    this.failures.delete(key);
  }

  /** Keys queued, running or waiting for a retry. */
  get size(): number {
    return this.queued.size + this.active.size + this.timers.size;
  }

  /** Resolves once nothing is queued or running (retries waiting on a timer do not count). */
  async idle(): Promise<void> {
    if (this.queued.size === 0 && this.active.size === 0) return;
    await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Drops everything queued and every retry; resolves once running work has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.due.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.again.clear();
    await this.idle();
  }

  private pump(): void {
    const limit = this.o.concurrency ?? 8;
    while (this.active.size < limit && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      void this.run(key);
    }
    if (this.queued.size === 0 && this.active.size === 0) for (const w of this.waiters.splice(0)) w();
  }

  private async run(key: string): Promise<void> {
    try {
      await this.o.process(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const base = this.o.baseDelayMs ?? 100;
      const delay = Math.min(base * 2 ** (n - 1), this.o.maxDelayMs ?? 30_000);
      this.o.log.warn(
        { queue: this.o.name, key, failures: n, retryMs: delay, err: String(err) },
        'work failed; retrying',
      );
      if (!this.stopped && !this.again.has(key)) this.setTimer(key, delay);
    } finally {
      this.active.delete(key);
      if (this.again.delete(key)) this.add(key);
      this.pump();
    }
  }

  private setTimer(key: string, delay: number): void {
    this.clearTimer(key);
    const t = setTimeout(() => {
      this.timers.delete(key);
      this.due.delete(key);
      this.add(key);
    }, delay);
    t.unref();
    this.timers.set(key, t);
    this.due.set(key, performance.now() + delay);
  }

  private clearTimer(key: string): void {
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
    this.due.delete(key);
  }
}
