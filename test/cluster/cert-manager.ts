// cert-manager running in the real cluster, as an admin would have it for kgw's auto-TLS: its CRDs
// (from the module build-cert-manager.sh caches), the controller as a Deployment from the image
// `build-images.sh certmanager` makes, and CA ClusterIssuers signing with a CA made here. The
// controller alone issues for CA issuers (its built-in approver approves CertificateRequests); the
// webhook and cainjector are left out (nothing here needs conversion or injection).
import { createCa, type CertificateAuthority } from '../../operator/pki/ca.ts';
import type { KubeRest } from '../../operator/kube/rest.ts';
import type { Cluster } from './cluster.ts';
import { certManagerCrds } from '../env/cert-manager.ts';
import { applyManifests } from '../env/manifests.ts';
import { waitUntil } from '../env/proc.ts';

export const CERT_MANAGER_NAMESPACE = 'cert-manager';

export interface InClusterCertManager {
  ca: CertificateAuthority;
  /** Removes what install put into the cluster (Deployment, RBAC, namespace, issuers, CRDs). */
  uninstall(): Promise<void>;
}

/** The controller's objects: ServiceAccount, RBAC and Deployment (image imported, never pulled). */
export function certManagerObjects(image: string, namespace = CERT_MANAGER_NAMESPACE): object[] {
  const labels = { 'app.kubernetes.io/name': 'cert-manager', 'app.kubernetes.io/component': 'controller' };
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'cert-manager', namespace, labels } },
    {
      // a test fixture: cert-manager's own chart grants a long list of rules; what is under test
      // here is kgw, so the controller simply gets cluster-admin
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'kgw-test-cert-manager', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'cert-manager', namespace }],
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'cert-manager', namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'cert-manager',
            securityContext: { runAsNonRoot: true, runAsUser: 1000 },
            containers: [
              {
                name: 'cert-manager-controller',
                image,
                imagePullPolicy: 'Never',
                args: [
                  '--v=2',
                  `--cluster-resource-namespace=${namespace}`,
                  `--leader-election-namespace=${namespace}`,
                ],
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        },
      },
    },
  ];
}

/**
 * Installs cert-manager into the cluster with one CA ClusterIssuer per name, and resolves once the
 * controller runs and every issuer is Ready (at most 3 minutes).
 */
export async function installCertManager(
  cluster: Cluster,
  rest: KubeRest,
  image: string,
  clusterIssuers: string[],
): Promise<InClusterCertManager> {
  const kc = cluster.kubeConfig();
  const crds = certManagerCrds();
  await applyManifests(kc, crds);
  await waitUntil(
    'cert-manager CRDs established',
    async () => {
      const l = await rest.get<{
        items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[];
      }>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
      const established = new Set(
        l.items
          .filter((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))
          .map((c) => c.metadata.name),
      );
      return crds.every((c) => established.has(c.metadata?.name ?? ''));
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  const ca = await createCa({ commonName: 'kgw cluster test CA (cert-manager CA issuer)', validityDays: 30 });
  const ns = CERT_MANAGER_NAMESPACE;
  await applyManifests(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'kgw-test-ca', namespace: ns },
      data: {
        'tls.crt': Buffer.from(ca.certPem).toString('base64'),
        'tls.key': Buffer.from(ca.keyPem).toString('base64'),
      },
    },
    ...certManagerObjects(image, ns),
    ...clusterIssuers.map((name) => ({
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name },
      spec: { ca: { secretName: 'kgw-test-ca' } },
    })),
  ]);
  for (const name of clusterIssuers) {
    await waitUntil(
      `ClusterIssuer ${name} Ready`,
      async () => {
        const i = await rest.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
          `/apis/cert-manager.io/v1/clusterissuers/${name}`,
        );
        return i.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
  }
  return {
    ca,
    async uninstall() {
      for (const name of clusterIssuers) {
        await rest
          .request('DELETE', `/apis/cert-manager.io/v1/clusterissuers/${name}`)
          .catch(() => undefined);
      }
      await rest
        .request('DELETE', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kgw-test-cert-manager')
        .catch(() => undefined);
      await rest.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    },
  };
}
