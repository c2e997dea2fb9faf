// Envoy listeners of a fleet: plain HTTP on the fleet's http port, and — when any KIngress of the
// fleet has TLS or the fleet has a default certificate — HTTPS on its https port with one filter
// chain per certificate, matched by SNI, plus a default chain for the default certificate;
// certificates delivered over SDS. Both speak HTTP/1.1 and HTTP/2 (h2c prior knowledge on the
// plain port, ALPN on TLS) and allow WebSocket upgrades.
//
// The fleet's edge settings (KnativeGateway fleets[].http and clientIP) shape every HTTP connection
// manager: path normalisation and slash handling, Host clean-up (trailing dot, port), header and
// idle timeouts, header limits, HTTP/1.0, trusted X-Forwarded-For hops; with PROXY protocol both
// listeners read the client address from a PROXY header first.
import type {
  AccessLogFormat,
  EscapedSlashesAction,
  ResolvedClientIP,
  ResolvedFleetHttp,
} from '../api/knativegateway.ts';
import type { TlsIR } from '../translate/ir.ts';
import { renderAccessLog } from './access-log.ts';
import type { GlobalRateLimitOptions } from './global-rate-limit.ts';
import { policyHttpFilters } from './policy.ts';
import { renderRouteKeyFilter, renderRouteKeyMutation, renderScopedRoutes } from './scoped.ts';
import { renderHcmTracing, type TracingOptions } from './tracing.ts';
import { ADS_SOURCE, T, type Json } from './types.ts';

export const HTTP_ROUTE_CONFIG = 'http';
export const HTTPS_ROUTE_CONFIG = 'https';

export interface ListenerOptions {
  httpPort: number;
  httpsPort: number;
  /** The access log's format (access-log.ts); false: none. */
  accessLog: false | AccessLogFormat;
  /** The fleet's `http` settings, defaults applied. */
  http: ResolvedFleetHttp;
  clientIP: ResolvedClientIP;
  /** OpenTelemetry tracing (tracing.ts); none without it. */
  tracing?: TracingOptions;
  /** The rate-limit service of a fleet whose rate limits are Global (global-rate-limit.ts). */
  globalRateLimit?: GlobalRateLimitOptions;
  /**
   * Route tables as scoped routes (scoped.ts), so a change sends and rebuilds only the hosts it
   * touches; for fleets whose Envoys speak delta xDS. Off: whole route tables over RDS (SotW).
   */
  scoped?: boolean;
}

const ESCAPED_SLASHES: Readonly<Record<EscapedSlashesAction, string>> = {
  KeepUnchanged: 'KEEP_UNCHANGED',
  RejectRequest: 'REJECT_REQUEST',
  UnescapeAndRedirect: 'UNESCAPE_AND_REDIRECT',
  UnescapeAndForward: 'UNESCAPE_AND_FORWARD',
};

/**
 * The HCM fields of the fleet's edge settings, in canonical proto3 JSON: a plain bool or uint32
 * that is false or 0 is left out (the encoder would drop it), wrapper types and durations stay.
 */
function edgeSettings(h: ResolvedFleetHttp, clientIP: ResolvedClientIP): Json {
  return {
    normalize_path: h.normalizePath,
    ...(h.mergeSlashes ? { merge_slashes: true } : {}),
    path_with_escaped_slashes_action: ESCAPED_SLASHES[h.escapedSlashes],
    ...(h.stripTrailingHostDot ? { strip_trailing_host_dot: true } : {}),
    ...(h.stripHostPort ? { strip_any_host_port: true } : {}),
    request_headers_timeout: `${h.requestHeadersTimeoutSeconds}s`,
    stream_idle_timeout: `${h.streamIdleTimeoutSeconds}s`,
    max_request_headers_kb: h.maxRequestHeadersKiB,
    common_http_protocol_options: { max_headers_count: h.maxRequestHeaders },
    ...(h.http10.enabled
      ? {
          http_protocol_options: {
            accept_http_10: true,
            ...(h.http10.defaultHost !== undefined ? { default_host_for_http_10: h.http10.defaultHost } : {}),
          },
        }
      : {}),
    ...(clientIP.xffNumTrustedHops > 0 ? { xff_num_trusted_hops: clientIP.xffNumTrustedHops } : {}),
  };
}

