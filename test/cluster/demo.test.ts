// `npm run demo:cluster` (README): the real cluster with Knative Serving and kgw comes up, a Knative
// Service answers 200 through kgw's fleet, the terminal shows a curl and the demo's own lines, and
// everything is removed on exit.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_PATH } from './host.ts';

const demo = join(import.meta.dirname, 'demo.ts');

test('demo:cluster --exit-after-ready: a Knative Service answered 200 through kgw, a curl on stdout, a clean terminal, the cluster gone, exit 0', async () => {
  const child = spawn(process.execPath, [demo, '--exit-after-ready'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KGW_CLUSTER_LOCK_WAIT_S: process.env.KGW_CLUSTER_LOCK_WAIT_S ?? '0' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => child.kill('SIGINT'), 1_500_000);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  process.stderr.write(
    err
      .split('\n')
      .filter((l) => l.startsWith('[kgw demo:cluster]'))
      .join('\n') + '\n',
  );
  expect({ code, err: code === 0 ? '' : err.slice(-4000) }).toEqual({ code: 0, err: '' });
  expect(err).toContain("kgw's external fleet answered 200");
  expect(out.trim().split('\n')).toEqual([
    expect.stringMatching(/^curl -H 'Host: hello\.demo\.example\.com' http:\/\/198\.19\.255\.1:\d+\/$/),
  ]);
  const stray = err
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('[kgw demo:cluster] ') && !l.startsWith('[kgw-env] '));
  expect(stray).toEqual([]);
  // the machine-wide cluster lock is released (another run's cluster may hold it by now)
  const holder = existsSync(LOCK_PATH)
    ? (JSON.parse(readFileSync(LOCK_PATH, 'utf8')) as { pid?: number }).pid
    : undefined;
  expect(holder === undefined || holder !== child.pid).toBe(true);
}, 1_600_000);
