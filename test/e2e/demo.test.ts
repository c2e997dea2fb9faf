// `npm run demo` (README command one: test/e2e/demo.ts) brings everything up with the operator's
// CLI as a child process, answers through Envoy, and cleans up — with --exit-after-ready, on
// Ctrl-C (SIGINT) while running, and when the operator dies halfway: then no process of its work
// dir or control plane, no network namespace and no temp dir is left.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '../..');
const demo = join(import.meta.dirname, 'demo.ts');
const logFile = join(root, '.kgw', 'demo.log');

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** Processes whose command line mentions `text` (a work dir, a control plane's dir). */
function processesMentioning(text: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** What the demo announced: the operator's pid and command line (the work dir, the subnet) and the control plane's dir. */
function announced(err: string) {
  const op =
    /\[kgw demo\] the operator \(pid (\d+)\): node operator\/cli\.ts (operator --runtime local .*)/.exec(err);
  const pid = Number(op?.[1] ?? 0);
  const args = op?.[2] ?? '';
  return {
    pid,
    args,
    workDir: /--work-dir (\S+)/.exec(args)?.[1] ?? '',
    subnet: /--network-subnet (\d+)/.exec(args)?.[1] ?? '',
    cpDir: /control plane: starting etcd \+ kube-apiserver in (\S+)/.exec(err)?.[1] ?? '',
  };
}

/** Runs the demo; `onStderr` sees its stderr so far (and its pid) until it returns true. */
async function runDemo(args: string[], onStderr?: (err: string, pid: number) => boolean) {
  const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
  const child = spawn(process.execPath, [demo, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let watching = onStderr !== undefined;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (watching && onStderr?.(err, child.pid ?? 0)) watching = false;
  });
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  const log = readFileSync(logFile, 'utf8').slice(logStart);
  return { code, out, err, pid: child.pid ?? 0, log };
}

/** The operator's JSON log lines of this run. */
function operatorLines(log: string): Record<string, unknown>[] {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.component !== 'demo');
}

/** Nothing of the run is left: processes, network namespaces, temp dirs. */
function expectNothingLeft(a: ReturnType<typeof announced>) {
  expect(a.workDir).not.toBe('');
  expect(a.cpDir).not.toBe('');
  expect({
    operator: existsSync(`/proc/${a.pid}`),
    processes: [...processesMentioning(a.workDir), ...processesMentioning(a.cpDir)],
    netns: netnsList().filter((n) => n.startsWith(`kgw${a.subnet}-`)),
    dirs: [a.workDir, a.cpDir].filter((d) => existsSync(d)),
  }).toEqual({ operator: false, processes: [], netns: [], dirs: [] });
}

test('npm run demo -- --exit-after-ready --metrics: the CLI operator, a Ready gateway, a curl that answered 200, the stats curl, a clean terminal, exit 0', async () => {
  const { code, out, err, pid, log } = await runDemo(['--exit-after-ready', '--metrics']);
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
  expect(err).toContain('KnativeGateway default is Ready (fleets 2/2)');
  expect(err).toContain('answered 200');
  expect(err).toMatch(
    /Envoy's stats \(\d+ series\): curl http:\/\/198\.18\.\d+\.\d+:9091\/stats\/prometheus/,
  );
  // stdout is the curl alone; stderr only the demo's and the environment's own lines (the JSON
  // log goes to .kgw/demo.log)
  expect(out.trim().split('\n')).toEqual([
    expect.stringMatching(/^curl -H 'Host: hello\.default\.example\.com' http:\/\/198\.18\.\d+\.\d+:8080\/$/),
  ]);
  const stray = err
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('[kgw demo] ') && !l.startsWith('[kgw-env] '));
  expect(stray).toEqual([]);
  // The operator was the CLI in a process of its own: it logged its start on the demo's network
  // and, told to stop with SIGTERM, its shutdown.
  const a = announced(err);
  expect(a.pid).toBeGreaterThan(0);
  expect(a.pid).not.toBe(pid);
  expect(out).toContain(`http://198.18.${a.subnet}.`);
  const lines = operatorLines(log);
  expect(lines).toContainEqual(
    expect.objectContaining({ msg: 'operator started', runtime: 'local', subnet: `198.18.${a.subnet}.0/24` }),
  );
  expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down', signal: 'SIGTERM' }));
  expectNothingLeft(a);
}, 180_000);

test('npm run demo stops cleanly on Ctrl-C: exit 0, the operator child and its Envoy replicas gone, no network namespace', async () => {
  let running = { operatorParent: 0, operatorCmdline: [] as string[], envoys: 0 };
  const { code, out, err, pid } = await runDemo([], (text, demoPid) => {
    if (!text.includes('press Ctrl-C')) return false;
    const a = announced(text);
    running = {
      operatorParent: Number(readFileSync(`/proc/${a.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]),
      operatorCmdline: readFileSync(`/proc/${a.pid}/cmdline`, 'utf8').split('\0').slice(1, 5),
      envoys: processesMentioning(a.workDir).filter((p) =>
        readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('bootstrap.json'),
      ).length,
    };
    process.kill(demoPid, 'SIGINT');
    return true;
  });
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
  expect(err).toContain('stopping');
  const a = announced(err);
  expect(out).toContain(`http://198.18.${a.subnet}.`);
  // while it ran: the operator was the demo's child running the CLI, with Envoy replicas (the sample
  // gateway's two fleets: their shells and Envoys)
  expect(running.operatorParent).toBe(pid);
  expect(running.operatorCmdline).toEqual([join(root, 'operator/cli.ts'), 'operator', '--runtime', 'local']);
  expect(running.envoys).toBeGreaterThanOrEqual(2);
  expectNothingLeft(a);
}, 180_000);

test('the operator dies halfway (SIGKILL once the gateway is Ready): the demo says so, stops the rest and its orphaned Envoys, exit 1', async () => {
  const { code, err } = await runDemo([], (text) => {
    if (!text.includes('KnativeGateway default is Ready')) return false;
    process.kill(announced(text).pid, 'SIGKILL');
    return true;
  });
  expect(code).toBe(1);
  expect(err).toContain('[kgw demo] failed: the operator exited (by SIGKILL)');
  expect(err).toContain('[kgw demo] stopping…');
  expect(err).not.toContain('press Ctrl-C');
  expectNothingLeft(announced(err));
}, 180_000);
