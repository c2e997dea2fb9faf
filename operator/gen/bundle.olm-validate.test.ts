// The OLM bundle checked by operator-framework's own validators (test/env/olm-validator.ts: the
// operator-framework/api validators `operator-sdk bundle validate --select-optional
// suite=operatorframework` runs, and operator-registry's bundle format/content checks), built from
// their Go modules by test/env/build-olm-validate.sh (setup.sh builds it; cached). The generated
// bundle must have no error and only the warnings listed (and explained) in ACCEPTED_WARNINGS;
// copies broken on purpose in a temp dir must fail, which shows the validator's verdict is what
// this test reads.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { ClusterServiceVersion } from './bundle.ts';
import { BUNDLE_DIR, BUNDLE_PATHS } from './bundle.ts';
import { repoRoot } from './generate.ts';
import { OPERATOR_NAME } from '../api/install.ts';
import { olmValidate, olmValidateBin, type OlmFinding } from '../../test/env/olm-validator.ts';

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

let root = '';

beforeAll(() => {
  olmValidateBin(); // cached: instant; cold: minutes
  root = mkdtempSync(join(tmpdir(), 'kgw-olm-validate-'));
}, 1_600_000);
afterAll(() => {
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

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
    const { status, report } = olmValidate(join(repoRoot(), BUNDLE_DIR));
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
    const { status, report } = olmValidate(dir);
    expect(status).toBe(1);
    expect(details(report.errors).join('\n')).toMatch(/routepolicies\.policy\.kgw\.dev/);
  });

  it('fail a bundle without its annotations.yaml (format check)', () => {
    const dir = copy((d) => unlinkSync(join(d, BUNDLE_PATHS.annotations.slice(BUNDLE_DIR.length + 1))));
    const { status, report } = olmValidate(dir);
    expect(status).toBe(1);
    expect(report.errors.some((e) => e.validator === 'bundle-format')).toBe(true);
  });

  it('fail a CSV whose alm-examples is not JSON, and one without install modes', () => {
    const bad = olmValidate(
      copy((d) =>
        editCsv(d, (csv) => {
          csv.metadata.annotations = { ...csv.metadata.annotations, 'alm-examples': '[{not json' };
        }),
      ),
    );
    expect(bad.status).toBe(1);
    expect(details(bad.report.errors).join('\n')).toMatch(/invalid example/);
    const noModes = olmValidate(
      copy((d) =>
        editCsv(d, (csv) => {
          csv.spec.installModes = [];
        }),
      ),
    );
    expect(noModes.status).toBe(1);
    expect(details(noModes.report.errors).join('\n')).toMatch(/install ?modes/i);
  });

  // Each check kgw relies on these validators for, broken on purpose (errors, then warnings).
  const crdFile = (d: string) => join(d, BUNDLE_PATHS.crd.slice(BUNDLE_DIR.length + 1));
  function editYaml(file: string, edit: (v: Record<string, unknown>) => void): void {
    const v = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(v);
    writeFileSync(file, stringify(v));
  }
  const annotation = (d: string, key: string, value: string | undefined) =>
    editYaml(join(d, 'metadata', 'annotations.yaml'), (v) => {
      const a = v.annotations as Record<string, string>;
      if (value === undefined) delete a[`operators.operatorframework.io.bundle.${key}`];
      else a[`operators.operatorframework.io.bundle.${key}`] = value;
    });
  const owned0 = (csv: ClusterServiceVersion) => (csv.spec.customresourcedefinitions.owned ?? [])[0]!;
  it.each<[string, (dir: string) => void, RegExp]>([
    [
      'a CRD in manifests/ that the CSV does not own',
      (d) =>
        editYaml(crdFile(d), (v) => {
          (v.metadata as { name: string }).name = 'others.operator.kgw.dev';
          (v.spec as { names: { plural: string } }).names.plural = 'others';
        }),
      /owned CRD knativegateways\.operator\.kgw\.dev\/v1alpha1 not found/,
    ],
    [
      'an owned CRD version the CRD does not have',
      (d) => editCsv(d, (c) => (owned0(c).version = 'v9')),
      /owned CRD "operator\.kgw\.dev\/v9, Kind=KnativeGateway" not found/,
    ],
    [
      'an owned CRD kind that differs from the CRD',
      (d) => editCsv(d, (c) => (owned0(c).kind = 'Gateway')),
      /Kind=KnativeGateway" is present in bundle .* but not defined in CSV/,
    ],
    [
      'an owned CRD listed twice',
      (d) => editCsv(d, (c) => c.spec.customresourcedefinitions.owned?.push(structuredClone(owned0(c)))),
      /owned CRD .*knativegateways.* not found/,
    ],
    [
      'a CRD whose name is not <plural>.<group>',
      (d) => {
        editYaml(crdFile(d), (v) => ((v.metadata as { name: string }).name = 'gw.operator.kgw.dev'));
        editCsv(d, (c) => (owned0(c).name = 'gw.operator.kgw.dev'));
      },
      /must be spec\.names\.plural\+"\."\+spec\.group/,
    ],
    [
      'an alm-example of a kind the CSV does not own',
      (d) =>
        editCsv(d, (c) => {
          c.metadata.annotations['alm-examples'] = JSON.stringify([
            { apiVersion: 'operator.kgw.dev/v1alpha1', kind: 'Other', metadata: { name: 'x' } },
          ]);
        }),
      /Kind=Other: example must have a provided API/,
    ],
    [
      'alm-examples that are not an array',
      (d) => editCsv(d, (c) => (c.metadata.annotations['alm-examples'] = '{"kind": "KnativeGateway"}')),
      /error decoding example CustomResource/,
    ],
    [
      'annotations.yaml without the package',
      (d) => annotation(d, 'package.v1', undefined),
      /Missing annotation "operators\.operatorframework\.io\.bundle\.package\.v1"/,
    ],
    [
      'annotations.yaml with the wrong media type',
      (d) => annotation(d, 'mediatype.v1', 'plain+v0'),
      /to have value "registry\+v1" instead of "plain\+v0"/,
    ],
    [
      'an empty default channel',
      (d) => annotation(d, 'channel.default.v1', ''),
      /channel\.default\.v1" to have non-empty value/,
    ],
    [
      'a Deployment as a raw manifest',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'op.yaml'),
          stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'op' }, spec: {} }),
        ),
      /Deployment is not supported type for registryV1 bundle/,
    ],
    [
      'a namespaced manifest with a namespace',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'cm.yaml'),
          stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm', namespace: 'other' } }),
        ),
      /metadata\.namespace: Forbidden/,
    ],
    [
      'manifests over 1 MiB gzipped',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'big.yaml'),
          stringify({
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'big' },
            data: { random: randomBytes(1_600_000).toString('base64') },
          }),
        ),
      /maximum bundle compressed size with gzip size exceeded/,
    ],
    [
      'a ServiceAccount that duplicates the install strategy’s',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'sa.yaml'),
          stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: OPERATOR_NAME } }),
        ),
      /invalid service account found in bundle/,
    ],
    [
      'a CSV without displayName',
      (d) => editCsv(d, (c) => delete (c.spec as Partial<ClusterServiceVersion['spec']>).displayName),
      /Spec\.DisplayName, Value field: required field missing/,
    ],
    [
      'a CSV name that is not a label value',
      (d) => editCsv(d, (c) => (c.metadata.name = `kgw.v0.1.0-${'x'.repeat(60)}`)),
      /must be no more than 63 characters/,
    ],
    [
      'a minKubeVersion that is not semver',
      (d) => editCsv(d, (c) => (c.spec.minKubeVersion = '1.29')),
      /MinKubeVersion has an invalid value: 1\.29/,
    ],
    [
      'a miscased olm annotation',
      (d) => editCsv(d, (c) => (c.metadata.annotations['olm.skiprange'] = '<0.1.0')),
      /olm\.skiprange uses wrong case and should be olm\.skipRange/,
    ],
    [
      'no supported install mode',
      (d) => editCsv(d, (c) => c.spec.installModes.forEach((m) => (m.supported = false))),
      /none of InstallModeTypes are supported/,
    ],
    [
      'a maintainer without a valid email',
      (d) => editCsv(d, (c) => (c.spec.maintainers![0]!.email = 'nobody')),
      /Maintainers email nobody is invalid/,
    ],
    [
      'a link that is not a URL',
      (d) => editCsv(d, (c) => (c.spec.links![0]!.url = 'not a url')),
      /Links url not a url is invalid/,
    ],
    [
      'no provider',
      (d) => editCsv(d, (c) => delete (c.spec as { provider?: unknown }).provider),
      /Provider\.Name not specified/,
    ],
    [
      'two icons',
      (d) => editCsv(d, (c) => c.spec.icon?.push(structuredClone(c.spec.icon[0]!))),
      /Icon should only have one element/,
    ],
    [
      'an icon that is not an image',
      (d) => editCsv(d, (c) => (c.spec.icon![0]!.mediatype = 'text/plain')),
      /Icon text\/plain does not have a valid mediatype/,
    ],
  ])('fail %s', (_name, tamper, expected) => {
    const { status, report } = olmValidate(copy(tamper));
    expect(details(report.errors).join('\n')).toMatch(expected);
    expect(status).toBe(1);
  });

  it.each<[string, (dir: string) => void, RegExp]>([
    ['no minKubeVersion', (d) => editCsv(d, (c) => delete c.spec.minKubeVersion), /minKubeVersion/],
    [
      'a channel outside candidate/stable/fast',
      (d) => {
        annotation(d, 'channels.v1', 'alpha');
        annotation(d, 'channel.default.v1', 'alpha');
      },
      /channel\(s\) \["alpha"\] are not following the recommended naming convention/,
    ],
    [
      'a CSV name that is not <package>.v<semver>',
      (d) => editCsv(d, (c) => (c.metadata.name = 'kgw-operator')),
      /recommended naming convention: <operator-name>\.v<semver>/,
    ],
    [
      'an owned CRD without description',
      (d) => editCsv(d, (c) => delete owned0(c).description),
      /has an empty description/,
    ],
    [
      'an owned CRD without example',
      (d) =>
        editCsv(d, (c) => {
          const ex = JSON.parse(c.metadata.annotations['alm-examples'] ?? '[]') as unknown[];
          c.metadata.annotations['alm-examples'] = JSON.stringify(ex.slice(0, 1));
        }),
      /RoutePolicy: provided API should have an example annotation/,
    ],
    [
      'a container without resource requests',
      (d) =>
        editCsv(d, (c) => {
          delete c.spec.install.spec.deployments[0]!.spec.template.spec!.containers[0]!.resources;
        }),
      /unable to find the resource requests/,
    ],
    [
      'permission to create CRDs',
      (d) =>
        editCsv(d, (c) =>
          c.spec.install.spec.clusterPermissions![0]!.rules.push({
            apiGroups: ['apiextensions.k8s.io'],
            resources: ['customresourcedefinitions'],
            verbs: ['create'],
          }),
        ),
      /permissions to create CRD/,
    ],
  ])('warn about %s (the optional operatorframework suite)', (_name, tamper, expected) => {
    const { report } = olmValidate(copy(tamper));
    expect(details(report.warnings).join('\n')).toMatch(expected);
  });
});
