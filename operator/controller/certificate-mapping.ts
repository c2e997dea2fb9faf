// kgw's Knative certificate class (`kgw.certificate.networking.knative.dev`), the pure part: a
// KCertificate (networking.internal.knative.dev/v1alpha1 Certificate) of that class becomes a
// cert-manager Certificate (cert-manager.io/v1) of the same name, issued by the ClusterIssuer the
// KnativeGateway names in `spec.tls` (`certManagerCertificate`). The objects' shapes (only the
// fields kgw reads or writes) and names are here; certificate-status.ts maps cert-manager's progress
// back into the KCertificate's status; certificates.ts watches and writes.
import type { ObjectMeta } from '../api/kingress.ts';
import { withGatewayDefaults, KGW_CERTIFICATE_CLASS, type KnativeGateway } from '../api/knativegateway.ts';
import { canonicalJson } from './canonical.ts';

// ---------------------------------------------------------------------------------------------
// Names and shapes (only the fields kgw reads or writes)

export const KCERT_API_VERSION = 'networking.internal.knative.dev/v1alpha1';
export const KCERT_KIND = 'Certificate';
export const KCERTS_PATH = '/apis/networking.internal.knative.dev/v1alpha1/certificates';
export const CM_API_VERSION = 'cert-manager.io/v1';
export const CM_CERTS_PATH = '/apis/cert-manager.io/v1/certificates';
export const CM_CHALLENGES_PATH = '/apis/acme.cert-manager.io/v1/challenges';

export const CERTIFICATE_CLASS_ANNOTATION = 'networking.knative.dev/certificate.class';
export const CERTIFICATE_TYPE_LABEL = 'networking.knative.dev/certificate-type';
export const CERTIFICATE_UID_LABEL = 'networking.internal.knative.dev/certificate-uid';
/** cert-manager's labels on an HTTP-01 solver Pod and Service. */
export const SOLVER_LABEL = 'acme.cert-manager.io/http01-solver';
export const SOLVER_DOMAIN_LABEL = 'acme.cert-manager.io/http-domain';

/** Knative's limit for a common name (X.509 allows 64 bytes; Knative keeps one spare). */
export const COMMON_NAME_MAX_BYTES = 63;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Object metadata with the owner references kgw sets and reads. */
export type Meta = ObjectMeta & { ownerReferences?: OwnerReference[]; [k: string]: unknown };

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  severity?: string;
  /** cert-manager conditions carry the generation they were set for. */
  observedGeneration?: number;
}

export interface HTTP01Challenge {
  url: string;
  serviceName: string;
  serviceNamespace: string;
  servicePort: number | string;
}

export interface KCertificateStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  notAfter?: string;
  http01Challenges?: HTTP01Challenge[];
}

export interface KCertificate {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec: { dnsNames?: string[]; domain?: string; secretName?: string };
  status?: KCertificateStatus;
}

export interface IssuerReference {
  name: string;
  kind: string;
  group: string;
}

