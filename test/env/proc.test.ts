// Owned processes and the bounded helpers.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, spawnOwned, tailFile, waitUntil } from './proc.ts';

describe('proc', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kgw-proc-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('logs to a file and stops with SIGTERM', async () => {
    const p = spawnOwned('echo', process.execPath, ['-e', 'console.log("hi"); setInterval(() => {}, 1000)'], {
      logPath: join(dir, 'echo.log'),
    });
    await waitUntil('log line', () => Promise.resolve(readFileSync(p.logPath, 'utf8').includes('hi')), {
      timeoutMs: 10_000,
    });
    await p.stop();
    expect(p.exitInfo()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(tailFile(p.logPath)).toContain('hi');
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const p = spawnOwned(
      'stubborn',
      process.execPath,
      ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'],
      { logPath: join(dir, 'stubborn.log') },
    );
    await waitUntil('up', () => Promise.resolve(readFileSync(p.logPath, 'utf8').includes('up')), {
      timeoutMs: 10_000,
    });
    await p.stop(200);
    expect(p.exitInfo()?.signal).toBe('SIGKILL');
  });

  it('ownGroup: the child leads a process group of its own (a Ctrl-C to ours misses it)', async () => {
    const pgrp = (pid: number) =>
      Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
    const script = ['-e', 'setInterval(() => {}, 1000)'];
    const own = spawnOwned('own', process.execPath, script, {
      logPath: join(dir, 'own.log'),
      ownGroup: true,
    });
    const shared = spawnOwned('shared', process.execPath, script, { logPath: join(dir, 'shared.log') });
    try {
      expect(pgrp(own.pid)).toBe(own.pid);
      expect(pgrp(shared.pid)).toBe(pgrp(process.pid));
    } finally {
      await own.stop();
      await shared.stop();
    }
  });

  it('waitUntil is bounded, names what it waited for and stops on abort', async () => {
    await expect(
      waitUntil('the moon', () => Promise.resolve(false), { timeoutMs: 100, intervalMs: 10 }),
    ).rejects.toThrow(/the moon: timed out after 100 ms/);
    await expect(
      waitUntil('x', () => Promise.resolve(false), { timeoutMs: 10_000, abort: () => 'process exited' }),
    ).rejects.toThrow(/x: process exited/);
    await expect(
      waitUntil('y', () => Promise.reject(new Error('fatal')), { timeoutMs: 10_000, retryIf: () => false }),
    ).rejects.toThrow('fatal');
    let n = 0;
    expect(
      await waitUntil('third time', () => Promise.resolve(++n >= 3 ? n : false), {
        timeoutMs: 10_000,
        intervalMs: 1,
      }),
    ).toBe(3);
  });

  it('freePorts gives distinct ports', async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });
});
