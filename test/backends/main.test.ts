import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpRequest } from './client.ts';
import type { RuntimeInfo } from './runtime.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const node24 = path.join(repo, 'node_modules', '.bin', 'node');
const mainTs = path.join(here, 'main.ts');

interface Child {
  proc: ChildProcessWithoutNullStreams;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(args: string[]): Child {
  const proc = spawn(node24, [mainTs, ...args], { cwd: repo, stdio: 'pipe' });
  let err = '';
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stderr: () => err, exited };
}

/** Resolves with the first stdout line; rejects if the process exits or 20 s pass first. */
function firstLine(c: Child): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no READY line; stderr: ${c.stderr()}`)), 20_000);
    c.proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    void c.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before READY; stderr: ${c.stderr()}`));
    });
  });
}

async function stop(c: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const kill = setTimeout(() => c.proc.kill('SIGKILL'), 20_000);
  try {
    return await c.exited;
  } finally {
    clearTimeout(kill);
  }
}

describe('main.ts', () => {
  it('prints READY host:port, serves, and exits 0 on SIGTERM', async () => {
    const c = run(['--kind', 'runtime', '--host', '127.0.0.1', '--port', '0', '--suffix', 'cli']);
    try {
      const line = await firstLine(c);
      const m = /^READY 127\.0\.0\.1:(\d+)$/.exec(line);
      expect(m).not.toBeNull();
      const port = Number(m![1]);
      const res = await httpRequest({ address: '127.0.0.1', port, host: 'cli.example.com' });
      expect(res.json<RuntimeInfo>().host.suffix).toBe('cli');
      c.proc.kill('SIGTERM');
      expect(await stop(c)).toEqual({ code: 0, signal: null });
    } finally {
      c.proc.kill('SIGKILL');
    }
  });

  it('exits 0 on SIGINT while a request and an idle keep-alive connection are open', async () => {
    const c = run(['--kind', 'timeout', '--port', '0']);
    const agent = new http.Agent({ keepAlive: true });
    try {
      const line = await firstLine(c);
      const port = Number(line.split(':').pop());
      // An idle kept-alive connection…
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject);
      });
      // …and a request that would sleep for a minute.
      const inflight = new Promise<string>((resolve) => {
        const req = http.get(
          { host: '127.0.0.1', port, path: '/?initialTimeout=60000', agent: false },
          (res) => resolve(`status ${res.statusCode}`),
        );
        req.on('error', (e) => resolve(`error ${e.message}`));
      });
      c.proc.kill('SIGINT');
      expect(await stop(c)).toEqual({ code: 0, signal: null });
      expect(await inflight).toMatch(/^error /);
    } finally {
      agent.destroy();
      c.proc.kill('SIGKILL');
    }
  });

  it('exits 2 with usage on bad arguments', async () => {
    const c = run(['--kind', 'nope']);
    expect((await stop(c)).code).toBe(2);
    expect(c.stderr()).toMatch(/usage: main\.ts --kind/);
  });
});
