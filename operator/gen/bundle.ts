// The OLM bundle (registry+v1) under bundle/: manifests/ (the ClusterServiceVersion, kgw's CRDs and
// the supported extra objects), metadata/annotations.yaml and bundle.Dockerfile. The CSV's install
// strategy, permissions and webhook definitions come from the same code as the release manifest
// (operator-install.ts, rbac.ts, webhooks.ts), so the two install modes cannot drift apart.
// Build the bundle image with `docker build -f bundle/bundle.Dockerfile bundle/`.
import type { V1DeploymentSpec, V1PolicyRule } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  GATEWAY_CRD_NAME,
  GATEWAY_GROUP,
  GATEWAY_KIND,
  GATEWAY_PLURAL,
  GATEWAY_VERSION,
} from '../api/knativegateway.ts';
import { schemaAtPath } from './bundle-check.ts';
import type { CustomResourceDefinition } from './crd.ts';
import { knativeGatewayCrd } from './knativegateway-crd.ts';
import { routePolicyCrd } from './routepolicy-crd.ts';
import { sampleRoutePolicy } from './routepolicy-sample.ts';
import {
  POLICY_CRD_NAME,
  POLICY_GROUP,
  POLICY_KIND,
  POLICY_PLURAL,
  POLICY_VERSION,
} from '../api/routepolicy.ts';
import {
  ENVOY_IMAGE,
  commonLabels,
  kgwVersion,
  operatorDeploymentSpec,
  operatorImage,
  podDisruptionBudget,
  xdsService,
} from './operator-install.ts';
import { OPERATOR_NAME, OPERATOR_NAMESPACE, OPERATOR_PORTS } from '../api/install.ts';
import { policyRules, ruleComment, rulesFor, scopedClusterRole, scopedRoleBinding } from './rbac.ts';
import { ROLES } from './rbac-rules.ts';
import { sampleKnativeGateway } from './sample.ts';
import type { Schema } from './schema.ts';
import { csvWebhookDefinitions, type CsvWebhookDefinition } from './webhooks.ts';
import { WEBHOOKS } from '../../webhook/webhooks.ts';
import { renderYamlDoc, wrap, type PackagingFile } from './yaml-docs.ts';

export const BUNDLE_DIR = 'bundle';
export const PACKAGE_NAME = 'kgw';
export const CHANNELS = ['candidate'] as const;
export const DEFAULT_CHANNEL = 'candidate';
/**
 * Oldest Kubernetes kgw installs on: the KnativeGateway CRD's CEL validation rules are GA since
 * 1.29 (EndpointSlice v1, policy/v1, autoscaling/v2 and the kubernetes.io/metadata.name namespace
 * label are older). The tests run on the version in test/env/versions.env.
 */
export const MIN_KUBE_VERSION = '1.29.0';

/**
 * Project identity shown by OLM catalogs. Placeholders until kgw has a public home: change here and
 * run `npm run gen`.
 */
export const PROJECT = {
  provider: 'kgw',
  maintainer: { name: 'kgw maintainers', email: 'maintainers@kgw.dev' },
  website: 'https://kgw.dev',
  documentation: 'https://kgw.dev/docs',
} as const;

export const BUNDLE_PATHS = {
  csv: `${BUNDLE_DIR}/manifests/${PACKAGE_NAME}.clusterserviceversion.yaml`,
  crd: `${BUNDLE_DIR}/manifests/${GATEWAY_GROUP}_${GATEWAY_PLURAL}.yaml`,
  policyCrd: `${BUNDLE_DIR}/manifests/${POLICY_GROUP}_${POLICY_PLURAL}.yaml`,
  xdsService: `${BUNDLE_DIR}/manifests/${OPERATOR_NAME}_v1_service.yaml`,
  fleetRole: `${BUNDLE_DIR}/manifests/${ROLES.fleet.name}_rbac.authorization.k8s.io_v1_clusterrole.yaml`,
  fleetBinding: `${BUNDLE_DIR}/manifests/${ROLES.fleet.name}_rbac.authorization.k8s.io_v1_rolebinding.yaml`,
  pdb: `${BUNDLE_DIR}/manifests/${OPERATOR_NAME}_policy_v1_poddisruptionbudget.yaml`,
  annotations: `${BUNDLE_DIR}/metadata/annotations.yaml`,
  dockerfile: `${BUNDLE_DIR}/bundle.Dockerfile`,
} as const;

