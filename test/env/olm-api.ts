// OLM's own CRDs (ClusterServiceVersion, …) as operator-framework/api ships them in its Go module,
// at the version the bundle validators are built from (KGW_OPERATOR_API_VERSION, versions.env; see
// build-olm-validate.sh). `go mod download` fetches the module through the Go module proxy once;
// afterwards it answers from the Go module cache.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pinnedVersions } from './paths.ts';

const MODULE = 'github.com/operator-framework/api';

function goBin(): string {
  const which = spawnSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') return which.stdout.trim();
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('go is required to fetch operator-framework/api (its CRDs)');
}

/** The version of operator-framework/api: KGW_OPERATOR_API_VERSION, else versions.env. */
export function operatorFrameworkApiVersion(): string {
  const v = process.env.KGW_OPERATOR_API_VERSION ?? pinnedVersions().KGW_OPERATOR_API_VERSION;
  if (v === undefined || v === '') throw new Error('no KGW_OPERATOR_API_VERSION in test/env/versions.env');
  return v;
}

/** Path of `crds/<file>` in operator-framework/api, e.g. `operators.coreos.com_clusterserviceversions.yaml`. */
export function operatorFrameworkCrd(file: string): string {
  const mod = `${MODULE}@${operatorFrameworkApiVersion()}`;
  const r = spawnSync(goBin(), ['mod', 'download', '-json', mod], {
    encoding: 'utf8',
    timeout: 300_000,
    cwd: '/',
  });
  if (r.status !== 0)
    throw new Error(`go mod download ${mod}: exit ${r.status ?? r.signal}: ${r.stderr}${r.stdout}`);
  const dir = (JSON.parse(r.stdout) as { Dir?: string }).Dir;
  const path = join(dir ?? '', 'crds', file);
  if (dir === undefined || !existsSync(path)) throw new Error(`${mod} has no crds/${file}`);
  return path;
}
