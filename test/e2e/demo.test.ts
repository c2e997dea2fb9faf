// `kgw demo` (README command one) brings everything up, answers through Envoy, and cleans up.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

test('kgw demo --exit-after-ready prints a curl that answered 200 and exits 0', async () => {
  const cli = join(import.meta.dirname, '../../operator/cli.ts');
  const child = spawn(process.execPath, [cli, 'demo', '--exit-after-ready'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('exit', (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  expect({ code, err: code === 0 ? '' : err }).toEqual({ code: 0, err: '' });
  expect(err).toContain('answered 200');
  expect(out).toMatch(/^curl -H 'Host: hello\.default\.example\.com' http:\/\/198\.18\.\d+\.\d+:8080\/$/m);
}, 180_000);
