// KnativeGateway (operator.kgw.dev/v1alpha1, cluster-scoped): the ingress class a kgw instance
// serves, the Envoy fleets that serve it, and the Knative Serving configuration it owns. This
// module is the single source of the API's names, defaults and limits: the CRD generator
// (operator/gen) builds the OpenAPI schema and CEL rules from the constants below, and
// `validateGatewaySpec` reports the same problems with the same messages for callers that do not
// go through the API server (local runtime, tests, webhooks).
//
// Compatibility note (v1alpha1, unreleased): the first cut had `accessLog: <boolean>` on a fleet.
// It is now an object, `accessLog: {enabled, format}`. The API server no longer accepts the
// boolean, but kgw still reads it from objects stored by the first-cut CRD (true ≙ {enabled:
// true}), so an upgrade never makes a stored gateway unreadable. Every other first-cut field
// keeps its name and meaning; `replicas` still has no schema default, which is what lets it be
// mutually exclusive with `autoscaling`.
import { createHash } from 'node:crypto';
import type { ObjectMeta, Visibility } from './kingress.ts';
import type { JsonObject } from './schema-builders.ts';
import type { FleetAccessLog, FleetClientIP, FleetHttp } from './knativegateway-fleet-edge-schema.ts';
import type { FleetDisruptionBudget, Toleration } from './knativegateway-fleet-runtime-schema.ts';
import type { FleetSpec } from './knativegateway-fleet-schema.ts';
import type {
  DomainClaimRule,
  DomainSelector,
  ExternalHostRule,
  IssuerRef,
  KnativeGatewaySpec,
} from './knativegateway-spec-schema.ts';
import type { FleetStatus, KnativeGatewayStatus } from './knativegateway-status-schema.ts';

import {
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  LABEL_GATEWAY,
  LABEL_FLEET,
  VISIBILITIES,
  type ServiceType,
  SERVICE_TYPES,
  type ExternalTrafficPolicy,
  EXTERNAL_TRAFFIC_POLICIES,
  type EnvoyLogLevel,
  ENVOY_LOG_LEVELS,
  type AccessLogFormat,
  ACCESS_LOG_FORMATS,
  type HttpProtocol,
  HTTP_PROTOCOLS,
  type ExternalDomainTLS,
  EXTERNAL_DOMAIN_TLS_VALUES,
  TOLERATION_OPERATORS,
  TOLERATION_EFFECTS,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_NAMESPACE,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_REPLICAS,
  DEFAULT_ACCESS_LOG,
  DEFAULT_ACCESS_LOG_FORMAT,
  DEFAULT_METRICS,
  DEFAULT_METRICS_PORT,
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
  RESERVED_LISTENER_PORTS,
  type EscapedSlashesAction,
  ESCAPED_SLASHES_ACTIONS,
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
  DNS1123_LABEL_PATTERN,
  DNS1123_SUBDOMAIN_PATTERN,
  QUALIFIED_NAME_PATTERN,
  LABEL_VALUE_PATTERN,
  QUANTITY_PATTERN,
  PERCENT_PATTERN,
  IMAGE_PATTERN,
  WILDCARD_DNS_PATTERN,
  EXTERNAL_HOST_SUFFIX_PATTERN,
  MESSAGES,
} from './knativegateway-constants.ts';

export * from './knativegateway-constants.ts';
export type * from './knativegateway-fleet-runtime-schema.ts';
export type * from './knativegateway-fleet-edge-schema.ts';
export type * from './knativegateway-fleet-schema.ts';
export type * from './knativegateway-spec-schema.ts';
export type * from './knativegateway-status-schema.ts';

const DNS1123_LABEL_RE = new RegExp(DNS1123_LABEL_PATTERN);
const DNS1123_SUBDOMAIN_RE = new RegExp(DNS1123_SUBDOMAIN_PATTERN);
const QUALIFIED_NAME_RE = new RegExp(QUALIFIED_NAME_PATTERN);
const LABEL_VALUE_RE = new RegExp(LABEL_VALUE_PATTERN);
const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);
const PERCENT_RE = new RegExp(PERCENT_PATTERN);
const IMAGE_RE = new RegExp(IMAGE_PATTERN);
/** RFC 1035 label (Service names): like RFC 1123 but starting with a letter. */
const DNS1035_LABEL_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const WILDCARD_DNS_RE = new RegExp(WILDCARD_DNS_PATTERN);
// ---------------------------------------------------------------------------------------------
// Types: the object as stored (optional where a default applies) …

/** A Kubernetes int-or-string value (an integer or a string such as "50%"). */
export type IntOrString = number | string;
export type { JsonObject } from './schema-builders.ts';

export interface KnativeGateway {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: KnativeGatewaySpec;
  status?: KnativeGatewayStatus;
}

// … and with every default applied (what the rest of kgw works with).

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
}

// ---------------------------------------------------------------------------------------------
// Defaults

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

// ---------------------------------------------------------------------------------------------
// Validation

/**
 * Problems with a spec, as `<field path>: <message>` lines (empty when valid). Mirrors the CRD's
 * schema and CEL rules (same limits, same messages) and adds what they cannot express: two fleets
 * whose generated Service names would collide. Defensive about shapes: the input may be any
 * decoded JSON.
 */
