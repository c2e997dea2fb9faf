// kgw's own checks of its OLM bundle (registry+v1), for what operator-framework's validators and
// the apiserver do not check. The bundle is validated by:
//   - operator-framework's validators (bundle.olm-validate.test.ts: operator-registry's format and
//     content checks, operator-framework/api's bundle, CSV, CRD, operatorhub, good-practices …):
//     the layout and annotations.yaml keys, supported kinds, object metadata, bundle size, the CSV's
//     name, required fields, minKubeVersion, annotation casing, owned CRDs against the CRDs shipped,
//     alm-examples, install modes, a ServiceAccount duplicating the CSV's, catalog metadata
//     (provider, maintainers, links, icon); warnings for channel names, CRD descriptions, resource
//     requests, permission to create CRDs;
//   - the apiserver (bundle.apiserver.test.ts): the CSV against OLM's own CSV CRD with strict field
//     validation (unknown fields, types, required fields), the CRDs and alm-examples, the
//     Deployment, Roles and ServiceAccount OLM makes from the install strategy, the webhook Service
//     and configurations (names, sideEffects, timeouts, failure policies);
//   - this module and bundle-rbac-check.ts, for what neither checks (each broken on purpose in
//     bundle-check.test.ts / bundle-rbac-check.test.ts; the validators pass these broken copies):
//     annotations.yaml's manifests/metadata directories, an empty package or channel name, a
//     default channel that is not a channel; bundle.Dockerfile mirroring annotations.yaml; one
//     object per manifest file (the loader keeps only the first); the CSV named
//     <package>.v<spec.version> with a semver version; owned CRD versions served; descriptor paths
//     that are fields of the CRD schema; install modes known and listed once; a `deployment`
//     install strategy with at least one, uniquely named deployment; webhook definitions: unique
//     names, served by an install-strategy deployment on one of its container ports, AdmissionReview
//     v1, no rules OLM refuses; image references (tag or digest, not `latest`, every deployment
//     image in relatedImages, related image names unique); and the RBAC checks of
//     bundle-rbac-check.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { parseDockerfile, stages } from './dockerfile.ts';
import type { Schema } from './schema.ts';
import {
  KGW_REQUIRED_ACCESS,
  checkRbac,
  type Access,
  type BundleManifest,
  type Finding,
  type StrategyView,
} from './bundle-rbac-check.ts';

export type { Finding } from './bundle-rbac-check.ts';

const ANNOTATION = 'operators.operatorframework.io.bundle';
const INSTALL_MODES = ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'];
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** Docker reference grammar (distribution/reference): groups 1 tag, 2 digest. */
const IMAGE_REF =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

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

// Loose views of what these checks read (the validators and the CSV CRD check the shapes).
interface Manifest extends Record<string, unknown> {
  kind?: string;
  metadata?: { name?: string };
}
interface CrdView extends Manifest {
  spec?: { versions?: { name?: string; served?: boolean; schema?: { openAPIV3Schema?: Schema } }[] };
}
interface ContainerView {
  name?: string;
  image?: string;
  ports?: { name?: string; containerPort?: number }[];
}
interface DeploymentView {
  name?: string;
  spec?: {
    template?: {
      spec?: { serviceAccountName?: string; containers?: ContainerView[]; initContainers?: ContainerView[] };
    };
  };
}
interface CsvView extends Manifest {
  spec?: {
    version?: string;
    installModes?: { type?: string }[];
    customresourcedefinitions?: {
      owned?: {
        name?: string;
        version?: string;
        specDescriptors?: { path?: string }[];
        statusDescriptors?: { path?: string }[];
      }[];
    };
    install?: {
      strategy?: string;
      spec?: Omit<StrategyView, 'deployments'> & { deployments?: DeploymentView[] };
    };
    webhookdefinitions?: {
      generateName?: string;
      deploymentName?: string;
      targetPort?: number | string;
      admissionReviewVersions?: string[];
      rules?: { apiGroups?: string[]; resources?: string[] }[];
    }[];
    relatedImages?: { name?: string; image?: string }[];
  };
}