// ---------------------------------------------------------------------------------------------
// CSV types (operator-framework/api v1alpha1, the fields kgw writes)

export interface Descriptor {
  path: string;
  displayName: string;
  description: string;
  'x-descriptors'?: string[];
}

export interface CrdDescription {
  name: string;
  version: string;
  kind: string;
  displayName?: string;
  description?: string;
  resources?: { kind: string; name: string; version: string }[];
  specDescriptors?: Descriptor[];
  statusDescriptors?: Descriptor[];
}

export interface Permission {
  serviceAccountName: string;
  rules: V1PolicyRule[];
}

export interface ClusterServiceVersion {
  apiVersion: 'operators.coreos.com/v1alpha1';
  kind: 'ClusterServiceVersion';
  metadata: {
    name: string;
    namespace?: string;
    annotations: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: {
    displayName: string;
    description: string;
    version: string;
    maturity?: string;
    minKubeVersion?: string;
    keywords?: string[];
    maintainers?: { name: string; email: string }[];
    provider?: { name: string; url?: string };
    links?: { name: string; url: string }[];
    icon?: { base64data: string; mediatype: string }[];
    installModes: {
      type: 'OwnNamespace' | 'SingleNamespace' | 'MultiNamespace' | 'AllNamespaces';
      supported: boolean;
    }[];
    customresourcedefinitions: { owned?: CrdDescription[]; required?: CrdDescription[] };
    nativeAPIs?: { group: string; version: string; kind: string }[];
    install: {
      strategy: 'deployment';
      spec: {
        deployments: { name: string; label?: Record<string, string>; spec: V1DeploymentSpec }[];
        permissions?: Permission[];
        clusterPermissions?: Permission[];
      };
    };
    webhookdefinitions?: CsvWebhookDefinition[];
    relatedImages?: { name: string; image: string }[];
  };
}

// ---------------------------------------------------------------------------------------------
// Descriptors: display names here, descriptions from the CRD schema (so `kubectl explain` and the
// OLM console say the same thing).

const SPEC_DESCRIPTORS: readonly { path: string; displayName: string; x?: string[] }[] = [
  { path: 'ingressClass', displayName: 'Ingress class', x: ['urn:alm:descriptor:com.tectonic.ui:text'] },
  { path: 'namespace', displayName: 'Fleet namespace', x: ['urn:alm:descriptor:io.kubernetes:Namespace'] },
  { path: 'clusterDomain', displayName: 'Cluster domain', x: ['urn:alm:descriptor:com.tectonic.ui:text'] },
  { path: 'fleets', displayName: 'Fleets' },
];

const STATUS_DESCRIPTORS: readonly { path: string; displayName: string; x?: string[] }[] = [
  { path: 'conditions', displayName: 'Conditions', x: ['urn:alm:descriptor:io.kubernetes.conditions'] },
  { path: 'readyFleets', displayName: 'Ready fleets', x: ['urn:alm:descriptor:text'] },
  { path: 'fleets', displayName: 'Fleet status' },
  { path: 'observedGeneration', displayName: 'Observed generation', x: ['urn:alm:descriptor:text'] },
];

function firstSentence(text: string | undefined): string {
  if (text === undefined) return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  const end = flat.search(/\.(\s|$)/);
  return end < 0 ? flat : flat.slice(0, end + 1);
}

function descriptors(
  list: readonly { path: string; displayName: string; x?: string[] }[],
  root: Schema | undefined,
): Descriptor[] {
  return list.map((d) => {
    const out: Descriptor = {
      path: d.path,
      displayName: d.displayName,
      description: firstSentence(schemaAtPath(root, d.path)?.description),
    };
    if (d.x !== undefined) out['x-descriptors'] = [...d.x];
    return out;
  });
}

function ownedCrd(crd: CustomResourceDefinition): CrdDescription {
  const root = crd.spec.versions.find((v) => v.name === GATEWAY_VERSION)?.schema.openAPIV3Schema;
  return {
    name: GATEWAY_CRD_NAME,
    version: GATEWAY_VERSION,
    kind: GATEWAY_KIND,
    displayName: 'Knative Gateway',
    description: firstSentence(root?.description),
    resources: [
      { kind: 'Deployment', name: '', version: 'v1' },
      { kind: 'Service', name: '', version: 'v1' },
      { kind: 'ServiceAccount', name: '', version: 'v1' },
      { kind: 'ConfigMap', name: '', version: 'v1' },
      { kind: 'PodDisruptionBudget', name: '', version: 'v1' },
      { kind: 'HorizontalPodAutoscaler', name: '', version: 'v2' },
    ],
    specDescriptors: descriptors(SPEC_DESCRIPTORS, root?.properties?.spec),
    statusDescriptors: descriptors(STATUS_DESCRIPTORS, root?.properties?.status),
  };
}

function ownedPolicyCrd(crd: CustomResourceDefinition): CrdDescription {
  const root = crd.spec.versions.find((v) => v.name === POLICY_VERSION)?.schema.openAPIV3Schema;
  return {
    name: POLICY_CRD_NAME,
    version: POLICY_VERSION,
    kind: POLICY_KIND,
    displayName: 'Route Policy',
    description: firstSentence(root?.description),
  };
}

/** A small square icon with the letters kgw (OLM catalogs want exactly one icon). */
export function iconSvg(): string {
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">' +
    '<rect width="64" height="64" rx="12" fill="#0865ad"/>' +
    '<text x="32" y="41" font-family="sans-serif" font-size="24" font-weight="bold" ' +
    'text-anchor="middle" fill="#ffffff">kgw</text></svg>'
  );
}

