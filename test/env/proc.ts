// Child processes owned by the test environment: spawned with their output in a log file, killed
// by `stop()` (SIGTERM, then SIGKILL, bounded), killed on process exit, and — where util-linux's
// `setpriv` exists — given a parent-death signal so they die even if this process is SIGKILLed.
// Also small bounded helpers: waitUntil, freePorts, tailFile, progress.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import type { Logger } from '../../operator/log.ts';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface OwnedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logPath: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  exitInfo(): ExitInfo | undefined;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000; 0: SIGKILL at once); resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** File receiving stdout and stderr (appended). */
  logPath: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /**
   * In a process group of its own (spawn's `detached`): a terminal's Ctrl-C, sent to the whole
   * foreground group, reaches only this process, which then stops the child in its own order.
   */
  ownGroup?: boolean;
}

const live = new Set<OwnedProcess>();
const exitHooks = new Set<() => void>();
let exitHandlerInstalled = false;

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const hook of exitHooks) {
      try {
        hook();
      } catch {
        // best effort at exit
      }
    }
  });
}

/** Registers a synchronous cleanup to run when this process exits; returns an unregister function. */
export function onProcessExit(hook: () => void): () => void {
  installExitHandler();
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) {
    setprivPath = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;
  }
  return setprivPath;
}

/** Spawns `cmd args` as a process owned by the test environment (see module header). */
export function spawnOwned(name: string, cmd: string, args: string[], opts: SpawnOptions): OwnedProcess {
  installExitHandler();
  let argv = [cmd, ...args];
  const sp = setpriv();
  if (sp !== null) argv = [sp, '--pdeathsig', 'KILL', '--', ...argv];
  if (opts.netns !== undefined) argv = ['ip', 'netns', 'exec', opts.netns, ...argv];
  const fd = openSync(opts.logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(argv[0] as string, argv.slice(1), {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: opts.ownGroup === true,
    });
  } finally {
    closeSync(fd);
  }
  let info: ExitInfo | undefined;
  const self: { proc?: OwnedProcess } = {}; // set below; the events fire later (or never, if spawn throws)
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      if (self.proc) live.delete(self.proc);
      resolve(info);
    });
    child.once('error', () => {
      info = { code: -1, signal: null };
      if (self.proc) live.delete(self.proc);
      resolve(info);
    });
  });
  if (child.pid === undefined) {
    // spawn failed synchronously enough to have no pid (ENOENT is reported through 'error')
    throw new Error(`${name}: could not spawn ${cmd}`);
  }
  const pid = child.pid;
  // a forgotten stop() must not keep the test process alive: the exit handler kills it instead
  child.unref();
  const stop = async (graceMs = 5000): Promise<void> => {
    if (info !== undefined) return;
    child.ref(); // keep the event loop alive until it has exited
    if (graceMs > 0) {
      child.kill('SIGTERM');
      if (await raceTimeout(exited, graceMs)) return;
    }
    child.kill('SIGKILL');
    if (!(await raceTimeout(exited, 5000)))
      throw new Error(`${name} (pid ${pid}) did not exit after SIGKILL`);
  };
  const proc: OwnedProcess = { name, pid, child, logPath: opts.logPath, exited, exitInfo: () => info, stop };
  self.proc = proc;
  live.add(proc);
  return proc;
}

/** Resolves true if `p` settles within `ms`, false otherwise (the timer never keeps the process alive). */
export async function raceTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Checked before every attempt; a returned string aborts the wait with that reason. */
  abort?: () => string | undefined;
  /** When given and false for an error thrown by `check`, that error ends the wait at once. */
  retryIf?: (err: unknown) => boolean;
}

/**
 * Polls `check` until it returns a value other than undefined/false, bounded by `timeoutMs`.
 * Throws with `what`, the last error and the abort reason if any.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    const reason = opts.abort?.();
    if (reason !== undefined) throw new Error(`${what}: ${reason}`);
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (opts.retryIf !== undefined && !opts.retryIf(err)) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`${what}: timed out after ${opts.timeoutMs} ms, ${attempt + 1} attempts${last}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - Date.now()))));
  }
}

/** `n` distinct free TCP ports on 127.0.0.1 (held together while picking so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** The last `lines` lines of a text file ('' if it does not exist). */
export function tailFile(path: string, lines = 30): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/** One progress line on stderr (unless KGW_ENV_QUIET=1), and to `log` at debug level when given. */
export function progress(msg: string, log?: Logger): void {
  log?.debug({ step: msg }, 'test env');
  if (process.env.KGW_ENV_QUIET !== '1') process.stderr.write(`[kgw-env] ${msg}\n`);
}
