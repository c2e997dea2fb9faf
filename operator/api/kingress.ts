// Knative KIngress (networking.internal.knative.dev/v1alpha1 Ingress) types, in the JSON shape the
// API server stores. Field declaration order matters: the probe hash serialises in this order.

export const KINGRESS_GROUP = 'networking.internal.knative.dev';
export const KINGRESS_VERSION = 'v1alpha1';
export const KINGRESS_PLURAL = 'ingresses';
export const INGRESS_CLASS_ANNOTATION = 'networking.knative.dev/ingress.class';
export const KGW_INGRESS_CLASS = 'kgw.ingress.networking.knative.dev';
export const KGW_CERTIFICATE_CLASS = 'kgw.certificate.networking.knative.dev';
export const FINALIZER = 'ingresses.networking.internal.knative.dev';

export const HEADER_PROBE = 'K-Network-Probe';
export const HEADER_HASH = 'K-Network-Hash';
export const HASH_OVERRIDE = 'override';
export const ACME_PREFIX = '/.well-known/acme-challenge/';

export type Visibility = 'ExternalIP' | 'ClusterLocal';
export type HTTPOption = '' | 'Enabled' | 'Redirected';

export interface IngressTLS {
  hosts?: string[];
  secretName?: string;
  secretNamespace?: string;
}

export interface HeaderMatch {
  exact: string;
}

export interface IngressBackendSplit {
  serviceNamespace: string;
  serviceName: string;
  servicePort: number | string;
  percent?: number;
  appendHeaders?: Record<string, string>;
}

export interface HTTPIngressPath {
  path?: string;
  rewriteHost?: string;
  headers?: Record<string, HeaderMatch>;
  splits: IngressBackendSplit[];
  appendHeaders?: Record<string, string>;
}

export interface IngressRule {
  hosts?: string[];
  visibility?: Visibility;
  http?: { paths: HTTPIngressPath[] };
}

export interface IngressSpec {
  tls?: IngressTLS[];
  rules?: IngressRule[];
  httpOption?: HTTPOption;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  severity?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface LoadBalancerIngressStatus {
  ip?: string;
  domain?: string;
  domainInternal?: string;
  meshOnly?: boolean;
}

export interface IngressStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  annotations?: Record<string, string>;
  publicLoadBalancer?: { ingress?: LoadBalancerIngressStatus[] };
  privateLoadBalancer?: { ingress?: LoadBalancerIngressStatus[] };
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
}

export interface KIngress {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: IngressSpec;
  status?: IngressStatus;
}

export function ingressKey(ing: { metadata: { namespace?: string; name: string } }): string {
  return `${ing.metadata.namespace ?? ''}/${ing.metadata.name}`;
}

/** True when the KIngress carries exactly this ingress class (absent or different → not ours). */
export function hasClass(ing: KIngress, ingressClass: string): boolean {
  return ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION] === ingressClass;
}