export function renderHcm(statPrefix: string, routeConfig: string, opts: ListenerOptions): Json {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': T.hcm,
      stat_prefix: statPrefix,
      ...(opts.scoped === true
        ? {
            scoped_routes: renderScopedRoutes(),
            early_header_mutation_extensions: renderRouteKeyMutation(routeConfig),
          }
        : { rds: { route_config_name: routeConfig, config_source: ADS_SOURCE } }),
      // RoutePolicy filters, disabled until a host's policy enables them (render/policy.ts)
      http_filters: [
        ...(opts.scoped === true ? [renderRouteKeyFilter()] : []),
        ...policyHttpFilters(opts.globalRateLimit),
        { name: 'envoy.filters.http.router', typed_config: { '@type': T.router } },
      ],
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      use_remote_address: true,
      ...edgeSettings(opts.http, opts.clientIP),
      ...(opts.accessLog ? { access_log: [renderAccessLog(opts.accessLog)] } : {}),
      ...(opts.tracing ? { tracing: renderHcmTracing(opts.tracing) } : {}),
    },
  };
}

/** With PROXY protocol, the filter that reads the header (v1 or v2) before anything else. */
function proxyProtocolFilters(opts: ListenerOptions): Json[] {
  return opts.clientIP.proxyProtocol
    ? [{ name: 'envoy.filters.listener.proxy_protocol', typed_config: { '@type': T.proxyProtocol } }]
    : [];
}

function address(port: number): Json {
  return { socket_address: { address: '0.0.0.0', port_value: port } };
}

export function renderHttpListener(opts: ListenerOptions): Json {
  const listenerFilters = proxyProtocolFilters(opts);
  return {
    name: HTTP_ROUTE_CONFIG,
    address: address(opts.httpPort),
    ...(listenerFilters.length > 0 ? { listener_filters: listenerFilters } : {}),
    filter_chains: [{ filters: [renderHcm(HTTP_ROUTE_CONFIG, HTTP_ROUTE_CONFIG, opts)] }],
  };
}

/** One filter chain per secret; the SNI names of every TLS entry using it are merged. */
export function tlsChains(tls: TlsIR[]): { secret: string; hosts: string[] }[] {
  const bySecret = new Map<string, Set<string>>();
  const taken = new Set<string>();
  for (const t of tls) {
    const hosts = bySecret.get(t.secret) ?? new Set<string>();
    for (const h of t.hosts) {
      if (taken.has(h)) continue; // an SNI name can belong to one chain only: first entry wins
      taken.add(h);
      hosts.add(h);
    }
    bySecret.set(t.secret, hosts);
  }
  return [...bySecret]
    .filter(([, hosts]) => hosts.size > 0)
    .map(([secret, hosts]) => ({ secret, hosts: [...hosts].sort() }))
    .sort((a, b) => (a.secret < b.secret ? -1 : a.secret > b.secret ? 1 : 0));
}

function tlsChain(name: string, secret: string, opts: ListenerOptions): Json {
  return {
    name,
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': T.downstreamTls,
        common_tls_context: {
          alpn_protocols: ['h2', 'http/1.1'],
          tls_certificate_sds_secret_configs: [{ name: secret, sds_config: ADS_SOURCE }],
        },
      },
    },
    filters: [renderHcm(HTTPS_ROUTE_CONFIG, HTTPS_ROUTE_CONFIG, opts)],
  };
}

/** The name of the fallback filter chain (KIngress chains are named by Secret: `<ns>/<name>`). */
export const DEFAULT_CHAIN = 'default';

/**
 * The HTTPS listener: one filter chain per KIngress certificate, matched by SNI, and — with a
 * default certificate — Envoy's default filter chain, used for a connection whose SNI matches no
 * chain (or that sends no SNI). Every chain serves the same `https` route table, so a host covered
 * by the default (e.g. wildcard) certificate without a certificate of its own is served over HTTPS.
 * Undefined when there is neither.
 */
export function renderHttpsListener(
  opts: ListenerOptions,
  tls: TlsIR[],
  defaultSecret?: string,
): Json | undefined {
  const chains = tlsChains(tls);
  if (chains.length === 0 && defaultSecret === undefined) return undefined;
  return {
    name: HTTPS_ROUTE_CONFIG,
    address: address(opts.httpsPort),
    listener_filters: [
      ...proxyProtocolFilters(opts),
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': T.tlsInspector } },
    ],
    // Canonical proto3 JSON: an empty list is omitted (only a default chain).
    ...(chains.length > 0
      ? {
          filter_chains: chains.map((c) => {
            const { name, ...rest } = tlsChain(c.secret, c.secret, opts);
            return { name, filter_chain_match: { server_names: c.hosts }, ...rest };
          }),
        }
      : {}),
    ...(defaultSecret !== undefined
      ? { default_filter_chain: tlsChain(DEFAULT_CHAIN, defaultSecret, opts) }
      : {}),
  };
}
