// bundle-rbac-check.ts on the generated CSV and bundle manifests: they pass, and each check fails
// on a copy broken on purpose (operator-framework's validators let each of these through).
import { basename } from 'node:path';
import { parse } from 'yaml';
import { BUNDLE_DIR, BUNDLE_PATHS, clusterServiceVersion, type ClusterServiceVersion } from './bundle.ts';
import { KGW_REQUIRED_ACCESS, checkRbac, type BundleManifest } from './bundle-rbac-check.ts';
import { generateAll } from './generate.ts';

const files = generateAll().filter(
  (f) => f.path.startsWith(`${BUNDLE_DIR}/manifests/`) && f.path !== BUNDLE_PATHS.csv,
);

/** The findings for the generated CSV and manifests after `tamper` changed copies of them. */
function check(tamper: (csv: ClusterServiceVersion, manifests: BundleManifest[]) => void): string[] {
  const csv = structuredClone(clusterServiceVersion());
  const manifests = files.map((f) => ({
    file: basename(f.path),
    obj: parse(f.content) as BundleManifest['obj'],
  }));
  tamper(csv, manifests);
  return checkRbac(csv.spec.install.spec, manifests).map((f) => `${f.check}: ${f.message}`);
}
const clusterRules = (c: ClusterServiceVersion) => c.spec.install.spec.clusterPermissions![0]!.rules;
const fleetBinding = (ms: BundleManifest[]) =>
  ms.find((m) => m.file === basename(BUNDLE_PATHS.fleetBinding))!.obj;
const fleetRole = (ms: BundleManifest[]) => ms.find((m) => m.file === basename(BUNDLE_PATHS.fleetRole))!.obj;

describe('the bundle’s RBAC', () => {
  test('the generated CSV and manifests pass', () => {
    expect(check(() => undefined)).toEqual([]);
  });

  test.each<[string, (csv: ClusterServiceVersion, manifests: BundleManifest[]) => void, RegExp]>([
    [
      'permissions that miss what the operator calls',
      (c) => {
        const p = c.spec.install.spec.clusterPermissions![0]!;
        p.rules = p.rules.filter((r) => !(r.resources ?? []).includes('ingresses/status'));
      },
      /permissions: no permission allows patch networking.internal.knative.dev\/ingresses\/status \(engine.ts/,
    ],
    [
      'no binding for the fleet role in the install namespace',
      (_c, ms) =>
        ms.splice(
          ms.findIndex((m) => m.obj.kind === 'RoleBinding'),
          1,
        ),
      /permissions: no permission allows create apps\/deployments \(fleets\/kubernetes-apply\.ts/,
    ],
    [
      'a bundle RoleBinding for a ServiceAccount of another namespace',
      (_c, ms) => (fleetBinding(ms).subjects![0]!.namespace = 'elsewhere'),
      /rbac: .*binds no ServiceAccount of the install strategy/,
    ],
    [
      'a bundle RoleBinding to a role the bundle does not ship',
      (_c, ms) => (fleetBinding(ms).roleRef!.name = 'nope'),
      /rbac: manifests\/.*rolebinding.yaml: roleRef ClusterRole nope is not in the bundle/,
    ],
    [
      'a wildcard permission',
      (c) => clusterRules(c).push({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }),
      /least-privilege: .* uses a wildcard/,
    ],
    [
      'a permission that can grant permissions',
      (c) =>
        clusterRules(c).push({
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['clusterrolebindings'],
          verbs: ['create'],
        }),
      /least-privilege: .*clusterrolebindings.* can grant permissions/,
    ],
    [
      'a bundle ClusterRole that can escalate',
      (_c, ms) =>
        fleetRole(ms).rules!.push({
          apiGroups: ['rbac.authorization.k8s.io'],
          resources: ['roles'],
          verbs: ['escalate'],
        }),
      /least-privilege: .*escalate.* can grant permissions/,
    ],
    [
      'a deployment whose ServiceAccount has no permissions',
      (c) => (c.spec.install.spec.deployments[0]!.spec.template.spec!.serviceAccountName = 'other'),
      /service-accounts: deployment kgw-operator runs as ServiceAccount other/,
    ],
  ])('fails %s', (_name, tamper, expected) => {
    const errs = check(tamper);
    expect(errs).toEqual(expect.arrayContaining([expect.stringMatching(expected)]));
  });

  test('the required-access list names only calls the code makes (no planned ones)', () => {
    for (const a of KGW_REQUIRED_ACCESS)
      expect(a.by).toMatch(/engine\.ts|fleets\/kubernetes(-apply)?\.ts|knative-config\.ts|kgw-secret\.ts/);
  });
});
