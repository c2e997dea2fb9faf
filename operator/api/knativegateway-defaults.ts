// KnativeGateway (operator.kgw.dev/v1alpha1): a spec with every default applied, what the rest of
// kgw works with. The schema's defaults are applied by the API server too; the others depend on
// other fields (the visibility, resource limits) or are kgw's to change between releases, so they
// are applied here, when kgw reads a gateway. The values come from knativegateway-constants.ts.
import {
  DEFAULT_INGRESS_CLASS,
  DEFAULT_NAMESPACE,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_REPLICAS,
  DEFAULT_ACCESS_LOG,
  DEFAULT_ACCESS_LOG_FORMAT,
  DEFAULT_METRICS,
  DEFAULT_METRICS_PORT,
  DEFAULT_RATE_LIMIT_SHARING,
  DEFAULT_RATE_LIMIT_FAILURE_MODE,
  DEFAULT_RATE_LIMIT_TIMEOUT_MS,
  type RateLimitFailureMode,
  type RateLimitSharing,
  DEFAULT_TRACING,
  DEFAULT_TRACING_PORT,
  DEFAULT_TRACING_SAMPLING_PERCENT,
  DEFAULT_SERVICE_HTTP_PORT,
  DEFAULT_SERVICE_HTTPS_PORT,
  DEFAULT_LISTENER_PORTS,
  DEFAULT_SERVICE_TYPES,
  DEFAULT_AUTOSCALING_MIN_REPLICAS,
  DEFAULT_AUTOSCALING_TARGET_CPU,
  DEFAULT_RESOURCES,
  DEFAULT_ENVOY_IMAGE,
  DEFAULT_ENVOY_LOG_LEVEL,
  DEFAULT_ENVOY_CONCURRENCY,
  DEFAULT_DRAIN_SECONDS,
  DEFAULT_KNATIVE_NAMESPACE,
  DEFAULT_HTTP_PROTOCOL,
  DEFAULT_EXTERNAL_DOMAIN_TLS,
  DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS,
  DEFAULT_KNATIVE_CONFIGURE,
  DEFAULT_AUTOCREATE_CLAIMS,
  DEFAULT_NORMALIZE_PATH,
  DEFAULT_MERGE_SLASHES,
  DEFAULT_ESCAPED_SLASHES,
  DEFAULT_STRIP_TRAILING_HOST_DOT,
  DEFAULT_STRIP_HOST_PORT,
  DEFAULT_REQUEST_HEADERS_TIMEOUT_SECONDS,
  DEFAULT_STREAM_IDLE_TIMEOUT_SECONDS,
  DEFAULT_MAX_REQUEST_HEADERS_KIB,
  DEFAULT_MAX_REQUEST_HEADERS,
  DEFAULT_HTTP10,
  DEFAULT_XFF_NUM_TRUSTED_HOPS,
  DEFAULT_PROXY_PROTOCOL,
  DEFAULT_MAX_HEAP_MIB,
  MAX_HEAP_SHARE_OF_MEMORY_LIMIT,
  LIMITS,
  type ServiceType,
  type ExternalTrafficPolicy,
  type EnvoyLogLevel,
  type AccessLogFormat,
  type HttpProtocol,
  type ExternalDomainTLS,
  type EscapedSlashesAction,
} from './knativegateway-constants.ts';
import type { FleetAccessLog, FleetClientIP, FleetHttp } from './knativegateway-fleet-edge-schema.ts';
import type { FleetDisruptionBudget, Toleration } from './knativegateway-fleet-runtime-schema.ts';
import type { FleetSpec } from './knativegateway-fleet-schema.ts';
import type { DomainClaimRule, ExternalHostRule } from './knativegateway-domain-policy-schema.ts';
import type { DomainSelector, IssuerRef, KnativeGatewaySpec } from './knativegateway-spec-schema.ts';
import type { IntOrString, JsonObject } from './knativegateway.ts';
import type { Visibility } from './kingress.ts';
import type { GatewayPolicy } from './knativegateway-policy-schema.ts';

export interface ResolvedAutoscaling {
  minReplicas: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage: number;
}

export interface ResolvedFleetTracing {
  collector: { host: string; port: number };
  samplingPercent: number;
}

