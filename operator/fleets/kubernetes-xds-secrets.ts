// The xDS client-certificate Secrets of a gateway's Kubernetes fleets: one `kubernetes.io/tls`
// Secret per fleet (its certificate and key, and the CA bundle that verifies the xDS server),
// labelled and owned like the other fleet objects, in the fleet's namespace where its pods mount
// it. Applied with server-side apply; a Secret of that name that kgw did not create (no
// managed-by=kgw label) is left alone and reported, never overwritten.
import { encodeSecretData } from '../api/core.ts';
import {
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  fleetLabels,
  fleetXdsCluster,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { ApiError, getIfExists } from '../kube/rest.ts';
import type { XdsTls } from '../pki/xds-tls.ts';
import { fleetXdsClientSecretName } from './fleet-names.ts';
import type { ApplyProblem, KubeClient } from './kubernetes-apply.ts';
import { gatewayOwnerReference } from './kubernetes-objects.ts';

/** Where the client certificates come from (the operator's xDS PKI). */
export type XdsClientCertificates = Pick<XdsTls, 'client' | 'trustBundle'>;

/** The xDS client-certificate Secret of every fleet (none without `tls`). */
export async function xdsClientSecrets(
  tls: { material: XdsClientCertificates } | undefined,
  gw: KnativeGateway,
  rendered: readonly { fleet: string; namespace: string }[],
): Promise<Record<string, unknown>[]> {
  if (!tls) return [];
  const out: Record<string, unknown>[] = [];
  for (const fo of rendered) {
    const c = await tls.material.client(fleetXdsCluster(gw.metadata.name, fo.fleet));
    out.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: fleetXdsClientSecretName(gw.metadata.name, fo.fleet),
        namespace: fo.namespace,
        labels: fleetLabels(gw.metadata.name, fo.fleet),
        ownerReferences: [gatewayOwnerReference(gw)],
      },
      data: encodeSecretData({
        'tls.crt': c.certPem,
        'tls.key': c.keyPem,
        'ca.crt': tls.material.trustBundle(),
      }),
    });
  }
  return out;
}

/**
 * Applies the client Secrets (in the fleet's namespace, where its pods mount them); one that
 * exists without kgw's labels is left alone and reported.
 */
export async function applyXdsClientSecrets(
  rest: KubeClient,
  secrets: Record<string, unknown>[],
): Promise<ApplyProblem[]> {
  const problems: ApplyProblem[] = [];
  for (const sec of secrets) {
    const meta = sec.metadata as { name: string; namespace: string; labels: Record<string, string> };
    const ref = { apiVersion: 'v1', kind: 'Secret', namespace: meta.namespace, name: meta.name };
    const path = `/api/v1/namespaces/${meta.namespace}/secrets/${meta.name}`;
    try {
      const cur = await getIfExists<{ metadata?: { labels?: Record<string, string> } }>(rest, path);
      if (cur && cur.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
        problems.push({
          ref,
          reason: 'NotOwned',
          message:
            `Secret ${meta.namespace}/${meta.name} already exists and is not kgw's; kgw leaves it untouched ` +
            `and the fleet's Envoys cannot get their xDS client certificate`,
        });
        continue;
      }
      await rest.request('PATCH', path, sec, 'application/apply-patch+yaml', {
        fieldManager: 'kgw',
        force: true,
      });
    } catch (err) {
      problems.push({
        ref,
        reason: 'ApplyFailed',
        message: err instanceof Error ? err.message : String(err),
        ...(err instanceof ApiError ? { status: err.status } : {}),
      });
    }
  }
  return problems;
}
