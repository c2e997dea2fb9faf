import { ProbeLimiter } from './prober.ts';

describe('ProbeLimiter', () => {
  test('runs at most max tasks at once, first come first served', async () => {
    const limiter = new ProbeLimiter(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      limiter.run(async () => {
        started.push(i);
        await new Promise<void>((r) => release.push(r));
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect([limiter.inFlight, limiter.queued]).toEqual([2, 3]);
    for (let step = 0; step < 5; step++) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
      expect(limiter.inFlight).toBeLessThanOrEqual(2);
    }
    expect(started).toEqual([0, 1, 2, 3, 4]);
    for (const r of release.splice(0)) r();
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4]);
    expect([limiter.inFlight, limiter.queued]).toEqual([0, 0]);
  });

  test('a failing task releases its slot', async () => {
    const limiter = new ProbeLimiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve('ok'))).toBe('ok');
    expect(limiter.inFlight).toBe(0);
  });
});
