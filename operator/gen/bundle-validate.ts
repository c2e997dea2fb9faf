// Validates an OLM registry+v1 bundle directory without the Go tools (operator-sdk, opm): the
// format checks of operator-registry, a ClusterServiceVersion schema check (a hand-written subset of
// operators.coreos.com_clusterserviceversions.yaml, from the v1alpha1 Go types), and the semantic
// checks of operator-framework/api's bundle, CSV, good-practices and operatorhub validators as
// summarised in shared/reference/tls-olm-webhooks.md §2 — plus a few of kgw's own (descriptor paths
// exist in the CRD schema; the operator's API calls are covered by the permissions).
// What needs a real apiserver (structural CRD schemas, DeploymentSpec and PolicyRule validation)
// is checked by bundle.apiserver.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseAllDocuments, parse } from 'yaml';
import { parseDockerfile, stages } from './dockerfile.ts';
import { arr, bool, int, obj, str, stringMap, type Schema } from './schema.ts';

export interface Finding {
  level: 'error' | 'warning';
  /** Short id of the check, e.g. `csv-schema`, `owned-crds`. */
  check: string;
  message: string;
}

/** An API call the operator makes, which the CSV's permissions must allow. */
export interface Access {
  apiGroup: string;
  resource: string;
  verb: string;
  /** `namespace`: only needed in the operator's own namespace (CSV permissions may grant it). */
  scope: 'cluster' | 'namespace';
  resourceName?: string;
  /** Where the operator makes the call. */
  by: string;
}

/**
 * What the operator's code calls today (read from the code, independent of rbac.ts, so dropping a
 * rule there fails validation). release.apiserver.test.ts makes these calls for real. `namespace`
 * accesses are needed in the install namespace only: the fleets' objects (their default namespace)
 * and kgw's own Lease and CA Secrets.
 */
export const KGW_REQUIRED_ACCESS: readonly Access[] = [
  ...['get', 'list', 'watch'].map((verb) => ({
    apiGroup: 'networking.internal.knative.dev',
    resource: 'ingresses',
    verb,
    scope: 'cluster' as const,
    by: 'engine.ts KIngress reflector',
  })),
  {
    apiGroup: 'networking.internal.knative.dev',
    resource: 'ingresses/status',
    verb: 'patch',
    scope: 'cluster',
    by: 'engine.ts doWriteStatus',
  },
  ...['list', 'watch'].flatMap((verb) =>
    [
      ['', 'services'],
      ['discovery.k8s.io', 'endpointslices'],
      ['', 'secrets'],
      ['operator.kgw.dev', 'knativegateways'],
      ['apps', 'deployments'],
      ['', 'pods'],
    ].map(([apiGroup, resource]) => ({
      apiGroup: apiGroup ?? '',
      resource: resource ?? '',
      verb,
      scope: 'cluster' as const,
      by: 'engine.ts and fleets/kubernetes.ts reflectors',
    })),
  ),
  {
    apiGroup: '',
    resource: 'namespaces',
    verb: 'get',
    scope: 'cluster',
    by: 'fleets/kubernetes.ts preflight (does the fleet namespace exist)',
  },
  ...['get', 'list', 'watch', 'create', 'patch'].flatMap((verb) =>
    ['config-network', 'config-domain'].map((resourceName) => ({
      apiGroup: '',
      resource: 'configmaps',
      verb,
      scope: 'cluster' as const,
      resourceName,
      by: 'controller/knative-config.ts (under OLM the Knative namespace is not the install namespace)',
    })),
  ),
  ...['list', 'watch'].map((verb) => ({
    apiGroup: 'operator.knative.dev',
    resource: 'knativeservings',
    verb,
    scope: 'cluster' as const,
    by: 'controller/knative-config.ts Knative Operator detection',
  })),
  ...['get', 'list', 'create', 'patch', 'delete'].flatMap((verb) =>
    [
      ['apps', 'deployments'],
      ['', 'services'],
      ['', 'serviceaccounts'],
      ['', 'configmaps'],
      ['policy', 'poddisruptionbudgets'],
      ['autoscaling', 'horizontalpodautoscalers'],
    ].map(([apiGroup, resource]) => ({
      apiGroup: apiGroup ?? '',
      resource: resource ?? '',
      verb,
      scope: 'namespace' as const,
      by: 'fleets/kubernetes-apply.ts (fleets in the install namespace)',
    })),
  ),
  ...['create', 'patch'].map((verb) => ({
    apiGroup: '',
    resource: 'secrets',
    verb,
    scope: 'namespace' as const,
    by: 'fleets/kubernetes.ts xDS client Secrets, kube/kgw-secret.ts CA Secrets',
  })),
];

/** Kinds operator-registry accepts in manifests/ besides the CSV and CRDs. */
export const SUPPORTED_KINDS: ReadonlySet<string> = new Set([
  'ClusterServiceVersion',
  'CustomResourceDefinition',
  'Secret',
  'ConfigMap',
  'ServiceAccount',
  'Service',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
  'PrometheusRule',
  'ServiceMonitor',
  'PodMonitor',
  'PodDisruptionBudget',
  'PriorityClass',
  'VerticalPodAutoscaler',
  'NetworkPolicy',
  'ConsoleYAMLSample',
  'ConsoleQuickStart',
  'ConsoleCLIDownload',
  'ConsoleLink',
  'ConsolePlugin',
]);

export const REQUIRED_ANNOTATIONS = {
  mediatype: 'operators.operatorframework.io.bundle.mediatype.v1',
  manifests: 'operators.operatorframework.io.bundle.manifests.v1',
  metadata: 'operators.operatorframework.io.bundle.metadata.v1',
  package: 'operators.operatorframework.io.bundle.package.v1',
  channels: 'operators.operatorframework.io.bundle.channels.v1',
} as const;
export const DEFAULT_CHANNEL_ANNOTATION = 'operators.operatorframework.io.bundle.channel.default.v1';

