import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { HEADER_HASH } from '../api/kingress.ts';
import { ProbeLimiter, probeAll } from './prober.ts';

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

describe('probeAll', () => {
  test('poke() retries a target waiting out its backoff at once', async () => {
    let healthy = false;
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests++;
      res.writeHead(healthy ? 200 : 503, { [HEADER_HASH]: 'h1' });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // Fake timers: the backoff sleep never ends by itself, so only poke() can finish the round.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const round = probeAll([{ address: '127.0.0.1', port, host: 'x.example.com', tls: false }], 'h1');
    try {
      const tick = () => new Promise((r) => setImmediate(r));
      for (let i = 0; i < 100_000 && jest.getTimerCount() === 0; i++) await tick();
      expect(requests).toBe(1); // one failed attempt, now sleeping
      healthy = true;
      round.poke();
      let result: boolean | undefined;
      void round.done.then((ok) => (result = ok));
      for (let i = 0; i < 100_000 && result === undefined; i++) await tick();
      expect(result).toBe(true);
      expect(requests).toBe(2);
    } finally {
      round.cancel();
      jest.useRealTimers();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
