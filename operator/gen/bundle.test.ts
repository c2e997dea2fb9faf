// The OLM bundle: the generated bundle passes every check of bundle-validate.ts, and each check
// fails on a bundle broken on purpose (a tampered copy in a temp dir).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { GATEWAY_CRD_NAME } from '../api/knativegateway.ts';
import {
  BUNDLE_DIR,
  BUNDLE_PATHS,
  bundleAnnotations,
  clusterServiceVersion,
  type ClusterServiceVersion,
} from './bundle.ts';
import {
  CSV_SCHEMA,
  KGW_REQUIRED_ACCESS,
  conforms,
  validateBundle,
  type Finding,
} from './bundle-validate.ts';
import { generateAll, repoRoot } from './generate.ts';
import { operatorImage } from './operator-install.ts';
import { OPERATOR_NAME } from '../api/install.ts';
import { policyRules, scopedRoleBinding } from './rbac.ts';
import { releaseObjects } from './release.ts';

let root: string;
let pristine: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kgw-bundle-'));
  pristine = join(root, 'pristine');
  for (const f of generateAll().filter((x) => x.path.startsWith(`${BUNDLE_DIR}/`))) {
    const p = join(pristine, f.path.slice(BUNDLE_DIR.length + 1));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let copies = 0;
/** A fresh copy of the generated bundle, changed by `tamper`; returns its findings. */
function tampered(tamper: (dir: string) => void): Finding[] {
  const dir = join(root, `copy-${++copies}`);
  cpSync(pristine, dir, { recursive: true });
  tamper(dir);
  return validateBundle(dir);
}

const csvFile = (dir: string) => join(dir, BUNDLE_PATHS.csv.slice(BUNDLE_DIR.length + 1));
function editCsv(dir: string, edit: (csv: ClusterServiceVersion) => void): void {
  const csv = parse(readFileSync(csvFile(dir), 'utf8')) as ClusterServiceVersion;
  edit(csv);
  writeFileSync(csvFile(dir), stringify(csv));
}
function editYaml(dir: string, file: string, edit: (v: Record<string, unknown>) => void): void {
  const p = join(dir, file);
  const v = parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  edit(v);
  writeFileSync(p, stringify(v));
}

function errors(findings: Finding[]): string[] {
  return findings.filter((f) => f.level === 'error').map((f) => `${f.check}: ${f.message}`);
}

describe('generated OLM bundle', () => {
  test('passes validation with no errors and no warnings', () => {
    expect(validateBundle(pristine)).toEqual([]);
  });

  test('the bundle in the repository passes too (gen:check keeps it equal to the generated one)', () => {
    expect(validateBundle(join(repoRoot(), BUNDLE_DIR))).toEqual([]);
  });

  test('layout: the CSV, the CRD, the supported extras, annotations and bundle.Dockerfile', () => {
    const paths = generateAll()
      .map((f) => f.path)
      .filter((p) => p.startsWith(`${BUNDLE_DIR}/`));
    expect(paths.sort()).toEqual(Object.values(BUNDLE_PATHS).sort());
    expect(bundleAnnotations()).toMatchObject({
      'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
      'operators.operatorframework.io.bundle.package.v1': 'kgw',
    });
  });

  test('the CSV matches its schema and says what the issue asks for', () => {
    const csv = clusterServiceVersion();
    expect(conforms(CSV_SCHEMA, JSON.parse(JSON.stringify(csv)))).toEqual([]);
    expect(csv.metadata.name).toMatch(/^kgw\.v\d+\.\d+\.\d+$/);
    expect(csv.spec.installModes.filter((m) => m.supported).map((m) => m.type)).toEqual(['AllNamespaces']);
    const owned = csv.spec.customresourcedefinitions.owned ?? [];
    // OLM itself creates the admin/edit/view ClusterRoles of owned CRDs (the plain install ships them)
    expect(owned.map((d) => d.name)).toEqual([GATEWAY_CRD_NAME, 'routepolicies.policy.kgw.dev']);
    expect(owned[0]?.specDescriptors?.length).toBeGreaterThan(0);
    expect(owned[0]?.statusDescriptors?.length).toBeGreaterThan(0);
    for (const d of [...(owned[0]?.specDescriptors ?? []), ...(owned[0]?.statusDescriptors ?? [])]) {
      expect(`${d.path}: ${d.description}`).toMatch(/: \S/); // description taken from the CRD schema
    }
    expect(csv.spec.webhookdefinitions?.map((w) => [w.generateName, w.deploymentName])).toEqual([
      ['kingress.validation.kgw.dev', OPERATOR_NAME],
      ['domainmapping.validation.kgw.dev', OPERATOR_NAME],
      ['knativegateway.validation.kgw.dev', OPERATOR_NAME],
    ]);
    expect(csv.spec.relatedImages?.map((r) => r.image)).toContain(operatorImage());
    expect(csv.spec.minKubeVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(csv.spec.maintainers?.length).toBeGreaterThan(0);
    expect(csv.spec.links?.length).toBeGreaterThan(0);
    expect(csv.spec.keywords?.length).toBeGreaterThan(0);
  });

  test('install strategy and permissions come from the same code as deploy/kgw.yaml', () => {
    const csv = clusterServiceVersion();
    const release = releaseObjects().map((o) => o.value as { kind: string; spec?: unknown; rules?: unknown });
    const deployment = release.find((o) => o.kind === 'Deployment') as {
      spec: { template: { spec: { volumes: { name: string }[] } } };
    };
    const bundleSpec = csv.spec.install.spec.deployments[0]?.spec;
    // Identical except the webhook certificate volume, which OLM provides itself.
    const plainSpec = structuredClone(deployment.spec);
    const pod = plainSpec.template.spec as {
      volumes: { name: string }[];
      containers: { volumeMounts: { name: string }[] }[];
    };
    pod.volumes = pod.volumes.filter((v) => v.name !== 'webhook-certs');
    for (const c of pod.containers) c.volumeMounts = c.volumeMounts.filter((m) => m.name !== 'webhook-certs');
    expect(bundleSpec).toEqual(plainSpec);
    // OLM cannot bind a Role in Knative's namespace: the Knative rules (by name) are cluster-wide.
    expect(csv.spec.install.spec.clusterPermissions?.[0]?.rules).toEqual([
      ...policyRules('cluster', 'olm'),
      ...policyRules('knative', 'olm'),
    ]);
    expect(csv.spec.install.spec.permissions?.[0]?.rules).toEqual(
      release.find((o) => o.kind === 'Role')?.rules,
    );
    // The plain install additionally patches its own webhook configuration; OLM does that itself.
    const named = (kind: string, name: string) =>
      release.find((o) => o.kind === kind && (o as { metadata?: { name?: string } }).metadata?.name === name);
    const plainCluster = named('ClusterRole', OPERATOR_NAME)?.rules as { resources: string[] }[];
    expect(plainCluster.length - policyRules('cluster', 'olm').length).toBe(1);
    expect(plainCluster.at(-1)?.resources).toEqual(['validatingwebhookconfigurations']);
    // The fleet role is the same object in both installs; only its binding's namespace differs.
    const files = generateAll();
    const bundled = (path: string) => parse(files.find((f) => f.path === path)?.content ?? '') as unknown;
    expect(bundled(BUNDLE_PATHS.fleetRole)).toEqual(named('ClusterRole', 'kgw-fleet-manager'));
    const { namespace: _ns, ...meta } = scopedRoleBinding('fleet').metadata ?? {};
    expect(bundled(BUNDLE_PATHS.fleetBinding)).toEqual({
      ...scopedRoleBinding('fleet'),
      metadata: meta,
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME }],
    });
  });

  test('no raw Deployment or webhook configuration in manifests/', () => {
    const kinds = generateAll()
      .filter((f) => f.path.startsWith(`${BUNDLE_DIR}/manifests/`))
      .map((f) => (parse(f.content) as { kind: string }).kind);
    expect(kinds.sort()).toEqual([
      'ClusterRole',
      'ClusterServiceVersion',
      'CustomResourceDefinition',
      'CustomResourceDefinition',
      'PodDisruptionBudget',
      'RoleBinding',
      'Service',
    ]);
  });
});