export interface ResolvedFleet {
  name: string;
  visibility: Visibility;
  /** The replica count: `replicas`, or `autoscaling.minReplicas` when autoscaled (the local runtime runs that many). */
  replicas: number;
  /** Set when a HorizontalPodAutoscaler owns the replica count. */
  autoscaling?: ResolvedAutoscaling;
  podDisruptionBudget?: FleetDisruptionBudget;
  resources: { requests: Record<string, IntOrString>; limits: Record<string, IntOrString> };
  ports: { http: number; https: number };
  service: {
    type: ServiceType;
    annotations: Record<string, string>;
    externalTrafficPolicy?: ExternalTrafficPolicy;
    loadBalancerClass?: string;
    httpPort: number;
    httpsPort: number;
  };
  placement: {
    nodeSelector: Record<string, string>;
    tolerations: Toleration[];
    affinity?: JsonObject;
    topologySpreadConstraints: JsonObject[];
    priorityClassName?: string;
  };
  envoy: {
    image: string;
    logLevel: EnvoyLogLevel;
    concurrency: number;
    drainSeconds: number;
    /** 0: no overload manager. */
    maxHeapMiB: number;
  };
  /** Whether Envoy writes access logs (`accessLog.enabled`; the first cut's boolean). */
  accessLog: boolean;
  accessLogFormat: AccessLogFormat;
  /** The stats listener (METRICS_PATH only) on `port`, when enabled. */
  metrics: { enabled: boolean; port: number };
  /** Present when tracing is enabled (a collector host is then required by validation). */
  tracing?: ResolvedFleetTracing;
  http: ResolvedFleetHttp;
  clientIP: ResolvedClientIP;
  /** `policy.rateLimitSharing`. */
  rateLimitSharing: RateLimitSharing;
  /** `policy.globalRateLimit` with its defaults; present exactly when rateLimitSharing is Global. */
  globalRateLimit?: ResolvedGlobalRateLimit;
}

/** The rate-limit service of a Global fleet (`policy.globalRateLimit`). */
export interface ResolvedGlobalRateLimit {
  service: { name: string; namespace: string; port: number };
  failureMode: RateLimitFailureMode;
  timeoutMs: number;
}

/**
 * The fleet's rate-limit sharing and service. Global without a service is refused by validation;
 * should one get through, the fleet counts PerReplica rather than asking a service it cannot name.
 */
function withRateLimitDefaults(
  policy: FleetSpec['policy'],
): Pick<ResolvedFleet, 'rateLimitSharing' | 'globalRateLimit'> {
  const sharing = policy?.rateLimitSharing ?? DEFAULT_RATE_LIMIT_SHARING;
  const g = policy?.globalRateLimit;
  if (sharing !== 'Global') return { rateLimitSharing: sharing };
  if (!g?.service) return { rateLimitSharing: 'PerReplica' };
  return {
    rateLimitSharing: 'Global',
    globalRateLimit: {
      service: { name: g.service.name, namespace: g.service.namespace, port: g.service.port },
      failureMode: g.failureMode ?? DEFAULT_RATE_LIMIT_FAILURE_MODE,
      timeoutMs: g.timeoutMs ?? DEFAULT_RATE_LIMIT_TIMEOUT_MS,
    },
  };
}

export interface ResolvedFleetHttp {
  normalizePath: boolean;
  mergeSlashes: boolean;
  escapedSlashes: EscapedSlashesAction;
  stripTrailingHostDot: boolean;
  stripHostPort: boolean;
  requestHeadersTimeoutSeconds: number;
  streamIdleTimeoutSeconds: number;
  maxRequestHeadersKiB: number;
  maxRequestHeaders: number;
  http10: { enabled: boolean; defaultHost?: string };
}

export interface ResolvedClientIP {
  xffNumTrustedHops: number;
  proxyProtocol: boolean;
}

export interface ResolvedKnativeConfig {
  configure: boolean;
  namespace: string;
  httpProtocol: HttpProtocol;
  externalDomainTLS: ExternalDomainTLS;
  autocreateClusterDomainClaims: boolean;
}

export interface ResolvedDomains {
  default?: string;
  selectors: DomainSelector[];
  template?: string;
}

export interface ResolvedTLS {
  externalIssuer?: IssuerRef;
  clusterLocalIssuer?: IssuerRef;
  defaultCertificate?: { issuer: IssuerRef; dnsNames: string[]; fleets: string[] };
}

export interface ResolvedDomainClaims {
  autoCreate: boolean;
  /** Undefined: no restriction (any namespace may map any domain not claimed by another). */
  rules?: DomainClaimRule[];
}

