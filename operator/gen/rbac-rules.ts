// The operator's permissions: one list of rules, each with the reason it exists, in four roles:
//   - cluster:   ClusterRole kgw-operator, bound cluster-wide. Reads (KIngresses, backends, TLS
//                Secrets, …), status and finalizer subresources, cluster-scoped kinds kgw owns. No
//                write on workloads, ConfigMaps or Services anywhere.
//   - namespace: Role kgw-operator in the operator's namespace (leader Lease, kgw's CA Secrets).
//   - fleet:     ClusterRole kgw-fleet-manager: the fleet objects (Deployment, Service,
//                ServiceAccount, ConfigMap, PDB, HPA, xDS client Secret). Never bound cluster-wide:
//                the release manifest binds it in the operator's namespace (the default fleet
//                namespace); an admin binds it in any other namespace a KnativeGateway names, and
//                kgw reports the exact `kubectl create rolebinding` where it is missing.
//   - knative:   ClusterRole kgw-knative-config: config-network and config-domain by name, and
//                KnativeServing reads; bound in knative-serving (another Knative namespace: the
//                same one-line RoleBinding).
// The plain release manifest renders them as above. The OLM bundle: cluster → clusterPermissions,
// namespace → permissions, knative → clusterPermissions (OLM creates Roles only in the install
// namespace, so there it is cluster-wide, still restricted to the two ConfigMap names), fleet → a
// ClusterRole and a RoleBinding shipped as bundle objects (OLM creates the RoleBinding in the
// install namespace). Nothing is granted with wildcards. release.apiserver.test.ts runs the
// operator's code paths with the ServiceAccount's real token against a real apiserver to prove the
// rules sufficient, and checks what they must not allow.
import { GATEWAY_GROUP, GATEWAY_PLURAL } from '../api/knativegateway.ts';
import { POLICY_GROUP, POLICY_PLURAL } from '../api/routepolicy.ts';
import { CONFIG_DOMAIN, CONFIG_NETWORK } from '../api/knativegateway-knative.ts';
import { KNATIVE_OPERATOR_GROUP, KNATIVE_SERVING_PLURAL } from '../controller/knative-operator.ts';
import { FLEET_MANAGER_ROLE, KNATIVE_CONFIG_ROLE } from '../kube/access.ts';
import { KNATIVE_SERVING_NAMESPACE } from './operator-install.ts';
import {
  LEADER_LEASE_NAME,
  OPERATOR_NAME,
  OPERATOR_NAMESPACE,
  WEBHOOK_CERT_SECRET,
  XDS_CA_SECRET,
} from '../api/install.ts';
import { WEBHOOK_CONFIGURATION_NAME } from '../../webhook/webhooks.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export type RbacScope = 'cluster' | 'namespace' | 'fleet' | 'knative';

