import { Halt, Teardown } from './teardown.ts';

describe('Teardown', () => {
  it('stops in reverse order, every step even after a failure, each once', async () => {
    const t = new Teardown();
    const done: string[] = [];
    t.add('control plane', () => done.push('control plane'));
    t.add('network', () => Promise.reject(new Error('busy')));
    t.add('operator', async () => {
      await new Promise((r) => setTimeout(r, 5));
      done.push('operator');
    });
    expect(await t.run()).toEqual(['network: busy']);
    expect(done).toEqual(['operator', 'control plane']);
    expect(await t.run()).toEqual([]);
    expect(done).toEqual(['operator', 'control plane']);
  });
});

describe('Halt', () => {
  it('a wait ends with the first reason; later waits and checks fail at once', async () => {
    const h = new Halt();
    expect(await h.race(Promise.resolve(1))).toBe(1);
    const never = new Promise<number>(() => undefined);
    const waiting = h.race(never);
    h.halt(new Error('SIGINT'));
    h.halt(new Error('operator exited'));
    await expect(waiting).rejects.toThrow('SIGINT');
    await expect(h.race(Promise.resolve(2))).rejects.toThrow('SIGINT');
    expect(() => h.check()).toThrow('SIGINT');
    expect(h.reason()?.message).toBe('SIGINT');
  });

  it('never halted: checks pass and nothing is left unhandled', () => {
    const h = new Halt();
    expect(() => h.check()).not.toThrow();
    expect(h.reason()).toBeUndefined();
  });
});