export interface ResolvedGatewaySpec {
  ingressClass: string;
  namespace: string;
  clusterDomain: string;
  fleets: ResolvedFleet[];
  domains: ResolvedDomains;
  knative: ResolvedKnativeConfig;
  tls: ResolvedTLS;
  domainClaims: ResolvedDomainClaims;
  externalNames: { allowedNamespaces: string[]; allowedHosts: ExternalHostRule[] };
  /** `policy` as written (policy/admin.ts makes it into what translation applies); absent: none. */
  policy?: GatewayPolicy;
}

/** Default Envoy listener ports of a fleet: they depend on its visibility. */
export function defaultListenerPorts(visibility: Visibility): { http: number; https: number } {
  const d = DEFAULT_LISTENER_PORTS[visibility] ?? DEFAULT_LISTENER_PORTS.ExternalIP;
  return { http: d.http, https: d.https };
}

/** Default Service type of a fleet: it depends on its visibility. */
export function defaultServiceType(visibility: Visibility): ServiceType {
  return DEFAULT_SERVICE_TYPES[visibility] ?? DEFAULT_SERVICE_TYPES.ExternalIP;
}

/**
 * Returns a new spec with every default applied (the input is not modified). Unknown fields are
 * dropped. Covers the defaults the CRD schema applies too, so it also works on objects that did
 * not pass through the API server.
 */
export function withGatewayDefaults(spec: KnativeGatewaySpec): ResolvedGatewaySpec {
  const domains = spec.domains;
  const knative = spec.knative;
  const resolvedDomains: ResolvedDomains = {
    selectors: (domains?.selectors ?? []).map((s) => ({ domain: s.domain, selector: { ...s.selector } })),
  };
  if (domains?.default !== undefined) resolvedDomains.default = domains.default;
  if (domains?.template !== undefined) resolvedDomains.template = domains.template;
  const fleets = (spec.fleets ?? []).map(withFleetDefaults);
  const tls: ResolvedTLS = {};
  if (spec.tls?.externalIssuer) tls.externalIssuer = { name: spec.tls.externalIssuer.name };
  const local = spec.tls?.clusterLocalIssuer ?? spec.tls?.externalIssuer;
  if (local) tls.clusterLocalIssuer = { name: local.name };
  const dc = spec.tls?.defaultCertificate;
  if (dc) {
    tls.defaultCertificate = {
      issuer: { name: dc.issuer.name },
      dnsNames: dc.dnsNames ?? (domains?.default !== undefined ? [`*.${domains.default}`] : []),
      fleets: dc.fleets ?? fleets.filter((f) => f.visibility === 'ExternalIP').map((f) => f.name),
    };
  }
  const domainClaims: ResolvedDomainClaims = {
    autoCreate: spec.domainClaims?.autoCreate ?? DEFAULT_AUTOCREATE_CLAIMS,
  };
  if (spec.domainClaims?.rules !== undefined) domainClaims.rules = spec.domainClaims.rules;
  return {
    ingressClass: spec.ingressClass ?? DEFAULT_INGRESS_CLASS,
    namespace: spec.namespace ?? DEFAULT_NAMESPACE,
    clusterDomain: spec.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
    fleets,
    tls,
    domainClaims,
    externalNames: {
      allowedNamespaces: [...(spec.externalNames?.allowedNamespaces ?? [])],
      allowedHosts: (spec.externalNames?.allowedHosts ?? []).map((h) => ({
        suffix: h.suffix.toLowerCase(),
        ports: [...h.ports],
      })),
    },
    domains: resolvedDomains,
    knative: {
      configure: knative?.configure ?? DEFAULT_KNATIVE_CONFIGURE,
      namespace: knative?.namespace ?? DEFAULT_KNATIVE_NAMESPACE,
      httpProtocol: knative?.httpProtocol ?? DEFAULT_HTTP_PROTOCOL,
      // An external issuer is auto-TLS: Knative must request certificates for external hosts.
      externalDomainTLS:
        knative?.externalDomainTLS ?? (spec.tls?.externalIssuer ? 'Enabled' : DEFAULT_EXTERNAL_DOMAIN_TLS),
      autocreateClusterDomainClaims:
        knative?.autocreateClusterDomainClaims ?? DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS,
    },
    ...(spec.policy !== undefined ? { policy: structuredClone(spec.policy) } : {}),
  };
}

