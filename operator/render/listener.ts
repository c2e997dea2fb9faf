// Envoy listeners of a fleet: plain HTTP on the fleet's http port, and — when any KIngress of the
// fleet has TLS or the fleet has a default certificate — HTTPS on its https port with one filter
// chain per certificate, matched by SNI, plus a default chain for the default certificate;
// certificates delivered over SDS. Both speak HTTP/1.1 and HTTP/2 (h2c prior knowledge on the
// plain port, ALPN on TLS) and allow WebSocket upgrades.
import type { TlsIR } from '../translate/ir.ts';
import { ADS_SOURCE, T, type Json } from './types.ts';

export const HTTP_ROUTE_CONFIG = 'http';
export const HTTPS_ROUTE_CONFIG = 'https';

export interface ListenerOptions {
  httpPort: number;
  httpsPort: number;
  accessLog: boolean;
}

export function renderHcm(statPrefix: string, routeConfig: string, accessLog: boolean): Json {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': T.hcm,
      stat_prefix: statPrefix,
      rds: { route_config_name: routeConfig, config_source: ADS_SOURCE },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': T.router } }],
      upgrade_configs: [{ upgrade_type: 'websocket' }],
      use_remote_address: true,
      ...(accessLog
        ? { access_log: [{ name: 'envoy.access_loggers.stdout', typed_config: { '@type': T.stdoutLog } }] }
        : {}),
    },
  };
}

function address(port: number): Json {
  return { socket_address: { address: '0.0.0.0', port_value: port } };
}

export function renderHttpListener(opts: ListenerOptions): Json {
  return {
    name: HTTP_ROUTE_CONFIG,
    address: address(opts.httpPort),
    filter_chains: [{ filters: [renderHcm(HTTP_ROUTE_CONFIG, HTTP_ROUTE_CONFIG, opts.accessLog)] }],
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

function tlsChain(name: string, secret: string, accessLog: boolean): Json {
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
    filters: [renderHcm(HTTPS_ROUTE_CONFIG, HTTPS_ROUTE_CONFIG, accessLog)],
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
      { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': T.tlsInspector } },
    ],
    // Canonical proto3 JSON: an empty list is omitted (only a default chain).
    ...(chains.length > 0
      ? {
          filter_chains: chains.map((c) => {
            const { name, ...rest } = tlsChain(c.secret, c.secret, opts.accessLog);
            return { name, filter_chain_match: { server_names: c.hosts }, ...rest };
          }),
        }
      : {}),
    ...(defaultSecret !== undefined
      ? { default_filter_chain: tlsChain(DEFAULT_CHAIN, defaultSecret, opts.accessLog) }
      : {}),
  };
}
