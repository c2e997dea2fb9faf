// Envoy resources are plain canonical proto3-JSON objects (field names as in the .proto files,
// Durations as strings, Any as { "@type": url, ... }). The xDS layer encodes them.
export type Json = Record<string, unknown>;

export const TYPE_PREFIX = 'type.googleapis.com/';
export const ADS_SOURCE: Json = { ads: {}, resource_api_version: 'V3' };

export const T = {
  hcm: `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  router: `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  downstreamTls: `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
  tlsInspector: `${TYPE_PREFIX}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`,
  proxyProtocol: `${TYPE_PREFIX}envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol`,
  httpProtocolOptions: `${TYPE_PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  stdoutLog: `${TYPE_PREFIX}envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`,
  openTelemetryTracer: `${TYPE_PREFIX}envoy.config.trace.v3.OpenTelemetryConfig`,
  caresDnsResolver: `${TYPE_PREFIX}envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig`,
} as const;