export interface CertManagerCertificateSpec {
  commonName?: string;
  dnsNames: string[];
  secretName: string;
  issuerRef: IssuerReference;
  secretTemplate?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export interface CertManagerCertificateStatus {
  conditions?: Condition[];
  notBefore?: string;
  notAfter?: string;
  renewalTime?: string;
  lastFailureTime?: string;
  failedIssuanceAttempts?: number;
  revision?: number;
}

export interface CertManagerCertificate {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec: CertManagerCertificateSpec;
  status?: CertManagerCertificateStatus;
}

/** An ACME HTTP-01 solver Service cert-manager created (only the fields read here). */
export interface SolverService {
  metadata: Meta;
  spec?: { ports?: { port: number; targetPort?: number | string }[] };
}

/** An acme.cert-manager.io/v1 Challenge (only the fields read here). */
export interface Challenge {
  metadata: Meta;
  spec?: { dnsName?: string; token?: string; type?: string };
}

/** Why a KCertificate cannot become a cert-manager Certificate: its Ready becomes False. */
export interface CertificateProblem {
  reason: string;
  message: string;
}

export function hasKgwCertificateClass(o: { metadata: { annotations?: Record<string, string> } }): boolean {
  return o.metadata.annotations?.[CERTIFICATE_CLASS_ANNOTATION] === KGW_CERTIFICATE_CLASS;
}

// ---------------------------------------------------------------------------------------------
// KCertificate → cert-manager Certificate (pure)

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The ClusterIssuer for this KCertificate's type (label), or why there is none. */
export function issuerFor(
  kcert: KCertificate,
  gateway: KnativeGateway | undefined,
): IssuerReference | CertificateProblem {
  const type = kcert.metadata.labels?.[CERTIFICATE_TYPE_LABEL] ?? 'external-domain';
  if (!gateway) {
    return { reason: 'IssuerNotSet', message: 'no KnativeGateway serves certificates (spec.tls)' };
  }
  const tls = withGatewayDefaults(gateway.spec).tls;
  let issuer: { name: string } | undefined;
  let field: string;
  if (type === 'external-domain') {
    issuer = tls.externalIssuer;
    field = 'tls.externalIssuer';
  } else if (type === 'cluster-local-domain') {
    issuer = tls.clusterLocalIssuer;
    field = 'tls.clusterLocalIssuer';
  } else {
    // system-internal certificates (and unknown types) have no issuer in a KnativeGateway
    return {
      reason: 'IssuerNotSet',
      message: `no issuer for ${CERTIFICATE_TYPE_LABEL}=${JSON.stringify(type)} (KnativeGateway ${gateway.metadata.name} sets external and cluster-local issuers only)`,
    };
  }
  if (!issuer) {
    return {
      reason: 'IssuerNotSet',
      message: `KnativeGateway ${gateway.metadata.name} sets no ${field}`,
    };
  }
  return { kind: 'ClusterIssuer', group: 'cert-manager.io', name: issuer.name };
}

function isProblem<T extends object>(v: T | CertificateProblem): v is CertificateProblem {
  return 'reason' in v && 'message' in v && !('name' in v) && !('apiVersion' in v);
}

/** The controller reference a KCertificate's cert-manager Certificate carries. */
export function kcertControllerRef(kcert: KCertificate): OwnerReference {
  return {
    apiVersion: KCERT_API_VERSION,
    kind: KCERT_KIND,
    name: kcert.metadata.name,
    uid: kcert.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The cert-manager Certificate for a KCertificate (Knative's translation rules): same name and
 * namespace, controlled by the KCertificate, its labels and annotations copied; commonName is the
 * first DNS name, or `k.<domain>` (prepended to dnsNames) when that one is longer than 63 bytes;
 * issuerRef is the gateway's ClusterIssuer for the certificate type; the Secret is labelled with
 * the KCertificate's UID.
 */
export function certManagerCertificate(
  kcert: KCertificate,
  gateway: KnativeGateway | undefined,
): CertManagerCertificate | { problem: CertificateProblem } {
  const names = kcert.spec.dnsNames ?? [];
  const first = names[0];
  if (first === undefined || names.some((n) => !n)) {
    return {
      problem: { reason: 'InvalidSpec', message: 'spec.dnsNames: at least one non-empty name required' },
    };
  }
  if (!kcert.spec.secretName) {
    return { problem: { reason: 'InvalidSpec', message: 'spec.secretName: required' } };
  }
  let commonName = first;
  let dnsNames = [...names];
  if (byteLength(first) > COMMON_NAME_MAX_BYTES) {
    const domain = kcert.spec.domain;
    const tooLong = (why: string): { problem: CertificateProblem } => ({
      problem: {
        reason: 'CommonNameTooLong',
        message: `common name ${JSON.stringify(first)} is longer than ${COMMON_NAME_MAX_BYTES} bytes and ${why}`,
      },
    });
    if (!domain) return tooLong('spec.domain is not set');
    if (domain === first) return tooLong('spec.domain is that name');
    const short = `k.${domain}`;
    if (byteLength(short) > COMMON_NAME_MAX_BYTES) return tooLong(`${JSON.stringify(short)} is too long too`);
    commonName = short;
    dnsNames = [short, ...names];
  }
  const issuerRef = issuerFor(kcert, gateway);
  if (isProblem(issuerRef)) return { problem: issuerRef };
  const metadata: Meta = {
    name: kcert.metadata.name,
    ownerReferences: [kcertControllerRef(kcert)],
  };
  if (kcert.metadata.namespace !== undefined) metadata.namespace = kcert.metadata.namespace;
  if (kcert.metadata.labels) metadata.labels = { ...kcert.metadata.labels };
  if (kcert.metadata.annotations) metadata.annotations = { ...kcert.metadata.annotations };
  return {
    apiVersion: CM_API_VERSION,
    kind: 'Certificate',
    metadata,
    spec: {
      commonName,
      dnsNames,
      secretName: kcert.spec.secretName,
      issuerRef,
      secretTemplate: { labels: { [CERTIFICATE_UID_LABEL]: kcert.metadata.uid ?? '' } },
    },
  };
}

/** True when `obj` carries a controller reference to this KCertificate (by UID). */
export function controlledBy(obj: { metadata: Meta }, kcert: KCertificate): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (r) =>
      r.controller === true &&
      r.kind === KCERT_KIND &&
      r.apiVersion.startsWith('networking.internal.knative.dev/') &&
      r.uid === kcert.metadata.uid,
  );
}

/**
 * True when the existing Certificate's spec differs from the desired one in a field kgw sets
 * (fields others add, e.g. duration, are left alone).
 */
export function specDiffers(existing: CertManagerCertificate, desired: CertManagerCertificate): boolean {
  const cur = existing.spec as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(desired.spec)) {
    if (canonicalJson(cur?.[k]) !== canonicalJson(v)) return true;
  }
  return false;
}
