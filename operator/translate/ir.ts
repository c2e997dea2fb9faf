// The intermediate representation between translate (KIngress → IR) and render (IR → Envoy).
// Everything here is plain data: no Envoy types, no Kubernetes client types.
import type { Visibility } from '../api/kingress.ts';
import type { KnativeNames } from './knative-names.ts';
import type { RoutingRule } from './routing-rules.ts';

/** One upstream cluster: a Kubernetes Service port reached through EDS, or a DNS name. */
export interface ClusterIR {
  /** `<namespace>/<service>:<port>`, shared by every route that targets the same Service port. */
  name: string;
  kind: 'eds' | 'dns';
  /** HTTP/2 cleartext upstream (port named http2/h2c or appProtocol kubernetes.io/h2c). */
  http2: boolean;
  /** For dns clusters: the name and port to resolve. */
  dnsHost?: string;
  dnsPort?: number;
  /** For eds clusters: where the endpoints come from (the Service whose slices are read). */
  endpoints?: { namespace: string; service: string; port: PortSelector };
}

/** How to pick the target port from EndpointSlices: by Service port name, or by number. */
export interface PortSelector {
  /** The Service port's name ('' when unnamed). EndpointSlice ports carry the same name. */
  name: string;
  /** The Service port's targetPort when numeric (used when the slice has no matching named port). */
  targetPort?: number;
}

export interface HeaderSet {
  name: string;
  value: string;
}

export interface WeightedTarget {
  cluster: string;
  weight: number;
  headers: HeaderSet[];
}

export interface RouteIR {
  /** Stable, human-readable: `<ns>/<name>/r<rule>/p<path>[/probe]`. */
  name: string;
  prefix: string;
  headers: { name: string; exact: string }[];
  /** Path-level set headers (appendHeaders, probe hash). */
  setHeaders: HeaderSet[];
  targets: WeightedTarget[];
  rewriteHost?: string;
  /** True for an ACME HTTP-01 challenge path: never redirected to HTTPS. */
  acme: boolean;
  /** True for a probe copy (matches K-Network-Probe): like ACME paths, exempt from policies. */
  probe?: boolean;
  /** Cookies the request must carry (gray release by cookie, routing-rules.ts). */
  cookies?: { name: string; value: string }[];
  /**
   * The Knative Service the route serves, for its request metrics and access log; absent on probe
   * copies and ACME challenge paths, which are no traffic of the Service.
   */
  knative?: KnativeNames;
}

/** API-key auth on a host (RoutePolicy apiKeyAuth), credentials read from its Secrets. */
export interface ApiKeyAuthIR {
  /** `<ns>/<policy>` that set it. */
  policy: string;
  keySources: { header?: string; query?: string }[];
  /** Empty when the Secrets are missing or invalid: every request is refused (fail closed). */
  credentials: { client: string; key: string }[];
  /** Only these clients pass; absent: every known client. */
  allowedClients?: string[];
  forwardHeader: string;
  hideCredentials: boolean;
}

/** HTTP basic auth on a host (RoutePolicy basicAuth), users read from its Secrets. */
export interface BasicAuthIR {
  /** `<ns>/<policy>` that set it. */
  policy: string;
  /**
   * Sorted by user; each password only as base64 of its SHA-1 (Envoy's `{SHA}` htpasswd form, the
   * plaintext is never kept). Empty when the Secrets are missing or invalid: every request gets 401.
   */
  users: { user: string; sha1: string }[];
  realm?: string;
}

export interface IpAccessIR {
  policy: string;
  allow: string[];
  deny: string[];
}

export interface CorsIR {
  policy: string;
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
  allowCredentials: boolean;
}

/** A token bucket: `requests` per `seconds`, starting full. */
export interface BucketIR {
  requests: number;
  seconds: number;
}

export interface RateLimitRuleIR {
  name: string;
  /** Counted per header value or client address; absent: the host as a whole (`each`). */
  key?: { header: string } | { clientIP: true };
  /** The bucket of each value not listed (or of the host, without a key). */
  each?: BucketIR;
  limits: { value: string; bucket: BucketIR }[];
}

