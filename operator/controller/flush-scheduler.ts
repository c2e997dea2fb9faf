// When the engine flushes. Changes arrive one by one (watch events, ACKs, timers) and ask for a
// flush; the scheduler runs at most one flush at a time and coalesces: after a flush that did work
// in C ms, the next one starts no sooner than C ms after it ended (capped at maxCoalesceMs). A lone
// change after a quiet spell is flushed at once, while a burst against a large configuration
// (where pushing a route table takes long) is batched, so flushing never takes more than about
// half the time. Nothing runs before open() (the caches are not synced) or after stop().

/** Longest a change waits for the previous flush's coalescing window. */
export const MAX_COALESCE_MS = 500;

export interface FlushSchedulerOptions {
  /** One flush; returns whether it did work (only work counts for coalescing). */
  flush(): boolean;
  /** A flush threw (a kgw bug): logged, the next one still runs. */
  failed(err: unknown): void;
  maxCoalesceMs?: number;
  /** Clock in ms (default performance.now), for tests. */
  now?: () => number;
}

export class FlushScheduler {
  private readonly o: FlushSchedulerOptions;
  private readonly now: () => number;
  private open_ = false;
  private closed = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;
  /** End and duration of the last flush that did work. */
  private last = { end: 0, cost: 0 };
  private running: Promise<void> = Promise.resolve();

  constructor(o: FlushSchedulerOptions) {
    this.o = o;
    this.now = o.now ?? (() => performance.now());
  }

  /** From now on schedule() runs flushes. */
  open(): void {
    this.open_ = true;
  }

  /** Whether a flush is waiting to run. */
  get pending(): boolean {
    return this.scheduled;
  }

  /** Asks for a flush (coalesced with others asked for before it runs). */
  schedule(): void {
    if (!this.open_ || this.scheduled || this.closed) return;
    this.scheduled = true;
    const run = () => {
      this.timer = undefined;
      this.scheduled = false;
      this.running = this.running.then(() => this.runNow()).catch((err: unknown) => this.o.failed(err));
    };
    const wait =
      Math.min(this.last.cost, this.o.maxCoalesceMs ?? MAX_COALESCE_MS) - (this.now() - this.last.end);
    if (wait >= 1) this.timer = setTimeout(run, wait);
    else setImmediate(run);
  }

  /** Runs a flush now (after the one running, if any), outside the coalescing. */
  async flushNow(): Promise<void> {
    await this.running;
    this.runNow();
  }

  /** Waits for the flush running or queued to run (not for one still in its coalescing wait). */
  async settled(): Promise<void> {
    await this.running;
  }

  /** No flush starts any more; waits for the one running. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduled = false;
    await this.running.catch(() => undefined);
  }

  private runNow(): void {
    if (this.closed) return;
    const t0 = this.now();
    const worked = this.o.flush();
    const end = this.now();
    if (worked) this.last = { end, cost: end - t0 };
  }
}
