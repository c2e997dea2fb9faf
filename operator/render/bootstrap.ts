// The Envoy bootstrap shared by every fleet runtime: node identity (node.cluster selects the
// fleet's snapshot), the xDS control-plane cluster (unix socket locally, TCP in a cluster), ADS
// for everything (delta by default), the admin interface, and the overload manager with the
// fleet's heap limit.
//
// The admin interface is only ever a unix socket (mode 0600), never a TCP port: it can dump every
// private key (/config_dump), stop the process (/quitquitquit) or fail health checks, and a TCP
// port on loopback is reachable from any cluster Envoy routes to that resolves to 127.0.0.1 (the
// ExternalName-to-localhost attack, Contour CVE-2021-32783). The type below has no TCP form.
//
// With `stats`, Envoy's Prometheus stats are served on a TCP port without opening the admin
// interface: a static listener (STATS_LISTENER) whose only route sends `GET|HEAD /stats/prometheus`
// (exact path; the query string, e.g. `?usedonly`, is not part of the match and is passed on) to a
// static cluster on the admin socket. Every other path answers 404 from the listener itself, other
// methods on that path 405, and the HTTP connection manager normalizes the path first (RFC 3986
// dot segments, merged slashes, escaped slashes rejected), so `/stats/prometheus/../config_dump`,
// `//config_dump` or `%2F` tricks never reach another admin handler. The cluster's circuit breakers
// bound the load scrapes put on the admin handler, which runs on Envoy's main thread (the one that
// also applies xDS). Only this listener references the cluster: kgw's dynamic routes name clusters
// `<namespace>/<service>:<port>` and never use cluster_header, so no KIngress can route to it.
//
// With `tls`, the xDS connection is mutual TLS: the client certificate, its key and the trusted CA
// bundle come from a credential directory (tls.crt, tls.key, ca.crt; see operator/pki/xds-tls.ts)
// through file-based SDS: two small SDS files (renderXdsTlsSdsFiles) name those files and the
// directory to watch. Envoy reloads the secrets when the directory's `..data` link is replaced
// (an atomic swap by pki/xds-tls.ts, or a Kubernetes Secret update), without a restart; new
// connections to the xDS server use the new certificate.
import { statsTags } from './stats-names.ts';
import { ADS_SOURCE, TYPE_PREFIX, type Json } from './types.ts';

export const XDS_CLUSTER = 'kgw-xds';
/**
 * How fast Envoy reconnects to a control plane that went away: Envoy's own default backs off to
 * 30 s, so after an operator restart a replica could serve without new configuration for that
 * long (and a KIngress created meanwhile stayed Unknown). Reconnecting is cheap: 250 ms doubling
 * to 2 s, with Envoy's jitter.
 */
export const XDS_RECONNECT = { base_interval: '0.250s', max_interval: '2s' } as const;
/** SDS names of the xDS client certificate and of the CA bundle it trusts. */
export const XDS_CLIENT_SECRET = 'kgw-xds-client';
export const XDS_CA_SECRET = 'kgw-xds-ca';
/** File names of the two SDS files in `tls.sdsDir`. */
export const XDS_CLIENT_SDS_FILE = 'xds-client-cert.sds.json';
export const XDS_CA_SDS_FILE = 'xds-ca.sds.json';

export interface XdsTlsBootstrap {
  /** SNI sent to the xDS server, and the DNS SAN its certificate must carry. */
  serverName: string;
  /** Credential directory as Envoy sees it: tls.crt, tls.key, ca.crt (`..data` layout). */
  credentialDir: string;
  /** Directory (as Envoy sees it) holding XDS_CLIENT_SDS_FILE and XDS_CA_SDS_FILE. */
  sdsDir: string;
}

export interface BootstrapOptions {
  nodeId: string;
  /** The fleet's xDS cluster name, `<gateway>/<fleet>`. */
  fleet: string;
  /** The xDS server, or every operator replica's (HA: Envoy fails over between them). */
  xds: XdsAddress | XdsAddress[];
  /** Unix socket path of the admin interface (created with mode 0600). */
  admin: { pipe: string };
  /** Delta xDS (default) or state-of-the-world. */
  delta?: boolean;
  /** Mutual TLS to the xDS server (see the header); plaintext without it. */
  tls?: XdsTlsBootstrap;
  /** Heap limit of Envoy's overload manager (see overloadManager); none without it. */
  maxHeapMiB?: number;
  /** The stats listener (see the header) on this port, 0.0.0.0; none without it. */
  stats?: { port: number };
  /**
   * The fleet-members cluster as Envoy's local cluster (fleetMembersCluster), for rate limits
   * shared evenly across the fleet; none without it.
   */
  fleetMembers?: boolean;
}

export type XdsAddress = { pipe: string } | { address: string; port: number };

/** Owner read/write only: the admin interface is for the Envoy user (preStop hook) and root. */
export const ADMIN_SOCKET_MODE = 0o600;

