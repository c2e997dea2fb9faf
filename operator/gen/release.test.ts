// The release manifest deploy/kgw.yaml: what it contains and the properties the issue asks for
// (least-privilege RBAC with a reason per rule, a hardened operator Deployment, webhooks whose
// failure policy and timeout are explained). release.apiserver.test.ts applies it for real.
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1RoleBinding,
  V1Container,
  V1Deployment,
  V1Role,
  V1Service,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { pinnedVersions } from '../../test/env/paths.ts';
import { XDS_PORT, XDS_SERVICE_NAME, operatorXdsEndpoint } from '../fleets/fleet-names.ts';
import { generateAll } from './generate.ts';
import { ENVOY_VERSION, OPERATOR_UID } from './operator-install.ts';
import {
  OPERATOR_NAME,
  OPERATOR_NAMESPACE,
  OPERATOR_PORTS,
  WEBHOOK_CERT_DIR,
  WEBHOOK_SERVICE_NAME,
} from '../api/install.ts';
import { OPERATOR_RULES } from './rbac-rules.ts';
import { FLEET_MANAGER_ROLE, KNATIVE_CONFIG_ROLE, OPERATOR_SERVICE_ACCOUNT } from '../kube/access.ts';
import { RELEASE_MANIFEST_PATH } from './release.ts';
import { WEBHOOKS } from '../../webhook/webhooks.ts';

const text = generateAll().find((f) => f.path === RELEASE_MANIFEST_PATH)?.content ?? '';
const objects = parseAllDocuments(text).map(
  (d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } },
);

function one<T>(kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`${found.length} ${kind} ${name ?? ''}`);
  return found[0] as T;
}

const deployment = one<V1Deployment>('Deployment');
const pod = deployment.spec?.template.spec;
const container = pod?.containers[0] as V1Container;