export function validateGatewaySpec(spec: KnativeGatewaySpec): string[] {
  const errs: string[] = [];
  if (!isObject(spec)) return ['spec: must be an object'];
  optionalString(
    errs,
    'spec.ingressClass',
    spec.ingressClass,
    DNS1123_SUBDOMAIN_RE,
    LIMITS.ingressClassMaxLength,
  );
  optionalString(errs, 'spec.namespace', spec.namespace, DNS1123_LABEL_RE, LIMITS.namespaceMaxLength);
  optionalString(
    errs,
    'spec.clusterDomain',
    spec.clusterDomain,
    DNS1123_SUBDOMAIN_RE,
    LIMITS.clusterDomainMaxLength,
  );
  const fleets: unknown = spec.fleets;
  if (!Array.isArray(fleets)) {
    errs.push(`spec.fleets: required: a list of ${LIMITS.minFleets} to ${LIMITS.maxFleets} fleets`);
  } else {
    if (fleets.length < LIMITS.minFleets || fleets.length > LIMITS.maxFleets) {
      errs.push(
        `spec.fleets: must have ${LIMITS.minFleets} to ${LIMITS.maxFleets} items, has ${fleets.length}`,
      );
    }
    const seen = new Set<string>();
    let duplicate = false;
    fleets.forEach((f: unknown, i) => {
      validateFleet(errs, `spec.fleets[${i}]`, f);
      if (isObject(f) && typeof f.name === 'string') {
        if (seen.has(f.name)) duplicate = true;
        seen.add(f.name);
      }
    });
    if (duplicate) errs.push(`spec.fleets: ${MESSAGES.uniqueFleetNames}`);
  }
  if (spec.domains !== undefined) validateDomains(errs, 'spec.domains', spec.domains);
  if (spec.knative !== undefined) validateKnative(errs, 'spec.knative', spec.knative);
  if (spec.tls !== undefined) validateTLS(errs, 'spec.tls', spec.tls, spec);
  if (spec.domainClaims !== undefined) validateDomainClaims(errs, 'spec.domainClaims', spec.domainClaims);
  if (spec.externalNames !== undefined) validateExternalNames(errs, 'spec.externalNames', spec.externalNames);
  if (
    isObject(spec.domainClaims) &&
    spec.domainClaims.autoCreate === true &&
    isObject(spec.knative) &&
    spec.knative.autocreateClusterDomainClaims === true
  ) {
    errs.push(`spec.domainClaims.autoCreate: ${MESSAGES.twoClaimCreators}`);
  }
  if (spec.domains !== undefined && isObject(spec.knative) && spec.knative.configure === false) {
    errs.push(`spec: ${MESSAGES.domainsNeedConfigure}`);
  }
  return errs;
}

/** `validateGatewaySpec` plus the checks on metadata.name and the generated Service names. */
export function validateGateway(gw: KnativeGateway): string[] {
  const errs: string[] = [];
  const name: unknown = gw.metadata?.name;
  if (typeof name !== 'string' || !DNS1123_SUBDOMAIN_RE.test(name)) {
    errs.push('metadata.name: must be an RFC 1123 subdomain');
  } else if (name.length > LIMITS.gatewayNameMaxLength) {
    errs.push(`metadata.name: ${MESSAGES.gatewayNameTooLong}`);
  }
  errs.push(...validateGatewaySpec(gw.spec));
  if (errs.length === 0) {
    const collisions = fleetServiceNameCollisions([gw]);
    for (const c of collisions) errs.push(`spec.fleets: ${c}`);
  }
  return errs;
}