export interface RateLimitIR {
  policy: string;
  rules: RateLimitRuleIR[];
  responseHeaders: boolean;
}

/** The RoutePolicy features in force on one host (each from the oldest policy that sets it). */
export interface HostPolicyIR {
  apiKeyAuth?: ApiKeyAuthIR;
  basicAuth?: BasicAuthIR;
  ipAccess?: IpAccessIR;
  cors?: CorsIR;
  rateLimit?: RateLimitIR;
  /**
   * IP rules of the gateway's domain rules (KnativeGateway spec.policy.domainRules): a request must
   * meet each of them as well as `ipAccess` (policy/admin.ts).
   */
  enforcedIpAccess?: IpAccessIR[];
  /**
   * Gray-release rules of a RoutePolicy (translate/routing-rules.ts), already checked against what
   * the Route routes to; translate/ingress.ts makes them into routes in place of the annotation's.
   */
  routing?: RoutingIR;
}

export interface RoutingIR {
  /** `<ns>/<name>` of the RoutePolicy. */
  policy: string;
  rules: RoutingRule[];
}

export interface VirtualHostIR {
  /** The host as written in the KIngress, or `*` for a rule without hosts. */
  host: string;
  /** Owning KIngress key `<ns>/<name>`. */
  owner: string;
  routes: RouteIR[];
  /** Plain HTTP requests get 301 to https (httpOption Redirected on an ExternalIP rule). */
  redirectHttp: boolean;
  /** RoutePolicy features on this host; absent when none applies. */
  policy?: HostPolicyIR;
}

export interface TlsIR {
  /** SNI names served by this certificate. */
  hosts: string[];
  /** Secret key `<ns>/<name>`. */
  secret: string;
  owner: string;
}

/** What one KIngress contributes to fleets of one visibility. */
export interface VisibilityIR {
  vhosts: VirtualHostIR[];
  tls: TlsIR[];
}

export interface IngressIR {
  key: string;
  hash: string;
  generation: number;
  /** Fleets of visibility ExternalIP serve `external`; ClusterLocal fleets serve `local`. */
  external: VisibilityIR;
  local: VisibilityIR;
  clusters: ClusterIR[];
  /** Secrets referenced (`<ns>/<name>`), to be sent over SDS. */
  secrets: string[];
  /** Services this translation read (`<ns>/<name>`), for dependency tracking. */
  services: string[];
  /** Probe targets: which visibilities/hosts to probe, and over which scheme. */
  probes: ProbeIR[];
  /** What was ignored without failing the KIngress (e.g. a routing rule to a revision not routed). */
  notes?: string[];
}

export interface ProbeIR {
  visibility: Visibility;
  host: string;
  tls: boolean;
}

export interface TranslateProblem {
  reason: string;
  message: string;
  /**
   * The KIngress may not keep serving its last good configuration either (a host it may not
   * serve: that configuration served the host too). Other problems keep the last good config.
   */
  withdraw?: boolean;
}

export type TranslateResult = { ok: true; ir: IngressIR } | { ok: false; problem: TranslateProblem };

/** A ready upstream address of an EDS cluster (from the Service's EndpointSlices, checked). */
export interface EndpointIR {
  address: string;
  port: number;
}

/** A TLS Secret as served over SDS: the PEM chain and its key (checked to match), or why not. */
export type CertificateIR =
  { ok: true; certificateChain: string; privateKey: string } | { ok: false; problem: TranslateProblem };

/**
 * The cluster data render needs besides the IRs, already turned into plain data: a cluster's
 * endpoints and a Secret's certificate. Render reads the cluster through this alone, so it never
 * sees a Kubernetes object (translate/backend-data.ts implements it over the Lookups).
 */
export interface BackendData {
  /** The usable endpoints of an EDS cluster, sorted; none for other clusters. */
  endpoints(cluster: ClusterIR): readonly EndpointIR[];
  /** The certificate of the TLS Secret `<ns>/<name>`. */
  certificate(key: string): CertificateIR;
}