const DESCRIPTION = [
  'kgw is a Knative Serving networking layer: it turns Knative `KIngress` objects into Envoy ' +
    'configuration, pushes it over xDS (delta ADS) to Envoy fleets it runs itself, and reports ' +
    'readiness on each KIngress the way Knative expects.',
  '',
  '## How it works',
  '* A `KnativeGateway` (cluster-scoped) names the Knative ingress class kgw serves and the Envoy ' +
    'fleets that serve it (public `ExternalIP` and `ClusterLocal` fleets, replicas, Service ports).',
  "* kgw writes Knative Serving's `config-network` and `config-domain` for the gateway that " +
    'configures Knative; under the Knative Operator (a `KnativeServing`) it writes nothing and says ' +
    'what to set in the KnativeServing instead.',
  `* The fleets run in the install namespace by default. For fleets in another namespace NS, bind ` +
    `the ClusterRole \`${ROLES.fleet.name}\` there: \`kubectl create rolebinding ${ROLES.fleet.name} ` +
    `--namespace NS --clusterrole ${ROLES.fleet.name} --serviceaccount <install namespace>:${OPERATOR_NAME}\`.`,
  '* Admission webhooks reject invalid KIngresses, DomainMappings and KnativeGateways with specific ' +
    'messages; problems that only show later are reported as status conditions.',
  '',
  '## Prerequisites',
  '* Knative Serving (it provides the `networking.internal.knative.dev` and `serving.knative.dev` ' +
    'APIs kgw reads).',
  '* cert-manager, only for automatic TLS.',
  '',
  '## After installing',
  "Create a KnativeGateway (see the example) and set `ingress-class` in Knative Serving's " +
    '`config-network` to its ingress class (`kgw.ingress.networking.knative.dev` by default).',
  '',
].join('\n');