function address(a: XdsAddress): Json {
  return 'pipe' in a
    ? { pipe: { path: a.pipe } }
    : { socket_address: { address: a.address, port_value: a.port } };
}

function join(dir: string, file: string): string {
  return `${dir.replace(/\/+$/, '')}/${file}`;
}

function sdsSource(tls: XdsTlsBootstrap, file: string): Json {
  return { path_config_source: { path: join(tls.sdsDir, file) }, resource_api_version: 'V3' };
}

/**
 * The contents of the two SDS files (file name → JSON, a DiscoveryResponse with one Secret each)
 * that the TLS bootstrap reads from `tls.sdsDir`. They only name files in `tls.credentialDir`, so
 * they never change when certificates rotate.
 */
export function renderXdsTlsSdsFiles(tls: XdsTlsBootstrap): Record<string, Json> {
  const secret = `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`;
  const dir = tls.credentialDir;
  return {
    [XDS_CLIENT_SDS_FILE]: {
      resources: [
        {
          '@type': secret,
          name: XDS_CLIENT_SECRET,
          tls_certificate: {
            certificate_chain: { filename: join(dir, 'tls.crt') },
            private_key: { filename: join(dir, 'tls.key') },
            watched_directory: { path: dir },
          },
        },
      ],
    },
    [XDS_CA_SDS_FILE]: {
      resources: [
        {
          '@type': secret,
          name: XDS_CA_SECRET,
          validation_context: {
            trusted_ca: { filename: join(dir, 'ca.crt') },
            watched_directory: { path: dir },
          },
        },
      ],
    },
  };
}

/** The xDS cluster's transport socket: mutual TLS, HTTP/2 by ALPN, secrets from file-based SDS. */
function xdsTransportSocket(tls: XdsTlsBootstrap): Json {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
      sni: tls.serverName,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
        alpn_protocols: ['h2'],
        tls_certificate_sds_secret_configs: [
          { name: XDS_CLIENT_SECRET, sds_config: sdsSource(tls, XDS_CLIENT_SDS_FILE) },
        ],
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: tls.serverName } }],
          },
          validation_context_sds_secret_config: {
            name: XDS_CA_SECRET,
            sds_config: sdsSource(tls, XDS_CA_SDS_FILE),
          },
        },
      },
    },
  };
}

export const FIXED_HEAP_MONITOR = 'envoy.resource_monitors.fixed_heap';
/** Heap pressure (share of the limit) at which Envoy returns free heap memory to the system. */
export const SHRINK_HEAP_AT = 0.95;
/** Heap pressure at which Envoy answers new requests with 503 instead of growing further. */
export const STOP_ACCEPTING_REQUESTS_AT = 0.98;

/**
 * Envoy's overload manager with a fixed heap limit: from SHRINK_HEAP_AT of the limit Envoy
 * releases free memory, from STOP_ACCEPTING_REQUESTS_AT it refuses new requests (503), so a
 * replica under memory pressure sheds load instead of being killed for running out of memory.
 */
export function overloadManager(maxHeapMiB: number): Json {
  const at = (value: number) => [{ name: FIXED_HEAP_MONITOR, threshold: { value } }];
  return {
    refresh_interval: '0.250s',
    resource_monitors: [
      {
        name: FIXED_HEAP_MONITOR,
        typed_config: {
          '@type': `${TYPE_PREFIX}envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig`,
          max_heap_size_bytes: maxHeapMiB * 2 ** 20,
        },
      },
    ],
    actions: [
      { name: 'envoy.overload_actions.shrink_heap', triggers: at(SHRINK_HEAP_AT) },
      { name: 'envoy.overload_actions.stop_accepting_requests', triggers: at(STOP_ACCEPTING_REQUESTS_AT) },
    ],
  };
}

/** The static listener serving Envoy's Prometheus stats, and the admin-socket cluster behind it. */
export const STATS_LISTENER = 'kgw-stats';
export const STATS_ADMIN_CLUSTER = 'kgw-stats-admin';
/** The one admin path the stats listener serves (KnativeGateway METRICS_PATH). */
export const STATS_PATH = '/stats/prometheus';
/** How long a scrape may take, and how many the admin handler serves at once (more wait or get 503). */
export const STATS_TIMEOUT = '10s';
export const STATS_MAX_CONCURRENT = 2;
export const STATS_MAX_PENDING = 8;

/** A route matching STATS_PATH exactly, optionally only for these methods. */
function statsMatch(methods?: readonly string[]): Json {
  return {
    path: STATS_PATH,
    ...(methods
      ? {
          headers: [{ name: ':method', string_match: { safe_regex: { regex: `^(${methods.join('|')})$` } } }],
        }
      : {}),
  };
}

/**
 * The stats listener on `port`: GET/HEAD STATS_PATH → the admin socket; STATS_PATH with another
 * method → 405; anything else → 404. The path is always normalized (whatever the fleet's edge
 * settings say), and a path with escaped slashes is rejected (400).
 */
