// KnativeGateway (operator.kgw.dev/v1alpha1): the API's names, enumerations, defaults, limits,
// patterns and messages. The TypeBox schema (knativegateway-*-schema.ts) is built from these, so
// the CRD, the runtime validation, the defaulting code and the docs state each value once.
import { KGW_INGRESS_CLASS } from './kingress.ts';
import type { Visibility } from './kingress.ts';

// ---------------------------------------------------------------------------------------------
// Names

export const GATEWAY_GROUP = 'operator.kgw.dev';
export const GATEWAY_VERSION = 'v1alpha1';
export const GATEWAY_API_VERSION = 'operator.kgw.dev/v1alpha1';
export const GATEWAY_KIND = 'KnativeGateway';
export const GATEWAY_LIST_KIND = 'KnativeGatewayList';
export const GATEWAY_PLURAL = 'knativegateways';
export const GATEWAY_SINGULAR = 'knativegateway';
export const GATEWAY_SHORT_NAME = 'kgw';
/**
 * The kubectl category of every kgw resource (`kubectl get kgw-all -A`). Not `kgw`: kubectl expands
 * a category before a short name, and `kgw` is the KnativeGateway's short name.
 */
export const GATEWAY_CATEGORY = 'kgw-all';
/** metadata.name of the CustomResourceDefinition. */
export const GATEWAY_CRD_NAME = `${GATEWAY_PLURAL}.${GATEWAY_GROUP}`;

/** Labels kgw puts on every object it creates for a gateway's fleets. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_KGW = 'kgw';
export const LABEL_GATEWAY = 'operator.kgw.dev/gateway';
export const LABEL_FLEET = 'operator.kgw.dev/fleet';
/**
 * On the pods of fleets with metrics enabled (value METRICS_LABEL_VALUE): what a PodMonitor (or a
 * Prometheus pod discovery rule) selects.
 */
export const LABEL_METRICS = 'operator.kgw.dev/metrics';
/** On the pods of fleets with metrics enabled: the fleet's visibility (the kgw_visibility label of its series). */
export const LABEL_VISIBILITY = 'operator.kgw.dev/visibility';
export const METRICS_LABEL_VALUE = 'envoy';

/** Condition types on KnativeGateway status. `Ready` is the summary of the others. */
export const CONDITION_READY = 'Ready';
export const CONDITION_FLEETS_READY = 'FleetsReady';
/** Knative Serving's config-network and config-domain hold what this gateway asks for. */
export const CONDITION_KNATIVE_CONFIGURED = 'KnativeConfigured';

export const VISIBILITIES: readonly Visibility[] = ['ExternalIP', 'ClusterLocal'];

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';
export const SERVICE_TYPES: readonly ServiceType[] = ['ClusterIP', 'NodePort', 'LoadBalancer'];
export type ExternalTrafficPolicy = 'Cluster' | 'Local';
export const EXTERNAL_TRAFFIC_POLICIES: readonly ExternalTrafficPolicy[] = ['Cluster', 'Local'];
/** Envoy's `--log-level` values. */
export type EnvoyLogLevel = 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off';
export const ENVOY_LOG_LEVELS: readonly EnvoyLogLevel[] = [
  'trace',
  'debug',
  'info',
  'warning',
  'error',
  'critical',
  'off',
];
export type AccessLogFormat = 'text' | 'json';
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['text', 'json'];
/** config-network `http-protocol` (the deprecated `Disabled` is not offered). */
export type HttpProtocol = 'Enabled' | 'Redirected';
export const HTTP_PROTOCOLS: readonly HttpProtocol[] = ['Enabled', 'Redirected'];
/** config-network `external-domain-tls`. */
export type ExternalDomainTLS = 'Enabled' | 'Disabled';
export const EXTERNAL_DOMAIN_TLS_VALUES: readonly ExternalDomainTLS[] = ['Enabled', 'Disabled'];
export type TolerationOperator = 'Exists' | 'Equal';
export const TOLERATION_OPERATORS: readonly TolerationOperator[] = ['Exists', 'Equal'];
export type TolerationEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export const TOLERATION_EFFECTS: readonly TolerationEffect[] = [
  'NoSchedule',
  'PreferNoSchedule',
  'NoExecute',
];

// ---------------------------------------------------------------------------------------------
// Defaults and limits (the CRD schema is generated from these)

