// `npm run demo` (README command one: test/e2e/demo.ts) brings everything up, answers through
// Envoy, and cleans up — both with --exit-after-ready and on Ctrl-C (SIGINT) while running.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';

const demo = join(import.meta.dirname, 'demo.ts');

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

async function runDemo(args: string[], onReady?: (pid: number) => void) {
  const child = spawn(process.execPath, [demo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let signalled = false;
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (onReady && !signalled && err.includes('press Ctrl-C')) {
      signalled = true;
      onReady(child.pid ?? 0);
    }
  });
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  return { code, out, err };
}

test('npm run demo -- --exit-after-ready --metrics: a Ready gateway, a curl that answered 200, the stats curl, a clean terminal, exit 0', async () => {
  const { code, out, err } = await runDemo(['--exit-after-ready', '--metrics']);
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
}, 180_000);

test('npm run demo stops cleanly on Ctrl-C: exit 0, its network namespaces are gone', async () => {
  let subnet = '';
  const { code, out, err } = await runDemo([], (pid) => process.kill(pid, 'SIGINT'));
  subnet = /http:\/\/198\.18\.(\d+)\./.exec(out)?.[1] ?? '';
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
  expect(err).toContain('stopping');
  expect(subnet).not.toBe('');
  expect(netnsList().filter((n) => n.startsWith(`kgw${subnet}-`))).toEqual([]);
}, 180_000);
