// Installs CRDs into a test apiserver: our own minimal Knative CRDs (test/env/crds/knative) and
// kgw's generated CRDs (<repo>/crds/*.yaml, which may not exist yet).
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { applyManifests, loadManifests } from './manifests.ts';
import { testEnvDir } from './paths.ts';

/** Folder of the minimal Knative CRDs shipped with the test env. */
export const knativeCRDDir = join(testEnvDir, 'crds', 'knative');

/** Folder of the minimal Knative Operator CRD (KnativeServing), installed only on request. */
export const knativeOperatorCRDDir = join(testEnvDir, 'crds', 'knative-operator');

/** Folder where kgw's own generated CRDs live (repository root `crds/`). */
export const kgwCRDDir = resolve(testEnvDir, '..', '..', 'crds');

/** Names of the Knative CRDs installKnativeCRDs() installs. */
export function knativeCRDNames(): string[] {
  return loadManifests(knativeCRDDir).map((o) => o.metadata?.name ?? '');
}

/** Applies the minimal Knative CRDs (KIngress, KCertificate, ClusterDomainClaim, SKS, DomainMapping) and waits for Established. */
export async function installKnativeCRDs(kc: KubeConfig): Promise<KubernetesObject[]> {
  return applyManifests(kc, knativeCRDDir);
}

/** Applies the minimal KnativeServing CRD (operator.knative.dev/v1beta1) and waits for Established. */
export async function installKnativeOperatorCRDs(kc: KubeConfig): Promise<KubernetesObject[]> {
  return applyManifests(kc, knativeOperatorCRDDir);
}

/** Applies every *.yaml in `dir` (default: the repository's crds/) and waits for its CRDs; [] if there are none. */
export async function installKgwCRDs(kc: KubeConfig, dir: string = kgwCRDDir): Promise<KubernetesObject[]> {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
  if (files.length === 0) return [];
  return applyManifests(kc, files);
}