export const DEFAULT_INGRESS_CLASS = KGW_INGRESS_CLASS;
export const DEFAULT_NAMESPACE = 'kgw-system';
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
export const DEFAULT_REPLICAS = 1;
export const DEFAULT_ACCESS_LOG = false;
export const DEFAULT_ACCESS_LOG_FORMAT: AccessLogFormat = 'text';
/**
 * Whether a fleet's Envoys serve their Prometheus stats (`metrics.enabled`). Off by default: the
 * stats name every backend Service the fleet routes to, and anyone who can reach a pod's address
 * could read them (see operator/render/bootstrap.ts, statsListener).
 */
export const DEFAULT_METRICS = false;
/** The stats listener's port in each Envoy replica (`metrics.port`). */
export const DEFAULT_METRICS_PORT = 9091;
/**
 * How a fleet's RoutePolicy rate limits count across its Envoy replicas (`policy.rateLimitSharing`):
 * PerReplica, each Envoy its own buckets (N replicas admit N× the limit); SharedEvenly, each
 * Envoy's buckets divided by the fleet's ready replicas (operator/render/policy.ts); Global, one
 * count for the whole fleet kept by an external rate-limit service (operator/render/global-rate-limit.ts).
 */
export const RATE_LIMIT_SHARING_MODES = ['PerReplica', 'SharedEvenly', 'Global'] as const;
export type RateLimitSharing = (typeof RATE_LIMIT_SHARING_MODES)[number];
export const DEFAULT_RATE_LIMIT_SHARING: RateLimitSharing = 'PerReplica';
/**
 * What an Envoy does with a request when the rate-limit service of a Global fleet does not answer
 * in time (`policy.globalRateLimit.failureMode`): Allow lets it through (rate limits fail open).
 */
export const RATE_LIMIT_FAILURE_MODES = ['Allow', 'Deny'] as const;
export type RateLimitFailureMode = (typeof RATE_LIMIT_FAILURE_MODES)[number];
export const DEFAULT_RATE_LIMIT_FAILURE_MODE: RateLimitFailureMode = 'Allow';
/** How long an Envoy waits for the rate-limit service's answer (Envoy's own default). */
export const DEFAULT_RATE_LIMIT_TIMEOUT_MS = 20;
/** OpenTelemetry tracing (`tracing.enabled`): off by default; it needs a collector. */
export const DEFAULT_TRACING = false;
/** OTLP over gRPC: the collector's usual port. */
export const DEFAULT_TRACING_PORT = 4317;
/** Share of requests traced when tracing is on (a client's or upstream's sampled trace is always continued). */
export const DEFAULT_TRACING_SAMPLING_PERCENT = 1;
/** The one path the stats listener serves: Envoy's admin `/stats/prometheus`. */
export const METRICS_PATH = '/stats/prometheus';
export const DEFAULT_SERVICE_HTTP_PORT = 80;
export const DEFAULT_SERVICE_HTTPS_PORT = 443;
/** Envoy listener ports per visibility: distinct, so both fleets can share one host (local runtime). */
export const DEFAULT_LISTENER_PORTS: Readonly<Record<Visibility, { http: number; https: number }>> = {
  ExternalIP: { http: 8080, https: 8443 },
  ClusterLocal: { http: 8081, https: 8444 },
};
/** Service type per visibility when `service.type` is not set. */
export const DEFAULT_SERVICE_TYPES: Readonly<Record<Visibility, ServiceType>> = {
  ExternalIP: 'LoadBalancer',
  ClusterLocal: 'ClusterIP',
};
export const DEFAULT_AUTOSCALING_MIN_REPLICAS = 1;
export const DEFAULT_AUTOSCALING_TARGET_CPU = 80;
/**
 * Container resources when `resources` is not set. The CPU request is what a CPU-utilization
 * HorizontalPodAutoscaler measures against.
 */
