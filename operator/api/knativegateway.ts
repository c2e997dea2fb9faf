// KnativeGateway (operator.kgw.dev/v1alpha1, cluster-scoped): the ingress class a kgw instance
// serves and the Envoy fleets that serve it. This module is the single source of the API's names,
// defaults and limits: the CRD generator (operator/gen) builds the OpenAPI schema and CEL rules
// from the constants below, and `validateGatewaySpec` reports the same problems with the same
// messages for callers that do not go through the API server (local runtime, tests, webhooks).
//
// First cut. Growth path (issue 3) without breaking stored objects: new optional siblings only
// (fleet `autoscaling`, `pdb`, `resources`, placement, `envoy`, `accessLogFormat`, …; spec
// `domains`, Knative config). That is why `replicas` has no schema default: a later
// `autoscaling` can then be made mutually exclusive with an explicitly set `replicas`.
import { createHash } from 'node:crypto';
import { KGW_INGRESS_CLASS } from './kingress.ts';
import type { ObjectMeta, Visibility } from './kingress.ts';

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
export const GATEWAY_CATEGORY = 'kgw';
/** metadata.name of the CustomResourceDefinition. */
export const GATEWAY_CRD_NAME = `${GATEWAY_PLURAL}.${GATEWAY_GROUP}`;

/** Labels kgw puts on every object it creates for a gateway's fleets. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_KGW = 'kgw';
export const LABEL_GATEWAY = 'operator.kgw.dev/gateway';
export const LABEL_FLEET = 'operator.kgw.dev/fleet';

/** Condition types on KnativeGateway status. `Ready` is the summary of the others. */
export const CONDITION_READY = 'Ready';
export const CONDITION_FLEETS_READY = 'FleetsReady';

export const VISIBILITIES: readonly Visibility[] = ['ExternalIP', 'ClusterLocal'];

// ---------------------------------------------------------------------------------------------
// Defaults and limits (the CRD schema is generated from these)

export const DEFAULT_INGRESS_CLASS = KGW_INGRESS_CLASS;
export const DEFAULT_NAMESPACE = 'kgw-system';
export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';
export const DEFAULT_REPLICAS = 1;
export const DEFAULT_ACCESS_LOG = false;
export const DEFAULT_SERVICE_HTTP_PORT = 80;
export const DEFAULT_SERVICE_HTTPS_PORT = 443;
/** Envoy listener ports per visibility: distinct, so both fleets can share one host (local runtime). */
export const DEFAULT_LISTENER_PORTS: Readonly<Record<Visibility, { http: number; https: number }>> = {
  ExternalIP: { http: 8080, https: 8443 },
  ClusterLocal: { http: 8081, https: 8444 },
};

export const LIMITS = {
  /** metadata.name: it is also a label value (operator.kgw.dev/gateway). */
  gatewayNameMaxLength: 63,
  minFleets: 1,
  maxFleets: 16,
  fleetNameMaxLength: 40,
  minReplicas: 1,
  maxReplicas: 20,
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
} as const;

/** RFC 1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric. */
export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** RFC 1123 subdomain: dot-separated RFC 1123 labels. */
export const DNS1123_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const DNS1123_LABEL_RE = new RegExp(DNS1123_LABEL_PATTERN);
const DNS1123_SUBDOMAIN_RE = new RegExp(DNS1123_SUBDOMAIN_PATTERN);
/** RFC 1035 label (Service names): like RFC 1123 but starting with a letter. */
const DNS1035_LABEL_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Messages shared by the CRD's CEL rules and the validators here, so a user sees the same text
 * whether the API server or kgw itself rejects a spec.
 */
export const MESSAGES = {
  gatewayNameTooLong: `must be at most ${LIMITS.gatewayNameMaxLength} characters: it is the value of the ${LABEL_GATEWAY} label on every object kgw creates for the gateway`,
  uniqueFleetNames: 'fleet names must be unique',
  listenerPortsDiffer: `ports.http and ports.https must differ (defaults: ${DEFAULT_LISTENER_PORTS.ExternalIP.http}/${DEFAULT_LISTENER_PORTS.ExternalIP.https} for ExternalIP, ${DEFAULT_LISTENER_PORTS.ClusterLocal.http}/${DEFAULT_LISTENER_PORTS.ClusterLocal.https} for ClusterLocal)`,
  servicePortsDiffer: 'service.httpPort and service.httpsPort must differ',
} as const;

// ---------------------------------------------------------------------------------------------
// Types: the object as stored (optional where a default applies) …