export function withFleetDefaults(fleet: FleetSpec): ResolvedFleet {
  const ports = defaultListenerPorts(fleet.visibility);
  const resources = fleet.resources
    ? { requests: { ...(fleet.resources.requests ?? {}) }, limits: { ...(fleet.resources.limits ?? {}) } }
    : { requests: { ...DEFAULT_RESOURCES.requests }, limits: {} };
  const a = fleet.autoscaling;
  const autoscaling: ResolvedAutoscaling | undefined = a
    ? {
        minReplicas: a.minReplicas ?? DEFAULT_AUTOSCALING_MIN_REPLICAS,
        maxReplicas: a.maxReplicas,
        targetCPUUtilizationPercentage: a.targetCPUUtilizationPercentage ?? DEFAULT_AUTOSCALING_TARGET_CPU,
      }
    : undefined;
  const svc = fleet.service;
  const service: ResolvedFleet['service'] = {
    type: svc?.type ?? defaultServiceType(fleet.visibility),
    annotations: { ...(svc?.annotations ?? {}) },
    httpPort: svc?.httpPort ?? DEFAULT_SERVICE_HTTP_PORT,
    httpsPort: svc?.httpsPort ?? DEFAULT_SERVICE_HTTPS_PORT,
  };
  if (svc?.externalTrafficPolicy !== undefined) service.externalTrafficPolicy = svc.externalTrafficPolicy;
  if (svc?.loadBalancerClass !== undefined) service.loadBalancerClass = svc.loadBalancerClass;
  const p = fleet.placement;
  const placement: ResolvedFleet['placement'] = {
    nodeSelector: { ...(p?.nodeSelector ?? {}) },
    tolerations: (p?.tolerations ?? []).map((t) => ({ ...t })),
    topologySpreadConstraints: (p?.topologySpreadConstraints ?? []).map((t) => structuredClone(t)),
  };
  if (p?.affinity !== undefined) placement.affinity = structuredClone(p.affinity);
  if (p?.priorityClassName !== undefined) placement.priorityClassName = p.priorityClassName;
  const log = accessLogOf(fleet.accessLog);
  const out: ResolvedFleet = {
    name: fleet.name,
    visibility: fleet.visibility,
    replicas: autoscaling ? autoscaling.minReplicas : (fleet.replicas ?? DEFAULT_REPLICAS),
    resources,
    ports: { http: fleet.ports?.http ?? ports.http, https: fleet.ports?.https ?? ports.https },
    service,
    placement,
    envoy: {
      image: fleet.envoy?.image ?? DEFAULT_ENVOY_IMAGE,
      logLevel: fleet.envoy?.logLevel ?? DEFAULT_ENVOY_LOG_LEVEL,
      concurrency: fleet.envoy?.concurrency ?? defaultConcurrency(resources.limits.cpu),
      drainSeconds: fleet.envoy?.drainSeconds ?? DEFAULT_DRAIN_SECONDS,
      maxHeapMiB: fleet.envoy?.maxHeapMiB ?? defaultMaxHeapMiB(resources.limits.memory),
    },
    accessLog: log.enabled,
    accessLogFormat: log.format,
    metrics: {
      enabled: fleet.metrics?.enabled ?? DEFAULT_METRICS,
      port: fleet.metrics?.port ?? DEFAULT_METRICS_PORT,
    },
    ...((fleet.tracing?.enabled ?? DEFAULT_TRACING) && fleet.tracing?.collector?.host !== undefined
      ? {
          tracing: {
            collector: {
              host: fleet.tracing.collector.host,
              port: fleet.tracing.collector.port ?? DEFAULT_TRACING_PORT,
            },
            samplingPercent: fleet.tracing.samplingPercent ?? DEFAULT_TRACING_SAMPLING_PERCENT,
          },
        }
      : {}),
    http: withHttpDefaults(fleet.http),
    clientIP: withClientIPDefaults(fleet.clientIP),
    ...withRateLimitDefaults(fleet.policy),
  };
  if (autoscaling) out.autoscaling = autoscaling;
  if (fleet.podDisruptionBudget) out.podDisruptionBudget = { ...fleet.podDisruptionBudget };
  return out;
}