export const DEFAULT_RESOURCES: Readonly<{ requests: Readonly<Record<string, string>> }> = {
  requests: { cpu: '100m', memory: '128Mi' },
};
/** The Envoy image kgw is tested with (test/env/versions.env pins the same version). */
export const DEFAULT_ENVOY_IMAGE = 'docker.io/envoyproxy/envoy:v1.40.0';
export const DEFAULT_ENVOY_LOG_LEVEL: EnvoyLogLevel = 'warning';
/** Envoy worker threads when neither `envoy.concurrency` nor a CPU limit is set. */
export const DEFAULT_ENVOY_CONCURRENCY = 2;
export const DEFAULT_DRAIN_SECONDS = 30;
export const DEFAULT_KNATIVE_NAMESPACE = 'knative-serving';
export const DEFAULT_HTTP_PROTOCOL: HttpProtocol = 'Enabled';
export const DEFAULT_EXTERNAL_DOMAIN_TLS: ExternalDomainTLS = 'Disabled';
export const DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS = false;
export const DEFAULT_KNATIVE_CONFIGURE = true;
/** kgw creates ClusterDomainClaims for allowed DomainMappings unless told otherwise. */
export const DEFAULT_AUTOCREATE_CLAIMS = false;
/** The Knative certificate class kgw implements (KCertificate → cert-manager Certificate). */
export const KGW_CERTIFICATE_CLASS = 'kgw.certificate.networking.knative.dev';

/**
 * Envoy's admin interface in each fleet pod: a unix socket (mode 0600) in the pod's memory-backed
 * /tmp, never a TCP port (see operator/render/bootstrap.ts for why).
 */
export const ENVOY_ADMIN_SOCKET = '/tmp/envoy-admin.sock';
/** The static readiness listener of each Envoy pod (`GET /ready`); open only once xDS config arrived. */
export const ENVOY_READY_PORT = 19003;
/** Ports a fleet's listeners may not use: Envoy's own readiness listener takes it. */
export const RESERVED_LISTENER_PORTS: readonly number[] = [ENVOY_READY_PORT];

// Edge defaults: how each fleet's Envoys treat requests before routing them, and how they protect
// themselves. The defaults suit an internet-facing gateway; kgw applies them (the CRD stores none),
// so upgrading kgw brings its current defaults and a field that is set pins its value.

/** What Envoy does with a request path holding escaped slashes (%2F, %2f, %5C, %5c). */
export type EscapedSlashesAction =
  'KeepUnchanged' | 'RejectRequest' | 'UnescapeAndRedirect' | 'UnescapeAndForward';
export const ESCAPED_SLASHES_ACTIONS: readonly EscapedSlashesAction[] = [
  'KeepUnchanged',
  'RejectRequest',
  'UnescapeAndRedirect',
  'UnescapeAndForward',
];
export const DEFAULT_NORMALIZE_PATH = true;
export const DEFAULT_MERGE_SLASHES = true;
export const DEFAULT_ESCAPED_SLASHES: EscapedSlashesAction = 'UnescapeAndRedirect';
export const DEFAULT_STRIP_TRAILING_HOST_DOT = true;
export const DEFAULT_STRIP_HOST_PORT = true;
export const DEFAULT_REQUEST_HEADERS_TIMEOUT_SECONDS = 10;
/** Envoy's own default: 5 minutes. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_SECONDS = 300;
/** Envoy's own defaults: 60 KiB and 100 headers. */
export const DEFAULT_MAX_REQUEST_HEADERS_KIB = 60;
export const DEFAULT_MAX_REQUEST_HEADERS = 100;
export const DEFAULT_HTTP10 = true;
export const DEFAULT_XFF_NUM_TRUSTED_HOPS = 0;
export const DEFAULT_PROXY_PROTOCOL = false;
/** Envoy heap limit of the overload manager when the fleet has no memory limit. */
export const DEFAULT_MAX_HEAP_MIB = 2048;
/**
 * With a memory limit, the heap limit is this share of it: the rest is for what is not heap (the
 * binary, thread stacks, kernel buffers charged to the container).
 */
export const MAX_HEAP_SHARE_OF_MEMORY_LIMIT = 0.8;