export function statsListener(port: number): Json {
  return {
    name: STATS_LISTENER,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
              stat_prefix: 'kgw_stats',
              normalize_path: true,
              merge_slashes: true,
              path_with_escaped_slashes_action: 'REJECT_REQUEST',
              request_headers_timeout: '10s',
              stream_idle_timeout: '30s',
              route_config: {
                name: STATS_LISTENER,
                virtual_hosts: [
                  {
                    name: STATS_LISTENER,
                    domains: ['*'],
                    routes: [
                      {
                        match: statsMatch(['GET', 'HEAD']),
                        route: { cluster: STATS_ADMIN_CLUSTER, timeout: STATS_TIMEOUT },
                      },
                      {
                        match: statsMatch(),
                        direct_response: { status: 405 },
                        response_headers_to_add: [
                          {
                            header: { key: 'allow', value: 'GET, HEAD' },
                            append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
                          },
                        ],
                      },
                      { match: { prefix: '/' }, direct_response: { status: 404 } },
                    ],
                  },
                ],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router` },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** The cluster of the stats listener: the admin unix socket, at most STATS_MAX_CONCURRENT at once. */
export function statsAdminCluster(adminPipe: string): Json {
  return {
    name: STATS_ADMIN_CLUSTER,
    type: 'STATIC',
    connect_timeout: '1s',
    circuit_breakers: {
      thresholds: [
        {
          max_connections: STATS_MAX_CONCURRENT,
          max_requests: STATS_MAX_CONCURRENT,
          max_pending_requests: STATS_MAX_PENDING,
          max_retries: 0,
        },
      ],
    },
    load_assignment: {
      cluster_name: STATS_ADMIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: adminPipe } } } }] }],
    },
  };
}

/**
 * The local cluster of a fleet's Envoys: an EDS cluster (over ADS) whose endpoints are the
 * fleet's ready replicas, served by the operator as the ClusterLoadAssignment of this name. Envoy's
 * local_cluster_rate_limit divides a bucket by its number of hosts (policy.ts RateLimitSharing).
 * Nothing routes to it: kgw's dynamic routes name clusters `<namespace>/<service>:<port>`.
 */
export const FLEET_MEMBERS_CLUSTER = 'kgw-fleet-members';

/**
 * The fleet-members cluster. Only in bootstraps that ask for it (BootstrapOptions.fleetMembers,
 * the fleets whose rate limits are SharedEvenly): a static EDS cluster holds Envoy's start until
 * its endpoints arrive (or initial_fetch_timeout passes), and a fleet whose limits are per replica
 * has no use for it. The price: changing a fleet's sharing mode changes its bootstrap (one rollout).
 */
export function fleetMembersCluster(): Json {
  return {
    name: FLEET_MEMBERS_CLUSTER,
    type: 'EDS',
    connect_timeout: '1s',
    eds_cluster_config: { eds_config: ADS_SOURCE },
  };
}

export function renderBootstrap(o: BootstrapOptions): Json {
  return {
    node: { id: o.nodeId, cluster: o.fleet },
    admin: { address: { pipe: { path: o.admin.pipe, mode: ADMIN_SOCKET_MODE } } },
    dynamic_resources: {
      ads_config: {
        api_type: o.delta === false ? 'GRPC' : 'DELTA_GRPC',
        transport_api_version: 'V3',
        grpc_services: [
          { envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: { retry_back_off: XDS_RECONNECT } } },
        ],
        set_node_on_first_message_only: true,
      },
      lds_config: ADS_SOURCE,
      cds_config: ADS_SOURCE,
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [
              {
                lb_endpoints: (Array.isArray(o.xds) ? o.xds : [o.xds]).map((a) => ({
                  endpoint: { address: address(a) },
                })),
              },
            ],
          },
          ...(o.tls ? { transport_socket: xdsTransportSocket(o.tls) } : {}),
        },
        ...(o.stats ? [statsAdminCluster(o.admin.pipe)] : []),
        ...(o.fleetMembers ? [fleetMembersCluster()] : []),
      ],
      ...(o.stats ? { listeners: [statsListener(o.stats.port)] } : {}),
    },
    // Prometheus labels from stat names: kgw_namespace, kgw_service, kgw_revision
    // (stats-names.ts); only for fleets whose stats are scraped: Envoy keeps every tag of every
    // stat in memory (bench/stats.ts)
    ...(o.stats ? { stats_config: { stats_tags: statsTags() } } : {}),
    ...(o.fleetMembers ? { cluster_manager: { local_cluster_name: FLEET_MEMBERS_CLUSTER } } : {}),
    layered_runtime: {
      layers: [{ name: 'static', static_layer: { 'overload.global_downstream_max_connections': 50000 } }],
    },
    ...(o.maxHeapMiB !== undefined && o.maxHeapMiB > 0
      ? { overload_manager: overloadManager(o.maxHeapMiB) }
      : {}),
  };
}
