// IdleGc runs one full GC once the event loop has been quiet for a while after enough work, never
// during work, never twice for one burst, and not at all without a GC function.
import { IdleGc, type GcFunction } from './idle-gc.ts';
import { newLogger } from './log.ts';

/** A scripted event loop: each sample() sees the next utilization over a 5 s interval. */
function scripted(utilizations: number[]) {
  let i = 0;
  return () => {
    const u = utilizations[i++] ?? 0;
    return { active: 5000 * u, utilization: u };
  };
}

function idleGc(utilizations: number[], gc: GcFunction | undefined) {
  return new IdleGc({
    log: newLogger('test', 'silent'),
    gc,
    utilization: scripted(utilizations),
    heapUsed: () => 0,
  });
}

describe('IdleGc', () => {
  it('runs one last-resort GC after a burst, once two samples in a row are quiet', () => {
    const calls: unknown[] = [];
    const g = idleGc([0.9, 0.6, 0.01, 0.01, 0.01, 0.01, 0.01], (o) => calls.push(o));
    for (let i = 0; i < 3; i++) g.sample();
    expect(calls).toEqual([]); // busy, busy, one quiet sample
    g.sample();
    expect(calls).toEqual([{ type: 'major', execution: 'sync', flavor: 'last-resort' }]);
    for (let i = 0; i < 3; i++) g.sample();
    expect(g.runs).toBe(1); // quiet since: no second GC for the same burst
  });

  it('waits while the event loop is busy, and for enough work since the last GC', () => {
    const calls: unknown[] = [];
    // 0.2 x 5 s = 1 s of work: not enough; then quiet/busy alternating never makes two quiet in a row
    const g = idleGc([0.2, 0.01, 0.01, 0.01, 0.5, 0.01, 0.3, 0.01, 0.01], (o) => calls.push(o));
    for (let i = 0; i < 7; i++) g.sample();
    expect(calls).toEqual([]);
    g.sample();
    g.sample();
    expect(calls).toHaveLength(1);
  });

  it('counts the start-up as a burst, however short', () => {
    const calls: unknown[] = [];
    // start() sees 0.01 x 5 s = 50 ms of event-loop time since the process started
    const g = idleGc([0.01, 0.01, 0.01, 0.01, 0.01], (o) => calls.push(o));
    g.start();
    try {
      g.sample();
      g.sample();
      expect(calls).toHaveLength(1);
      g.sample();
      g.sample();
      expect(calls).toHaveLength(1); // then only after work
    } finally {
      g.stop();
    }
  });

  it('does nothing without a GC function (node without --expose-gc)', () => {
    const g = idleGc([0.9, 0.9, 0.01, 0.01, 0.01], undefined);
    expect(g.enabled).toBe(false);
    for (let i = 0; i < 5; i++) g.sample();
    expect(g.runs).toBe(0);
  });
});
