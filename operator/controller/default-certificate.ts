// The default (fallback) certificate of a KnativeGateway (`spec.tls.defaultCertificate`): kgw asks
// cert-manager for it with a Certificate `kgw-<gateway>-default-tls` in the gateway's namespace
// (issuer: the DNS-01 ClusterIssuer named; owned by the gateway), whose Secret of the same name the
// fleets named serve as the HTTPS listener's fallback chain over SDS. A Certificate of that name
// kgw did not create is left alone and reported.
import {
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  withGatewayDefaults,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { gatewayOwnerReference } from '../fleets/kubernetes-objects.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';

export const CERT_MANAGER_CERTIFICATES = '/apis/cert-manager.io/v1';

export function defaultCertificateName(gateway: string): string {
  return `kgw-${gateway}-default-tls`;
}

/** `<namespace>/<name>` of the default certificate's Secret, when the gateway asks for one. */
export function defaultCertificateSecret(
  gw: KnativeGateway,
): { secret: string; fleets: string[] } | undefined {
  const spec = withGatewayDefaults(gw.spec);
  const dc = spec.tls.defaultCertificate;
  if (!dc) return undefined;
  return { secret: `${spec.namespace}/${defaultCertificateName(gw.metadata.name)}`, fleets: dc.fleets };
}

/** The cert-manager Certificate kgw wants for the gateway (undefined: none). */
export function desiredDefaultCertificate(gw: KnativeGateway): Record<string, unknown> | undefined {
  const spec = withGatewayDefaults(gw.spec);
  const dc = spec.tls.defaultCertificate;
  if (!dc) return undefined;
  const name = defaultCertificateName(gw.metadata.name);
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: {
      name,
      namespace: spec.namespace,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY_KGW, [LABEL_GATEWAY]: gw.metadata.name },
      ownerReferences: [gatewayOwnerReference(gw)],
    },
    spec: {
      secretName: name,
      dnsNames: dc.dnsNames,
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: dc.issuer.name },
    },
  };
}

/** Applies the Certificate (server-side apply); returns a problem to report, if any. */
export async function applyDefaultCertificate(
  rest: Pick<KubeRest, 'request'>,
  gw: KnativeGateway,
): Promise<string | undefined> {
  const want = desiredDefaultCertificate(gw);
  if (!want) return undefined;
  const meta = want.metadata as { name: string; namespace: string };
  const path = `${CERT_MANAGER_CERTIFICATES}/namespaces/${meta.namespace}/certificates/${meta.name}`;
  try {
    const cur = await rest
      .request<{ metadata?: { labels?: Record<string, string> } }>('GET', path)
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      });
    if (cur && cur.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
      return `default certificate: Certificate ${meta.namespace}/${meta.name} exists and is not kgw's; left untouched`;
    }
    await rest.request('PATCH', path, want, 'application/apply-patch+yaml', {
      fieldManager: 'kgw',
      force: true,
    });
    return undefined;
  } catch (err) {
    const missingCrd = err instanceof ApiError && err.status === 404;
    return missingCrd
      ? 'default certificate: cert-manager is not installed (no certificates.cert-manager.io API)'
      : `default certificate: applying Certificate ${meta.namespace}/${meta.name} failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}