export function clusterServiceVersion(): ClusterServiceVersion {
  const version = kgwVersion();
  const crd = knativeGatewayCrd();
  return {
    apiVersion: 'operators.coreos.com/v1alpha1',
    kind: 'ClusterServiceVersion',
    metadata: {
      name: `${PACKAGE_NAME}.v${version}`,
      namespace: 'placeholder',
      annotations: {
        'alm-examples': JSON.stringify([sampleKnativeGateway(), sampleRoutePolicy()], null, 2),
        capabilities: 'Basic Install',
        categories: 'Networking',
        containerImage: operatorImage(),
        description:
          'Knative networking layer on Envoy: KIngress to Envoy xDS, Envoy fleets, admission webhooks.',
        'operatorframework.io/suggested-namespace': OPERATOR_NAMESPACE,
        repository: PROJECT.website,
        support: PROJECT.maintainer.name,
      },
      labels: {
        'operatorframework.io/arch.amd64': 'supported',
        'operatorframework.io/os.linux': 'supported',
      },
    },
    spec: {
      displayName: 'kgw: Knative networking on Envoy',
      description: DESCRIPTION,
      version,
      maturity: 'alpha',
      minKubeVersion: MIN_KUBE_VERSION,
      keywords: ['knative', 'serverless', 'envoy', 'ingress', 'networking', 'xds', 'gateway'],
      maintainers: [{ ...PROJECT.maintainer }],
      provider: { name: PROJECT.provider, url: PROJECT.website },
      links: [
        { name: 'Website', url: PROJECT.website },
        { name: 'Documentation', url: PROJECT.documentation },
      ],
      icon: [{ base64data: Buffer.from(iconSvg()).toString('base64'), mediatype: 'image/svg+xml' }],
      // kgw serves KIngresses of every namespace: one instance per cluster.
      installModes: [
        { type: 'OwnNamespace', supported: false },
        { type: 'SingleNamespace', supported: false },
        { type: 'MultiNamespace', supported: false },
        { type: 'AllNamespaces', supported: true },
      ],
      customresourcedefinitions: { owned: [ownedCrd(crd), ownedPolicyCrd(routePolicyCrd())] },
      // Knative Serving's APIs: expected in the cluster, not resolved from a catalog. cert-manager
      // is optional (auto-TLS only), so it is not listed.
      nativeAPIs: [
        { group: 'networking.internal.knative.dev', version: 'v1alpha1', kind: 'Ingress' },
        { group: 'networking.internal.knative.dev', version: 'v1alpha1', kind: 'Certificate' },
        { group: 'networking.internal.knative.dev', version: 'v1alpha1', kind: 'ClusterDomainClaim' },
        { group: 'serving.knative.dev', version: 'v1beta1', kind: 'DomainMapping' },
      ],
      install: {
        strategy: 'deployment',
        spec: {
          deployments: [{ name: OPERATOR_NAME, label: commonLabels(), spec: operatorDeploymentSpec('olm') }],
          // The fleet role is not here: OLM lifts the permissions of an AllNamespaces operator to
          // cluster-wide ClusterRoles, so it ships as a bundle ClusterRole and RoleBinding instead.
          permissions: [{ serviceAccountName: OPERATOR_NAME, rules: policyRules('namespace', 'olm') }],
          // OLM cannot create Roles outside the install namespace: the Knative rules (by name) are
          // cluster-wide here.
          clusterPermissions: [
            {
              serviceAccountName: OPERATOR_NAME,
              rules: [...policyRules('cluster', 'olm'), ...policyRules('knative', 'olm')],
            },
          ],
        },
      },
      webhookdefinitions: csvWebhookDefinitions(OPERATOR_NAME, OPERATOR_PORTS.webhook),
      relatedImages: [
        { name: 'kgw-operator', image: operatorImage() },
        { name: 'envoy', image: ENVOY_IMAGE },
      ],
    },
  };
}

