// The release manifest deploy/kgw.yaml: everything `kubectl apply --server-side -f deploy/kgw.yaml`
// needs to install kgw without OLM: the namespace, kgw's CRDs, least-privilege RBAC, the operator
// (ServiceAccount, Deployment, Services, PodDisruptionBudget) and the webhook configuration.
import type { V1Namespace } from '@kubernetes/client-node';
import { knativeGatewayCrd } from './knativegateway-crd.ts';
import { routePolicyCrd } from './routepolicy-crd.ts';
import {
  commonLabels,
  operatorDeployment,
  podDisruptionBudget,
  serviceAccount,
  webhookService,
  xdsService,
} from './operator-install.ts';
import { OPERATOR_NAME, OPERATOR_NAMESPACE, OPERATOR_PORTS, WEBHOOK_SERVICE_NAME } from '../api/install.ts';
import {
  clusterRole,
  clusterRoleBinding,
  namespaceRole,
  namespaceRoleBinding,
  ruleComment,
  rulesFor,
  scopedClusterRole,
  routePolicyUserRoles,
  scopedRoleBinding,
} from './rbac.ts';
import { ROLES, type RbacRule } from './rbac-rules.ts';
import { validatingWebhookConfiguration } from './webhooks.ts';
import { WEBHOOKS } from '../../webhook/webhooks.ts';
import { renderYamlDocs, wrap, type PackagingFile, type YamlDoc } from './yaml-docs.ts';

export const RELEASE_MANIFEST_PATH = 'deploy/kgw.yaml';

export function operatorNamespace(): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: OPERATOR_NAMESPACE,
      labels: {
        'app.kubernetes.io/part-of': 'kgw',
        // The operator and the Envoy fleets (default fleet namespace) meet the restricted profile.
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
    },
  };
}

/** Every object of the release manifest, in apply order. */
export function releaseObjects(): { value: object; comment: string; notes?: YamlDoc['notes'] }[] {
  const ruleNotes = (rules: RbacRule[]) =>
    rules.map((r, i) => ({ path: ['rules', i] as const, text: wrap(ruleComment(r)) }));
  return [
    {
      value: operatorNamespace(),
      comment: 'Namespace of the operator (and default namespace of the fleets).',
    },
    {
      value: knativeGatewayCrd(),
      comment: 'KnativeGateway: the ingress classes and Envoy fleets kgw serves.',
    },
    {
      value: routePolicyCrd(),
      comment: "RoutePolicy: an app team's API-key auth, IP rules and CORS for a Knative Service's hosts.",
    },
    {
      value: serviceAccount(),
      comment: 'Identity of the operator; the Envoy fleets get ServiceAccounts of their own.',
    },
    {
      value: clusterRole(),
      comment: wrap(
        'Cluster-wide permissions, each rule with its reason. No wildcards. Reads, status and ' +
          'finalizers; no write on workloads, Services or ConfigMaps (those are the two roles below).',
      ),
      notes: ruleNotes(rulesFor('cluster', 'plain')),
    },
    { value: clusterRoleBinding(), comment: 'Grants the ClusterRole to the operator.' },
    ...routePolicyUserRoles().map((value) => ({
      value,
      comment: wrap(
        `${value.metadata?.name ?? ''}: aggregated into Kubernetes' built-in roles, so that whoever may ` +
          'edit (or view) a namespace may manage (or read) its RoutePolicies.',
      ),
    })),
    {
      value: namespaceRole(),
      comment: 'Permissions in the operator namespace only (leader election, the Secrets kgw manages).',
      notes: ruleNotes(rulesFor('namespace', 'plain')),
    },
    { value: namespaceRoleBinding(), comment: 'Grants the Role to the operator.' },
    {
      value: scopedClusterRole('fleet'),
      comment: wrap(
        `The Envoy fleets' objects. Never bound cluster-wide: a RoleBinding per namespace that ` +
          `KnativeGateways name (spec.namespace). To let kgw run fleets in namespace NS: kubectl create ` +
          `rolebinding ${ROLES.fleet.name} --namespace NS --clusterrole ${ROLES.fleet.name} ` +
          `--serviceaccount ${OPERATOR_NAMESPACE}:${OPERATOR_NAME}`,
      ),
      notes: ruleNotes(rulesFor('fleet', 'plain')),
    },
    {
      value: scopedRoleBinding('fleet'),
      comment: `Fleets in ${OPERATOR_NAMESPACE}, the default fleet namespace.`,
    },
    {
      value: scopedClusterRole('knative'),
      comment: wrap(
        "Knative Serving's config-network and config-domain (by name), bound in Knative's namespace. " +
          `For Knative in another namespace NS (spec.knative.namespace): kubectl create rolebinding ` +
          `${ROLES.knative.name} --namespace NS --clusterrole ${ROLES.knative.name} ` +
          `--serviceaccount ${OPERATOR_NAMESPACE}:${OPERATOR_NAME}`,
      ),
      notes: ruleNotes(rulesFor('knative', 'plain')),
    },
    {
      value: scopedRoleBinding('knative'),
      comment: wrap(
        `In ${ROLES.knative.boundIn}, which Knative Serving's install creates: install Knative Serving first ` +
          '(kubectl reports this object otherwise; apply the file again afterwards).',
      ),
    },
    {
      value: xdsService(),
      comment: 'xDS (Envoy fleets connect here over mTLS) and Prometheus metrics.',
    },
    {
      value: webhookService(),
      comment: `Admission webhooks (${WEBHOOK_SERVICE_NAME}: the same name OLM gives it under OLM).`,
    },
    {
      value: operatorDeployment('plain'),
      comment: wrap(
        'The operator: non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp. ' +
          'Two replicas serve xDS and webhooks; a Lease elects the one that writes status. ' +
          `Ports: xds ${OPERATOR_PORTS.xds}, webhook ${OPERATOR_PORTS.webhook}, metrics ` +
          `${OPERATOR_PORTS.metrics}, health ${OPERATOR_PORTS.health} (/healthz, /readyz).`,
      ),
    },
    { value: podDisruptionBudget(), comment: 'Keeps one operator replica through voluntary disruptions.' },
    {
      value: validatingWebhookConfiguration(
        { name: WEBHOOK_SERVICE_NAME, namespace: OPERATOR_NAMESPACE, port: OPERATOR_PORTS.webhook },
        commonLabels(),
      ),
      comment: wrap(
        'Admission webhooks (served by the operator, issue 4). kgw fills in caBundle once its ' +
          'webhook server has a certificate; until then the apiserver cannot call the webhooks and ' +
          'applies each failure policy. kube-system and the operator namespace are never intercepted.',
      ),
      notes: WEBHOOKS.map((w, i) => ({ path: ['webhooks', i] as const, text: wrap(w.why) })),
    },
  ];
}

export function releaseManifest(): PackagingFile {
  return {
    path: RELEASE_MANIFEST_PATH,
    comment:
      'kgw release manifest. Install: kubectl apply --server-side -f deploy/kgw.yaml\n' +
      'Needs Knative Serving (its networking.internal.knative.dev CRDs and its namespace knative-serving);\n' +
      'cert-manager only for auto-TLS.',
    body: renderYamlDocs(releaseObjects()),
  };
}