describe('release manifest deploy/kgw.yaml', () => {
  test('objects, in apply order', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      `Namespace/${OPERATOR_NAMESPACE}`,
      'CustomResourceDefinition/knativegateways.operator.kgw.dev',
      'CustomResourceDefinition/routepolicies.policy.kgw.dev',
      `ServiceAccount/${OPERATOR_NAME}`,
      `ClusterRole/${OPERATOR_NAME}`,
      `ClusterRoleBinding/${OPERATOR_NAME}`,
      'ClusterRole/kgw-routepolicy-edit',
      'ClusterRole/kgw-routepolicy-view',
      `Role/${OPERATOR_NAME}`,
      `RoleBinding/${OPERATOR_NAME}`,
      'ClusterRole/kgw-fleet-manager',
      'RoleBinding/kgw-fleet-manager',
      'ClusterRole/kgw-knative-config',
      'RoleBinding/kgw-knative-config',
      `Service/${OPERATOR_NAME}`,
      `Service/${WEBHOOK_SERVICE_NAME}`,
      `Deployment/${OPERATOR_NAME}`,
      `PodDisruptionBudget/${OPERATOR_NAME}`,
      'ValidatingWebhookConfiguration/kgw-validation',
    ]);
    const namespaced = [
      'ServiceAccount',
      'Role',
      'RoleBinding',
      'Service',
      'Deployment',
      'PodDisruptionBudget',
    ];
    for (const o of objects) {
      // the one object outside the operator's namespace: the Knative role's binding
      const home = o.metadata.name === 'kgw-knative-config' ? 'knative-serving' : OPERATOR_NAMESPACE;
      expect([o.kind, o.metadata.namespace]).toEqual([
        o.kind,
        namespaced.includes(o.kind) ? home : undefined,
      ]);
    }
  });

  test("no CRD category equals a resource name: kubectl expands a category before a short name, so `kubectl get kgw` would list the category's kinds instead of the gateways", () => {
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition') as unknown as {
      spec: { names: { plural: string; singular?: string; shortNames?: string[]; categories?: string[] } };
    }[];
    expect(crds.length).toBeGreaterThanOrEqual(2);
    const names = new Set(
      crds.flatMap((c) => [
        c.spec.names.plural,
        c.spec.names.singular ?? '',
        ...(c.spec.names.shortNames ?? []),
      ]),
    );
    const categories = crds.flatMap((c) => c.spec.names.categories ?? []);
    expect(categories.filter((c) => names.has(c))).toEqual([]);
    // the documented shorthands
    expect(crds.map((c) => c.spec.names.shortNames)).toEqual([['kgw'], ['rpol']]);
    expect([...new Set(categories)]).toEqual(['kgw-all']);
  });

  test('the namespace enforces the restricted pod security profile', () => {
    const ns = one<{ metadata: { labels: Record<string, string> } }>('Namespace');
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  test('the operator pod is non-root, read-only, without capabilities, with seccomp RuntimeDefault', () => {
    expect(pod?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: OPERATOR_UID,
      runAsGroup: OPERATOR_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod?.serviceAccountName).toBe(OPERATOR_NAME);
    // the one writable place on a read-only root: /tmp, where the operator also writes its webhook
    // serving certificate (WEBHOOK_CERT_DIR is under it)
    expect(container.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(WEBHOOK_CERT_DIR.startsWith('/tmp/')).toBe(true);
    expect(pod?.volumes?.map((v) => v.name)).toEqual(['tmp']);
  });

  test('ports, probes on the health port, resources, HA', () => {
    expect(Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]))).toEqual(
      OPERATOR_PORTS,
    );
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(container.resources?.requests).toEqual({ cpu: '100m', memory: '256Mi' });
    expect(container.resources?.limits?.memory).toBeDefined();
    expect(deployment.spec?.replicas).toBeGreaterThanOrEqual(2);
    expect(container.image).toMatch(/^[^:]+:v\d+\.\d+\.\d+$/);
    const selector = deployment.spec?.selector.matchLabels ?? {};
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(selector);
  });

  test('rollout status returns only once the Service routes to the new pods (minReadySeconds)', () => {
    // `kubectl rollout status` waits for availableReplicas, and a pod is available minReadySeconds
    // after it became Ready, when it entered the Service's EndpointSlice. kube-proxy applies an
    // EndpointSlice change within its minSyncPeriod (default 1 s): without the wait, the KnativeGateway
    // an admin applies right after the rollout can meet "connection refused" from the webhook
    // (observed on the real cluster: the rollout ended 24 ms after the webhook ClusterIP opened).
    expect(deployment.spec?.minReadySeconds).toBeGreaterThanOrEqual(2);
    expect(deployment.spec?.minReadySeconds).toBeLessThanOrEqual(5);
  });

  test('Services select the operator pods and target its named ports', () => {
    const names = new Set((container.ports ?? []).map((p) => p.name));
    const labels = deployment.spec?.template.metadata?.labels ?? {};
    const ports = (name: string) => {
      const svc = one<V1Service>('Service', name);
      expect(labels).toMatchObject(svc.spec?.selector ?? { none: 'x' });
      for (const p of svc.spec?.ports ?? []) expect(names.has(String(p.targetPort))).toBe(true);
      return (svc.spec?.ports ?? []).map((p) => [p.port, p.targetPort]);
    };
    expect(ports(OPERATOR_NAME)).toEqual([
      [OPERATOR_PORTS.xds, 'xds'],
      [OPERATOR_PORTS.metrics, 'metrics'],
    ]);
    expect(ports(WEBHOOK_SERVICE_NAME)).toEqual([[OPERATOR_PORTS.webhook, 'webhook']]);
  });

  test('RBAC: namespace editors manage RoutePolicies and viewers read them (aggregated roles); neither writes their status', () => {
    const roles = objects.filter((o) => o.metadata.name.startsWith('kgw-routepolicy-')) as V1ClusterRole[];
    expect(
      roles.map((r) => [
        r.metadata?.name,
        Object.keys(r.metadata?.labels ?? {}).filter((l) => l.includes('aggregate-to')),
        r.rules,
      ]),
    ).toEqual([
      [
        'kgw-routepolicy-edit',
        ['rbac.authorization.k8s.io/aggregate-to-edit', 'rbac.authorization.k8s.io/aggregate-to-admin'],
        [
          {
            apiGroups: ['policy.kgw.dev'],
            resources: ['routepolicies'],
            verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'],
          },
        ],
      ],
      [
        'kgw-routepolicy-view',
        ['rbac.authorization.k8s.io/aggregate-to-view'],
        [{ apiGroups: ['policy.kgw.dev'], resources: ['routepolicies'], verbs: ['get', 'list', 'watch'] }],
      ],
    ]);
  });

  test('RBAC: no wildcards, no escalation, every rule explained in a comment above it', () => {
    // the operator's roles (the RoutePolicy user roles are checked below)
    const roles = objects.filter(
      (o) =>
        (o.kind === 'ClusterRole' || o.kind === 'Role') && !o.metadata.name.startsWith('kgw-routepolicy-'),
    ) as (V1ClusterRole | V1Role)[];
    expect(roles).toHaveLength(4);
    for (const r of roles.flatMap((x) => x.rules ?? [])) {
      const words = [...(r.apiGroups ?? []), ...(r.resources ?? []), ...r.verbs];
      expect(words).not.toContain('*');
      expect(
        r.verbs.filter((v) => ['escalate', 'bind', 'impersonate', 'deletecollection'].includes(v)),
      ).toEqual([]);
      expect(r.resources?.filter((x) => /roles|rolebindings|customresourcedefinitions/.test(x))).toEqual([]);
      // Pods (the fleet runtime's readiness source) are read only: no writes, no exec/attach/proxy.
      expect(r.resources?.filter((x) => x.startsWith('pods/'))).toEqual([]);
      if (r.resources?.includes('pods')) expect(r.verbs).toEqual(['get', 'list', 'watch']);
      // resourceNames cannot restrict a POST create (the name is not known when it is authorized);
      // only the Knative ConfigMaps pair them, which kgw creates by server-side apply, whose create
      // check carries the name (release.apiserver.test.ts proves it).
      if (r.resourceNames !== undefined && r.verbs.includes('create'))
        expect([r.resources, r.resourceNames]).toEqual([['configmaps'], ['config-network', 'config-domain']]);
    }
    for (const rule of OPERATOR_RULES) {
      expect(rule.reason.length).toBeGreaterThan(20);
      expect(text.replace(/\n\s*# /g, ' ')).toContain(rule.reason.slice(0, 60));
    }
  });

  test('RBAC: Secrets are read-only cluster-wide; kgw writes Secrets only in its namespace and where it runs fleets', () => {
    const cluster = one<V1ClusterRole>('ClusterRole', OPERATOR_NAME).rules ?? [];
    const secrets = cluster.filter((r) => r.resources?.includes('secrets'));
    expect(secrets.map((r) => r.verbs)).toEqual([['get', 'list', 'watch']]);
    const role = one<V1Role>('Role').rules ?? [];
    const writes = role.filter(
      (r) => r.resources?.includes('secrets') && r.verbs.some((v) => v !== 'create'),
    );
    // its two CAs by name
    expect(writes.map((r) => [r.verbs, r.resourceNames])).toEqual([
      [
        ['update', 'patch'],
        ['kgw-webhook-certs', 'kgw-xds-ca'],
      ],
    ]);
    // the fleets' xDS client Secrets by server-side apply, where the fleet role is bound; no delete
    const fleet = one<V1ClusterRole>('ClusterRole', 'kgw-fleet-manager').rules ?? [];
    expect(fleet.filter((r) => r.resources?.includes('secrets')).map((r) => r.verbs)).toEqual([
      ['get', 'create', 'patch'],
    ]);
    const leases = role.filter((r) => r.resources?.includes('leases') && r.resourceNames !== undefined);
    expect(leases.map((r) => r.resourceNames)).toEqual([[`${OPERATOR_NAME}-leader`]]);
  });

  test('RBAC: no rule bound cluster-wide writes workloads, Services, ConfigMaps or Namespaces', () => {
    const boundClusterWide = objects
      .filter((o) => o.kind === 'ClusterRoleBinding')
      .map((o) => (o as unknown as V1ClusterRoleBinding).roleRef.name);
    expect(boundClusterWide).toEqual([OPERATOR_NAME]);
    const rules = one<V1ClusterRole>('ClusterRole', OPERATOR_NAME).rules ?? [];
    const writes = rules.flatMap((r) =>
      (r.resources ?? []).flatMap((res) =>
        r.verbs
          .filter((v) => !['get', 'list', 'watch'].includes(v))
          .map(
            (v) =>
              `${v} ${r.apiGroups?.[0] ? `${r.apiGroups[0]}/` : ''}${res}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}`,
          ),
      ),
    );
    for (const res of [
      'deployments',
      'services',
      'serviceaccounts',
      'configmaps',
      'poddisruptionbudgets',
      'horizontalpodautoscalers',
      'endpointslices',
      'secrets',
    ]) {
      expect(writes.filter((w) => w.endsWith(`/${res}`) || w.endsWith(` ${res}`))).toEqual([]);
    }
    expect(writes.filter((w) => w.includes('namespaces'))).toEqual([]);
    // Every cluster-wide write there is: status and finalizer subresources, Events, kinds kgw owns
    // that live in other namespaces or none (claims, cert-manager Certificates), its own webhook
    // configuration.
    expect(writes).toEqual([
      'patch networking.internal.knative.dev/ingresses/status',
      'update networking.internal.knative.dev/certificates/status',
      'update networking.internal.knative.dev/certificates/finalizers',
      'create networking.internal.knative.dev/clusterdomainclaims',
      'delete networking.internal.knative.dev/clusterdomainclaims',
      'patch serving.knative.dev/domainmappings/status',
      'create events',
      'patch events',
      'patch operator.kgw.dev/knativegateways/status',
      'update operator.kgw.dev/knativegateways/finalizers',
      'patch policy.kgw.dev/routepolicies/status',
      'create cert-manager.io/certificates',
      'patch cert-manager.io/certificates',
      'delete cert-manager.io/certificates',
      'update cert-manager.io/certificates',
      'patch admissionregistration.k8s.io/validatingwebhookconfigurations[kgw-validation]',
    ]);
  });

  test('RBAC: the fleet and Knative roles are bound per namespace only, to the operator', () => {
    const bindings = objects.filter((o) => o.kind === 'RoleBinding') as unknown as V1RoleBinding[];
    expect(bindings.map((b) => [b.metadata?.namespace, b.roleRef.kind, b.roleRef.name])).toEqual([
      [OPERATOR_NAMESPACE, 'Role', OPERATOR_NAME],
      [OPERATOR_NAMESPACE, 'ClusterRole', 'kgw-fleet-manager'],
      ['knative-serving', 'ClusterRole', 'kgw-knative-config'],
    ]);
    for (const b of bindings) {
      expect(b.subjects).toEqual([
        { kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE },
      ]);
    }
    // the names kgw puts into its fix-it commands
    expect([FLEET_MANAGER_ROLE, KNATIVE_CONFIG_ROLE, OPERATOR_SERVICE_ACCOUNT]).toEqual([
      'kgw-fleet-manager',
      'kgw-knative-config',
      OPERATOR_NAME,
    ]);
    expect(pod?.serviceAccountName).toBe(OPERATOR_SERVICE_ACCOUNT);
    const env = Object.fromEntries(
      (container.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(env.POD_NAMESPACE).toBe('metadata.namespace');
    expect(env.POD_SERVICE_ACCOUNT).toBe('spec.serviceAccountName');
  });

  test('webhooks: CREATE/UPDATE only, no side effects, short timeouts, system namespaces skipped', () => {
    const vwc = one<V1ValidatingWebhookConfiguration>('ValidatingWebhookConfiguration');
    expect(vwc.webhooks?.map((w) => [w.name, w.failurePolicy, w.timeoutSeconds])).toEqual([
      ['kingress.validation.kgw.dev', 'Fail', 5],
      ['domainmapping.validation.kgw.dev', 'Ignore', 3],
      ['knativegateway.validation.kgw.dev', 'Fail', 5],
      ['routing-rules.validation.kgw.dev', 'Ignore', 3],
    ]);
    // the Knative Service webhook is called only for objects carrying the annotation
    expect(vwc.webhooks?.[3]?.matchConditions).toEqual([
      {
        name: 'has-routing-rules',
        expression:
          "has(object.metadata.annotations) && 'kgw.dev/routing-rules' in object.metadata.annotations",
      },
    ]);
    for (const w of vwc.webhooks ?? []) {
      expect(w.sideEffects).toBe('None');
      expect(w.admissionReviewVersions).toEqual(['v1']);
      expect(w.clientConfig.service).toMatchObject({
        name: WEBHOOK_SERVICE_NAME,
        namespace: OPERATOR_NAMESPACE,
        port: OPERATOR_PORTS.webhook,
      });
      expect(w.clientConfig.caBundle).toBeUndefined();
      for (const r of w.rules ?? []) {
        expect(r.operations).toEqual(['CREATE', 'UPDATE']);
        expect(r.resources?.filter((x) => x.includes('/'))).toEqual([]);
      }
      if (w.rules?.[0]?.scope === 'Namespaced') {
        expect(w.namespaceSelector?.matchExpressions).toEqual([
          {
            key: 'kubernetes.io/metadata.name',
            operator: 'NotIn',
            values: ['kube-system', OPERATOR_NAMESPACE],
          },
        ]);
      }
    }
    expect(new Set(WEBHOOKS.map((w) => w.path)).size).toBe(WEBHOOKS.length);
    for (const w of WEBHOOKS) expect(text.replace(/\n\s*# /g, ' ')).toContain(w.why.slice(0, 60));
  });

  test('the xDS Service is where the Kubernetes fleets look for the operator', () => {
    const svc = one<V1Service>('Service', XDS_SERVICE_NAME);
    expect(svc.metadata?.namespace).toBe(OPERATOR_NAMESPACE);
    expect(svc.spec?.ports?.find((p) => p.name === 'grpc-xds')?.port).toBe(XDS_PORT);
    expect(operatorXdsEndpoint().host).toBe(`${XDS_SERVICE_NAME}.${OPERATOR_NAMESPACE}.svc.cluster.local`);
  });

  test('the Envoy image is the version the tests run (test/env/versions.env)', () => {
    expect(ENVOY_VERSION).toBe(pinnedVersions().KGW_ENVOY_VERSION);
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    expect(env.RELATED_IMAGE_ENVOY).toBe(`docker.io/envoyproxy/envoy:v${ENVOY_VERSION}`);
  });
});