/** Bundle annotations (metadata/annotations.yaml and the bundle image's labels). */
export function bundleAnnotations(): Record<string, string> {
  return {
    'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
    'operators.operatorframework.io.bundle.manifests.v1': 'manifests/',
    'operators.operatorframework.io.bundle.metadata.v1': 'metadata/',
    'operators.operatorframework.io.bundle.package.v1': PACKAGE_NAME,
    'operators.operatorframework.io.bundle.channels.v1': CHANNELS.join(','),
    'operators.operatorframework.io.bundle.channel.default.v1': DEFAULT_CHANNEL,
  };
}

function withoutNamespace<T extends { metadata?: { namespace?: string } }>(o: T): T {
  const copy = structuredClone(o);
  if (copy.metadata) delete copy.metadata.namespace;
  return copy;
}

function bundleDockerfile(): string {
  const labels = Object.entries(bundleAnnotations()).map(([k, v]) => `LABEL ${k}=${v}`);
  return [
    'FROM scratch',
    '',
    ...labels,
    '',
    'COPY manifests /manifests/',
    'COPY metadata /metadata/',
    '',
  ].join('\n');
}

export function bundleFiles(): PackagingFile[] {
  const csv = clusterServiceVersion();
  const rulePath = (kind: 'permissions' | 'clusterPermissions', i: number) =>
    ['spec', 'install', 'spec', kind, 0, 'rules', i] as const;
  const notes = [
    ...rulesFor('namespace', 'olm').map((r, i) => ({
      path: rulePath('permissions', i),
      text: wrap(ruleComment(r)),
    })),
    ...[...rulesFor('cluster', 'olm'), ...rulesFor('knative', 'olm')].map((r, i) => ({
      path: rulePath('clusterPermissions', i),
      text: wrap(ruleComment(r)),
    })),
    ...WEBHOOKS.filter((w) => w.notInOlmBundle === undefined).map((w, i) => ({
      path: ['spec', 'webhookdefinitions', i] as const,
      text: wrap(w.why),
    })),
  ];
  return [
    {
      path: BUNDLE_PATHS.csv,
      comment:
        'OLM ClusterServiceVersion of kgw (install strategy, permissions and webhooks from operator/gen).',
      body: renderYamlDoc({ value: csv, notes, literal: [['spec', 'description']] }),
    },
    { path: BUNDLE_PATHS.crd, body: renderYamlDoc({ value: knativeGatewayCrd() }) },
    { path: BUNDLE_PATHS.policyCrd, body: renderYamlDoc({ value: routePolicyCrd() }) },
    {
      path: BUNDLE_PATHS.xdsService,
      comment: 'xDS and metrics Service (OLM creates the webhook Service itself).',
      body: renderYamlDoc({ value: withoutNamespace(xdsService()) }),
    },
    {
      path: BUNDLE_PATHS.fleetRole,
      comment:
        "The Envoy fleets' objects, bound per namespace (never cluster-wide). OLM lifts an AllNamespaces\n" +
        "operator's CSV permissions to cluster scope, which is why this role is not among them.",
      body: renderYamlDoc({
        value: scopedClusterRole('fleet'),
        notes: rulesFor('fleet', 'olm').map((r, i) => ({
          path: ['rules', i] as const,
          text: wrap(ruleComment(r)),
        })),
      }),
    },
    {
      path: BUNDLE_PATHS.fleetBinding,
      comment:
        'Fleets in the install namespace (OLM creates this RoleBinding there; the ServiceAccount subject\n' +
        "without a namespace is the install namespace's).",
      body: renderYamlDoc({ value: scopedRoleBinding('fleet', { namespace: undefined }) }),
    },
    {
      path: BUNDLE_PATHS.pdb,
      comment: 'Keeps one operator replica through voluntary disruptions.',
      body: renderYamlDoc({ value: withoutNamespace(podDisruptionBudget()) }),
    },
    {
      path: BUNDLE_PATHS.annotations,
      body: stringify({ annotations: bundleAnnotations() }, { lineWidth: 100 }),
    },
    {
      path: BUNDLE_PATHS.dockerfile,
      comment: 'Bundle image: docker build -f bundle/bundle.Dockerfile bundle/',
      body: bundleDockerfile(),
    },
  ];
}