/** Bundles are staged in a ConfigMap: operator-framework/api errors above 1 MiB gzipped, warns above 85 %. */
export const MAX_BUNDLE_GZIP_BYTES = 1 << 20;

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Docker reference grammar (distribution/reference), tag or digest required. */
const IMAGE_REF =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;
const INSTALL_MODES = ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'];
const CHANNEL_PREFIXES = ['candidate', 'stable', 'fast'];
/** Annotation keys whose casing the CSV validator checks. */
const KNOWN_CSV_ANNOTATIONS = [
  'olm.skipRange',
  'olm.properties',
  'alm-examples',
  'olm.examples',
  'operatorframework.io/suggested-namespace',
  'operatorframework.io/initialization-resource',
  'operators.operatorframework.io/internal-objects',
];

// ---------------------------------------------------------------------------------------------
// CSV schema: a subset of the CRD's OpenAPI schema, from the v1alpha1 Go types (fields without
// `omitempty` are required). Unknown fields in the CSV's own structures are errors (typos); the
// embedded Kubernetes types (DeploymentSpec, LabelSelector) are left to the apiserver test.

const ANY_OBJECT: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

function descriptorSchema(what: string): Schema {
  return obj(
    what,
    {
      path: str('field path'),
      displayName: str('display name'),
      description: str('description'),
      'x-descriptors': arr('UI hints', str('urn')),
      value: ANY_OBJECT,
    },
    { required: ['path'] },
  );
}

function crdDescriptionSchema(): Schema {
  return obj(
    'CRDDescription',
    {
      name: str('<plural>.<group>'),
      version: str('version'),
      kind: str('kind'),
      displayName: str('display name'),
      description: str('description'),
      resources: arr(
        'resources the CR creates',
        obj(
          'APIResourceReference',
          { name: str('name'), kind: str('kind'), version: str('version') },
          {
            required: ['name', 'kind', 'version'],
          },
        ),
      ),
      specDescriptors: arr('spec descriptors', descriptorSchema('SpecDescriptor')),
      statusDescriptors: arr('status descriptors', descriptorSchema('StatusDescriptor')),
      actionDescriptors: arr('action descriptors', descriptorSchema('ActionDescriptor')),
    },
    { required: ['name', 'version', 'kind'] },
  );
}

function permissionSchema(): Schema {
  return obj(
    'StrategyDeploymentPermissions',
    {
      serviceAccountName: str('service account'),
      rules: arr(
        'PolicyRules',
        obj(
          'PolicyRule',
          {
            apiGroups: arr('groups', str('group')),
            resources: arr('resources', str('resource')),
            resourceNames: arr('names', str('name')),
            nonResourceURLs: arr('urls', str('url')),
            verbs: arr('verbs', str('verb')),
          },
          { required: ['verbs'] },
        ),
      ),
    },
    { required: ['serviceAccountName', 'rules'] },
  );
}

