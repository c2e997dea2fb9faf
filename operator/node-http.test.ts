// The operator's import graph must not load undici (node-http.ts says why): a fresh node importing
// operator/run.ts, as `kgw operator` does, and no ESM value import of node:http in the sources.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(dir, f));
}

describe('node:http without undici', () => {
  it('importing the operator (operator/run.ts) does not load undici', () => {
    const out = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(join(root, 'operator/run.ts'))});
         process.stdout.write(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))));`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(out.stderr).not.toMatch(/Error/);
    expect(JSON.parse(out.stdout)).toEqual([]);
  }, 70_000);

  it('no source file imports node:http as a value, except node-http.ts', () => {
    const offenders = [...sources('operator'), ...sources('webhook')].filter(
      (f) =>
        !f.endsWith('node-http.ts') &&
        /^import (?!type )[^;]*from 'node:http';/m.test(readFileSync(join(root, f), 'utf8')),
    );
    expect(offenders).toEqual([]);
  });
});
