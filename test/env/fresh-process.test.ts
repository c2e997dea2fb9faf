// The fresh-process runner must tell an exiting script from one that keeps the event loop alive.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInFreshProcess } from './fresh-process.ts';

let dir: string;
let kubeconfigPath: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kgw-fresh-'));
  kubeconfigPath = join(dir, 'kubeconfig');
  // never contacted: the scripts below make no request
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: t',
      'contexts: [{ name: t, context: { cluster: t, user: t } }]',
      'clusters: [{ name: t, cluster: { server: "https://127.0.0.1:9" } }]',
      'users: [{ name: t, user: { token: x } }]',
    ].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a script that ends exits 0 with its output; rest and log are in scope', async () => {
  const r = await runInFreshProcess({
    dir,
    name: 'ends',
    kubeconfigPath,
    imports: { abortableSleep: 'operator/kube/reflector.ts' },
    body: [
      'await new Promise((r) => setTimeout(r, 10));',
      "log.info('x');",
      'process.stdout.write(`${typeof rest.request} ${typeof abortableSleep}\\n`);',
    ],
  });
  expect(r).toMatchObject({ code: 0, signal: null, stdout: 'function function\n' });
});

test('a script that keeps the event loop alive is killed by the bound', async () => {
  const r = await runInFreshProcess({
    dir,
    name: 'hangs',
    kubeconfigPath,
    imports: {},
    body: ['setInterval(() => {}, 1000);', "process.stdout.write('started\\n');"],
    // long enough for a fresh Node to start and print on a loaded 2-core machine (1.5 s was not)
    timeoutMs: 5000,
  });
  expect(r).toMatchObject({ code: null, signal: 'SIGKILL', stdout: 'started\n' });
});

test('a failing script reports its exit code and stderr', async () => {
  const r = await runInFreshProcess({
    dir,
    name: 'fails',
    kubeconfigPath,
    imports: {},
    body: ["throw new Error('boom');"],
  });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('boom');
});
