// The OLM bundle checked by operator-framework's own validators (test/env/olm-validate: the
// operator-framework/api validators `operator-sdk bundle validate --select-optional
// suite=operatorframework` runs, and operator-registry's bundle format/content checks), built from
// their Go modules by test/env/build-olm-validate.sh (setup.sh builds it; cached). The generated
// bundle must have no error and only the warnings listed (and explained) in ACCEPTED_WARNINGS;
// copies broken on purpose in a temp dir must fail, which shows the validator's verdict is what
// this test reads.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { ClusterServiceVersion } from './bundle.ts';
import { BUNDLE_DIR, BUNDLE_PATHS } from './bundle.ts';
import { repoRoot } from './generate.ts';

const BUILD = fileURLToPath(new URL('../../test/env/build-olm-validate.sh', import.meta.url));

interface OlmFinding {
  validator: string;
  name: string;
  type: string;
  field?: string;
  detail: string;
}
interface OlmReport {
  bundle: string;
  errors: OlmFinding[];
  warnings: OlmFinding[];
}

/** Warnings of the optional suite that kgw's bundle gets by design, each with the reason. */
const ACCEPTED_WARNINGS: { match: RegExp; why: string }[] = [
  {
    match: /RBAC includes permission to create\/update poddisruptionbudgets/,
    why: 'the ClusterRole kgw-fleet-manager creates the PodDisruptionBudgets of the Envoy fleets kgw runs',
  },
  {
    match: /APIs which were deprecated and removed in v1\.25.*Migrate the API\(s\) for endpointslices/,
    why:
      'a false positive: RBAC rules name no version, and the removed-API check flags every rule on ' +
      'discovery.k8s.io endpointslices; kgw reads discovery.k8s.io/v1 (GA), only v1beta1 was removed',
  },
];

let bin = '';
let root = '';

beforeAll(() => {
  // cached: instant; cold: module downloads + compiling (minutes), progress on stderr
  const t0 = Date.now();
  const r = spawnSync('bash', [BUILD], { encoding: 'utf8', timeout: 1_500_000 });
  if (r.status !== 0) throw new Error(`build-olm-validate.sh failed (exit ${r.status}):\n${r.stderr}`);
  bin = r.stdout.trim().split('\n').pop() ?? '';
  if (!r.stderr.includes('cached:')) {
    process.stderr.write(`[olm-validate] built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${bin}\n`);
  }
  root = mkdtempSync(join(tmpdir(), 'kgw-olm-validate-'));
}, 1_600_000);
afterAll(() => {
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

/** Runs olm-validate on dir: its exit status and its JSON report. */
function validate(dir: string): { status: number | null; report: OlmReport; stderr: string } {
  const r = spawnSync(bin, [dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(`olm-validate ${dir}: exit ${r.status ?? r.signal ?? '?'}: ${r.stderr}`);
  }
  return { status: r.status, report: JSON.parse(r.stdout) as OlmReport, stderr: r.stderr };
}

let copies = 0;
/** A copy of the repository's bundle/ in the temp dir, changed by `tamper`. */
function copy(tamper: (dir: string) => void): string {
  const dir = join(root, `copy-${++copies}`);
  cpSync(join(repoRoot(), BUNDLE_DIR), dir, { recursive: true });
  tamper(dir);
  return dir;
}
const csvPath = (dir: string) => join(dir, BUNDLE_PATHS.csv.slice(BUNDLE_DIR.length + 1));
function editCsv(dir: string, edit: (csv: ClusterServiceVersion) => void): void {
  const csv = parse(readFileSync(csvPath(dir), 'utf8')) as ClusterServiceVersion;
  edit(csv);
  writeFileSync(csvPath(dir), stringify(csv));
}
const details = (fs: OlmFinding[]): string[] => fs.map((f) => `${f.validator}/${f.name}: ${f.detail}`);

describe("operator-framework's validators on bundle/", () => {
  it('find no error in the generated bundle, and only the accepted warnings', () => {
    const { status, report } = validate(join(repoRoot(), BUNDLE_DIR));
    expect(details(report.errors)).toEqual([]);
    expect(status).toBe(0);
    const unexpected = report.warnings.filter((w) => !ACCEPTED_WARNINGS.some((a) => a.match.test(w.detail)));
    expect(details(unexpected)).toEqual([]);
    // every accepted warning still occurs (the list is kept current)
    for (const a of ACCEPTED_WARNINGS) {
      expect([a.why, report.warnings.some((w) => a.match.test(w.detail))]).toEqual([a.why, true]);
    }
  });

  it('fail a bundle whose CSV owns a CRD the bundle does not ship', () => {
    const dir = copy((d) => unlinkSync(join(d, BUNDLE_PATHS.policyCrd.slice(BUNDLE_DIR.length + 1))));
    const { status, report } = validate(dir);
    expect(status).toBe(1);
    expect(details(report.errors).join('\n')).toMatch(/routepolicies\.policy\.kgw\.dev/);
  });

  it('fail a bundle without its annotations.yaml (format check)', () => {
    const dir = copy((d) => unlinkSync(join(d, BUNDLE_PATHS.annotations.slice(BUNDLE_DIR.length + 1))));
    const { status, report } = validate(dir);
    expect(status).toBe(1);
    expect(report.errors.some((e) => e.validator === 'bundle-format')).toBe(true);
  });

  it('fail a CSV whose alm-examples is not JSON, and one without install modes', () => {
    const bad = validate(
      copy((d) =>
        editCsv(d, (csv) => {
          csv.metadata.annotations = { ...csv.metadata.annotations, 'alm-examples': '[{not json' };
        }),
      ),
    );
    expect(bad.status).toBe(1);
    expect(details(bad.report.errors).join('\n')).toMatch(/invalid example/);
    const noModes = validate(
      copy((d) =>
        editCsv(d, (csv) => {
          csv.spec.installModes = [];
        }),
      ),
    );
    expect(noModes.status).toBe(1);
    expect(details(noModes.report.errors).join('\n')).toMatch(/install ?modes/i);
  });

  it('report (as warnings) what the optional operatorframework suite dislikes', () => {
    const { report } = validate(
      copy((d) =>
        editCsv(d, (csv) => {
          delete csv.spec.minKubeVersion;
        }),
      ),
    );
    expect(details(report.warnings).join('\n')).toMatch(/minKubeVersion/);
  });
});
