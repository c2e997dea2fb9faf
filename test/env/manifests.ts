// Applies manifests (YAML/JSON files, folders of them, or objects) to a test apiserver with
// server-side apply, and waits for CustomResourceDefinitions to be Established. CRDs in a batch are
// applied first and waited for, so one call can install CRDs and their custom resources.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeRequest, ResourceResolver, UnknownKindError } from './kube-http.ts';
import { waitUntil } from './proc.ts';

export interface ApplyOptions {
  /** Field manager of the server-side apply (default `kgw-test-env`). */
  fieldManager?: string;
  /** Bound for waiting on CRDs and on discovery of new kinds (default 30 s). */
  timeoutMs?: number;
}

/**
 * A manifest file, a folder of *.yaml/*.yml/*.json files (sorted by name), or an object with
 * apiVersion, kind and metadata.name (a plain value or a typed model such as @kubernetes-models'
 * classes; it is sent as its JSON).
 */
export type ManifestSource = string | object;

/** Reads every object from YAML/JSON files and folders; `kind: List` is flattened, empty docs skipped. */
export function loadManifests(sources: ManifestSource | ManifestSource[]): KubernetesObject[] {
  const list: ManifestSource[] = Array.isArray(sources) ? (sources as ManifestSource[]) : [sources];
  const out: KubernetesObject[] = [];
  for (const src of list) {
    if (typeof src !== 'string') {
      out.push(...flatten(src));
      continue;
    }
    const files = statSync(src).isDirectory()
      ? readdirSync(src)
          .filter((f) => /\.(ya?ml|json)$/.test(f))
          .sort()
          .map((f) => join(src, f))
      : [src];
    for (const file of files) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
        const value: unknown = doc.toJS();
        if (value === null || value === undefined) continue;
        if (typeof value !== 'object' || Array.isArray(value))
          throw new Error(`${file}: a document is not an object`);
        out.push(...flatten(value));
      }
    }
  }
  return out;
}

function flatten(obj: KubernetesObject): KubernetesObject[] {
  const items = (obj as { items?: unknown }).items;
  if (obj.kind === 'List' && Array.isArray(items))
    return items.flatMap((i) => flatten(i as KubernetesObject));
  return [obj];
}

function isCRD(o: KubernetesObject): boolean {
  return o.kind === 'CustomResourceDefinition' && (o.apiVersion ?? '').startsWith('apiextensions.k8s.io/');
}

/**
 * Server-side applies every object (force, so the test env owns the fields it sets). Namespaces and
 * CRDs go first; CRDs are waited for (Established) before the rest. Returns the applied objects as
 * the server answered them.
 */
export async function applyManifests(
  kc: KubeConfig,
  sources: ManifestSource | ManifestSource[],
  opts: ApplyOptions = {},
): Promise<KubernetesObject[]> {
  const objects = loadManifests(sources);
  const first = objects.filter((o) => isCRD(o) || o.kind === 'Namespace');
  const rest = objects.filter((o) => !first.includes(o));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const applied: KubernetesObject[] = [];
  const fieldManager = encodeURIComponent(opts.fieldManager ?? 'kgw-test-env');
  let resolver = new ResourceResolver(kc);
  const applyOne = async (o: KubernetesObject): Promise<KubernetesObject> => {
    const ns = o.metadata?.namespace;
    const what = `apply ${o.apiVersion}/${o.kind} ${ns ?? ''}/${o.metadata?.name ?? ''}`;
    if (o.apiVersion === undefined || o.kind === undefined || o.metadata?.name === undefined) {
      throw new Error(`${what}: apiVersion, kind and metadata.name are required`);
    }
    const { apiVersion, kind } = o;
    const name = o.metadata.name;
    try {
      // a kind whose CRD was just established may take a moment to appear in discovery
      const path = await waitUntil(
        what,
        async () => {
          try {
            return await resolver.objectPath(apiVersion, kind, ns, name);
          } catch (err) {
            if (err instanceof UnknownKindError) resolver = new ResourceResolver(kc); // fresh discovery
            throw err;
          }
        },
        { timeoutMs, intervalMs: 100, retryIf: (err) => err instanceof UnknownKindError },
      );
      const res = await kubeRequest(
        kc,
        'PATCH',
        `${path}?fieldManager=${fieldManager}&force=true`,
        o,
        'application/apply-patch+yaml',
      );
      return res.json as KubernetesObject;
    } catch (err) {
      throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  for (const o of first) applied.push(await applyOne(o));
  const crdNames = first.filter(isCRD).map((o) => o.metadata?.name ?? '');
  if (crdNames.length > 0) await waitForCRDs(kc, crdNames, { timeoutMs });
  for (const o of rest) applied.push(await applyOne(o));
  return applied;
}

/** Polls until every named CRD has condition Established=True (bounded, default 30 s). */
export async function waitForCRDs(
  kc: KubeConfig,
  names: string[],
  opts: { timeoutMs?: number } = {},
): Promise<void> {
  if (names.length === 0) return;
  const api = kc.makeApiClient(ApiextensionsV1Api);
  let pending = [...names];
  await waitUntil(
    `CRDs established: ${names.join(', ')}`,
    async () => {
      const list = await api.listCustomResourceDefinition({});
      const established = new Set(
        list.items
          .filter((c) => c.status?.conditions?.some((k) => k.type === 'Established' && k.status === 'True'))
          .map((c) => c.metadata?.name),
      );
      pending = names.filter((n) => !established.has(n));
      if (pending.length > 0) throw new Error(`not yet established: ${pending.join(', ')}`);
      return true;
    },
    { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 50 },
  );
}