const RULE_WITH_OPERATIONS = obj('RuleWithOperations', {
  apiGroups: arr('groups', str('group')),
  apiVersions: arr('versions', str('version')),
  resources: arr('resources', str('resource')),
  operations: arr('operations', str('operation', { enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT', '*'] })),
  scope: str('scope', { enum: ['Cluster', 'Namespaced', '*'] }),
});

export const CSV_SCHEMA: Schema = obj(
  'ClusterServiceVersion',
  {
    apiVersion: str('operators.coreos.com/v1alpha1', { enum: ['operators.coreos.com/v1alpha1'] }),
    kind: str('ClusterServiceVersion', { enum: ['ClusterServiceVersion'] }),
    metadata: obj(
      'ObjectMeta',
      {
        name: str('name'),
        namespace: str('namespace'),
        annotations: stringMap('annotations'),
        labels: stringMap('labels'),
      },
      { required: ['name'] },
    ),
    spec: obj(
      'ClusterServiceVersionSpec',
      {
        install: obj(
          'NamedInstallStrategy',
          {
            strategy: str('strategy'),
            spec: obj(
              'StrategyDetailsDeployment',
              {
                deployments: arr(
                  'deployments',
                  obj(
                    'StrategyDeploymentSpec',
                    { name: str('name'), spec: ANY_OBJECT, label: stringMap('labels') },
                    { required: ['name', 'spec'] },
                  ),
                ),
                permissions: arr('namespaced permissions', permissionSchema()),
                clusterPermissions: arr('cluster permissions', permissionSchema()),
              },
              { required: ['deployments'] },
            ),
          },
          { required: ['strategy'] },
        ),
        version: str('semver'),
        release: str('release', { maxLength: 20 }),
        maturity: str('maturity'),
        customresourcedefinitions: obj('CustomResourceDefinitions', {
          owned: arr('owned', crdDescriptionSchema()),
          required: arr('required', crdDescriptionSchema()),
        }),
        apiservicedefinitions: obj('APIServiceDefinitions', {
          owned: arr('owned', ANY_OBJECT),
          required: arr('required', ANY_OBJECT),
        }),
        webhookdefinitions: arr(
          'WebhookDescriptions',
          obj(
            'WebhookDescription',
            {
              generateName: str('generateName'),
              type: str('type', {
                enum: ['ValidatingAdmissionWebhook', 'MutatingAdmissionWebhook', 'ConversionWebhook'],
              }),
              deploymentName: str('deployment'),
              containerPort: int('service port', { minimum: 1, maximum: 65535 }),
              targetPort: { description: 'int or string', 'x-kubernetes-int-or-string': true },
              rules: arr('rules', RULE_WITH_OPERATIONS),
              failurePolicy: str('failure policy', { enum: ['Fail', 'Ignore'] }),
              matchPolicy: str('match policy', { enum: ['Exact', 'Equivalent'] }),
              objectSelector: ANY_OBJECT,
              sideEffects: str('side effects', { enum: ['None', 'NoneOnDryRun', 'Some', 'Unknown'] }),
              timeoutSeconds: int('timeout'),
              admissionReviewVersions: arr('versions', str('version')),
              reinvocationPolicy: str('reinvocation', { enum: ['Never', 'IfNeeded'] }),
              webhookPath: str('path'),
              conversionCRDs: arr('CRDs', str('crd')),
            },
            { required: ['generateName', 'type', 'sideEffects', 'admissionReviewVersions'] },
          ),
        ),
        conversionwebhookdefinitions: arr('conversion webhooks', ANY_OBJECT),
        nativeAPIs: arr(
          'GroupVersionKinds',
          obj(
            'GroupVersionKind',
            { group: str('group'), version: str('version'), kind: str('kind') },
            {
              required: ['group', 'version', 'kind'],
            },
          ),
        ),
        minKubeVersion: str('semver'),
        displayName: str('display name'),
        description: str('markdown'),
        keywords: arr('keywords', str('keyword')),
        maintainers: arr('maintainers', obj('Maintainer', { name: str('name'), email: str('email') })),
        provider: obj('AppLink', { name: str('name'), url: str('url') }),
        links: arr('links', obj('AppLink', { name: str('name'), url: str('url') })),
        icon: arr(
          'icons',
          obj(
            'Icon',
            { base64data: str('data'), mediatype: str('type') },
            { required: ['base64data', 'mediatype'] },
          ),
        ),
        installModes: arr(
          'install modes',
          obj(
            'InstallMode',
            { type: str('type', { enum: INSTALL_MODES }), supported: bool('supported') },
            {
              required: ['type', 'supported'],
            },
          ),
        ),
        replaces: str('csv name'),
        labels: stringMap('labels'),
        annotations: stringMap('annotations'),
        selector: ANY_OBJECT,
        cleanup: obj('CleanupSpec', { enabled: bool('enabled') }, { required: ['enabled'] }),
        skips: arr('skips', str('csv name')),
        relatedImages: arr(
          'related images',
          obj('RelatedImage', { name: str('name'), image: str('image') }, { required: ['name', 'image'] }),
        ),
      },
      { required: ['install', 'displayName'] },
    ),
    status: ANY_OBJECT,
  },
  { required: ['metadata', 'spec'] },
);

/** Problems of `v` against `s` (the OpenAPI subset CSV_SCHEMA uses), one per line. */
export function conforms(s: Schema, v: unknown, p = ''): string[] {
  const here = p === '' ? '<root>' : p;
  if (s['x-kubernetes-int-or-string'] === true) {
    return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))
      ? []
      : [`${here}: must be an integer or a string`];
  }
  switch (s.type) {
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${here}: must be an object`];
      const o = v as Record<string, unknown>;
      const errs = (s.required ?? []).filter((r) => o[r] === undefined).map((r) => `${p}.${r}: required`);
      for (const [k, val] of Object.entries(o)) {
        const child = s.properties?.[k];
        if (child !== undefined) errs.push(...conforms(child, val, `${p}.${k}`));
        else if (typeof s.additionalProperties === 'object')
          errs.push(...conforms(s.additionalProperties, val, `${p}.${k}`));
        else if (s['x-kubernetes-preserve-unknown-fields'] !== true) errs.push(`${p}.${k}: unknown field`);
      }
      return errs;
    }
    case 'array': {
      if (!Array.isArray(v)) return [`${here}: must be an array`];
      const items = s.items;
      return items === undefined ? [] : v.flatMap((x, i) => conforms(items, x, `${p}[${i}]`));
    }
    case 'string': {
      if (typeof v !== 'string') return [`${here}: must be a string`];
      const errs: string[] = [];
      if (s.enum !== undefined && !s.enum.includes(v))
        errs.push(
          `${here}: ${JSON.stringify(v)} is not one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`,
        );
      if (s.maxLength !== undefined && v.length > s.maxLength)
        errs.push(`${here}: longer than ${s.maxLength}`);
      return errs;
    }
    case 'integer': {
      if (typeof v !== 'number' || !Number.isInteger(v)) return [`${here}: must be an integer`];
      const errs: string[] = [];
      if (s.minimum !== undefined && v < s.minimum) errs.push(`${here}: below ${s.minimum}`);
      if (s.maximum !== undefined && v > s.maximum) errs.push(`${here}: above ${s.maximum}`);
      return errs;
    }
    case 'boolean':
      return typeof v === 'boolean' ? [] : [`${here}: must be a boolean`];
    default:
      return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Loose views of the objects (the schema check above has already reported shape problems).

interface Meta {
  name?: string;
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}
interface KubeObj {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  [k: string]: unknown;
}
interface Rule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs?: string[];
}
interface RoleBindingView extends KubeObj {
  roleRef?: { kind?: string; name?: string };
  subjects?: { kind?: string; name?: string; namespace?: string }[];
}
interface CrdVersionView {
  name?: string;
  served?: boolean;
  schema?: { openAPIV3Schema?: Schema };
}
interface CrdView extends KubeObj {
  spec?: { group?: string; names?: { kind?: string; plural?: string }; versions?: CrdVersionView[] };
}
interface ContainerView {
  name?: string;
  image?: string;
  ports?: { name?: string; containerPort?: number }[];
  resources?: { requests?: Record<string, string> };
}
interface DeploymentSpecView {
  selector?: { matchLabels?: Record<string, string> };
  template?: {
    metadata?: { labels?: Record<string, string> };
    spec?: { serviceAccountName?: string; containers?: ContainerView[]; initContainers?: ContainerView[] };
  };
}
interface CrdDescView {
  name?: string;
  version?: string;
  kind?: string;
  description?: string;
  specDescriptors?: { path?: string }[];
  statusDescriptors?: { path?: string }[];
}
interface WebhookView {
  generateName?: string;
  type?: string;
  deploymentName?: string;
  containerPort?: number;
  targetPort?: number | string;
  rules?: { apiGroups?: string[]; resources?: string[] }[];
  sideEffects?: string;
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
  [k: string]: unknown;
}
interface CsvView extends KubeObj {
  spec?: {
    version?: string;
    release?: string;
    minKubeVersion?: string;
    installModes?: { type?: string; supported?: boolean }[];
    customresourcedefinitions?: { owned?: CrdDescView[]; required?: CrdDescView[] };
    install?: {
      strategy?: string;
      spec?: {
        deployments?: { name?: string; spec?: DeploymentSpecView }[];
        permissions?: { serviceAccountName?: string; rules?: Rule[] }[];
        clusterPermissions?: { serviceAccountName?: string; rules?: Rule[] }[];
      };
    };
    webhookdefinitions?: WebhookView[];
    relatedImages?: { name?: string; image?: string }[];
    maintainers?: { name?: string; email?: string }[];
    provider?: { name?: string; url?: string };
    links?: { name?: string; url?: string }[];
    icon?: { base64data?: string; mediatype?: string }[];
  };
}

function isUrl(s: string | undefined): boolean {
  if (s === undefined) return false;
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The schema node at an OLM descriptor path (`a.b`, `a[0].b`) under `root`, or undefined. */
export function schemaAtPath(root: Schema | undefined, path: string): Schema | undefined {
  let s = root;
  for (const part of path.split('.')) {
    const m = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (m === null || s === undefined) return undefined;
    s = s.properties?.[m[1] ?? ''];
    const hops = (m[2] ?? '').match(/\[\d+\]/g)?.length ?? 0;
    for (let i = 0; i < hops && s !== undefined; i++) s = s.items;
  }
  return s;
}

function covers(rules: readonly Rule[], a: Access): boolean {
  return rules.some(
    (r) =>
      (r.apiGroups ?? []).some((g) => g === a.apiGroup || g === '*') &&
      (r.resources ?? []).some((x) => x === a.resource || x === '*') &&
      (r.verbs ?? []).some((v) => v === a.verb || v === '*') &&
      ((r.resourceNames ?? []).length === 0 ||
        (a.resourceName !== undefined && (r.resourceNames ?? []).includes(a.resourceName))),
  );
}

// ---------------------------------------------------------------------------------------------

export interface ValidateOptions {
  /** API calls the permissions must allow (default KGW_REQUIRED_ACCESS; [] to skip). */
  requiredAccess?: readonly Access[];
}

/** Every finding for the bundle in `dir` (the folder holding manifests/ and metadata/). */
export function validateBundle(dir: string, opts: ValidateOptions = {}): Finding[] {
  const out: Finding[] = [];
  const error = (check: string, message: string) => out.push({ level: 'error', check, message });
  const warn = (check: string, message: string) => out.push({ level: 'warning', check, message });

  // --- format: layout and annotations ------------------------------------------------------------
  const manifestsDir = join(dir, 'manifests');
  const metadataDir = join(dir, 'metadata');
  for (const d of [manifestsDir, metadataDir]) {
    if (!existsSync(d) || !statSync(d).isDirectory()) error('layout', `${relative(dir, d)}/ is missing`);
  }
  let annotations: Record<string, string> = {};
  const annotationsFile = ['annotations.yaml', 'annotations.yml']
    .map((f) => join(metadataDir, f))
    .find((f) => existsSync(f));
  if (annotationsFile === undefined) error('annotations', 'metadata/annotations.yaml is missing');
  else {
    try {
      const parsed = parse(readFileSync(annotationsFile, 'utf8')) as { annotations?: unknown } | null;
      const a = parsed?.annotations;
      if (typeof a !== 'object' || a === null || Array.isArray(a))
        error('annotations', 'no `annotations:` map');
      else {
        for (const [k, v] of Object.entries(a)) {
          if (typeof v !== 'string') error('annotations', `${k}: value must be a string`);
          else annotations[k] = v;
        }
      }
    } catch (e) {
      error('annotations', `does not parse: ${e instanceof Error ? e.message : String(e)}`);
      annotations = {};
    }
    const expect: Record<string, string> = {
      [REQUIRED_ANNOTATIONS.mediatype]: 'registry+v1',
      [REQUIRED_ANNOTATIONS.manifests]: 'manifests/',
      [REQUIRED_ANNOTATIONS.metadata]: 'metadata/',
    };
    for (const key of Object.values(REQUIRED_ANNOTATIONS)) {
      const v = annotations[key];
      if (v === undefined) error('annotations', `required annotation ${key} is missing`);
      else if (expect[key] !== undefined && v !== expect[key])
        error('annotations', `${key} is ${JSON.stringify(v)}, expected ${JSON.stringify(expect[key])}`);
      else if (v.trim() === '') error('annotations', `${key} is empty`);
    }
    const channels = (annotations[REQUIRED_ANNOTATIONS.channels] ?? '').split(',').map((c) => c.trim());
    if (channels.some((c) => c === '')) error('annotations', 'channels contain an empty name');
    const def = annotations[DEFAULT_CHANNEL_ANNOTATION];
    if (def !== undefined) {
      if (def.trim() === '') error('annotations', 'the default channel is empty');
      else if (!channels.includes(def))
        error('annotations', `default channel ${def} is not among the channels`);
    }
    for (const c of channels.filter((c) => c !== '')) {
      if (!CHANNEL_PREFIXES.some((p) => c.startsWith(p)))
        warn('good-practices', `channel ${c} does not start with ${CHANNEL_PREFIXES.join('/')}`);
    }
  }
  const depsFile = join(metadataDir, 'dependencies.yaml');
  if (existsSync(depsFile)) {
    try {
      parse(readFileSync(depsFile, 'utf8'));
    } catch (e) {
      error('dependencies', `metadata/dependencies.yaml does not parse: ${String(e)}`);
    }
  }

  // --- format: bundle.Dockerfile mirrors the annotations ------------------------------------------
  const dockerfile = join(dir, 'bundle.Dockerfile');
  if (existsSync(dockerfile)) {
    try {
      const st = stages(parseDockerfile(readFileSync(dockerfile, 'utf8')));
      if (st.length !== 1 || st[0]?.from !== 'scratch')
        error('bundle-dockerfile', 'must be one stage FROM scratch');
      const ins = st.flatMap((s) => s.instructions);
      const labels = new Map<string, string>();
      for (const l of ins.filter((i) => i.keyword === 'LABEL')) {
        for (const m of l.args.matchAll(/([^\s=]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
          const raw = m[2] ?? '';
          labels.set(m[1] ?? '', raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
        }
      }
      for (const [k, v] of Object.entries(annotations)) {
        if (labels.get(k) !== v)
          error('bundle-dockerfile', `LABEL ${k} must be ${JSON.stringify(v)} like annotations.yaml`);
      }
      for (const k of labels.keys()) {
        if (annotations[k] === undefined) error('bundle-dockerfile', `LABEL ${k} is not in annotations.yaml`);
      }
      const copies = ins.filter((i) => i.keyword === 'COPY').map((i) => i.args.replace(/\s+/g, ' '));
      for (const [src, dst] of [
        ['manifests', '/manifests/'],
        ['metadata', '/metadata/'],
      ]) {
        if (!copies.some((c) => new RegExp(`^${src}/? ${dst}$`).test(c)))
          error('bundle-dockerfile', `needs COPY ${src} ${dst}`);
      }
    } catch (e) {
      error('bundle-dockerfile', String(e));
    }
  }

  // --- content: manifests -------------------------------------------------------------------------
  const objects: { file: string; obj: KubeObj }[] = [];
  const files = existsSync(manifestsDir) ? readdirSync(manifestsDir).sort() : [];
  const allText: string[] = [];
  for (const f of files) {
    const p = join(manifestsDir, f);
    if (statSync(p).isDirectory()) {
      error('manifests', `manifests/${f}: sub-directories are not allowed`);
      continue;
    }
    if (!/\.(ya?ml|json)$/.test(f)) {
      error('manifests', `manifests/${f}: only YAML or JSON files`);
      continue;
    }
    const text = readFileSync(p, 'utf8');
    allText.push(text);
    const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
    if (docs.length !== 1) {
      error('manifests', `manifests/${f}: must hold exactly one object (has ${docs.length})`);
      continue;
    }
    const doc = docs[0];
    if (doc === undefined || doc.errors.length > 0) {
      error(
        'manifests',
        `manifests/${f}: does not parse: ${doc?.errors.map((e) => e.message).join('; ') ?? ''}`,
      );
      continue;
    }
    const o = doc.toJS() as KubeObj;
    if (
      typeof o?.apiVersion !== 'string' ||
      typeof o.kind !== 'string' ||
      typeof o.metadata?.name !== 'string'
    ) {
      error('manifests', `manifests/${f}: apiVersion, kind and metadata.name are required`);
      continue;
    }
    if (!SUPPORTED_KINDS.has(o.kind))
      error('supported-kinds', `manifests/${f}: kind ${o.kind} is not allowed in a bundle`);
    if (!DNS1123_SUBDOMAIN.test(o.metadata.name) || o.metadata.name.length > 253)
      error('object-meta', `manifests/${f}: metadata.name ${o.metadata.name} is not a DNS-1123 subdomain`);
    if (o.metadata.namespace !== undefined && o.kind !== 'ClusterServiceVersion')
      warn(
        'object-meta',
        `manifests/${f}: metadata.namespace is ignored (OLM installs into the operator namespace)`,
      );
    objects.push({ file: f, obj: o });
  }
  const gz = gzipSync(Buffer.from(allText.join('\n'))).length;
  if (gz > MAX_BUNDLE_GZIP_BYTES)
    error('size', `manifests are ${gz} bytes gzipped, over ${MAX_BUNDLE_GZIP_BYTES}`);
  else if (gz > MAX_BUNDLE_GZIP_BYTES * 0.85)
    warn('size', `manifests are ${gz} bytes gzipped, near the limit`);

  const csvs = objects.filter((o) => o.obj.kind === 'ClusterServiceVersion');
  if (csvs.length !== 1) {
    error('csv', `manifests/ must hold exactly one ClusterServiceVersion (has ${csvs.length})`);
    return out;
  }
  const csvEntry = csvs[0];
  if (csvEntry === undefined) return out;
  const csv = csvEntry.obj as CsvView;
  const crds = objects.filter((o) => o.obj.kind === 'CustomResourceDefinition').map((o) => o.obj as CrdView);

  // --- CSV schema ------------------------------------------------------------------------------------
  for (const m of conforms(CSV_SCHEMA, csv)) error('csv-schema', m);
  const spec = csv.spec ?? {};
  const name = csv.metadata?.name ?? '';

  // --- CSV name, version, annotations ----------------------------------------------------------------
  if (!LABEL_VALUE.test(name) || name.length > 63) error('csv-name', `${name} must be a valid label value`);
  const pkg = annotations[REQUIRED_ANNOTATIONS.package] ?? '';
  const nameMatch = /^(.+)\.v(.+)$/.exec(name);
  if (nameMatch === null || !SEMVER.test(nameMatch[2] ?? ''))
    warn('csv-name', `${name} is not <package>.v<semver>`);
  else {
    if (pkg !== '' && nameMatch[1] !== pkg)
      error('csv-name', `${name} does not start with the package name ${pkg}`);
    if (spec.version !== nameMatch[2])
      error(
        'csv-version',
        `spec.version ${spec.version ?? '(none)'} differs from the name's ${nameMatch[2] ?? ''}`,
      );
  }
  if (spec.version === undefined || !SEMVER.test(spec.version))
    error('csv-version', 'spec.version must be semver');
  if (spec.minKubeVersion === undefined) warn('min-kube-version', 'spec.minKubeVersion is not set');
  else if (!SEMVER.test(spec.minKubeVersion))
    error('min-kube-version', `${spec.minKubeVersion} is not semver`);
  const csvAnnotations = csv.metadata?.annotations ?? {};
  for (const key of Object.keys(csvAnnotations)) {
    const known = KNOWN_CSV_ANNOTATIONS.find((k) => k.toLowerCase() === key.toLowerCase());
    if (known !== undefined && known !== key)
      error('annotation-casing', `annotation ${key} must be spelled ${known}`);
  }

  // --- owned CRDs against the CRDs in manifests/ -------------------------------------------------------
  const owned = spec.customresourcedefinitions?.owned ?? [];
  const seen = new Set<string>();
  const crdByName = new Map(crds.map((c) => [c.metadata?.name ?? '', c]));
  for (const d of owned) {
    const key = `${d.name ?? ''}/${d.version ?? ''}/${d.kind ?? ''}`;
    if (seen.has(key)) error('owned-crds', `owned CRD ${key} is listed twice`);
    seen.add(key);
    const crd = crdByName.get(d.name ?? '');
    if (crd === undefined) {
      error('owned-crds', `owned CRD ${d.name ?? '(no name)'} is not in manifests/`);
      continue;
    }
    const version = crd.spec?.versions?.find((v) => v.name === d.version);
    if (version === undefined) error('owned-crds', `CRD ${d.name ?? ''} has no version ${d.version ?? ''}`);
    else if (version.served !== true)
      error('owned-crds', `CRD ${d.name ?? ''} version ${d.version ?? ''} is not served`);
    if (crd.spec?.names?.kind !== d.kind)
      error(
        'owned-crds',
        `CRD ${d.name ?? ''} has kind ${crd.spec?.names?.kind ?? ''}, the CSV says ${d.kind ?? ''}`,
      );
    if (`${crd.spec?.names?.plural ?? ''}.${crd.spec?.group ?? ''}` !== d.name)
      error('owned-crds', `CRD ${d.name ?? ''}: the name must be <plural>.<group>`);
    if ((d.description ?? '').trim() === '')
      warn('good-practices', `owned CRD ${d.name ?? ''} has no description`);
    const root = version?.schema?.openAPIV3Schema;
    for (const [section, list] of [
      ['spec', d.specDescriptors ?? []],
      ['status', d.statusDescriptors ?? []],
    ] as const) {
      for (const desc of list) {
        if (schemaAtPath(root?.properties?.[section], desc.path ?? '') === undefined)
          error(
            'descriptors',
            `${d.name ?? ''} ${section}Descriptor ${desc.path ?? ''} is not a field of the CRD schema`,
          );
      }
    }
  }
  for (const c of crds) {
    const n = c.metadata?.name ?? '';
    if (!owned.some((d) => d.name === n))
      error('owned-crds', `CRD ${n} in manifests/ is not owned by the CSV`);
  }

  // --- alm-examples ------------------------------------------------------------------------------------
  const examplesRaw = csvAnnotations['alm-examples'] ?? csvAnnotations['olm.examples'];
  if (examplesRaw === undefined) warn('alm-examples', 'no alm-examples annotation');
  else {
    let examples: unknown;
    try {
      examples = JSON.parse(examplesRaw);
    } catch (e) {
      error('alm-examples', `not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (examples !== undefined && !Array.isArray(examples)) error('alm-examples', 'must be a JSON array');
    else if (Array.isArray(examples)) {
      const covered = new Set<string>();
      examples.forEach((ex: unknown, i) => {
        const e = ex as KubeObj;
        const [group, version] = (e?.apiVersion ?? '').includes('/')
          ? (e.apiVersion ?? '').split('/')
          : ['', e?.apiVersion];
        const match = owned.find(
          (d) => d.kind === e?.kind && d.version === version && (d.name ?? '').endsWith(`.${group ?? ''}`),
        );
        if (typeof e?.metadata?.name !== 'string')
          error('alm-examples', `example ${i}: metadata.name is required`);
        if (match === undefined)
          error(
            'alm-examples',
            `example ${i}: ${e?.apiVersion ?? '?'} ${e?.kind ?? '?'} is not an owned API`,
          );
        else covered.add(match.name ?? '');
      });
      for (const d of owned) {
        if (!covered.has(d.name ?? '')) warn('alm-examples', `owned CRD ${d.name ?? ''} has no example`);
      }
    }
  }

  // --- install modes -------------------------------------------------------------------------------------
  const modes = spec.installModes ?? [];
  if (modes.length === 0) error('install-modes', 'spec.installModes is required');
  const modeTypes = modes.map((m) => m.type ?? '');
  for (const t of new Set(modeTypes)) {
    if (modeTypes.filter((x) => x === t).length > 1)
      error('install-modes', `install mode ${t} is listed twice`);
  }
  if (modes.length > 0 && !modes.some((m) => m.supported === true))
    error('install-modes', 'no install mode is supported');
  const webhooks = spec.webhookdefinitions ?? [];
  if (webhooks.some((w) => w.type === 'ConversionWebhook')) {
    const others = modes.filter((m) => m.type !== 'AllNamespaces' && m.supported === true);
    if (others.length > 0 || !modes.some((m) => m.type === 'AllNamespaces' && m.supported === true))
      error('install-modes', 'a CSV with conversion webhooks must support only AllNamespaces');
  }

  // --- install strategy ---------------------------------------------------------------------------------
  if (spec.install?.strategy !== 'deployment')
    error('install-strategy', 'install.strategy must be "deployment"');
  const deployments = spec.install?.spec?.deployments ?? [];
  if (deployments.length === 0) error('install-strategy', 'the install strategy has no deployment');
  const depNames = deployments.map((d) => d.name ?? '');
  for (const n of new Set(depNames)) {
    if (depNames.filter((x) => x === n).length > 1)
      error('install-strategy', `deployment ${n} is listed twice`);
    if (!DNS1123_SUBDOMAIN.test(n))
      error('install-strategy', `deployment name ${n} is not a DNS-1123 subdomain`);
  }
  const permissions = spec.install?.spec?.permissions ?? [];
  const clusterPermissions = spec.install?.spec?.clusterPermissions ?? [];
  const accounts = new Set([...permissions, ...clusterPermissions].map((p) => p.serviceAccountName ?? ''));
  const images: string[] = [];
  for (const d of deployments) {
    const ds = d.spec ?? {};
    const sel = ds.selector?.matchLabels ?? {};
    const podLabels = ds.template?.metadata?.labels ?? {};
    if (Object.keys(sel).length === 0)
      error('install-strategy', `deployment ${d.name ?? ''}: selector.matchLabels is empty`);
    for (const [k, v] of Object.entries(sel)) {
      if (podLabels[k] !== v)
        error('install-strategy', `deployment ${d.name ?? ''}: pod template lacks selector label ${k}=${v}`);
    }
    const sa = ds.template?.spec?.serviceAccountName ?? 'default';
    if (!accounts.has(sa))
      error(
        'install-strategy',
        `deployment ${d.name ?? ''} runs as ServiceAccount ${sa}, which no permission grants anything`,
      );
    const containers = [
      ...(ds.template?.spec?.containers ?? []),
      ...(ds.template?.spec?.initContainers ?? []),
    ];
    if (containers.length === 0) error('install-strategy', `deployment ${d.name ?? ''} has no containers`);
    for (const c of containers) {
      if (c.image === undefined || !IMAGE_REF.test(c.image))
        error(
          'install-strategy',
          `deployment ${d.name ?? ''} container ${c.name ?? ''}: image ${c.image ?? '(none)'} is not a valid reference`,
        );
      else images.push(c.image);
      const req = c.resources?.requests ?? {};
      if (req.cpu === undefined || req.memory === undefined)
        warn(
          'good-practices',
          `deployment ${d.name ?? ''} container ${c.name ?? ''} has no CPU/memory requests`,
        );
    }
  }

  // --- webhook definitions ------------------------------------------------------------------------------
  const generateNames = new Set<string>();
  for (const w of webhooks) {
    const id = `webhook ${w.generateName ?? '(no generateName)'}`;
    if (w.generateName !== undefined) {
      if (generateNames.has(w.generateName)) error('webhooks', `${id} is defined twice`);
      generateNames.add(w.generateName);
      if (!DNS1123_SUBDOMAIN.test(w.generateName) || w.generateName.split('.').length < 3)
        error('webhooks', `${id}: the name must be a fully qualified DNS name with at least three segments`);
    }
    const dep = deployments.find((d) => d.name === w.deploymentName);
    if (dep === undefined)
      error(
        'webhooks',
        `${id}: deploymentName ${w.deploymentName ?? '(none)'} is not an install-strategy deployment`,
      );
    else if (w.targetPort !== undefined) {
      const ports = (dep.spec?.template?.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
      if (!ports.some((p) => p.containerPort === w.targetPort || p.name === w.targetPort))
        error(
          'webhooks',
          `${id}: targetPort ${String(w.targetPort)} is not a container port of ${dep.name ?? ''}`,
        );
    }
    if (
      w.type !== 'ConversionWebhook' &&
      (w.sideEffects === undefined || !['None', 'NoneOnDryRun'].includes(w.sideEffects))
    )
      error('webhooks', `${id}: sideEffects must be None or NoneOnDryRun for admissionregistration/v1`);
    if (!(w.admissionReviewVersions ?? []).includes('v1'))
      error('webhooks', `${id}: admissionReviewVersions must include v1`);
    if (w.timeoutSeconds !== undefined && (w.timeoutSeconds < 1 || w.timeoutSeconds > 30))
      error('webhooks', `${id}: timeoutSeconds must be 1-30`);
    for (const k of ['namespaceSelector', 'matchConditions']) {
      if (w[k] !== undefined)
        error('webhooks', `${id}: ${k} is not a webhookdefinitions field (OLM drops it)`);
    }
    for (const r of w.rules ?? []) {
      for (const g of r.apiGroups ?? []) {
        if (g === '*' || g === 'operators.coreos.com')
          error('webhooks', `${id}: OLM refuses rules on API group ${g}`);
        if (
          g === 'admissionregistration.k8s.io' &&
          (r.resources ?? []).some((x) => x === '*' || /webhookconfigurations/.test(x))
        )
          error('webhooks', `${id}: OLM refuses rules on webhook configurations`);
      }
    }
  }

  // --- related images -------------------------------------------------------------------------------
  const related = spec.relatedImages ?? [];
  const relatedNames = related.map((r) => r.name ?? '');
  for (const n of new Set(relatedNames)) {
    if (relatedNames.filter((x) => x === n).length > 1)
      error('related-images', `related image ${n} is listed twice`);
  }
  for (const r of related) {
    const m = IMAGE_REF.exec(r.image ?? '');
    if (m === null)
      error('related-images', `${r.name ?? ''}: ${r.image ?? '(none)'} is not an image reference`);
    else if (m[1] === undefined && m[2] === undefined)
      error('related-images', `${r.name ?? ''}: ${r.image ?? ''} has neither tag nor digest`);
    else if (m[1] === 'latest' && m[2] === undefined)
      error('related-images', `${r.name ?? ''}: ${r.image ?? ''} uses the latest tag`);
  }
  for (const img of images) {
    if (!related.some((r) => r.image === img))
      error('related-images', `deployment image ${img} is not in relatedImages`);
  }

  // --- service accounts and permissions ---------------------------------------------------------------
  for (const o of objects.filter((x) => x.obj.kind === 'ServiceAccount')) {
    if (accounts.has(o.obj.metadata?.name ?? ''))
      error(
        'service-accounts',
        `manifests/${o.file}: ServiceAccount ${o.obj.metadata?.name ?? ''} duplicates the install strategy's`,
      );
  }
  // Bundle RoleBindings (OLM creates them in the install namespace) grant the rules of the bundle
  // (Cluster)Role they name to a ServiceAccount of the install strategy, in that namespace only.
  const bundleRoles = new Map(
    objects
      .filter((o) => o.obj.kind === 'ClusterRole' || o.obj.kind === 'Role')
      .map((o) => [`${o.obj.kind}/${o.obj.metadata?.name ?? ''}`, (o.obj.rules as Rule[] | undefined) ?? []]),
  );
  const allRules = [
    ...[...permissions, ...clusterPermissions].flatMap((p) => p.rules ?? []),
    ...[...bundleRoles.values()].flat(),
  ];
  for (const r of allRules) {
    const what = `rule ${JSON.stringify({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs })}`;
    if ([...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])].includes('*'))
      error('least-privilege', `${what} uses a wildcard`);
    if (
      (r.apiGroups ?? []).includes('apiextensions.k8s.io') &&
      (r.resources ?? []).includes('customresourcedefinitions') &&
      (r.verbs ?? []).some((v) => v === 'create' || v === 'patch')
    )
      warn('good-practices', `${what} may create or patch CRDs`);
    if (
      (r.resources ?? []).some(
        (x) => x === 'clusterroles' || x === 'clusterrolebindings' || x === 'roles' || x === 'rolebindings',
      ) &&
      (r.verbs ?? []).some((v) => ['create', 'update', 'patch', 'bind', 'escalate'].includes(v))
    )
      error('least-privilege', `${what} can grant permissions`);
  }
  const clusterRules = clusterPermissions.flatMap((p) => p.rules ?? []);
  const boundRules: Rule[] = [];
  for (const o of objects.filter((x) => x.obj.kind === 'RoleBinding')) {
    const rb = o.obj as RoleBindingView;
    const rules = bundleRoles.get(`${rb.roleRef?.kind ?? ''}/${rb.roleRef?.name ?? ''}`);
    if (rules === undefined) {
      error(
        'rbac',
        `manifests/${o.file}: roleRef ${rb.roleRef?.kind ?? ''} ${rb.roleRef?.name ?? ''} is not in the bundle`,
      );
      continue;
    }
    const toOperator = (rb.subjects ?? []).some(
      (x) => x.kind === 'ServiceAccount' && accounts.has(x.name ?? '') && x.namespace === undefined,
    );
    if (!toOperator)
      error(
        'rbac',
        `manifests/${o.file}: binds no ServiceAccount of the install strategy (a subject without a namespace, ` +
          'so it is the install namespace)',
      );
    else boundRules.push(...rules);
  }
  for (const a of opts.requiredAccess ?? KGW_REQUIRED_ACCESS) {
    const ok =
      covers(clusterRules, a) ||
      (a.scope === 'namespace' && covers([...permissions.flatMap((p) => p.rules ?? []), ...boundRules], a));
    if (!ok)
      error(
        'permissions',
        `no permission allows ${a.verb} ${a.apiGroup === '' ? '' : `${a.apiGroup}/`}${a.resource}${a.resourceName !== undefined ? ` ${a.resourceName}` : ''} (${a.by})`,
      );
  }

  // --- catalog metadata (operatorhub checks) -----------------------------------------------------------
  if ((spec.provider?.name ?? '').trim() === '') error('catalog', 'spec.provider.name is required');
  const maintainers = spec.maintainers ?? [];
  if (maintainers.length === 0) error('catalog', 'spec.maintainers is empty');
  for (const m of maintainers) {
    if ((m.name ?? '').trim() === '') error('catalog', 'a maintainer has no name');
    if (!EMAIL.test(m.email ?? ''))
      error('catalog', `maintainer ${m.name ?? ''}: ${m.email ?? '(none)'} is not an email address`);
  }
  for (const l of spec.links ?? []) {
    if ((l.name ?? '').trim() === '' || !isUrl(l.url))
      error('catalog', `link ${l.name ?? ''}: needs a name and an http(s) URL`);
  }
  const icons = spec.icon ?? [];
  if (icons.length !== 1) error('catalog', `spec.icon must have exactly one entry (has ${icons.length})`);
  for (const i of icons) {
    if ((i.base64data ?? '') === '' || Buffer.from(i.base64data ?? '', 'base64').length === 0)
      error('catalog', 'the icon has no data');
    if (!/^image\/(svg\+xml|png|jpeg|gif)$/.test(i.mediatype ?? ''))
      error('catalog', `icon mediatype ${i.mediatype ?? ''} is not an image type`);
  }
  return out;
}