/** A fleet's `http` settings with every default applied. */
export function withHttpDefaults(h: FleetHttp | undefined): ResolvedFleetHttp {
  const http10: ResolvedFleetHttp['http10'] = { enabled: h?.http10?.enabled ?? DEFAULT_HTTP10 };
  if (h?.http10?.defaultHost !== undefined) http10.defaultHost = h.http10.defaultHost;
  return {
    normalizePath: h?.normalizePath ?? DEFAULT_NORMALIZE_PATH,
    mergeSlashes: h?.mergeSlashes ?? DEFAULT_MERGE_SLASHES,
    escapedSlashes: h?.escapedSlashes ?? DEFAULT_ESCAPED_SLASHES,
    stripTrailingHostDot: h?.stripTrailingHostDot ?? DEFAULT_STRIP_TRAILING_HOST_DOT,
    stripHostPort: h?.stripHostPort ?? DEFAULT_STRIP_HOST_PORT,
    requestHeadersTimeoutSeconds: h?.requestHeadersTimeoutSeconds ?? DEFAULT_REQUEST_HEADERS_TIMEOUT_SECONDS,
    streamIdleTimeoutSeconds: h?.streamIdleTimeoutSeconds ?? DEFAULT_STREAM_IDLE_TIMEOUT_SECONDS,
    maxRequestHeadersKiB: h?.maxRequestHeadersKiB ?? DEFAULT_MAX_REQUEST_HEADERS_KIB,
    maxRequestHeaders: h?.maxRequestHeaders ?? DEFAULT_MAX_REQUEST_HEADERS,
    http10,
  };
}

/** A fleet's `clientIP` settings with every default applied. */
export function withClientIPDefaults(c: FleetClientIP | undefined): ResolvedClientIP {
  return {
    xffNumTrustedHops: c?.xffNumTrustedHops ?? DEFAULT_XFF_NUM_TRUSTED_HOPS,
    proxyProtocol: c?.proxyProtocol ?? DEFAULT_PROXY_PROTOCOL,
  };
}

/** Binary and decimal multipliers of Kubernetes quantity suffixes. */
const QUANTITY_SUFFIXES: Readonly<Record<string, number>> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A quantity (`512Mi`, `1G`, `1e9`, 1073741824) in its base unit; undefined when not one. */
export function quantityValue(q: IntOrString): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([KMGTPE]i|[mkMGTPE])?$/.exec(q);
  if (m === null) return undefined;
  const factor = QUANTITY_SUFFIXES[m[2] ?? ''];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

/**
 * The overload manager's heap limit for a memory limit: its share MAX_HEAP_SHARE_OF_MEMORY_LIMIT
 * in whole MiB (at least the minimum), or DEFAULT_MAX_HEAP_MIB without a limit or when the limit
 * is not a quantity.
 */
export function defaultMaxHeapMiB(memoryLimit: IntOrString | undefined): number {
  const bytes = memoryLimit === undefined ? undefined : quantityValue(memoryLimit);
  if (bytes === undefined || bytes <= 0) return DEFAULT_MAX_HEAP_MIB;
  const mib = Math.floor((bytes * MAX_HEAP_SHARE_OF_MEMORY_LIMIT) / 2 ** 20);
  return Math.min(LIMITS.maxHeapMiB, Math.max(LIMITS.minHeapMiB, mib));
}

/** `accessLog` as stored: the object form, or the first cut's boolean (read compatibility). */
function accessLogOf(v: FleetAccessLog | boolean | undefined): { enabled: boolean; format: AccessLogFormat } {
  if (typeof v === 'boolean') return { enabled: v, format: DEFAULT_ACCESS_LOG_FORMAT };
  return { enabled: v?.enabled ?? DEFAULT_ACCESS_LOG, format: v?.format ?? DEFAULT_ACCESS_LOG_FORMAT };
}

/**
 * Envoy worker threads for a CPU limit: the limit rounded up (at least 1, at most the maximum), or
 * the default without a limit or when the limit is not written in cores or millicores. Envoy would
 * otherwise start one worker per CPU of the node, however small its share of it.
 */
export function defaultConcurrency(cpuLimit: IntOrString | undefined): number {
  if (cpuLimit === undefined) return DEFAULT_ENVOY_CONCURRENCY;
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m?)$/.exec(String(cpuLimit));
  if (m === null) return DEFAULT_ENVOY_CONCURRENCY;
  const cores = Number(m[1]) / (m[2] === 'm' ? 1000 : 1);
  return Math.min(LIMITS.maxConcurrency, Math.max(1, Math.ceil(cores - 1e-9)));
}
