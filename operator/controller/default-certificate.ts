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
import { ApiError, getIfExists, type KubeRest } from '../kube/rest.ts';

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
    const cur = await getIfExists<{ metadata?: { labels?: Record<string, string> } }>(rest, path);
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

/** How often an unchanged, successfully applied Certificate is applied again (drift). */
export const DEFAULT_CERTIFICATE_RESYNC_MS = 300_000;
/** How long a failed apply is reported as it is before it is tried again. */
export const DEFAULT_CERTIFICATE_RETRY_MS = 10_000;

/**
 * Applies each gateway's default Certificate when it changed, after a failure once the retry
 * delay has passed, and otherwise only every resync period: the gateway status is recomputed every
 * few seconds, and that must not become a GET and a PATCH each time.
 */
export class DefaultCertificates {
  private readonly rest: Pick<KubeRest, 'request'>;
  private readonly now: () => number;
  private readonly last = new Map<string, { want: string; at: number; problem: string | undefined }>();

  constructor(rest: Pick<KubeRest, 'request'>, now: () => number = () => performance.now()) {
    this.rest = rest;
    this.now = now;
  }

  /** The problem to report for the gateway's default certificate, if any. */
  async apply(gw: KnativeGateway): Promise<string | undefined> {
    const name = gw.metadata.name;
    const desired = desiredDefaultCertificate(gw);
    if (!desired) {
      this.last.delete(name);
      return undefined;
    }
    const want = JSON.stringify(desired);
    const prev = this.last.get(name);
    const wait = prev?.problem === undefined ? DEFAULT_CERTIFICATE_RESYNC_MS : DEFAULT_CERTIFICATE_RETRY_MS;
    if (prev && prev.want === want && this.now() - prev.at < wait) return prev.problem;
    const problem = await applyDefaultCertificate(this.rest, gw);
    this.last.set(name, { want, at: this.now(), problem });
    return problem;
  }
}
