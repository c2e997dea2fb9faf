// The OLM bundle's content: what the generated CSV says and where it comes from. Its validation:
// bundle.olm-validate.test.ts (operator-framework's validators), bundle.apiserver.test.ts (the
// apiserver, OLM's CSV CRD), bundle-check.test.ts and bundle-rbac-check.test.ts (kgw's own checks).
import { parse } from 'yaml';
import { GATEWAY_CRD_NAME } from '../api/knativegateway.ts';
import { BUNDLE_DIR, BUNDLE_PATHS, bundleAnnotations, clusterServiceVersion } from './bundle.ts';
import { generateAll } from './generate.ts';
import { operatorImage } from './operator-install.ts';
import { OPERATOR_NAME } from '../api/install.ts';
import { policyRules, scopedRoleBinding } from './rbac.ts';
import { releaseObjects } from './release.ts';

describe('generated OLM bundle', () => {
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
