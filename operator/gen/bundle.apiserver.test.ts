// The OLM bundle against a real kube-apiserver, for what needs one: the bundle's CRD is accepted
// (structural schema, CEL), its alm-examples are valid KnativeGateways, the other manifests apply,
// the CSV is a valid object of OLM's own ClusterServiceVersion CRD (operator-framework/api's, strict
// field validation: typos and fields OLM does not have fail), and the objects OLM makes from the CSV
// (the Deployment, the ServiceAccount, Role and ClusterRole from the permissions, the webhook Service
// and the ValidatingWebhookConfigurations from webhookdefinitions, built the way OLM v0 builds them)
// pass server-side dry-run, and the bundle's fleet RoleBinding grants the fleet role in the install
// namespace only. Copies broken on purpose (a CSV field, a deployment, a webhook definition) are
// refused, which shows these checks read the apiserver's verdict.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { ResourceResolver, createRejection, kubeRequest } from '../../test/env/kube-http.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { operatorFrameworkCrd } from '../../test/env/olm-api.ts';
import { BUNDLE_DIR, BUNDLE_PATHS, type ClusterServiceVersion } from './bundle.ts';
import { generateAll } from './generate.ts';
import { OPERATOR_NAME } from '../api/install.ts';

/** The namespace an admin would install the operator into (OLM's "install namespace"). */
const INSTALL_NS = 'kgw-olm';

const files = generateAll().filter((f) => f.path.startsWith(`${BUNDLE_DIR}/manifests/`));
const manifests = files.map((f) => parse(f.content) as KubernetesObject & { kind: string });
const csv = parse(files.find((f) => f.path === BUNDLE_PATHS.csv)?.content ?? '') as ClusterServiceVersion;

let cp: ControlPlane;
let kc: KubeConfig;
let resolver: ResourceResolver;

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  resolver = new ResourceResolver(kc);
  await kubeRequest(kc, 'POST', '/api/v1/namespaces', { metadata: { name: INSTALL_NS } });
});
afterAll(async () => {
  await cp?.stop();
});

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; generateName?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** A server-side dry-run create (nothing is stored); returns the object as the apiserver would store it. */
async function dryRunCreate(o: Manifest): Promise<unknown> {
  const ns = o.metadata?.namespace;
  const path = await resolver.objectPath(o.apiVersion, o.kind, ns);
  return (await kubeRequest(kc, 'POST', `${path}?dryRun=All`, o)).json;
}

type WebhookDefinition = NonNullable<ClusterServiceVersion['spec']['webhookdefinitions']>[number];

/**
 * The ValidatingWebhookConfiguration OLM makes of a webhook definition: one webhook named
 * generateName, the OperatorGroup's namespace selector (all namespaces for AllNamespaces), a
 * reference to the webhook Service and OLM's CA (the test apiserver's here).
 */
function webhookConfiguration(w: WebhookDefinition, service: string): Manifest {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { generateName: `${w.generateName}-` },
    webhooks: [
      {
        name: w.generateName,
        rules: w.rules,
        failurePolicy: w.failurePolicy,
        matchPolicy: w.matchPolicy,
        namespaceSelector: {},
        sideEffects: w.sideEffects,
        timeoutSeconds: w.timeoutSeconds,
        admissionReviewVersions: w.admissionReviewVersions,
        clientConfig: {
          service: { name: service, namespace: INSTALL_NS, path: w.webhookPath, port: w.containerPort },
          caBundle: Buffer.from(cp.caPem).toString('base64'),
        },
      },
    ],
  };
}

