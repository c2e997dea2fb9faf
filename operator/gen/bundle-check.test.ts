// kgw's own bundle checks (bundle-check.ts): the generated bundle and the repository's pass, and
// each check fails on a copy broken on purpose in a temp dir — a break operator-framework's
// validators let through, which each case checks too (when they start catching one, kgw's check
// can go; the breaks they catch are in bundle.olm-validate.test.ts).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { BUNDLE_DIR, BUNDLE_PATHS, type ClusterServiceVersion } from './bundle.ts';
import { checkBundle } from './bundle-check.ts';
import { generateAll, repoRoot } from './generate.ts';
import { olmValidate, olmValidateBin } from '../../test/env/olm-validator.ts';

let root: string;
let pristine: string;

beforeAll(() => {
  olmValidateBin(); // cached: instant; cold: minutes
  root = mkdtempSync(join(tmpdir(), 'kgw-bundle-check-'));
  pristine = join(root, 'pristine');
  for (const f of generateAll().filter((x) => x.path.startsWith(`${BUNDLE_DIR}/`))) {
    const p = join(pristine, f.path.slice(BUNDLE_DIR.length + 1));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
  }
}, 1_600_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let copies = 0;
/** A fresh copy of the generated bundle, changed by `tamper`: kgw's findings and olm-validate's errors. */
function tampered(tamper: (dir: string) => void): { kgw: string[]; olm: string[] } {
  const dir = join(root, `copy-${++copies}`);
  cpSync(pristine, dir, { recursive: true });
  tamper(dir);
  return {
    kgw: checkBundle(dir).map((f) => `${f.check}: ${f.message}`),
    olm: olmValidate(dir).report.errors.map((e) => `${e.validator}: ${e.detail}`),
  };
}

const csvFile = (dir: string) => join(dir, BUNDLE_PATHS.csv.slice(BUNDLE_DIR.length + 1));
function editCsv(edit: (csv: ClusterServiceVersion) => void): (dir: string) => void {
  return (dir) => {
    const csv = parse(readFileSync(csvFile(dir), 'utf8')) as ClusterServiceVersion;
    edit(csv);
    writeFileSync(csvFile(dir), stringify(csv));
  };
}
function editAnnotation(key: string, value: string): (dir: string) => void {
  return (dir) => {
    const p = join(dir, 'metadata', 'annotations.yaml');
    const v = parse(readFileSync(p, 'utf8')) as { annotations: Record<string, string> };
    v.annotations[`operators.operatorframework.io.bundle.${key}`] = value;
    writeFileSync(p, stringify(v));
  };
}
const webhook = (c: ClusterServiceVersion, i: number) => c.spec.webhookdefinitions![i]!;
const deployments = (c: ClusterServiceVersion) => c.spec.install.spec.deployments;

describe('kgw’s own bundle checks', () => {
  test('the generated bundle passes', () => {
    expect(checkBundle(pristine)).toEqual([]);
  });

  test('the bundle in the repository passes too (gen:check keeps it equal to the generated one)', () => {
    expect(checkBundle(join(repoRoot(), BUNDLE_DIR))).toEqual([]);
  });

  test.each<[string, (dir: string) => void, RegExp]>([
    [
      'annotations.yaml naming another manifests directory',
      editAnnotation('manifests.v1', 'other/'),
      /annotations: .*manifests\.v1 is "other\/", not manifests\//,
    ],
    ['an empty package name', editAnnotation('package.v1', ''), /annotations: the package name is empty/],
    ['an empty channel name', editAnnotation('channels.v1', 'candidate,'), /channels contain an empty name/],
    [
      'a default channel that is not a channel',
      editAnnotation('channel.default.v1', 'stable'),
      /annotations: default channel stable is not among the channels/,
    ],
    [
      'bundle.Dockerfile labels that disagree with annotations.yaml',
      (d) =>
        writeFileSync(
          join(d, 'bundle.Dockerfile'),
          readFileSync(join(d, 'bundle.Dockerfile'), 'utf8').replace('package.v1=kgw', 'package.v1=other'),
        ),
      /bundle-dockerfile: LABEL operators.operatorframework.io.bundle.package.v1 must be "kgw"/,
    ],
    [
      'bundle.Dockerfile without COPY metadata',
      (d) =>
        writeFileSync(
          join(d, 'bundle.Dockerfile'),
          readFileSync(join(d, 'bundle.Dockerfile'), 'utf8').replace(/^COPY metadata.*$/m, ''),
        ),
      /bundle-dockerfile: needs COPY metadata \/metadata\//,
    ],
    [
      'two objects in one manifest file',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'two.yaml'),
          `${stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } })}---\n` +
            stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } }),
        ),
      /manifests: manifests\/two.yaml: must hold exactly one object \(has 2\)/,
    ],
    [
      'a CSV name that does not match the version',
      editCsv((c) => (c.metadata.name = 'kgw.v9.9.9')),
      /csv-version: the CSV is named kgw.v9.9.9, not kgw.v0\.\d+\.\d+/,
    ],
    [
      'a CSV named for another package',
      editCsv((c) => (c.metadata.name = `other.v${c.spec.version}`)),
      /csv-version: the CSV is named other\.v/,
    ],
    [
      'a version that is not semver',
      editCsv((c) => (c.spec.version = '0.1')),
      /csv-version: .* must be semver/,
    ],
    [
      'an owned CRD version that is not served',
      (d) => {
        const p = join(d, BUNDLE_PATHS.crd.slice(BUNDLE_DIR.length + 1));
        const crd = parse(readFileSync(p, 'utf8')) as { spec: { versions: { served: boolean }[] } };
        crd.spec.versions[0]!.served = false;
        writeFileSync(p, stringify(crd));
      },
      /owned-crds: CRD knativegateways.operator.kgw.dev version v1alpha1 is not served/,
    ],
    [
      'a descriptor for a field the CRD does not have',
      editCsv((c) =>
        (c.spec.customresourcedefinitions.owned ?? [])[0]!.specDescriptors!.push({
          path: 'noSuchField',
          displayName: 'x',
          description: 'x',
        }),
      ),
      /descriptors: .* specDescriptor noSuchField is not a field of the CRD schema/,
    ],
    [
      'an install mode listed twice',
      editCsv((c) => c.spec.installModes.push(structuredClone(c.spec.installModes.at(-1)!))),
      /install-modes: install mode \w+ is listed twice/,
    ],
    [
      'an install mode OLM does not know (OLM’s CSV CRD has no enum for it)',
      editCsv((c) => Object.assign(c.spec.installModes[0]!, { type: 'EveryNamespace' })),
      /install-modes: install mode EveryNamespace is not one of/,
    ],
    [
      'an install strategy other than deployment',
      editCsv((c) => Object.assign(c.spec.install, { strategy: 'helm' })),
      /install-strategy: install.strategy must be "deployment"/,
    ],
    [
      'an install strategy without deployments',
      editCsv((c) => (c.spec.install.spec.deployments = [])),
      /install-strategy: the install strategy has no deployment/,
    ],
    [
      'a deployment listed twice',
      editCsv((c) => deployments(c).push(structuredClone(deployments(c)[0]!))),
      /install-strategy: deployment kgw-operator is listed twice/,
    ],
    [
      'two webhooks with one name',
      editCsv((c) => (webhook(c, 1).generateName = webhook(c, 0).generateName)),
      /webhooks: webhook kingress.validation.kgw.dev is defined twice/,
    ],
    [
      'a webhook served by a deployment that does not exist',
      editCsv((c) => (webhook(c, 0).deploymentName = 'nope')),
      /webhooks: webhook kingress.validation.kgw.dev: deploymentName nope is not an install-strategy deployment/,
    ],
    [
      'a webhook targetPort the deployment does not expose',
      editCsv((c) => (webhook(c, 1).targetPort = 1234)),
      /webhooks: .*targetPort 1234 is not a container port/,
    ],
    [
      'a webhook without AdmissionReview v1',
      editCsv((c) => (webhook(c, 0).admissionReviewVersions = ['v1beta1'])),
      /webhooks: .*admissionReviewVersions must include v1/,
    ],
    [
      'a webhook on webhook configurations',
      editCsv((c) => {
        const r = webhook(c, 0).rules[0]!;
        r.apiGroups = ['admissionregistration.k8s.io'];
        r.resources = ['validatingwebhookconfigurations'];
      }),
      /webhooks: .*refuses rules on webhook configurations/,
    ],
    [
      'a webhook on OLM’s own API group',
      editCsv((c) => (webhook(c, 0).rules[0]!.apiGroups = ['operators.coreos.com'])),
      /webhooks: .*refuses rules on API group operators.coreos.com/,
    ],
    [
      'a related image listed twice',
      editCsv((c) => (c.spec.relatedImages![1]!.name = c.spec.relatedImages![0]!.name)),
      /related-images: related image kgw-operator is listed twice/,
    ],
    [
      'a related image without tag',
      editCsv((c) => (c.spec.relatedImages![1]!.image = 'docker.io/envoyproxy/envoy')),
      /related-images: envoy: docker.io\/envoyproxy\/envoy has neither tag nor digest/,
    ],
    [
      'a related image on latest',
      editCsv((c) => (c.spec.relatedImages![1]!.image = 'docker.io/envoyproxy/envoy:latest')),
      /related-images: envoy: .* uses the latest tag/,
    ],
    [
      'a deployment image missing from relatedImages',
      editCsv((c) => (c.spec.relatedImages = c.spec.relatedImages!.filter((r) => r.name !== 'kgw-operator'))),
      /related-images: deployment image .* is not in relatedImages/,
    ],
    [
      'a container image that is not a reference',
      editCsv((c) => (deployments(c)[0]!.spec.template.spec!.containers[0]!.image = 'Not A::Ref')),
      /images: deployment kgw-operator container \S+: Not A::Ref is not an image reference/,
    ],
    [
      'permissions that miss what the operator calls (bundle-rbac-check.ts, through checkBundle)',
      (d) => unlinkSync(join(d, BUNDLE_PATHS.fleetBinding.slice(BUNDLE_DIR.length + 1))),
      /permissions: no permission allows create apps\/deployments \(fleets\/kubernetes-apply\.ts/,
    ],
  ])('fails %s', (_name, tamper, expected) => {
    const { kgw, olm } = tampered(tamper);
    expect(kgw).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
    expect(olm).toEqual([]);
  });
});
