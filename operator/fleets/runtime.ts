// The fleet runtime interface: something that runs the Envoy replicas of each fleet. Two
// implementations: local Envoy processes (demo, end-to-end tests) and Kubernetes objects
// (production, a later issue). Both render the same bootstrap.
import type {
  AccessLogFormat,
  KnativeGateway,
  ResolvedClientIP,
  ResolvedFleetHttp,
  ResolvedFleetTracing,
} from '../api/knativegateway.ts';
import type { RateLimitSharing } from '../api/knativegateway-constants.ts';
import type { ResolvedGlobalRateLimit } from '../api/knativegateway-defaults.ts';
import type { Visibility } from '../api/kingress.ts';

export interface FleetDef {
  /** `<gateway>/<fleet>`: the Envoy node.cluster and the xDS snapshot key. */
  key: string;
  gateway: string;
  name: string;
  visibility: Visibility;
  replicas: number;
  ports: { http: number; https: number };
  service: { httpPort: number; httpsPort: number };
  /** Namespace and name of the Service that publishes the fleet. */
  namespace: string;
  serviceName: string;
  /** The access log's format; false: none. */
  accessLog: false | AccessLogFormat;
  /** Edge settings of the fleet's listeners (defaults applied). */
  http: ResolvedFleetHttp;
  clientIP: ResolvedClientIP;
  /** Heap limit of the Envoys' overload manager (bootstrap); 0: none. */
  maxHeapMiB: number;
  /** The stats listener (bootstrap): Envoy's /stats/prometheus on `port` of each replica. */
  metrics: { enabled: boolean; port: number };
  /** OpenTelemetry tracing of the fleet's requests; none without it. */
  tracing?: ResolvedFleetTracing;
  /**
   * How RoutePolicy rate limits count across the replicas; SharedEvenly bootstraps carry the
   * fleet-members cluster (render/bootstrap.ts).
   */
  rateLimitSharing: RateLimitSharing;
  /** The rate-limit service of a Global fleet (present exactly then). */
  globalRateLimit?: ResolvedGlobalRateLimit;
}

/**
 * Why a gateway's fleet objects are not (all) applied, for its FleetsReady condition:
 * - NamespaceNotFound: the gateway's namespace does not exist (kgw does not create namespaces);
 * - FleetNamespaceForbidden: kgw may not manage fleet objects there (no RoleBinding to the
 *   fleet role); the message names the command that grants it;
 * - FleetObjectsNotApplied: anything else (an object kgw did not create, an API error).
 */
export type FleetProblemReason = 'NamespaceNotFound' | 'FleetNamespaceForbidden' | 'FleetObjectsNotApplied';

export interface GatewayFleetProblem {
  reason: FleetProblemReason;
  message: string;
}

export interface Replica {
  id: string;
  address: string;
  ready: boolean;
}

export interface FleetRuntime {
  /**
   * Makes the running fleets match `fleets` exactly (starts, resizes, stops). `gateways` holds the
   * KnativeGateway objects the fleets come from, by name (as read from the API server, with uid).
   */
  apply(fleets: FleetDef[], gateways: ReadonlyMap<string, KnativeGateway>): Promise<void>;
  replicas(fleetKey: string): Replica[];
  /** Called when a replica becomes ready, stops being ready, appears or goes. */
  onChange(cb: (fleetKey: string) => void): void;
  /**
   * Makes a fleet reachable under its Service name with its current ready replicas. Only runtimes
   * whose replicas are not already behind a real Service (the local one) implement it.
   */
  publish?(def: FleetDef): Promise<void>;
  /** Where clients outside the cluster reach the fleet (its load balancer), when known. */
  address?(fleetKey: string): string | undefined;
  /** Problems found applying a gateway's fleets (objects kgw does not own, API errors). */
  problems?(gateway: string): GatewayFleetProblem[];
  /**
   * This operator replica stopped leading: forget the replicas without stopping them (the next
   * leader takes them over). Runtimes whose replicas do not belong to a process omit it.
   */
  release?(): Promise<void>;
  /** Stops the replicas, or leaves them running for a successor when keepReplicas is set. */
  close(opts?: { keepReplicas?: boolean }): Promise<void>;
}
