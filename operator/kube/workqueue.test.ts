import { newLogger } from '../log.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { WorkQueue } from './workqueue.ts';

const log = newLogger('test');
const BOUND = { timeoutMs: 10_000, intervalMs: 5 };

test('a key queued many times runs once; added while running, it runs again after', async () => {
  const runs: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const q = new WorkQueue({
    name: 't',
    log,
    concurrency: 1, // 'b' waits in the queue while 'a' runs
    process: async (k) => {
      runs.push(k);
      if (runs.length === 1) await gate;
    },
  });
  q.add('a');
  q.add('a'); // already running: runs again afterwards, once
  q.add('a');
  q.add('b');
  q.add('b');
  release();
  await waitUntil('the queue to drain', () => Promise.resolve(q.size === 0), BOUND);
  await q.idle();
  expect(runs.sort()).toEqual(['a', 'a', 'b']);
});

test('a key is never processed twice at once', async () => {
  let running = 0;
  let most = 0;
  const q = new WorkQueue({
    name: 't',
    log,
    process: async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
    },
  });
  for (let i = 0; i < 20; i++) q.add('same');
  await waitUntil('done', () => Promise.resolve(q.size === 0), BOUND);
  expect(most).toBe(1);
});

test('a failed key is retried with a growing backoff until it succeeds, then its count resets', async () => {
  let attempts = 0;
  const q = new WorkQueue({
    name: 't',
    log,
    baseDelayMs: 5,
    maxDelayMs: 20,
    process: () => {
      attempts++;
      return attempts <= 3 ? Promise.reject(new Error(`fail ${attempts}`)) : Promise.resolve();
    },
  });
  q.add('k');
  await waitUntil(
    'the fourth attempt to succeed',
    () => Promise.resolve(attempts === 4 && q.size === 0),
    BOUND,
  );
  expect(q.failuresOf('k')).toBe(0);
});

test('other keys go on while one keeps failing', async () => {
  const done: string[] = [];
  const q = new WorkQueue({
    name: 't',
    log,
    baseDelayMs: 5,
    process: (k) => (k === 'bad' ? Promise.reject(new Error('no')) : Promise.resolve(void done.push(k))),
  });
  q.add('bad');
  q.add('good-1');
  q.add('good-2');
  await waitUntil('the good keys', () => Promise.resolve(done.length === 2), BOUND);
  await waitUntil('two failures', () => Promise.resolve(q.failuresOf('bad') >= 2), BOUND);
  q.forget('bad');
  await q.stop();
  expect(done.sort()).toEqual(['good-1', 'good-2']);
});

test('stop drops queued work and retries and waits for running work', async () => {
  let finished = 0;
  const q = new WorkQueue({
    name: 't',
    log,
    concurrency: 1,
    process: async () => {
      await new Promise((r) => setTimeout(r, 5));
      finished++;
    },
  });
  q.add('a');
  q.add('b');
  q.add('c');
  await q.stop();
  expect(finished).toBe(1);
  q.add('d');
  expect(q.size).toBe(0);
});

test('addAfter queues a key once its delay has passed; the sooner of two timers wins; add brings it forward', async () => {
  const runs: [string, number][] = [];
  const t0 = performance.now();
  const q = new WorkQueue({
    name: 't',
    log,
    process: (k) => {
      runs.push([k, performance.now() - t0]);
      return Promise.resolve();
    },
  });
  q.addAfter('late', 60_000);
  q.addAfter('soon', 50);
  q.addAfter('soon', 60_000); // the earlier timer stays
  expect(q.size).toBe(2);
  await waitUntil('soon to run', () => Promise.resolve(runs.length === 1 || undefined), BOUND);
  expect(runs.map(([k]) => k)).toEqual(['soon']);
  expect(runs[0]![1]).toBeGreaterThanOrEqual(49); // not before its delay (timers never fire early)
  q.add('late'); // brought forward: its timer is gone
  await q.idle();
  expect(runs.map(([k]) => k)).toEqual(['soon', 'late']);
  expect(q.size).toBe(0);
  q.addAfter('x', 60_000);
  q.forget('x');
  expect(q.size).toBe(0);
  await q.stop();
});