export interface FleetPorts {
  /** Envoy's plain-HTTP listener port. */
  http?: number;
  /** Envoy's TLS listener port. */
  https?: number;
}

export interface FleetServicePorts {
  httpPort?: number;
  httpsPort?: number;
}

export interface FleetSpec {
  name: string;
  visibility: Visibility;
  replicas?: number;
  ports?: FleetPorts;
  service?: FleetServicePorts;
  accessLog?: boolean;
}

export interface KnativeGatewaySpec {
  ingressClass?: string;
  namespace?: string;
  clusterDomain?: string;
  fleets: FleetSpec[];
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface GatewayCondition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface FleetStatus {
  name: string;
  visibility: Visibility;
  /** The fleet Service's in-cluster host, `<service>.<namespace>.svc.<clusterDomain>`. */
  service: string;
  readyReplicas: number;
  replicas: number;
  connectedProxies: number;
}

export interface KnativeGatewayStatus {
  observedGeneration?: number;
  conditions?: GatewayCondition[];
  fleets?: FleetStatus[];
  /** `<ready fleets>/<fleets>` (printer column). See `readyFleetsSummary`. */
  readyFleets?: string;
}

export interface KnativeGateway {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: KnativeGatewaySpec;
  status?: KnativeGatewayStatus;
}

// … and with every default applied (what the rest of kgw works with).

export interface ResolvedFleet {
  name: string;
  visibility: Visibility;
  replicas: number;
  ports: { http: number; https: number };
  service: { httpPort: number; httpsPort: number };
  accessLog: boolean;
}

export interface ResolvedGatewaySpec {
  ingressClass: string;
  namespace: string;
  clusterDomain: string;
  fleets: ResolvedFleet[];
}

// ---------------------------------------------------------------------------------------------
// Defaults

/** Default Envoy listener ports of a fleet: they depend on its visibility. */
export function defaultListenerPorts(visibility: Visibility): { http: number; https: number } {
  const d = DEFAULT_LISTENER_PORTS[visibility] ?? DEFAULT_LISTENER_PORTS.ExternalIP;
  return { http: d.http, https: d.https };
}

/**
 * Returns a new spec with every default applied (the input is not modified). Unknown fields are
 * dropped. Covers the defaults the CRD schema applies too, so it also works on objects that did
 * not pass through the API server.
 */
export function withGatewayDefaults(spec: KnativeGatewaySpec): ResolvedGatewaySpec {
  return {
    ingressClass: spec.ingressClass ?? DEFAULT_INGRESS_CLASS,
    namespace: spec.namespace ?? DEFAULT_NAMESPACE,
    clusterDomain: spec.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN,
    fleets: (spec.fleets ?? []).map(withFleetDefaults),
  };
}

export function withFleetDefaults(fleet: FleetSpec): ResolvedFleet {
  const ports = defaultListenerPorts(fleet.visibility);
  return {
    name: fleet.name,
    visibility: fleet.visibility,
    replicas: fleet.replicas ?? DEFAULT_REPLICAS,
    ports: { http: fleet.ports?.http ?? ports.http, https: fleet.ports?.https ?? ports.https },
    service: {
      httpPort: fleet.service?.httpPort ?? DEFAULT_SERVICE_HTTP_PORT,
      httpsPort: fleet.service?.httpsPort ?? DEFAULT_SERVICE_HTTPS_PORT,
    },
    accessLog: fleet.accessLog ?? DEFAULT_ACCESS_LOG,
  };
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
    errs.push('spec.fleets: required: a list of 1 to 16 fleets');
    return errs;
  }
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
  if (f.accessLog !== undefined && typeof f.accessLog !== 'boolean') {
    errs.push(`${path}.accessLog: must be a boolean`);
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
        if ((f.ports.http ?? d.http) === (f.ports.https ?? d.https)) {
          errs.push(`${path}: ${MESSAGES.listenerPortsDiffer}`);
        }
      }
    }
  }
  if (f.service !== undefined) {
    if (!isObject(f.service)) {
      errs.push(`${path}.service: must be an object`);
    } else {
      for (const k of ['httpPort', 'httpsPort'] as const) {
        const v = f.service[k];
        if (v !== undefined) {
          intInRange(errs, `${path}.service.${k}`, v, LIMITS.minServicePort, LIMITS.maxServicePort);
        }
      }
      const http = f.service.httpPort ?? DEFAULT_SERVICE_HTTP_PORT;
      const https = f.service.httpsPort ?? DEFAULT_SERVICE_HTTPS_PORT;
      if (http === https) errs.push(`${path}.service: ${MESSAGES.servicePortsDiffer}`);
    }
  }
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