describe('bundle validation fails on broken bundles', () => {
  const crdFile = BUNDLE_PATHS.crd.slice(BUNDLE_DIR.length + 1);

  test.each<[string, (dir: string) => void, RegExp]>([
    [
      'owned CRD missing from manifests/',
      (d) => unlinkSync(join(d, crdFile)),
      /owned-crds: owned CRD knativegateways/,
    ],
    [
      'a CRD that the CSV does not own',
      (d) =>
        editYaml(d, crdFile, (v) => {
          (v.metadata as { name: string }).name = 'others.operator.kgw.dev';
          (v.spec as { names: { plural: string } }).names.plural = 'others';
        }),
      /owned-crds: CRD others.operator.kgw.dev in manifests\/ is not owned/,
    ],
    [
      'owned CRD version not in the CRD',
      (d) => editCsv(d, (c) => ((c.spec.customresourcedefinitions.owned ?? [])[0]!.version = 'v9')),
      /owned-crds: CRD knativegateways.operator.kgw.dev has no version v9/,
    ],
    [
      'owned CRD kind differs from the CRD',
      (d) => editCsv(d, (c) => ((c.spec.customresourcedefinitions.owned ?? [])[0]!.kind = 'Gateway')),
      /owned-crds: .* has kind KnativeGateway, the CSV says Gateway/,
    ],
    [
      'alm-examples that are not JSON',
      (d) => editCsv(d, (c) => (c.metadata.annotations['alm-examples'] = '[{')),
      /alm-examples: not JSON/,
    ],
    [
      'an alm-example of a kind the CSV does not own',
      (d) =>
        editCsv(
          d,
          (c) =>
            (c.metadata.annotations['alm-examples'] = JSON.stringify([
              { apiVersion: 'operator.kgw.dev/v1alpha1', kind: 'Other', metadata: { name: 'x' } },
            ])),
        ),
      /alm-examples: example 0: operator.kgw.dev\/v1alpha1 Other is not an owned API/,
    ],
    [
      'a webhook served by a deployment that does not exist',
      (d) => editCsv(d, (c) => (c.spec.webhookdefinitions![0]!.deploymentName = 'nope')),
      /webhooks: webhook kingress.validation.kgw.dev: deploymentName nope is not an install-strategy deployment/,
    ],
    [
      'a webhook targetPort the deployment does not expose',
      (d) => editCsv(d, (c) => (c.spec.webhookdefinitions![1]!.targetPort = 1234)),
      /webhooks: .*targetPort 1234 is not a container port/,
    ],
    [
      'a webhook on webhook configurations',
      (d) =>
        editCsv(d, (c) => {
          const r = c.spec.webhookdefinitions![0]!.rules[0]!;
          r.apiGroups = ['admissionregistration.k8s.io'];
          r.resources = ['validatingwebhookconfigurations'];
        }),
      /webhooks: .*refuses rules on webhook configurations/,
    ],
    [
      'a webhook with side effects',
      (d) =>
        editCsv(d, (c) => ((c.spec.webhookdefinitions![0] as { sideEffects: string }).sideEffects = 'Some')),
      /webhooks: .*sideEffects must be None or NoneOnDryRun/,
    ],
    [
      'a webhook with a namespaceSelector OLM would drop',
      (d) =>
        editCsv(d, (c) =>
          Object.assign(c.spec.webhookdefinitions![0]!, { namespaceSelector: { matchLabels: {} } }),
        ),
      /csv-schema: .spec.webhookdefinitions\[0\].namespaceSelector: unknown field/,
    ],
    [
      'annotations.yaml without the package',
      (d) =>
        editYaml(d, 'metadata/annotations.yaml', (v) => {
          delete (v.annotations as Record<string, string>)[
            'operators.operatorframework.io.bundle.package.v1'
          ];
        }),
      /annotations: required annotation operators.operatorframework.io.bundle.package.v1 is missing/,
    ],
    [
      'annotations.yaml with the wrong media type',
      (d) =>
        editYaml(d, 'metadata/annotations.yaml', (v) => {
          (v.annotations as Record<string, string>)['operators.operatorframework.io.bundle.mediatype.v1'] =
            'plain+v0';
        }),
      /annotations: operators.operatorframework.io.bundle.mediatype.v1 is "plain\+v0"/,
    ],
    [
      'a default channel that is not a channel',
      (d) =>
        editYaml(d, 'metadata/annotations.yaml', (v) => {
          (v.annotations as Record<string, string>)[
            'operators.operatorframework.io.bundle.channel.default.v1'
          ] = 'stable';
        }),
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
      'a Deployment as a raw manifest',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'op.yaml'),
          stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'op' }, spec: {} }),
        ),
      /supported-kinds: manifests\/op.yaml: kind Deployment is not allowed in a bundle/,
    ],
    [
      'a ServiceAccount that duplicates the install strategy’s',
      (d) =>
        writeFileSync(
          join(d, 'manifests', 'sa.yaml'),
          stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: OPERATOR_NAME } }),
        ),
      /service-accounts: manifests\/sa.yaml: ServiceAccount kgw-operator duplicates/,
    ],
    [
      'a CSV without displayName',
      (d) => editCsv(d, (c) => delete (c.spec as Partial<ClusterServiceVersion['spec']>).displayName),
      /csv-schema: .spec.displayName: required/,
    ],
    [
      'a misspelt CSV field',
      (d) => editCsv(d, (c) => Object.assign(c.spec, { minKubeVerison: '1.29.0' })),
      /csv-schema: .spec.minKubeVerison: unknown field/,
    ],
    [
      'a CSV name that does not match the version',
      (d) => editCsv(d, (c) => (c.metadata.name = 'kgw.v9.9.9')),
      /csv-version: spec.version .* differs from the name's 9.9.9/,
    ],
    [
      'a minKubeVersion that is not semver',
      (d) => editCsv(d, (c) => (c.spec.minKubeVersion = '1.29')),
      /min-kube-version: 1.29 is not semver/,
    ],
    [
      'no supported install mode',
      (d) => editCsv(d, (c) => c.spec.installModes.forEach((m) => (m.supported = false))),
      /install-modes: no install mode is supported/,
    ],
    [
      'permissions that miss what the operator calls',
      (d) =>
        editCsv(d, (c) => {
          const p = c.spec.install.spec.clusterPermissions![0]!;
          p.rules = p.rules.filter((r) => !(r.resources ?? []).includes('ingresses/status'));
        }),
      /permissions: no permission allows patch networking.internal.knative.dev\/ingresses\/status/,
    ],
    [
      'no binding for the fleet role in the install namespace',
      (d) => unlinkSync(join(d, BUNDLE_PATHS.fleetBinding.slice(BUNDLE_DIR.length + 1))),
      /permissions: no permission allows create apps\/deployments \(fleets\/kubernetes-apply\.ts/,
    ],
    [
      'a bundle RoleBinding for a ServiceAccount of another namespace',
      (d) =>
        editYaml(d, BUNDLE_PATHS.fleetBinding.slice(BUNDLE_DIR.length + 1), (v) => {
          (v.subjects as { namespace?: string }[])[0]!.namespace = 'elsewhere';
        }),
      /rbac: .*binds no ServiceAccount of the install strategy/,
    ],
    [
      'a wildcard permission',
      (d) =>
        editCsv(d, (c) =>
          c.spec.install.spec.clusterPermissions![0]!.rules.push({
            apiGroups: ['*'],
            resources: ['*'],
            verbs: ['*'],
          }),
        ),
      /least-privilege: .* uses a wildcard/,
    ],
    [
      'a deployment whose ServiceAccount has no permissions',
      (d) =>
        editCsv(
          d,
          (c) => (c.spec.install.spec.deployments[0]!.spec.template.spec!.serviceAccountName = 'other'),
        ),
      /install-strategy: deployment kgw-operator runs as ServiceAccount other/,
    ],
    [
      'a deployment image missing from relatedImages',
      (d) =>
        editCsv(
          d,
          (c) => (c.spec.relatedImages = c.spec.relatedImages!.filter((r) => r.name !== 'kgw-operator')),
        ),
      /related-images: deployment image .* is not in relatedImages/,
    ],
    [
      'a related image without tag',
      (d) => editCsv(d, (c) => (c.spec.relatedImages![1]!.image = 'docker.io/envoyproxy/envoy')),
      /related-images: envoy: docker.io\/envoyproxy\/envoy has neither tag nor digest/,
    ],
    [
      'a descriptor for a field the CRD does not have',
      (d) =>
        editCsv(d, (c) =>
          (c.spec.customresourcedefinitions.owned ?? [])[0]!.specDescriptors!.push({
            path: 'noSuchField',
            displayName: 'x',
            description: 'x',
          }),
        ),
      /descriptors: .* specDescriptor noSuchField is not a field of the CRD schema/,
    ],
    [
      'a miscased olm annotation',
      (d) => editCsv(d, (c) => (c.metadata.annotations['olm.skiprange'] = '<0.1.0')),
      /annotation-casing: annotation olm.skiprange must be spelled olm.skipRange/,
    ],
    [
      'a maintainer without a valid email',
      (d) => editCsv(d, (c) => (c.spec.maintainers![0]!.email = 'nobody')),
      /catalog: maintainer .*: nobody is not an email address/,
    ],
    [
      'no annotations.yaml',
      (d) => unlinkSync(join(d, 'metadata', 'annotations.yaml')),
      /annotations: metadata\/annotations.yaml is missing/,
    ],
  ])('%s', (_name, tamper, expected) => {
    const errs = errors(tampered(tamper));
    expect(errs.some((e) => expected.test(e)) ? [] : errs).toEqual([]);
    expect(errs.length).toBeGreaterThan(0);
  });

  test('the required-access list names only calls the code makes (no planned ones)', () => {
    for (const a of KGW_REQUIRED_ACCESS)
      expect(a.by).toMatch(/engine\.ts|fleets\/kubernetes(-apply)?\.ts|knative-config\.ts|kgw-secret\.ts/);
  });
});
