// One full, memory-reducing garbage collection once the operator goes quiet after a burst of work
// (KIngresses created or changed, a restart's first sync). V8's own memory reducer does this only
// when the allocation rate is low, and the operator's background work (the 2 s gateway status
// check, fleet readiness polls) keeps it above V8's threshold: its GCs then wait for V8's watchdog
// or the next heap limit, and the old space keeps the pages the burst filled. bench/rss.ts at 1k
// KIngresses, 60 s after all were Ready: old space 72 MiB committed for 44 MiB in use, operator
// RSS 191 MiB; after one such GC 39 / 39 MiB and 132 MiB.
//
// The GC function is V8's (`node --expose-gc`, which the image passes: OPERATOR_NODE_OPTIONS);
// without it this does nothing. Busy and quiet come from the event loop's utilization (the share
// of time it ran callbacks), sampled every `intervalMs`: a GC needs `minBusyMs` of event-loop
// time since the last one (the start-up always counts as enough) and `quietIntervals` quiet
// samples in a row, so it never runs during work and at most once per burst.
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Logger } from './log.ts';

/** V8's gc() with options (node --expose-gc). */
export type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

export interface IdleGcOptions {
  log: Logger;
  /** Default: globalThis.gc (defined with --expose-gc). */
  gc?: GcFunction | undefined;
  /** Sampling period (default 5 s). */
  intervalMs?: number;
  /** Event-loop time (ms) spent since the last GC that makes one worth it (default 2,000). */
  minBusyMs?: number;
  /** A sample is quiet below this event-loop utilization (default 0.05). */
  quietBelow?: number;
  /** Quiet samples in a row before the GC (default 2). */
  quietIntervals?: number;
  /** Event-loop time (ms) active and utilization since the previous call (tests replace it). */
  utilization?: () => { active: number; utilization: number };
  /** Heap in use (tests replace it). */
  heapUsed?: () => number;
}

export class IdleGc {
  private readonly o: IdleGcOptions;
  private readonly gc: GcFunction | undefined;
  private timer: NodeJS.Timeout | undefined;
  private last: EventLoopUtilization | undefined;
  private busyMs = 0;
  private quiet = 0;
  /** Full GCs run so far. */
  runs = 0;

  constructor(o: IdleGcOptions) {
    this.o = o;
    this.gc = 'gc' in o ? o.gc : (globalThis as { gc?: GcFunction }).gc;
  }

  /** Whether a GC function is there (node --expose-gc). */
  get enabled(): boolean {
    return this.gc !== undefined;
  }

  start(): void {
    if (!this.gc) {
      this.o.log.debug({}, 'no idle GC: node runs without --expose-gc');
      return;
    }
    if (this.timer) return;
    // the start-up (imports, compiling, first lists and sync) is a burst too, however short: it
    // leaves garbage and the code of what ran once (bench/rss.ts idle: heap 40/45 MiB used/total)
    this.delta();
    this.busyMs = Math.max(this.busyMs, this.o.minBusyMs ?? 2000);
    this.timer = setInterval(() => this.sample(), this.o.intervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private delta(): { active: number; utilization: number } {
    if (this.o.utilization) return this.o.utilization();
    const now = performance.eventLoopUtilization();
    const d = this.last ? performance.eventLoopUtilization(now, this.last) : now;
    this.last = now;
    return d;
  }

  /** One sample: counts busy time, and runs the GC after enough work and quiet. Public for tests. */
  sample(): void {
    if (!this.gc) return;
    const delta = this.delta();
    this.busyMs += delta.active;
    if (delta.utilization >= (this.o.quietBelow ?? 0.05)) {
      this.quiet = 0;
      return;
    }
    this.quiet++;
    if (this.quiet < (this.o.quietIntervals ?? 2) || this.busyMs < (this.o.minBusyMs ?? 2000)) return;
    const heapUsed = this.o.heapUsed ?? (() => process.memoryUsage().heapUsed);
    const before = heapUsed();
    const t0 = performance.now();
    this.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const ms = performance.now() - t0;
    this.runs++;
    this.o.log.info(
      {
        busyMs: Math.round(this.busyMs),
        gcMs: Math.round(ms),
        heapUsedMiB: [before, heapUsed()].map((b) => Math.round(b / 1048576)),
      },
      'quiet after a burst: full GC',
    );
    this.busyMs = 0;
    this.quiet = 0;
    // what the GC itself took is not work that calls for the next one
    this.delta();
  }
}
