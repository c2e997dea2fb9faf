// The operator's permissions: one list of rules, each with the reason it exists. The plain release
// manifest turns it into a ClusterRole + ClusterRoleBinding and a Role + RoleBinding in the
// operator's namespace; the OLM bundle into the CSV's clusterPermissions and permissions. Nothing
// is granted with wildcards. Rules marked `planned` are for code that issue 3 (leader election,
// status, Knative configuration) or issue 4 (webhooks, certificates, domain claims) adds; the others
// are exercised against the real apiserver by release.apiserver.test.ts with the ServiceAccount's
// token (the Kubernetes fleet runtime's rules by running operator/fleets/kubernetes.ts with it).
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
} from '@kubernetes/client-node';
import { GATEWAY_GROUP, GATEWAY_PLURAL } from '../api/knativegateway.ts';
import {
  LEADER_LEASE_NAME,
  OPERATOR_NAME,
  OPERATOR_NAMESPACE,
  WEBHOOK_CERT_SECRET,
  XDS_CA_SECRET,
  commonLabels,
} from './operator-install.ts';
import { WEBHOOK_CONFIGURATION_NAME } from './webhooks.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface RbacRule {
  /** `cluster`: ClusterRole (clusterPermissions); `namespace`: Role in the operator's namespace (permissions). */
  scope: 'cluster' | 'namespace';
  apiGroups: string[];
  resources: string[];
  verbs: Verb[];
  resourceNames?: string[];
  /** Why the operator needs it: rendered as a comment above the rule. */
  reason: string;
  /** For code a later issue adds (not yet exercised by the RBAC test). */
  planned?: 'issue 3' | 'issue 4';
  /** Only in the plain install: under OLM, OLM does this itself. */
  plainOnly?: boolean;
}

const READ: Verb[] = ['get', 'list', 'watch'];
/**
 * Objects kgw creates and owns: read to find drift and foreign objects, server-side apply, delete
 * when gone. A server-side apply that creates the object is authorized as patch *and* create.
 */
const OWN: Verb[] = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