export const LIMITS = {
  /** A ClusterIssuer's name (a Kubernetes object name). */
  issuerNameMaxLength: 253,
  maxClaimRules: 32,
  maxClaimDomains: 32,
  maxCertificateNames: 16,
  /** metadata.name: it is also a label value (operator.kgw.dev/gateway). */
  gatewayNameMaxLength: 63,
  minFleets: 1,
  maxFleets: 16,
  fleetNameMaxLength: 40,
  /** A DNS name (or an IPv4 address) of the tracing collector. */
  tracingHostMaxLength: 253,
  minReplicas: 1,
  maxReplicas: 100,
  minTargetCPU: 1,
  maxTargetCPU: 1000,
  /** Envoy runs unprivileged, so listener ports stay above the privileged range. */
  minListenerPort: 1024,
  maxListenerPort: 65535,
  minServicePort: 1,
  maxServicePort: 65535,
  namespaceMaxLength: 63,
  ingressClassMaxLength: 253,
  clusterDomainMaxLength: 253,
  /** Kubernetes object names (Services) are at most 63 characters. */
  serviceNameMaxLength: 63,
  maxConcurrency: 64,
  maxDrainSeconds: 600,
  maxRequestHeadersTimeoutSeconds: 3600,
  maxStreamIdleTimeoutSeconds: 86400,
  /** Envoy's upper bound for max_request_headers_kb. */
  maxRequestHeadersKiB: 8192,
  maxRequestHeaders: 10000,
  maxXffNumTrustedHops: 16,
  /** Below this Envoy's own footprint would keep the overload manager's actions on. */
  minHeapMiB: 64,
  maxHeapMiB: 1048576,
  imageMaxLength: 512,
  maxTolerations: 32,
  maxTopologySpreadConstraints: 8,
  maxMapEntries: 64,
  labelKeyMaxLength: 317,
  labelValueMaxLength: 63,
  annotationValueMaxLength: 4096,
  domainMaxLength: 253,
  maxDomainSelectors: 32,
  domainTemplateMaxLength: 512,
  priorityClassNameMaxLength: 253,
  loadBalancerClassMaxLength: 317,
  maxExternalNameNamespaces: 32,
  maxExternalNameHosts: 32,
  maxExternalNamePorts: 16,
} as const;

/** RFC 1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric. */
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** RFC 1123 subdomain: dot-separated RFC 1123 labels. */
export const DNS1123_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A label or annotation key: optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
export const QUALIFIED_NAME_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
/** A label value: empty, or at most 63 alphanumerics, '-', '_' and '.', starting and ending alphanumeric. */
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
/** A resource quantity written as a string (Kubernetes' own pattern). */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
/** A PodDisruptionBudget percentage, 0% to 100%. */
export const PERCENT_PATTERN = '^(100|[1-9]?[0-9])%$';
/** A container image reference: no whitespace. */
export const IMAGE_PATTERN = '^\\S+$';
/** A DNS name with an optional leading `*.` label. */
export const WILDCARD_DNS_PATTERN =
  '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$';
/** A DNS name with at least two labels (an allowed suffix for ExternalName targets). */
export const EXTERNAL_HOST_SUFFIX_PATTERN =
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$';

/**
 * Messages of the CRD's CEL rules and of kgw's own validation (api/knativegateway-validate.ts), so a
 * user sees the same text whether the API server or kgw itself rejects a spec.
 */