function validateFleet(errs: string[], path: string, f: unknown): void {
  if (!isObject(f)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (typeof f.name !== 'string') {
    errs.push(`${path}.name: required`);
  } else if (f.name.length > LIMITS.fleetNameMaxLength) {
    errs.push(`${path}.name: must be at most ${LIMITS.fleetNameMaxLength} characters`);
  } else if (!DNS1123_LABEL_RE.test(f.name)) {
    errs.push(`${path}.name: ${JSON.stringify(f.name)} must be an RFC 1123 label (a-z, 0-9, '-')`);
  }
  const visibility: unknown = f.visibility;
  const knownVisibility = VISIBILITIES.includes(visibility as Visibility);
  if (!knownVisibility) {
    errs.push(`${path}.visibility: must be one of ${VISIBILITIES.join(', ')}`);
  }
  if (f.replicas !== undefined) {
    intInRange(errs, `${path}.replicas`, f.replicas, LIMITS.minReplicas, LIMITS.maxReplicas);
  }
  if (f.replicas !== undefined && f.autoscaling !== undefined) {
    errs.push(`${path}: ${MESSAGES.replicasOrAutoscaling}`);
  }
  if (f.autoscaling !== undefined) validateAutoscaling(errs, `${path}.autoscaling`, f.autoscaling);
  if (f.podDisruptionBudget !== undefined) {
    validatePdb(errs, `${path}.podDisruptionBudget`, f.podDisruptionBudget);
  }
  if (f.resources !== undefined) {
    validateResources(errs, `${path}.resources`, f.resources);
    if (f.autoscaling !== undefined && isObject(f.resources)) {
      const requests = f.resources.requests;
      if (!isObject(requests) || requests.cpu === undefined) {
        errs.push(`${path}: ${MESSAGES.autoscalingNeedsCpuRequest}`);
      }
    }
  }
  if (f.ports !== undefined) {
    if (!isObject(f.ports)) {
      errs.push(`${path}.ports: must be an object`);
    } else {
      for (const k of ['http', 'https'] as const) {
        const v = f.ports[k];
        if (v !== undefined) {
          intInRange(errs, `${path}.ports.${k}`, v, LIMITS.minListenerPort, LIMITS.maxListenerPort);
        }
      }
      if (knownVisibility) {
        const d = defaultListenerPorts(visibility as Visibility);
        const http = f.ports.http ?? d.http;
        const https = f.ports.https ?? d.https;
        if (http === https) errs.push(`${path}: ${MESSAGES.listenerPortsDiffer}`);
        if (
          RESERVED_LISTENER_PORTS.includes(http as number) ||
          RESERVED_LISTENER_PORTS.includes(https as number)
        ) {
          errs.push(`${path}: ${MESSAGES.reservedListenerPorts}`);
        }
      }
    }
  }
  if (f.service !== undefined) {
    validateService(errs, path, f.service, knownVisibility ? (visibility as Visibility) : undefined);
  }
  if (f.placement !== undefined) validatePlacement(errs, `${path}.placement`, f.placement);
  if (f.envoy !== undefined) validateEnvoy(errs, `${path}.envoy`, f.envoy);
  if (f.accessLog !== undefined && typeof f.accessLog !== 'boolean') {
    // A boolean is the first cut's form, still read (see the compatibility note at the top).
    if (!isObject(f.accessLog)) {
      errs.push(`${path}.accessLog: must be an object: {enabled: true|false, format: text|json}`);
    } else {
      optionalBool(errs, `${path}.accessLog.enabled`, f.accessLog.enabled);
      optionalEnum(errs, `${path}.accessLog.format`, f.accessLog.format, ACCESS_LOG_FORMATS);
    }
  }
  if (f.metrics !== undefined) {
    validateMetrics(errs, path, f.metrics, f.ports, knownVisibility ? (visibility as Visibility) : undefined);
  }
  if (f.tracing !== undefined) validateTracing(errs, `${path}.tracing`, f.tracing);
  if (f.http !== undefined) validateHttp(errs, `${path}.http`, f.http);
  if (f.clientIP !== undefined) validateClientIP(errs, `${path}.clientIP`, f.clientIP);
}

function validateTracing(errs: string[], path: string, t: unknown): void {
  if (!isObject(t)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  optionalBool(errs, `${path}.enabled`, t.enabled);
  const c = t.collector;
  if (c !== undefined && !isObject(c)) errs.push(`${path}.collector: must be an object`);
  const collector = isObject(c) ? c : {};
  if (collector.host !== undefined) {
    if (
      typeof collector.host !== 'string' ||
      collector.host.length > LIMITS.tracingHostMaxLength ||
      !DNS1123_SUBDOMAIN_RE.test(collector.host)
    ) {
      errs.push(`${path}.collector.host: ${MESSAGES.tracingHost}`);
    }
  } else if (t.enabled === true) {
    errs.push(`${path}.collector.host: ${MESSAGES.tracingHostRequired}`);
  }
  if (collector.port !== undefined) intInRange(errs, `${path}.collector.port`, collector.port, 1, 65535);
  const pct = t.samplingPercent;
  if (pct !== undefined && (typeof pct !== 'number' || !Number.isFinite(pct) || pct < 0 || pct > 100)) {
    errs.push(`${path}.samplingPercent: must be a number from 0 to 100`);
  }
}

/**
 * `metrics` of the fleet at `path`. An enabled stats listener's port must differ from the fleet's
 * effective listener ports and from the readiness port (a disabled one listens nowhere).
 */
function validateMetrics(
  errs: string[],
  path: string,
  m: unknown,
  ports: unknown,
  visibility: Visibility | undefined,
): void {
  if (!isObject(m)) {
    errs.push(`${path}.metrics: must be an object`);
    return;
  }
  optionalBool(errs, `${path}.metrics.enabled`, m.enabled);
  if (m.port !== undefined) {
    intInRange(errs, `${path}.metrics.port`, m.port, LIMITS.minListenerPort, LIMITS.maxListenerPort);
  }
  if (m.enabled !== true || visibility === undefined) return;
  const d = defaultListenerPorts(visibility);
  const p = isObject(ports) ? ports : {};
  const port = m.port ?? DEFAULT_METRICS_PORT;
  if (
    port === (p.http ?? d.http) ||
    port === (p.https ?? d.https) ||
    RESERVED_LISTENER_PORTS.includes(port as number)
  ) {
    errs.push(`${path}: ${MESSAGES.metricsPortDiffers}`);
  }
}

function validateHttp(errs: string[], path: string, h: unknown): void {
  if (!isObject(h)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  for (const k of ['normalizePath', 'mergeSlashes', 'stripTrailingHostDot', 'stripHostPort'] as const) {
    optionalBool(errs, `${path}.${k}`, h[k]);
  }
  optionalEnum(errs, `${path}.escapedSlashes`, h.escapedSlashes, ESCAPED_SLASHES_ACTIONS);
  const ranges = {
    requestHeadersTimeoutSeconds: [0, LIMITS.maxRequestHeadersTimeoutSeconds],
    streamIdleTimeoutSeconds: [0, LIMITS.maxStreamIdleTimeoutSeconds],
    maxRequestHeadersKiB: [1, LIMITS.maxRequestHeadersKiB],
    maxRequestHeaders: [1, LIMITS.maxRequestHeaders],
  } as const;
  for (const [k, [min, max]] of Object.entries(ranges)) {
    if (h[k] !== undefined) intInRange(errs, `${path}.${k}`, h[k], min, max);
  }
  const v = h.http10;
  if (v === undefined) return;
  if (!isObject(v)) {
    errs.push(`${path}.http10: must be an object`);
    return;
  }
  optionalBool(errs, `${path}.http10.enabled`, v.enabled);
  optionalString(
    errs,
    `${path}.http10.defaultHost`,
    v.defaultHost,
    DNS1123_SUBDOMAIN_RE,
    LIMITS.domainMaxLength,
  );
}

function validateClientIP(errs: string[], path: string, c: unknown): void {
  if (!isObject(c)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (c.xffNumTrustedHops !== undefined) {
    intInRange(errs, `${path}.xffNumTrustedHops`, c.xffNumTrustedHops, 0, LIMITS.maxXffNumTrustedHops);
  }
  optionalBool(errs, `${path}.proxyProtocol`, c.proxyProtocol);
}

function validateAutoscaling(errs: string[], path: string, a: unknown): void {
  if (!isObject(a)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (a.maxReplicas === undefined) errs.push(`${path}.maxReplicas: required`);
  else intInRange(errs, `${path}.maxReplicas`, a.maxReplicas, LIMITS.minReplicas, LIMITS.maxReplicas);
  if (a.minReplicas !== undefined) {
    intInRange(errs, `${path}.minReplicas`, a.minReplicas, LIMITS.minReplicas, LIMITS.maxReplicas);
  }
  if (a.targetCPUUtilizationPercentage !== undefined) {
    intInRange(
      errs,
      `${path}.targetCPUUtilizationPercentage`,
      a.targetCPUUtilizationPercentage,
      LIMITS.minTargetCPU,
      LIMITS.maxTargetCPU,
    );
  }
  const min = a.minReplicas ?? DEFAULT_AUTOSCALING_MIN_REPLICAS;
  if (typeof min === 'number' && typeof a.maxReplicas === 'number' && min > a.maxReplicas) {
    errs.push(`${path}: ${MESSAGES.autoscalingMinAboveMax}`);
  }
}

function validatePdb(errs: string[], path: string, p: unknown): void {
  if (!isObject(p)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if ((p.minAvailable === undefined) === (p.maxUnavailable === undefined)) {
    errs.push(`${path}: ${MESSAGES.pdbExactlyOne}`);
  }
  for (const k of ['minAvailable', 'maxUnavailable'] as const) {
    const v = p[k];
    if (v === undefined) continue;
    const ok =
      (typeof v === 'number' && Number.isInteger(v) && v >= 0) ||
      (typeof v === 'string' && PERCENT_RE.test(v));
    if (!ok) errs.push(`${path}.${k}: ${MESSAGES.pdbValue}`);
  }
}

function validateResources(errs: string[], path: string, r: unknown): void {
  if (!isObject(r)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  for (const k of ['requests', 'limits'] as const) {
    const m = r[k];
    if (m === undefined) continue;
    if (!isObject(m)) {
      errs.push(`${path}.${k}: must be a map of resource name to quantity`);
      continue;
    }
    for (const [name, q] of Object.entries(m)) {
      const ok =
        (typeof q === 'number' && Number.isFinite(q)) || (typeof q === 'string' && QUANTITY_RE.test(q));
      if (!ok)
        errs.push(`${path}.${k}.${name}: ${JSON.stringify(q)} is not a quantity (e.g. 500m, 2, 128Mi)`);
    }
  }
}

function validateService(
  errs: string[],
  fleetPath: string,
  s: unknown,
  visibility: Visibility | undefined,
): void {
  const path = `${fleetPath}.service`;
  if (!isObject(s)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  for (const k of ['httpPort', 'httpsPort'] as const) {
    const v = s[k];
    if (v !== undefined) intInRange(errs, `${path}.${k}`, v, LIMITS.minServicePort, LIMITS.maxServicePort);
  }
  const http = s.httpPort ?? DEFAULT_SERVICE_HTTP_PORT;
  const https = s.httpsPort ?? DEFAULT_SERVICE_HTTPS_PORT;
  if (http === https) errs.push(`${path}: ${MESSAGES.servicePortsDiffer}`);
  optionalEnum(errs, `${path}.type`, s.type, SERVICE_TYPES);
  optionalEnum(errs, `${path}.externalTrafficPolicy`, s.externalTrafficPolicy, EXTERNAL_TRAFFIC_POLICIES);
  if (s.annotations !== undefined) {
    stringMap(errs, `${path}.annotations`, s.annotations, LIMITS.annotationValueMaxLength);
  }
  if (s.loadBalancerClass !== undefined) {
    if (typeof s.loadBalancerClass !== 'string' || !QUALIFIED_NAME_RE.test(s.loadBalancerClass)) {
      errs.push(`${path}.loadBalancerClass: must be a qualified name such as example.com/internal-vip`);
    }
  }
  if (visibility !== undefined) {
    const type = s.type ?? defaultServiceType(visibility);
    if (s.externalTrafficPolicy !== undefined && type === 'ClusterIP') {
      errs.push(`${fleetPath}: ${MESSAGES.externalTrafficPolicyNeedsExternal}`);
    }
    if (s.loadBalancerClass !== undefined && type !== 'LoadBalancer') {
      errs.push(`${fleetPath}: ${MESSAGES.loadBalancerClassNeedsLoadBalancer}`);
    }
  }
}

function validatePlacement(errs: string[], path: string, p: unknown): void {
  if (!isObject(p)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (p.nodeSelector !== undefined) {
    stringMap(errs, `${path}.nodeSelector`, p.nodeSelector, LIMITS.labelValueMaxLength, LABEL_VALUE_RE);
  }
  if (p.tolerations !== undefined) {
    if (!Array.isArray(p.tolerations)) errs.push(`${path}.tolerations: must be a list`);
    else {
      if (p.tolerations.length > LIMITS.maxTolerations) {
        errs.push(`${path}.tolerations: must have at most ${LIMITS.maxTolerations} items`);
      }
      p.tolerations.forEach((t: unknown, i) => validateToleration(errs, `${path}.tolerations[${i}]`, t));
    }
  }
  if (p.affinity !== undefined && !isObject(p.affinity)) errs.push(`${path}.affinity: must be an object`);
  if (p.topologySpreadConstraints !== undefined) {
    const t: unknown = p.topologySpreadConstraints;
    if (!Array.isArray(t) || !t.every(isObject)) {
      errs.push(`${path}.topologySpreadConstraints: must be a list of objects`);
    } else if (t.length > LIMITS.maxTopologySpreadConstraints) {
      errs.push(
        `${path}.topologySpreadConstraints: must have at most ${LIMITS.maxTopologySpreadConstraints} items`,
      );
    }
  }
  optionalString(
    errs,
    `${path}.priorityClassName`,
    p.priorityClassName,
    DNS1123_SUBDOMAIN_RE,
    LIMITS.priorityClassNameMaxLength,
  );
}

function validateToleration(errs: string[], path: string, t: unknown): void {
  if (!isObject(t)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (
    t.key !== undefined &&
    (typeof t.key !== 'string' || (t.key !== '' && !QUALIFIED_NAME_RE.test(t.key)))
  ) {
    errs.push(`${path}.key: must be a qualified name (a taint key)`);
  }
  optionalEnum(errs, `${path}.operator`, t.operator, TOLERATION_OPERATORS);
  optionalEnum(errs, `${path}.effect`, t.effect, TOLERATION_EFFECTS);
  if (t.value !== undefined && typeof t.value !== 'string') errs.push(`${path}.value: must be a string`);
  if (
    t.tolerationSeconds !== undefined &&
    (typeof t.tolerationSeconds !== 'number' || !Number.isInteger(t.tolerationSeconds))
  ) {
    errs.push(`${path}.tolerationSeconds: must be an integer`);
  }
  const operator = t.operator ?? 'Equal';
  if (operator === 'Exists' && t.value !== undefined && t.value !== '') {
    errs.push(`${path}: ${MESSAGES.tolerationExistsNoValue}`);
  }
  if ((t.key === undefined || t.key === '') && operator !== 'Exists') {
    errs.push(`${path}: ${MESSAGES.tolerationEmptyKeyNeedsExists}`);
  }
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
    errs.push(`${path}: ${MESSAGES.tolerationSecondsNeedsNoExecute}`);
  }
}

function validateEnvoy(errs: string[], path: string, e: unknown): void {
  if (!isObject(e)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (e.image !== undefined) {
    if (typeof e.image !== 'string' || e.image.length > LIMITS.imageMaxLength || !IMAGE_RE.test(e.image)) {
      errs.push(
        `${path}.image: must be an image reference without spaces, at most ${LIMITS.imageMaxLength} characters`,
      );
    }
  }
  optionalEnum(errs, `${path}.logLevel`, e.logLevel, ENVOY_LOG_LEVELS);
  if (e.concurrency !== undefined)
    intInRange(errs, `${path}.concurrency`, e.concurrency, 1, LIMITS.maxConcurrency);
  if (e.drainSeconds !== undefined) {
    intInRange(errs, `${path}.drainSeconds`, e.drainSeconds, 0, LIMITS.maxDrainSeconds);
  }
  if (e.maxHeapMiB !== undefined) {
    intInRange(errs, `${path}.maxHeapMiB`, e.maxHeapMiB, 0, LIMITS.maxHeapMiB);
    if (typeof e.maxHeapMiB === 'number' && e.maxHeapMiB > 0 && e.maxHeapMiB < LIMITS.minHeapMiB) {
      errs.push(`${path}.maxHeapMiB: ${MESSAGES.maxHeapMiB}`);
    }
  }
}

function validateDomains(errs: string[], path: string, d: unknown): void {
  if (!isObject(d)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  optionalString(errs, `${path}.default`, d.default, DNS1123_SUBDOMAIN_RE, LIMITS.domainMaxLength);
  if (d.template !== undefined) {
    if (typeof d.template !== 'string' || d.template.length === 0) {
      errs.push(`${path}.template: must be a non-empty string`);
    } else if (d.template.length > LIMITS.domainTemplateMaxLength) {
      errs.push(`${path}.template: must be at most ${LIMITS.domainTemplateMaxLength} characters`);
    }
  }
  if (d.selectors === undefined) return;
  if (!Array.isArray(d.selectors)) {
    errs.push(`${path}.selectors: must be a list`);
    return;
  }
  if (d.selectors.length > LIMITS.maxDomainSelectors) {
    errs.push(`${path}.selectors: must have at most ${LIMITS.maxDomainSelectors} items`);
  }
  if (d.selectors.length > 0 && d.default === undefined)
    errs.push(`${path}: ${MESSAGES.selectorsNeedDefault}`);
  const seen = new Set<unknown>([d.default]);
  let duplicate = false;
  d.selectors.forEach((s: unknown, i) => {
    const p = `${path}.selectors[${i}]`;
    if (!isObject(s)) {
      errs.push(`${p}: must be an object`);
      return;
    }
    if (s.domain === undefined) errs.push(`${p}.domain: required`);
    else optionalString(errs, `${p}.domain`, s.domain, DNS1123_SUBDOMAIN_RE, LIMITS.domainMaxLength);
    if (seen.has(s.domain)) duplicate = true;
    seen.add(s.domain);
    if (s.selector === undefined) errs.push(`${p}.selector: required`);
    else {
      stringMap(errs, `${p}.selector`, s.selector, LIMITS.labelValueMaxLength, LABEL_VALUE_RE);
      if (isObject(s.selector) && Object.keys(s.selector).length === 0) {
        errs.push(`${p}.selector: ${MESSAGES.selectorNotEmpty}`);
      }
    }
  });
  if (duplicate) errs.push(`${path}.selectors: ${MESSAGES.uniqueDomains}`);
}

function validateKnative(errs: string[], path: string, k: unknown): void {
  if (!isObject(k)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  optionalBool(errs, `${path}.configure`, k.configure);
  optionalString(errs, `${path}.namespace`, k.namespace, DNS1123_LABEL_RE, LIMITS.namespaceMaxLength);
  optionalEnum(errs, `${path}.httpProtocol`, k.httpProtocol, HTTP_PROTOCOLS);
  optionalEnum(errs, `${path}.externalDomainTLS`, k.externalDomainTLS, EXTERNAL_DOMAIN_TLS_VALUES);
  optionalBool(errs, `${path}.autocreateClusterDomainClaims`, k.autocreateClusterDomainClaims);
}

function validateIssuer(errs: string[], path: string, v: unknown): void {
  if (!isObject(v)) {
    errs.push(`${path}: must be an object with a name`);
    return;
  }
  if (typeof v.name !== 'string') errs.push(`${path}.name: required`);
  else optionalString(errs, `${path}.name`, v.name, DNS1123_SUBDOMAIN_RE, LIMITS.issuerNameMaxLength);
}

function validateTLS(errs: string[], path: string, t: unknown, spec: KnativeGatewaySpec): void {
  if (!isObject(t)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  if (t.externalIssuer !== undefined) validateIssuer(errs, `${path}.externalIssuer`, t.externalIssuer);
  if (t.clusterLocalIssuer !== undefined)
    validateIssuer(errs, `${path}.clusterLocalIssuer`, t.clusterLocalIssuer);
  const dc = t.defaultCertificate;
  if (dc === undefined) return;
  if (!isObject(dc)) {
    errs.push(`${path}.defaultCertificate: must be an object`);
    return;
  }
  validateIssuer(errs, `${path}.defaultCertificate.issuer`, dc.issuer);
  if (dc.dnsNames !== undefined) {
    if (!Array.isArray(dc.dnsNames) || dc.dnsNames.length === 0) {
      errs.push(`${path}.defaultCertificate.dnsNames: must be a non-empty list`);
    } else {
      dc.dnsNames.forEach((n: unknown, i) => {
        if (typeof n !== 'string' || !WILDCARD_DNS_RE.test(n)) {
          errs.push(`${path}.defaultCertificate.dnsNames[${i}]: ${MESSAGES.certificateDnsName}`);
        }
      });
    }
  } else if (spec.domains?.default === undefined) {
    errs.push(`${path}.defaultCertificate.dnsNames: ${MESSAGES.defaultCertificateNeedsNames}`);
  }
  if (dc.fleets !== undefined) {
    const names = new Set((spec.fleets ?? []).map((f) => f.name));
    if (!Array.isArray(dc.fleets))
      errs.push(`${path}.defaultCertificate.fleets: must be a list of fleet names`);
    else
      dc.fleets.forEach((f: unknown, i) => {
        if (typeof f !== 'string' || !names.has(f))
          errs.push(`${path}.defaultCertificate.fleets[${i}]: ${MESSAGES.unknownFleet}`);
      });
  }
}

const EXTERNAL_HOST_SUFFIX_RE = new RegExp(EXTERNAL_HOST_SUFFIX_PATTERN);

function validateExternalNames(errs: string[], path: string, e: unknown): void {
  if (!isObject(e)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  const ns = e.allowedNamespaces;
  if (ns !== undefined) {
    if (!Array.isArray(ns) || ns.length > LIMITS.maxExternalNameNamespaces)
      errs.push(
        `${path}.allowedNamespaces: must be a list of at most ${LIMITS.maxExternalNameNamespaces} namespaces`,
      );
    else
      ns.forEach((n: unknown, i) => {
        if (typeof n !== 'string' || n.length > LIMITS.namespaceMaxLength || !DNS1123_LABEL_RE.test(n))
          errs.push(`${path}.allowedNamespaces[${i}]: must be a namespace name`);
      });
  }
  const hosts = e.allowedHosts;
  if (hosts === undefined) return;
  if (!Array.isArray(hosts) || hosts.length > LIMITS.maxExternalNameHosts) {
    errs.push(`${path}.allowedHosts: must be a list of at most ${LIMITS.maxExternalNameHosts} entries`);
    return;
  }
  hosts.forEach((h: unknown, i) => {
    const hp = `${path}.allowedHosts[${i}]`;
    if (!isObject(h)) {
      errs.push(`${hp}: must be an object`);
      return;
    }
    if (
      typeof h.suffix !== 'string' ||
      h.suffix.length > LIMITS.domainMaxLength ||
      !EXTERNAL_HOST_SUFFIX_RE.test(h.suffix)
    )
      errs.push(`${hp}.suffix: ${MESSAGES.externalHostSuffix}`);
    const ports = h.ports;
    if (!Array.isArray(ports) || ports.length === 0 || ports.length > LIMITS.maxExternalNamePorts) {
      errs.push(`${hp}.ports: must list 1 to ${LIMITS.maxExternalNamePorts} ports`);
      return;
    }
    ports.forEach((p: unknown, j) => {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535)
        errs.push(`${hp}.ports[${j}]: must be a port number from 1 to 65535`);
    });
    if (new Set(ports).size !== ports.length) errs.push(`${hp}.ports: ${MESSAGES.externalHostPortsUnique}`);
  });
}

function validateDomainClaims(errs: string[], path: string, d: unknown): void {
  if (!isObject(d)) {
    errs.push(`${path}: must be an object`);
    return;
  }
  optionalBool(errs, `${path}.autoCreate`, d.autoCreate);
  if (d.rules === undefined) return;
  if (!Array.isArray(d.rules)) {
    errs.push(`${path}.rules: must be a list`);
    return;
  }
  d.rules.forEach((r: unknown, i) => {
    const rp = `${path}.rules[${i}]`;
    if (!isObject(r)) {
      errs.push(`${rp}: must be an object`);
      return;
    }
    if (!Array.isArray(r.domains) || r.domains.length === 0)
      errs.push(`${rp}.domains: ${MESSAGES.claimRuleDomains}`);
    else
      r.domains.forEach((x: unknown, j) => {
        if (typeof x !== 'string' || !DNS1123_SUBDOMAIN_RE.test(x))
          errs.push(`${rp}.domains[${j}]: must be a domain suffix such as example.com`);
      });
    const sel = r.namespaceSelector;
    if (sel === undefined) return;
    if (!isObject(sel)) {
      errs.push(`${rp}.namespaceSelector: must be a label selector`);
      return;
    }
    if (sel.matchLabels !== undefined)
      stringMap(errs, `${rp}.namespaceSelector.matchLabels`, sel.matchLabels, LIMITS.labelValueMaxLength);
    if (sel.matchExpressions !== undefined) {
      if (!Array.isArray(sel.matchExpressions))
        errs.push(`${rp}.namespaceSelector.matchExpressions: must be a list`);
      else
        sel.matchExpressions.forEach((e: unknown, k) => {
          const ep = `${rp}.namespaceSelector.matchExpressions[${k}]`;
          if (!isObject(e) || typeof e.key !== 'string') {
            errs.push(`${ep}.key: required`);
            return;
          }
          if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator as string))
            errs.push(`${ep}.operator: must be one of In, NotIn, Exists, DoesNotExist`);
          const withValues = e.operator === 'In' || e.operator === 'NotIn';
          const n = Array.isArray(e.values) ? e.values.length : 0;
          if (withValues && n === 0) errs.push(`${ep}.values: ${MESSAGES.selectorValuesNeeded}`);
          if (!withValues && n > 0) errs.push(`${ep}.values: ${MESSAGES.selectorValuesForbidden}`);
        });
    }
  });
}

function optionalString(errs: string[], path: string, v: unknown, re: RegExp, maxLength: number): void {
  if (v === undefined) return;
  if (typeof v !== 'string') {
    errs.push(`${path}: must be a string`);
  } else if (v.length > maxLength) {
    errs.push(`${path}: must be at most ${maxLength} characters`);
  } else if (!re.test(v)) {
    const what = re === DNS1123_LABEL_RE ? 'an RFC 1123 label' : 'an RFC 1123 subdomain';
    errs.push(`${path}: ${JSON.stringify(v)} must be ${what}`);
  }
}

function optionalBool(errs: string[], path: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') errs.push(`${path}: must be a boolean`);
}

function optionalEnum(errs: string[], path: string, v: unknown, values: readonly string[]): void {
  if (v !== undefined && !values.includes(v as string))
    errs.push(`${path}: must be one of ${values.join(', ')}`);
}

/** A map with qualified-name keys and string values (labels, annotations, selectors). */
function stringMap(errs: string[], path: string, m: unknown, valueMaxLength: number, valueRe?: RegExp): void {
  if (!isObject(m)) {
    errs.push(`${path}: must be a map of strings`);
    return;
  }
  const entries = Object.entries(m);
  if (entries.length > LIMITS.maxMapEntries)
    errs.push(`${path}: must have at most ${LIMITS.maxMapEntries} entries`);
  if (!entries.every(([k]) => QUALIFIED_NAME_RE.test(k))) errs.push(`${path}: ${MESSAGES.qualifiedNameKeys}`);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') errs.push(`${path}.${k}: must be a string`);
    else if (v.length > valueMaxLength)
      errs.push(`${path}.${k}: must be at most ${valueMaxLength} characters`);
    else if (valueRe !== undefined && !valueRe.test(v)) {
      errs.push(`${path}.${k}: ${JSON.stringify(v)} is not a valid label value`);
    }
  }
}

function intInRange(errs: string[], path: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    errs.push(`${path}: must be an integer`);
  } else if (v < min || v > max) {
    errs.push(`${path}: must be between ${min} and ${max}, is ${v}`);
  }
}

/** Narrows decoded JSON to a record whose values are still unknown. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Derived names

/**
 * Name of the Service (and of the other per-fleet objects) that publishes a fleet:
 * `kgw-<gateway>-<fleet>`. When that is longer than 63 characters or not a valid Service name
 * (a gateway name with dots), it is cut and suffixed with a hash of `<gateway>/<fleet>`, so it
 * stays stable and distinct.
 */
export function fleetServiceName(gateway: string, fleet: string): string {
  const plain = `kgw-${gateway}-${fleet}`;
  if (plain.length <= LIMITS.serviceNameMaxLength && DNS1035_LABEL_RE.test(plain)) return plain;
  const hash = createHash('sha256').update(`${gateway}/${fleet}`).digest('hex').slice(0, 10);
  const base = plain
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, LIMITS.serviceNameMaxLength - 1 - hash.length)
    .replace(/-+$/, '');
  return `${base}-${hash}`;
}

/** The Envoy node.cluster of a fleet's replicas, which is also its xDS snapshot key. */
export function fleetXdsCluster(gateway: string, fleet: string): string {
  return `${gateway}/${fleet}`;
}

/** Inverse of `fleetXdsCluster` (undefined for anything else). */
export function parseFleetXdsCluster(cluster: string): { gateway: string; fleet: string } | undefined {
  const parts = cluster.split('/');
  if (parts.length !== 2) return undefined;
  const [gateway, fleet] = parts;
  if (gateway === undefined || fleet === undefined || gateway === '' || fleet === '') return undefined;
  return { gateway, fleet };
}

/** `<service>.<namespace>.svc.<clusterDomain>`: what KIngress status reports as `domainInternal`. */
export function fleetDomainInternal(
  gateway: string,
  fleet: string,
  namespace: string = DEFAULT_NAMESPACE,
  clusterDomain: string = DEFAULT_CLUSTER_DOMAIN,
): string {
  return `${fleetServiceName(gateway, fleet)}.${namespace}.svc.${clusterDomain}`;
}

/** Labels for every object kgw creates for a fleet. */
export function fleetLabels(gateway: string, fleet: string): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY_KGW, [LABEL_GATEWAY]: gateway, [LABEL_FLEET]: fleet };
}

/**
 * Fleets of different gateways (or, after hashing, of one gateway) whose Services would share a
 * namespace and a name, e.g. gateway `a-b` fleet `c` and gateway `a` fleet `b-c`. The API server
 * cannot see across objects, so the operator reports these on status instead.
 */
export function fleetServiceNameCollisions(
  gateways: readonly Pick<KnativeGateway, 'metadata' | 'spec'>[],
): string[] {
  const owners = new Map<string, string[]>();
  for (const gw of gateways) {
    const spec = withGatewayDefaults(gw.spec);
    for (const f of spec.fleets) {
      const key = `${spec.namespace}/${fleetServiceName(gw.metadata.name, f.name)}`;
      const list = owners.get(key) ?? [];
      list.push(fleetXdsCluster(gw.metadata.name, f.name));
      owners.set(key, list);
    }
  }
  const out: string[] = [];
  for (const [key, list] of owners) {
    if (list.length > 1) out.push(`fleets ${list.join(', ')} would all be published as Service ${key}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Status helpers

/** A fleet is ready when it wants at least one replica and all it wants are ready. */
export function isFleetReady(fs: Pick<FleetStatus, 'readyReplicas' | 'replicas'>): boolean {
  return fs.replicas >= 1 && fs.readyReplicas >= fs.replicas;
}

/** The `readyFleets` status field: `<ready>/<total>` over the spec's fleets. */
export function readyFleetsSummary(specFleets: number, fleets: readonly FleetStatus[]): string {
  return `${fleets.filter(isFleetReady).length}/${specFleets}`;
}