export const OPERATOR_RULES: readonly RbacRule[] = [
  // --- Knative networking: the input ----------------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: ['networking.internal.knative.dev'],
    resources: ['ingresses'],
    verbs: READ,
    reason:
      'KIngresses of every namespace are the input of translation (reflector in operator/controller/engine.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: ['networking.internal.knative.dev'],
    resources: ['ingresses/status'],
    verbs: ['patch'],
    reason: 'Writes KIngress status: conditions and load balancer addresses (merge patch, engine.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: ['networking.internal.knative.dev'],
    resources: ['certificates'],
    verbs: READ,
    reason: "KCertificates of kgw's certificate class become cert-manager Certificates.",
  },
  {
    scope: 'cluster',
    apiGroups: ['networking.internal.knative.dev'],
    resources: ['certificates/status'],
    verbs: ['update'],
    reason:
      'Reports Ready, notAfter, Renewing and http01Challenges on those KCertificates (update with ' +
      'resourceVersion, certificates.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: ['networking.internal.knative.dev'],
    resources: ['certificates/finalizers'],
    verbs: ['update'],
    reason: 'The cert-manager Certificate is owned by its KCertificate with blockOwnerDeletion.',
  },
  {
    scope: 'cluster',
    apiGroups: ['networking.internal.knative.dev'],
    resources: ['clusterdomainclaims'],
    verbs: ['get', 'list', 'watch', 'create', 'delete'],
    reason:
      'Domain claim policy: creates claims for allowed DomainMappings and deletes only claims it created.',
  },
  {
    scope: 'cluster',
    apiGroups: ['serving.knative.dev'],
    resources: ['domainmappings'],
    verbs: READ,
    reason: 'DomainMappings are checked against the domain claim policy.',
  },
  {
    scope: 'cluster',
    apiGroups: ['serving.knative.dev'],
    resources: ['domainmappings/status'],
    verbs: ['patch'],
    reason: 'Reports domain claim denials on the DomainMapping.',
  },
  // --- Backends and TLS material -----------------------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['services'],
    verbs: OWN,
    reason:
      'Reads the backend Services KIngresses name (ports, engine.ts) and applies and deletes the Services ' +
      'that publish each fleet (operator/fleets/publish.ts; objects it did not create are never changed).',
  },
  {
    scope: 'cluster',
    apiGroups: ['discovery.k8s.io'],
    resources: ['endpointslices'],
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
    reason:
      'Backend endpoints for EDS (engine.ts); the local fleet runtime applies the EndpointSlice of ' +
      'its selector-less fleet Services (publish.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: READ,
    reason:
      'TLS Secrets named by KIngress spec.tls, in any namespace, are served over SDS and reloaded on ' +
      'change (engine.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['namespaces'],
    verbs: ['get', 'list', 'watch', 'create'],
    reason:
      "Creates a KnativeGateway's fleet namespace when it does not exist (publish.ts ensureNamespace); " +
      "watches namespace labels for the domain claim policy's namespace selectors (domain-claims.ts).",
  },
  // --- KnativeGateway -----------------------------------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: [GATEWAY_GROUP],
    resources: [GATEWAY_PLURAL],
    verbs: READ,
    reason: 'KnativeGateways define the ingress classes and fleets kgw serves (engine.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: [GATEWAY_GROUP],
    resources: [`${GATEWAY_PLURAL}/status`],
    verbs: ['patch'],
    reason: 'Writes KnativeGateway status: Ready, FleetsReady, KnativeConfigured and per-fleet status.',
  },
  {
    scope: 'cluster',
    apiGroups: [GATEWAY_GROUP],
    resources: [`${GATEWAY_PLURAL}/finalizers`],
    verbs: ['update'],
    reason:
      'Fleet objects carry an owner reference with blockOwnerDeletion to their KnativeGateway; the ' +
      "apiserver allows setting it only to users who may update the owner's finalizers.",
  },
  // --- Fleets on Kubernetes and Knative's configuration -------------------------------------------
  {
    scope: 'cluster',
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: OWN,
    reason:
      'One Envoy Deployment per fleet, in the fleet namespace (operator/fleets/kubernetes.ts, server-side ' +
      "apply); kgw-labelled Deployments are watched so a change to kgw's fields is put back.",
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['pods'],
    verbs: READ,
    reason:
      "Readiness of the fleets' Envoy pods (Ready condition, pod IP) for probing and fleet status: a " +
      'reflector on kgw-labelled Pods (operator/fleets/kubernetes.ts). Cluster-wide because fleets live ' +
      "in their gateway's namespace, which can be any; RBAC cannot narrow by label. Read only.",
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['serviceaccounts'],
    verbs: OWN,
    reason: 'One ServiceAccount per fleet (no API access: the Envoy pods do not mount its token).',
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: OWN,
    reason:
      "Fleet bootstrap ConfigMaps (any fleet namespace), and Knative Serving's config-network and " +
      'config-domain in knative-serving, which a KnativeGateway owns (kgw corrects drift there).',
  },
  {
    scope: 'cluster',
    apiGroups: ['policy'],
    resources: ['poddisruptionbudgets'],
    verbs: OWN,
    reason: 'Per-fleet PodDisruptionBudget.',
  },
  {
    scope: 'cluster',
    apiGroups: ['autoscaling'],
    resources: ['horizontalpodautoscalers'],
    verbs: OWN,
    reason: 'Per-fleet HorizontalPodAutoscaler when a fleet sets autoscaling.',
  },
  // --- cert-manager (auto-TLS) --------------------------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: ['cert-manager.io'],
    resources: ['certificates'],
    verbs: [...OWN, 'update'],
    reason: "cert-manager Certificates for KCertificates of kgw's class and per-fleet default certificates.",
  },
  {
    scope: 'cluster',
    apiGroups: ['cert-manager.io'],
    resources: ['clusterissuers'],
    verbs: READ,
    reason: 'Checks the ClusterIssuers a KnativeGateway references (webhook warning, HTTP-01 detection).',
  },
  {
    scope: 'cluster',
    apiGroups: ['acme.cert-manager.io'],
    resources: ['challenges'],
    verbs: READ,
    reason: 'HTTP-01 challenges (URL, token, solver Service) reported on KCertificate status.',
  },
  // --- Admission webhook configuration (plain install) --------------------------------------------
  {
    scope: 'cluster',
    apiGroups: ['admissionregistration.k8s.io'],
    resources: ['validatingwebhookconfigurations'],
    verbs: ['get', 'patch'],
    resourceNames: [WEBHOOK_CONFIGURATION_NAME],
    reason:
      'Sets caBundle on its own webhook configuration (plain install: kgw manages the webhook CA). ' +
      'Under OLM, OLM owns the configuration and its CA, so the bundle does not grant this.',
    plainOnly: true,
  },
  // --- Operator namespace only (Role) -------------------------------------------------------------
  {
    scope: 'namespace',
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['create'],
    reason: 'Leader election: creates the Lease when no replica holds it yet.',
  },
  {
    scope: 'namespace',
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'update'],
    resourceNames: [LEADER_LEASE_NAME],
    reason: 'Leader election: reads and renews (compare-and-swap update) its own Lease only.',
  },
  {
    scope: 'namespace',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['create'],
    reason: 'Creates the Secrets holding the CAs kgw manages (webhook serving certificate, xDS mTLS).',
  },
  {
    scope: 'namespace',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['update', 'patch'],
    resourceNames: [WEBHOOK_CERT_SECRET, XDS_CA_SECRET],
    reason: 'Rotates those two Secrets, and no other.',
  },
  {
    scope: 'namespace',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['patch'],
    reason:
      "Each fleet's xDS client-certificate Secret `<fleet service>-xds-client` (server-side apply, " +
      'names follow the gateways, so no resourceNames), owned by its KnativeGateway; only in this ' +
      "namespace, and never a Secret without kgw's labels (fleets/kubernetes.ts).",
  },
];

/** The rules of one install mode and scope, as PolicyRules (the order of OPERATOR_RULES). */
export function policyRules(scope: RbacRule['scope'], variant: 'plain' | 'olm'): V1PolicyRule[] {
  return rulesFor(scope, variant).map(toPolicyRule);
}

export function rulesFor(scope: RbacRule['scope'], variant: 'plain' | 'olm'): RbacRule[] {
  return OPERATOR_RULES.filter((r) => r.scope === scope && (variant === 'plain' || r.plainOnly !== true));
}

export function toPolicyRule(r: RbacRule): V1PolicyRule {
  const p: V1PolicyRule = { apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] };
  if (r.resourceNames !== undefined) p.resourceNames = [...r.resourceNames];
  return p;
}

/** `# reason` comment text for a rule, as rendered above it in the YAML. */
export function ruleComment(r: RbacRule): string {
  return r.planned !== undefined ? `(${r.planned}) ${r.reason}` : r.reason;
}

export function clusterRole(): V1ClusterRole {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: OPERATOR_NAME, labels: commonLabels() },
    rules: policyRules('cluster', 'plain'),
  };
}

export function clusterRoleBinding(): V1ClusterRoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: OPERATOR_NAME, labels: commonLabels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: OPERATOR_NAME },
    subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
  };
}

export function namespaceRole(): V1Role {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    rules: policyRules('namespace', 'plain'),
  };
}

export function namespaceRoleBinding(): V1RoleBinding {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: OPERATOR_NAME },
    subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
  };
}
