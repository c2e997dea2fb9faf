import { runRequests, tally } from './run-requests.ts';

describe('runRequests', () => {
  it('runs every index with bounded concurrency and collects outcomes in order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const out = await runRequests(25, 4, async (i) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (i % 10 === 3) throw new Error(`boom ${i}`);
      return i * 2;
    });
    expect(out.map((o) => o.index)).toEqual([...Array(25).keys()]);
    expect(maxInFlight).toBe(4);
    const failed = out.filter((o) => !o.ok).map((o) => (o.ok ? '' : o.error.message));
    expect(failed).toEqual(['boom 3', 'boom 13', 'boom 23']);
    expect(out[5]).toEqual({ index: 5, ok: true, value: 10 });
  });

  it('stops starting new calls once `until` holds', async () => {
    let calls = 0;
    const out = await runRequests(
      100,
      1,
      (i) => {
        calls++;
        return Promise.resolve(i % 2 === 0 ? 'blue' : 'green');
      },
      { until: (o) => new Set(o.map((x) => (x.ok ? x.value : ''))).size === 2 },
    );
    expect(calls).toBe(2);
    expect(out).toHaveLength(2);
  });

  it('handles n = 0', async () => {
    expect(await runRequests(0, 8, () => Promise.resolve(1))).toEqual([]);
  });
});

describe('tally', () => {
  it('counts by key', () => {
    expect([...tally(['a', 'b', 'a'], (s) => s)]).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });
});