export const MESSAGES = {
  policyDefaultsFeature: 'set at least one of ipAccess, cors or rateLimit',
  domainRuleFeature: 'set at least one of ipAccess or rateLimit',
  globalRateLimitService:
    'rateLimitSharing Global needs globalRateLimit.service: the rate-limit service that counts for the whole fleet',
  certificateDnsName: 'must be a DNS name, optionally with a leading wildcard label (*.example.com)',
  twoClaimCreators:
    'kgw creates claims under its policy: set knative.autocreateClusterDomainClaims to false, or Knative would claim every domain unchecked',
  selectorValues: 'In and NotIn need at least one value; Exists and DoesNotExist take no values',
  tlsDefaultCertificateNames:
    'tls.defaultCertificate.dnsNames: required when domains.default is not set (the default is *.<domains.default>)',
  tlsDefaultCertificateFleets: 'tls.defaultCertificate.fleets: must name a fleet of this gateway',
  gatewayNameTooLong: `must be at most ${LIMITS.gatewayNameMaxLength} characters: it is the value of the ${LABEL_GATEWAY} label on every object kgw creates for the gateway`,
  uniqueFleetNames: 'fleet names must be unique',
  listenerPortsDiffer: `ports.http and ports.https must differ (defaults: ${DEFAULT_LISTENER_PORTS.ExternalIP.http}/${DEFAULT_LISTENER_PORTS.ExternalIP.https} for ExternalIP, ${DEFAULT_LISTENER_PORTS.ClusterLocal.http}/${DEFAULT_LISTENER_PORTS.ClusterLocal.https} for ClusterLocal)`,
  reservedListenerPorts: `port ${ENVOY_READY_PORT} is reserved for Envoy's readiness listener`,
  tracingHost: 'must be a DNS name or an IPv4 address, e.g. otel-collector.observability.svc.cluster.local',
  tracingHostRequired:
    'required when tracing is enabled: the OpenTelemetry collector (OTLP/gRPC) to send traces to',
  metricsPortDiffers: `metrics.port must differ from the fleet's listener ports (ports.http, ports.https) and from ${ENVOY_READY_PORT} (Envoy's readiness listener)`,
  servicePortsDiffer: 'service.httpPort and service.httpsPort must differ',
  maxHeapMiB: `must be 0 (no overload manager) or at least ${LIMITS.minHeapMiB}`,
  replicasOrAutoscaling:
    'set replicas or autoscaling, not both: with autoscaling a HorizontalPodAutoscaler sets the replica count between autoscaling.minReplicas and autoscaling.maxReplicas',
  autoscalingMinAboveMax: 'autoscaling.minReplicas must not be greater than autoscaling.maxReplicas',
  autoscalingNeedsCpuRequest:
    'autoscaling scales on CPU utilization, which needs resources.requests.cpu (leave resources out to get the default request of 100m)',
  pdbExactlyOne: 'set exactly one of minAvailable and maxUnavailable',
  pdbValue: 'must be a non-negative integer or a percentage from 0% to 100%',
  externalTrafficPolicyNeedsExternal:
    'service.externalTrafficPolicy applies only to NodePort and LoadBalancer Services (service.type defaults to LoadBalancer for ExternalIP fleets and ClusterIP for ClusterLocal fleets)',
  loadBalancerClassNeedsLoadBalancer:
    'service.loadBalancerClass applies only to LoadBalancer Services (service.type defaults to LoadBalancer for ExternalIP fleets and ClusterIP for ClusterLocal fleets)',
  qualifiedNameKeys:
    'keys must be qualified names: an optional DNS subdomain prefix and "/", then at most 63 alphanumerics, "-", "_" or ".", starting and ending alphanumeric',
  tolerationExistsNoValue: 'a toleration with operator Exists must not have a value',
  tolerationEmptyKeyNeedsExists:
    'a toleration without a key must use operator Exists (it then matches every taint)',
  tolerationSecondsNeedsNoExecute: 'tolerationSeconds applies only to effect NoExecute',
  uniqueDomains: 'domains in domains.selectors must be unique and differ from domains.default',
  selectorNotEmpty:
    'selector must have at least one label: a domain without a selector is the default domain, set it as domains.default',
  domainsNeedConfigure:
    'domains requires knative.configure to be true: only the gateway that configures Knative sets its domains',
  externalHostSuffix:
    'must be a DNS name with at least two labels (example.com allows example.com and every name under it)',
  externalHostPortsUnique: 'ports must be unique',
  selectorsNeedDefault:
    'domains.default is required with domains.selectors: Knative needs a default domain for routes that no selector matches',
} as const;

/** What kgw says about a string that does not match one of the patterns above (runtime validation). */
export const PATTERN_MESSAGES: ReadonlyMap<string, (value: string) => string> = new Map([
  [DNS1123_LABEL_PATTERN, (v: string) => `${JSON.stringify(v)} must be an RFC 1123 label`],
  [DNS1123_SUBDOMAIN_PATTERN, (v: string) => `${JSON.stringify(v)} must be an RFC 1123 subdomain`],
  [QUALIFIED_NAME_PATTERN, () => 'must be a qualified name such as example.com/internal-vip'],
  [LABEL_VALUE_PATTERN, (v: string) => `${JSON.stringify(v)} is not a valid label value`],
  [QUANTITY_PATTERN, (v: string) => `${JSON.stringify(v)} is not a quantity (e.g. 500m, 2, 128Mi)`],
  [
    IMAGE_PATTERN,
    () => `must be an image reference without spaces, at most ${LIMITS.imageMaxLength} characters`,
  ],
  [WILDCARD_DNS_PATTERN, () => MESSAGES.certificateDnsName],
  [EXTERNAL_HOST_SUFFIX_PATTERN, () => MESSAGES.externalHostSuffix],
]);
