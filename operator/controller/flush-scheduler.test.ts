// FlushScheduler with a fake clock (its `now`) and Jest's fake timers for the coalescing wait.
import { jest } from '@jest/globals';
import { FlushScheduler } from './flush-scheduler.ts';

const immediate = () => new Promise((r) => setImmediate(r));

function setup(opts: { cost?: number; throwOn?: number } = {}) {
  let clock = 1000;
  const runs: number[] = [];
  const errors: unknown[] = [];
  const s = new FlushScheduler({
    now: () => clock,
    flush: () => {
      runs.push(clock);
      if (runs.length === opts.throwOn) throw new Error('boom');
      clock += opts.cost ?? 0; // the flush "takes" cost ms
      return true;
    },
    failed: (err) => errors.push(err),
  });
  return { s, runs, errors };
}

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('nothing runs before open(); then requests made before a flush runs share it', async () => {
  const { s, runs } = setup();
  s.schedule();
  await immediate();
  expect(runs).toEqual([]);
  s.open();
  s.schedule();
  s.schedule();
  s.schedule();
  expect(s.pending).toBe(true);
  await immediate();
  await s.settled();
  expect(runs).toHaveLength(1);
  expect(s.pending).toBe(false);
});

test('after a flush that took C ms the next waits C ms, at most MAX_COALESCE_MS', async () => {
  const { s, runs } = setup({ cost: 120 });
  s.open();
  s.schedule();
  await immediate();
  await s.settled();
  expect(runs).toHaveLength(1);
  s.schedule();
  await immediate();
  expect(runs).toHaveLength(1); // waiting out the 120 ms window
  jest.advanceTimersByTime(119);
  await immediate();
  expect(runs).toHaveLength(1);
  jest.advanceTimersByTime(1);
  await s.settled();
  expect(runs).toHaveLength(2);

  const slow = setup({ cost: 5000 });
  slow.s.open();
  slow.s.schedule();
  await immediate();
  await slow.s.settled();
  slow.s.schedule();
  jest.advanceTimersByTime(500); // MAX_COALESCE_MS
  await slow.s.settled();
  expect(slow.runs).toHaveLength(2);
  await slow.s.stop();
  await s.stop();
});

test('a flush that throws is reported and the next one still runs; flushNow runs at once', async () => {
  const { s, runs, errors } = setup({ throwOn: 1 });
  s.open();
  s.schedule();
  await immediate();
  await s.settled();
  expect(errors).toHaveLength(1);
  s.schedule();
  await immediate();
  await s.settled();
  expect(runs).toHaveLength(2);
  await s.flushNow();
  expect(runs).toHaveLength(3);
});

test('stop() cancels a waiting flush and refuses new ones', async () => {
  const { s, runs } = setup({ cost: 100 });
  s.open();
  s.schedule();
  await immediate();
  await s.settled();
  s.schedule(); // waits 100 ms
  await s.stop();
  jest.advanceTimersByTime(1000);
  s.schedule();
  await immediate();
  await s.flushNow();
  expect(runs).toHaveLength(1);
});
