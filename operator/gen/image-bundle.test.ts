// The image's operator bundle (image-bundle.ts): it builds, holds every runtime dependency (it runs
// from a directory with no node_modules anywhere above it), and lists the licences of exactly the
// packages it holds.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metafile } from 'esbuild';
import { BUNDLE_FILE, bundledPackages, bundleOperator, LICENSES_FILE } from './image-bundle.ts';
import { repoRoot } from './generate.ts';

const root = repoRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

test('bundledPackages names each package directory once, scoped and nested ones too', () => {
  const input = { bytes: 1, imports: [] };
  const meta: Metafile = {
    inputs: {
      'operator/cli.ts': input,
      'node_modules/pino/pino.js': input,
      'node_modules/pino/lib/tools.js': input,
      'node_modules/@grpc/grpc-js/build/src/index.js': input,
      'node_modules/@grpc/proto-loader/node_modules/protobufjs/index.js': input,
    },
    outputs: {},
  };
  expect(bundledPackages(meta)).toEqual([
    'node_modules/@grpc/grpc-js',
    'node_modules/@grpc/proto-loader/node_modules/protobufjs',
    'node_modules/pino',
  ]);
});

test('package.json runs the bundle as the kgw command', () => {
  expect(pkg.bin.kgw).toBe(`dist/${BUNDLE_FILE}`);
});

describe('the bundle', () => {
  // outside the repository: no node_modules above it, so only what is bundled can load
  const dir = mkdtempSync(join(tmpdir(), 'kgw-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let built: Awaited<ReturnType<typeof bundleOperator>>;
  beforeAll(async () => {
    built = await bundleOperator(join(dir, 'build'));
  }, 120_000);

  test('is one file with a source map and the licences', () => {
    expect(built.file).toBe(join(dir, 'build', BUNDLE_FILE));
    expect(built.bytes).toBeGreaterThan(1_000_000);
    const text = readFileSync(built.file, 'utf8');
    expect(text).toMatch(new RegExp(`//# sourceMappingURL=${BUNDLE_FILE}\\.map\\s*$`));
    expect(existsSync(`${built.file}.map`)).toBe(true);
  });

  test('lists the licence of every runtime dependency it holds and of no dev dependency', () => {
    const licences = readFileSync(join(dir, 'build', LICENSES_FILE), 'utf8');
    const heads = new Set([...licences.matchAll(/^(@?[^@\s]+)@\d[^ ]* \(/gm)].map((m) => m[1]));
    for (const dep of ['pino', '@grpc/grpc-js', '@bufbuild/protobuf', 'ajv', 'yaml', 'prom-client'])
      expect({ dep, listed: heads.has(dep) }).toEqual({ dep, listed: true });
    expect(Object.keys(pkg.devDependencies).filter((d) => heads.has(d))).toEqual([]);
    expect(licences).toMatch(/Permission is hereby granted/); // MIT texts are copied whole
  });

  test('runs without node_modules: usage, and the operator module graph loads', () => {
    const alone = join(dir, BUNDLE_FILE);
    copyFileSync(built.file, alone);
    const help = spawnSync(process.execPath, [alone, '--help'], {
      encoding: 'utf8',
      timeout: 30_000,
      cwd: dir,
    });
    expect(help.stderr).toMatch(/Usage:\s+kgw operator/);
    expect(help.status).toBe(2);
    // `operator` evaluates run.ts and everything it imports, then fails on the missing kubeconfig
    const missing = join(dir, 'no-such-kubeconfig');
    const run = spawnSync(
      process.execPath,
      [alone, 'operator', '--runtime', 'local', '--kubeconfig', missing, '--work-dir', join(dir, 'work')],
      { encoding: 'utf8', timeout: 30_000, cwd: dir },
    );
    const out = `${run.stdout}${run.stderr}`;
    expect(out).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)|Dynamic require|SyntaxError/);
    expect(out).toContain(missing);
    expect(run.status).toBe(1);
  }, 60_000);
});
