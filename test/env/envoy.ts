// Real Envoy for tests: version, offline validation (`--mode validate`) and started instances.
// A started Envoy's admin listens on a unix socket in its own dir (filesystem sockets work across
// network namespaces, so the test process reaches the admin of an Envoy inside a TestNetwork).
// Hot restart is disabled (no shared memory left behind) and the base id is dynamic, so any
// number of Envoys run at once.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../../operator/log.ts';
import type { TestNetwork } from './netns.ts';
import { envoyBin } from './paths.ts';
import { onProcessExit, progress, spawnOwned, tailFile, waitUntil, type ExitInfo } from './proc.ts';

const execFileAsync = promisify(execFile);

/** The Envoy version, e.g. `1.40.0`. */
export async function envoyVersion(): Promise<string> {
  const { stdout } = await execFileAsync(envoyBin(), ['--version'], { timeout: 30_000 });
  const m = /version: [0-9a-f]+\/([^/\s]+)\//.exec(stdout);
  if (m?.[1] === undefined) throw new Error(`cannot read the version from: ${stdout.trim()}`);
  return m[1];
}

/** Runs `envoy --mode validate` on a bootstrap config; `output` is Envoy's stdout+stderr. */
export async function validateEnvoyConfig(config: object): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-envoy-validate-'));
  try {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    const args = ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'warn'];
    try {
      const { stdout, stderr } = await execFileAsync(envoyBin(), args, {
        timeout: 60_000,
        maxBuffer: 16 << 20,
      });
      return { ok: true, output: stdout + stderr };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; code?: number | string; killed?: boolean };
      if (e.code === 'ENOENT') throw err;
      const why = e.killed === true ? 'timed out' : `exit ${String(e.code)}`;
      return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || why };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface AdminResponse {
  status: number;
  body: string;
}

export interface EnvoyProcess {
  readonly id: string;
  readonly pid: number;
  /** Working dir: config.json, envoy.log, admin.sock (removed by stop() unless KGW_KEEP_ENV=1). */
  readonly dir: string;
  readonly adminSocket: string;
  readonly logPath: string;
  /** Resolves when the process exits. */
  readonly exited: Promise<ExitInfo>;
  /** GET on the admin interface, e.g. `/ready`, `/config_dump`, `/clusters?format=json`. */
  adminGet(path: string): Promise<AdminResponse>;
  /** POST on the admin interface, e.g. `/healthcheck/fail`, `/drain_listeners`. */
  adminPost(path: string): Promise<AdminResponse>;
  /** Envoy's log so far. */
  logs(): string;
  /** SIGTERM (SIGKILL after 5 s); removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface StartEnvoyOptions {
  /** Bootstrap config. Its admin address is replaced with a unix socket in the Envoy's dir. */
  config: object;
  /** Names the instance (dir and log names; `--service-node`/`--service-cluster` when the config has no node). */
  id: string;
  /** Run inside this test network namespace. */
  network?: TestNetwork;
  log?: Logger;
  /** Envoy log level (default info). */
  logLevel?: string;
  /** Worker threads (default 1). */
  concurrency?: number;
  /** What to wait for: admin /ready answering LIVE (default), admin answering at all, or nothing. */
  waitFor?: 'live' | 'admin' | 'none';
  /** Bound for the wait (default 30 s). */
  timeoutMs?: number;
}

/** Starts Envoy and waits (bounded) until admin /ready says LIVE, or per `waitFor`. */
export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  if (!/^[a-zA-Z0-9_.-]{1,64}$/.test(opts.id)) throw new Error(`envoy id must be a simple name: ${opts.id}`);
  const bin = envoyBin();
  const keep = process.env.KGW_KEEP_ENV === '1';
  const dir = mkdtempSync(join(tmpdir(), `kgw-envoy-${opts.id}-`));
  const unregisterDir = keep
    ? () => false
    : onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  const adminSocket = join(dir, 'admin.sock');
  const logPath = join(dir, 'envoy.log');
  const configPath = join(dir, 'config.json');
  const config = structuredClone(opts.config) as { admin?: Record<string, unknown>; node?: { id?: string } };
  config.admin = { ...(config.admin ?? {}), address: { pipe: { path: adminSocket } } };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const args = [
    '-c',
    configPath,
    '--use-dynamic-base-id',
    '--disable-hot-restart',
    '--concurrency',
    String(opts.concurrency ?? 1),
    '--log-level',
    opts.logLevel ?? 'info',
  ];
  if (config.node?.id === undefined) args.push('--service-node', opts.id, '--service-cluster', opts.id);
  const where = opts.network !== undefined ? ` in netns ${opts.network.name}` : '';
  progress(`envoy ${opts.id}: starting${where} (log ${logPath})`, opts.log);
  const proc = spawnOwned(`envoy ${opts.id}`, bin, args, {
    logPath,
    cwd: dir,
    ...(opts.network !== undefined ? { netns: opts.network.name } : {}),
  });

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await proc.stop(5000);
      unregisterDir();
      if (!keep) rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const envoy: EnvoyProcess = {
    id: opts.id,
    pid: proc.pid,
    dir,
    adminSocket,
    logPath,
    exited: proc.exited,
    adminGet: (path) => adminRequest(adminSocket, 'GET', path),
    adminPost: (path) => adminRequest(adminSocket, 'POST', path),
    logs: () => {
      try {
        return readFileSync(logPath, 'utf8');
      } catch {
        return '';
      }
    },
    stop,
  };

  const waitFor = opts.waitFor ?? 'live';
  if (waitFor === 'none') return envoy;
  try {
    await waitUntil(
      `envoy ${opts.id} admin ${waitFor === 'live' ? '/ready LIVE' : 'answering'} (log ${logPath})`,
      async () => {
        const r = await adminRequest(adminSocket, 'GET', '/ready');
        if (waitFor === 'admin') return true;
        if (r.status === 200 && r.body.trim() === 'LIVE') return true;
        throw new Error(`/ready: ${r.status} ${r.body.trim()}`);
      },
      {
        timeoutMs: opts.timeoutMs ?? 30_000,
        intervalMs: 25,
        abort: () => {
          const info = proc.exitInfo();
          return info === undefined
            ? undefined
            : `envoy exited (code ${info.code}, signal ${info.signal}); log ${logPath}:\n${tailFile(logPath, 20)}`;
        },
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  progress(`envoy ${opts.id}: ready (pid ${proc.pid})`, opts.log);
  return envoy;
}

/** One HTTP request to an admin unix socket. */
export function adminRequest(socketPath: string, method: string, path: string): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: 10_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: admin ${method} ${path}`)));
    req.on('error', reject);
    req.end();
  });
}