describe('OLM bundle on a real kube-apiserver', () => {
  test('the CRD applies and every alm-example is a valid custom resource', async () => {
    const crds = manifests.filter((m) => m.kind === 'CustomResourceDefinition');
    expect(crds.length).toBe(csv.spec.customresourcedefinitions.owned?.length);
    await applyManifests(kc, crds);
    const examples = JSON.parse(csv.metadata.annotations['alm-examples'] ?? '[]') as (KubernetesObject & {
      apiVersion: string;
      kind: string;
    })[];
    expect(examples.length).toBeGreaterThan(0);
    for (const ex of examples) {
      const stored = (
        await kubeRequest(kc, 'POST', await resolver.objectPath(ex.apiVersion, ex.kind, undefined), ex)
      ).json as KubernetesObject;
      expect(stored.metadata?.name).toBe(ex.metadata?.name);
    }
  });

  test('the other manifests apply in the install namespace; the fleet role is bound there and nowhere else', async () => {
    const rest = manifests
      .filter((m) => m.kind !== 'ClusterServiceVersion' && m.kind !== 'CustomResourceDefinition')
      .map((m) =>
        m.kind === 'ClusterRole' ? m : { ...m, metadata: { ...m.metadata, namespace: INSTALL_NS } },
      );
    expect(rest.map((m) => m.kind).sort()).toEqual([
      'ClusterRole',
      'PodDisruptionBudget',
      'RoleBinding',
      'Service',
    ]);
    await applyManifests(kc, rest);
    // The RoleBinding's ServiceAccount subject has no namespace: RBAC takes the binding's.
    const may = async (
      verb: string,
      resource: string,
      group: string,
      namespace: string,
    ): Promise<boolean> => {
      const review = await kubeRequest(kc, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: `system:serviceaccount:${INSTALL_NS}:${OPERATOR_NAME}`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${INSTALL_NS}`, 'system:authenticated'],
          resourceAttributes: { verb, resource, group, namespace },
        },
      });
      return (review.json as { status: { allowed?: boolean } }).status.allowed === true;
    };
    expect(await may('create', 'deployments', 'apps', INSTALL_NS)).toBe(true);
    expect(await may('patch', 'configmaps', '', INSTALL_NS)).toBe(true);
    expect(await may('create', 'deployments', 'apps', 'default')).toBe(false);
    expect(await may('patch', 'configmaps', '', 'kube-system')).toBe(false);
  });

  test('the install strategy: deployments, ServiceAccount, Role and ClusterRole pass dry-run', async () => {
    const strategy = csv.spec.install.spec;
    for (const d of strategy.deployments) {
      await dryRunCreate({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: d.name, namespace: INSTALL_NS, labels: d.label },
        spec: d.spec,
      });
      // the bundle's Services select the deployment's pods
      const podLabels = d.spec.template.metadata?.labels ?? {};
      for (const svc of manifests.filter((m) => m.kind === 'Service') as unknown as {
        spec: { selector: Record<string, string> };
      }[]) {
        expect(podLabels).toMatchObject(svc.spec.selector);
      }
    }
    // what the apiserver refuses in an install-strategy deployment (OLM could not create it)
    const d0 = strategy.deployments[0]!;
    const refused = (name: string, edit: (spec: typeof d0.spec) => void) => {
      const spec = structuredClone(d0.spec);
      edit(spec);
      return createRejection(kc, `/apis/apps/v1/namespaces/${INSTALL_NS}/deployments?dryRun=All`, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: INSTALL_NS },
        spec,
      });
    };
    expect(await refused('Kgw_Operator', () => undefined)).toMatch(/metadata\.name: Invalid value/);
    expect(await refused(d0.name, (s) => (s.selector = { matchLabels: {} }))).toMatch(/empty selector/);
    expect(await refused(d0.name, (s) => (s.selector = { matchLabels: { other: 'x' } }))).toMatch(
      /selector.* does not match template .*labels/,
    );
    expect(await refused(d0.name, (s) => (s.template.spec!.containers = []))).toMatch(
      /containers: Required value/,
    );
    const accounts = new Set(
      [...(strategy.permissions ?? []), ...(strategy.clusterPermissions ?? [])].map(
        (p) => p.serviceAccountName,
      ),
    );
    for (const name of accounts) {
      await dryRunCreate({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name, namespace: INSTALL_NS },
      });
    }
    for (const [i, p] of (strategy.permissions ?? []).entries()) {
      await dryRunCreate({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: `kgw-csv-${i}`, namespace: INSTALL_NS },
        rules: p.rules,
      });
    }
    for (const [i, p] of (strategy.clusterPermissions ?? []).entries()) {
      await dryRunCreate({
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: `kgw-csv-${i}` },
        rules: p.rules,
      });
    }
  });

  test("the CSV is a valid object of OLM's own ClusterServiceVersion CRD, unknown fields included; broken copies are not", async () => {
    // operator-framework/api's CRD: its full schema (the CSV's own fields and the embedded
    // DeploymentSpec, PolicyRules, webhook rules), with strict field validation for typos.
    await applyManifests(kc, [operatorFrameworkCrd('operators.coreos.com_clusterserviceversions.yaml')]);
    const path =
      `/apis/operators.coreos.com/v1alpha1/namespaces/${INSTALL_NS}/clusterserviceversions` +
      '?dryRun=All&fieldValidation=Strict';
    const inNs = (c: ClusterServiceVersion) => ({ ...c, metadata: { ...c.metadata, namespace: INSTALL_NS } });
    await kubeRequest(kc, 'POST', path, inNs(csv));
    const rejection = (edit: (c: ClusterServiceVersion) => void): Promise<string> => {
      const c = structuredClone(csv);
      edit(c);
      return createRejection(kc, path, inNs(c));
    };
    const dep = (c: ClusterServiceVersion) => c.spec.install.spec.deployments[0]!;
    expect(await rejection((c) => Object.assign(c.spec, { minKubeVerison: '1.29.0' }))).toMatch(
      /unknown field "spec\.minKubeVerison"/,
    );
    // a field OLM's webhookdefinitions do not have (OLM would drop it)
    expect(
      await rejection((c) => Object.assign(c.spec.webhookdefinitions![0]!, { namespaceSelector: {} })),
    ).toMatch(/unknown field "spec\.webhookdefinitions\[0\]\.namespaceSelector"/);
    expect(
      await rejection((c) =>
        Object.assign(dep(c).spec.template.spec!.containers[0]!, { imagePullPolice: 'x' }),
      ),
    ).toMatch(/unknown field .*imagePullPolice/);
    expect(
      await rejection((c) => delete (c.spec as Partial<ClusterServiceVersion['spec']>).displayName),
    ).toMatch(/spec\.displayName: Required value/);
    expect(await rejection((c) => delete (c.spec.relatedImages![0] as { image?: string }).image)).toMatch(
      /spec\.relatedImages\[0\]\.image: Required value/,
    );
    expect(
      await rejection(
        (c) => delete (c.spec.install.spec.clusterPermissions![0]!.rules[0] as { verbs?: unknown }).verbs,
      ),
    ).toMatch(/rules\[0\]\.verbs: Required value/);
    expect(await rejection((c) => Object.assign(c.spec.installModes[0]!, { supported: 'yes' }))).toMatch(
      /spec\.installModes\[0\]\.supported: Invalid value: "string"/,
    );
  });

  test('webhookdefinitions become a valid webhook Service and ValidatingWebhookConfigurations', async () => {
    const defs = csv.spec.webhookdefinitions ?? [];
    expect(defs.length).toBeGreaterThan(0);
    for (const w of defs) {
      const dep = csv.spec.install.spec.deployments.find((d) => d.name === w.deploymentName);
      if (dep === undefined) throw new Error(`no deployment ${w.deploymentName}`);
      const service = `${w.deploymentName.replace(/\./g, '-')}-service`;
      // OLM's webhook Service: containerPort → targetPort, selecting the deployment's pods.
      await dryRunCreate({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: service, namespace: INSTALL_NS },
        spec: {
          selector: dep.spec.selector.matchLabels,
          ports: [{ name: String(w.containerPort), port: w.containerPort, targetPort: w.targetPort }],
        },
      });
      await dryRunCreate(webhookConfiguration(w, service));
    }
    // what the apiserver refuses in a definition (so OLM could not create the configuration)
    const w0 = defs[0]!;
    const refused = (edit: Record<string, unknown>) =>
      createRejection(
        kc,
        '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations?dryRun=All',
        webhookConfiguration(Object.assign(structuredClone(w0), edit), 'svc'),
      );
    expect(await refused({ sideEffects: 'Some' })).toMatch(/sideEffects: Unsupported value/);
    expect(await refused({ timeoutSeconds: 40 })).toMatch(/timeoutSeconds: Invalid value: 40/);
    expect(await refused({ generateName: 'kingress.kgw' })).toMatch(/at least three segments/);
    expect(await refused({ failurePolicy: 'Maybe' })).toMatch(/failurePolicy: Unsupported/);
  });
});