export interface RbacRule {
  /**
   * `cluster`: ClusterRole kgw-operator, bound cluster-wide; `namespace`: Role in the operator's
   * namespace; `fleet`: ClusterRole kgw-fleet-manager, bound per fleet namespace; `knative`:
   * ClusterRole kgw-knative-config, bound in the Knative namespace.
   */
  scope: RbacScope;
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

/**
 * The roles of the install: name, what it is for, and where the release manifest binds it
 * (`boundIn`: a namespace, or `cluster` for the one ClusterRoleBinding).
 */
export const ROLES: Readonly<
  Record<RbacScope, { kind: 'ClusterRole' | 'Role'; name: string; boundIn: string; what: string }>
> = {
  cluster: {
    kind: 'ClusterRole',
    name: OPERATOR_NAME,
    boundIn: 'cluster',
    what: 'reads, status and finalizers, cluster-scoped kinds kgw owns',
  },
  namespace: {
    kind: 'Role',
    name: OPERATOR_NAME,
    boundIn: OPERATOR_NAMESPACE,
    what: "leader election and kgw's CA Secrets, in the operator's namespace only",
  },
  fleet: {
    kind: 'ClusterRole',
    name: FLEET_MANAGER_ROLE,
    boundIn: OPERATOR_NAMESPACE,
    what: 'fleet objects, in each namespace it is bound in (RoleBinding; never cluster-wide)',
  },
  knative: {
    kind: 'ClusterRole',
    name: KNATIVE_CONFIG_ROLE,
    boundIn: KNATIVE_SERVING_NAMESPACE,
    what: "Knative Serving's config-network and config-domain, in the namespace it is bound in",
  },
};

const READ: Verb[] = ['get', 'list', 'watch'];
/**
 * Fleet objects kgw creates and owns, where kgw-fleet-manager is bound: read to find foreign
 * objects, server-side apply (which is authorized as patch, and as create when it creates), and
 * delete when a fleet or an HPA/PDB goes. Watching is done cluster-wide where needed (cluster rules).
 */
const FLEET: Verb[] = ['get', 'list', 'create', 'patch', 'delete'];

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
      'Domain claim policy: creates claims for allowed DomainMappings and deletes only claims it created ' +
      '(a cluster-scoped kind: no narrower binding exists).',
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
  // --- Backends and TLS material (read only) ---------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['services'],
    verbs: READ,
    reason:
      'Backend Services KIngresses name, in any namespace (ports, engine.ts); and the fleet Services kgw ' +
      'applied, watched by label wherever their gateway put them (drift, load balancer address, ' +
      "fleets/kubernetes.ts). RBAC cannot narrow by label. Writing them is kgw-fleet-manager's.",
  },
  {
    scope: 'cluster',
    apiGroups: ['discovery.k8s.io'],
    resources: ['endpointslices'],
    verbs: READ,
    reason: 'Backend endpoints for EDS, in any namespace a KIngress points to (engine.ts).',
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: READ,
    reason:
      'TLS Secrets that KIngresses (spec.tls, any namespace) and default certificates reference, served over ' +
      'SDS and reloaded on change. kgw lists and watches Secrets as metadata only (PartialObjectMetadata: ' +
      'no data reaches it) and GETs the data of a referenced Secret alone (kube/referenced-secrets.ts); ' +
      'RBAC cannot grant metadata-only reads, so the verbs are the usual three.',
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['events'],
    verbs: ['create', 'patch'],
    reason:
      'Events on the KIngresses and KnativeGateways kgw serves (Ready, not Ready with the reason, fleets ' +
      'applied, drift corrected), what kubectl describe shows; a repeat patches the count of the same ' +
      'Event (kube/events.ts). In the namespace of each KIngress, and default for gateways.',
  },
  {
    scope: 'cluster',
    apiGroups: [''],
    resources: ['namespaces'],
    verbs: READ,
    reason:
      "Namespace labels for the domain claim policy's namespace selectors (domain-claims.ts), and whether " +
      "a gateway's fleet namespace exists (NamespaceNotFound). kgw never creates namespaces.",
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
  // --- RoutePolicy ---------------------------------------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: [POLICY_GROUP],
    resources: [POLICY_PLURAL],
    verbs: READ,
    reason: "RoutePolicies: the app teams' auth, IP and CORS rules for their hosts (route-policies.ts).",
  },
  {
    scope: 'cluster',
    apiGroups: [POLICY_GROUP],
    resources: [`${POLICY_PLURAL}/status`],
    verbs: ['patch'],
    reason: 'Writes RoutePolicy status: Accepted, Programmed and the hosts each policy covers.',
  },
  // --- Fleets: what is watched cluster-wide (read only) -------------------------------------------
  {
    scope: 'cluster',
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: READ,
    reason:
      "kgw-labelled Deployments are watched so a change to kgw's fields is put back, and listed to find " +
      "a gateway's leftovers in a namespace it no longer uses (fleets/kubernetes*.ts). Cluster-wide " +
      'because fleets live in whatever namespace their gateway names; RBAC cannot narrow by label.',
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
  // --- cert-manager (auto-TLS) --------------------------------------------------------------------
  {
    scope: 'cluster',
    apiGroups: ['cert-manager.io'],
    resources: ['certificates'],
    verbs: [...READ, 'create', 'patch', 'delete', 'update'],
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
  // --- kgw-fleet-manager: fleet objects, where an admin binds it ----------------------------------
  {
    scope: 'fleet',
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: FLEET,
    reason:
      'One Envoy Deployment per fleet (operator/fleets/kubernetes.ts, server-side apply); removed with ' +
      "a uid precondition when its fleet goes. Objects without kgw's labels and owner are never changed.",
  },
  {
    scope: 'fleet',
    apiGroups: [''],
    resources: ['services'],
    verbs: FLEET,
    reason: "The Service that publishes each fleet (of the type the fleet's service.type names).",
  },
  {
    scope: 'fleet',
    apiGroups: [''],
    resources: ['serviceaccounts'],
    verbs: FLEET,
    reason: 'One ServiceAccount per fleet (no API access: the Envoy pods do not mount its token).',
  },
  {
    scope: 'fleet',
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: FLEET,
    reason: "Each fleet's Envoy bootstrap ConfigMap.",
  },
  {
    scope: 'fleet',
    apiGroups: ['policy'],
    resources: ['poddisruptionbudgets'],
    verbs: FLEET,
    reason: 'Per-fleet PodDisruptionBudget.',
  },
  {
    scope: 'fleet',
    apiGroups: ['autoscaling'],
    resources: ['horizontalpodautoscalers'],
    verbs: FLEET,
    reason: 'Per-fleet HorizontalPodAutoscaler when a fleet sets autoscaling.',
  },
  {
    scope: 'fleet',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['get', 'create', 'patch'],
    reason:
      "Each fleet's xDS client-certificate Secret `<fleet service>-xds-client`, which its pods mount " +
      '(server-side apply; names follow the gateways, so no resourceNames). Owned by the KnativeGateway ' +
      "and removed by the garbage collector, never by kgw; a Secret without kgw's labels is never written.",
  },
  // --- kgw-knative-config: Knative Serving's configuration, where an admin binds it ---------------
  {
    scope: 'knative',
    apiGroups: [''],
    resources: ['configmaps'],
    verbs: ['get', 'list', 'watch', 'create', 'patch'],
    resourceNames: [CONFIG_NETWORK, CONFIG_DOMAIN],
    reason:
      'config-network and config-domain, which the KnativeGateway with knative.configure owns ' +
      '(controller/knative-config.ts): watched by name (a metadata.name field selector, which RBAC ' +
      'authorizes against resourceNames) and written by server-side apply (its create carries the name too).',
  },
  {
    scope: 'knative',
    apiGroups: [KNATIVE_OPERATOR_GROUP],
    resources: [KNATIVE_SERVING_PLURAL],
    verbs: READ,
    reason:
      'A KnativeServing there means the Knative Operator owns those ConfigMaps: kgw then writes nothing ' +
      'and reports ManagedByKnativeOperator (controller/knative-operator.ts).',
  },
];

/** The rules of one install mode and scope, as PolicyRules (the order of OPERATOR_RULES). */
