// operator-framework's OLM bundle validators as a tool: test/env/olm-validate (operator-registry's
// bundle format/content checks and operator-framework/api's validators, the ones `operator-sdk
// bundle validate --select-optional suite=operatorframework` runs), built from their Go modules by
// build-olm-validate.sh (setup.sh builds it; cached afterwards).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { testEnvDir } from './paths.ts';

export interface OlmFinding {
  validator: string;
  name: string;
  type: string;
  field?: string;
  detail: string;
}
export interface OlmReport {
  bundle: string;
  errors: OlmFinding[];
  warnings: OlmFinding[];
}

let bin = '';

/**
 * The olm-validate binary, built by build-olm-validate.sh when it is not in the cache (then
 * minutes: module downloads and compiling, progress on stderr); instant when cached.
 */
export function olmValidateBin(): string {
  if (bin !== '') return bin;
  const t0 = Date.now();
  const r = spawnSync('bash', [join(testEnvDir, 'build-olm-validate.sh')], {
    encoding: 'utf8',
    timeout: 1_500_000,
  });
  if (r.status !== 0) throw new Error(`build-olm-validate.sh failed (exit ${r.status}):\n${r.stderr}`);
  bin = r.stdout.trim().split('\n').pop() ?? '';
  if (!r.stderr.includes('cached:')) {
    process.stderr.write(`[olm-validate] built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${bin}\n`);
  }
  return bin;
}

/** Runs olm-validate on the bundle in `dir`: its exit status (0 or 1) and its JSON report. */
export function olmValidate(dir: string): { status: number | null; report: OlmReport; stderr: string } {
  const r = spawnSync(olmValidateBin(), [dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(`olm-validate ${dir}: exit ${r.status ?? r.signal ?? '?'}: ${r.stderr}`);
  }
  return { status: r.status, report: JSON.parse(r.stdout) as OlmReport, stderr: r.stderr };
}