/** annotations.yaml and bundle.Dockerfile: what operator-registry's format check leaves out. */
function checkMetadata(
  dir: string,
  annotations: Record<string, string>,
  error: (c: string, m: string) => void,
) {
  for (const [key, want] of [
    ['manifests.v1', 'manifests/'],
    ['metadata.v1', 'metadata/'],
  ] as const) {
    const v = annotations[`${ANNOTATION}.${key}`];
    if (v !== undefined && v !== want)
      error('annotations', `${ANNOTATION}.${key} is ${JSON.stringify(v)}, not ${want}`);
  }
  if (annotations[`${ANNOTATION}.package.v1`]?.trim() === '')
    error('annotations', 'the package name is empty');
  const channels = (annotations[`${ANNOTATION}.channels.v1`] ?? '').split(',').map((c) => c.trim());
  if (channels.includes('')) error('annotations', 'channels contain an empty name');
  const def = annotations[`${ANNOTATION}.channel.default.v1`];
  if (def !== undefined && def !== '' && !channels.includes(def))
    error('annotations', `default channel ${def} is not among the channels`);

  const dockerfile = join(dir, 'bundle.Dockerfile');
  if (!existsSync(dockerfile)) return;
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

/** The manifests, one object per file (operator-registry's loader silently keeps the first). */
function loadManifests(dir: string, error: (c: string, m: string) => void): BundleManifest[] {
  const manifestsDir = join(dir, 'manifests');
  const out: BundleManifest[] = [];
  for (const file of existsSync(manifestsDir) ? readdirSync(manifestsDir).sort() : []) {
    const p = join(manifestsDir, file);
    if (!/\.(ya?ml|json)$/.test(file) || statSync(p).isDirectory()) continue; // the loader refuses these
    const docs = parseAllDocuments(readFileSync(p, 'utf8')).filter((d) => d.contents !== null);
    if (docs.length !== 1)
      error('manifests', `manifests/${file}: must hold exactly one object (has ${docs.length})`);
    const doc = docs[0];
    if (doc === undefined || doc.errors.length > 0) continue;
    out.push({ file, obj: doc.toJS() as BundleManifest['obj'] });
  }
  return out;
}

function duplicates(names: readonly string[]): string[] {
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
}

/** The CSV's own consistency: name, owned CRDs against the CRDs, install strategy, webhooks, images. */
function checkCsv(
  csv: CsvView,
  crds: readonly CrdView[],
  pkg: string,
  error: (c: string, m: string) => void,
) {
  const spec = csv.spec ?? {};
  const name = csv.metadata?.name ?? '';
  if (spec.version === undefined || !SEMVER.test(spec.version))
    error('csv-version', 'spec.version must be semver');
  else if (name !== `${pkg}.v${spec.version}`)
    error('csv-version', `the CSV is named ${name}, not ${pkg}.v${spec.version} (<package>.v<spec.version>)`);

  for (const d of spec.customresourcedefinitions?.owned ?? []) {
    const version = crds
      .find((c) => c.metadata?.name === d.name)
      ?.spec?.versions?.find((v) => v.name === d.version);
    if (version === undefined) continue; // the validators report owned CRDs the bundle lacks
    if (version.served !== true)
      error('owned-crds', `CRD ${d.name ?? ''} version ${d.version ?? ''} is not served`);
    const root = version.schema?.openAPIV3Schema;
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
  const modes = (spec.installModes ?? []).map((m) => m.type ?? '');
  for (const t of duplicates(modes)) error('install-modes', `install mode ${t} is listed twice`);
  for (const t of modes.filter((m) => !INSTALL_MODES.includes(m)))
    error('install-modes', `install mode ${t} is not one of ${INSTALL_MODES.join(', ')}`);

  if (spec.install?.strategy !== 'deployment')
    error('install-strategy', 'install.strategy must be "deployment"');
  const deployments = spec.install?.spec?.deployments ?? [];
  if (deployments.length === 0) error('install-strategy', 'the install strategy has no deployment');
  for (const n of duplicates(deployments.map((d) => d.name ?? '')))
    error('install-strategy', `deployment ${n} is listed twice`);

  const webhookNames = (spec.webhookdefinitions ?? []).map((w) => w.generateName ?? '');
  for (const n of duplicates(webhookNames)) error('webhooks', `webhook ${n} is defined twice`);
  for (const w of spec.webhookdefinitions ?? []) {
    const id = `webhook ${w.generateName ?? ''}`;
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
    if (!(w.admissionReviewVersions ?? []).includes('v1'))
      error('webhooks', `${id}: admissionReviewVersions must include v1`);
    for (const r of w.rules ?? []) {
      for (const g of r.apiGroups ?? []) {
        if (g === '*' || g === 'operators.coreos.com')
          error('webhooks', `${id}: OLM refuses rules on API group ${g}`);
        if (
          g === 'admissionregistration.k8s.io' &&
          (r.resources ?? []).some((x) => x === '*' || x.includes('webhookconfigurations'))
        )
          error('webhooks', `${id}: OLM refuses rules on webhook configurations`);
      }
    }
  }

  const related = spec.relatedImages ?? [];
  for (const n of duplicates(related.map((r) => r.name ?? '')))
    error('related-images', `related image ${n} is listed twice`);
  for (const r of related) {
    const m = IMAGE_REF.exec(r.image ?? '');
    if (m === null)
      error('related-images', `${r.name ?? ''}: ${r.image ?? '(none)'} is not an image reference`);
    else if (m[1] === undefined && m[2] === undefined)
      error('related-images', `${r.name ?? ''}: ${r.image ?? ''} has neither tag nor digest`);
    else if (m[1] === 'latest' && m[2] === undefined)
      error('related-images', `${r.name ?? ''}: ${r.image ?? ''} uses the latest tag`);
  }
  for (const d of deployments) {
    const pod = d.spec?.template?.spec;
    for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
      if (c.image === undefined || !IMAGE_REF.test(c.image))
        error(
          'images',
          `deployment ${d.name ?? ''} container ${c.name ?? ''}: ${c.image ?? '(none)'} is not an image reference`,
        );
      else if (!related.some((r) => r.image === c.image))
        error('related-images', `deployment image ${c.image} is not in relatedImages`);
    }
  }
}

export interface CheckOptions {
  /** API calls the permissions must allow (default KGW_REQUIRED_ACCESS; [] to skip). */
  requiredAccess?: readonly Access[];
}

/** kgw's own findings for the bundle in `dir` (the folder holding manifests/ and metadata/). */
export function checkBundle(dir: string, opts: CheckOptions = {}): Finding[] {
  const out: Finding[] = [];
  const error = (check: string, message: string) => out.push({ check, message });

  let annotations: Record<string, string> = {};
  const annotationsFile = join(dir, 'metadata', 'annotations.yaml');
  if (existsSync(annotationsFile)) {
    const parsed = parse(readFileSync(annotationsFile, 'utf8')) as {
      annotations?: Record<string, string>;
    } | null;
    annotations = parsed?.annotations ?? {};
  }
  checkMetadata(dir, annotations, error);

  const manifests = loadManifests(dir, error);
  const csvs = manifests.filter((m) => m.obj.kind === 'ClusterServiceVersion');
  const csvObj = csvs.length === 1 ? csvs[0]?.obj : undefined;
  if (csvObj === undefined) return out; // the validators refuse a bundle without exactly one CSV
  const csv = csvObj as CsvView;
  const crds = manifests
    .filter((m) => m.obj.kind === 'CustomResourceDefinition')
    .map((m) => m.obj as CrdView);
  checkCsv(csv, crds, annotations[`${ANNOTATION}.package.v1`] ?? '', error);
  out.push(
    ...checkRbac(
      csv.spec?.install?.spec ?? {},
      manifests.filter((m) => m.obj.kind !== 'ClusterServiceVersion'),
      opts.requiredAccess ?? KGW_REQUIRED_ACCESS,
    ),
  );
  return out;
}
