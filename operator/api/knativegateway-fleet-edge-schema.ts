// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: how a fleet's Envoys treat requests
// (HTTP handling, client address) and what they report (access logs, tracing, metrics).
import type { Static } from '@sinclair/typebox';
import {
  LABEL_METRICS,
  METRICS_LABEL_VALUE,
  ACCESS_LOG_FORMATS,
  DEFAULT_ACCESS_LOG,
  DEFAULT_ACCESS_LOG_FORMAT,
  DEFAULT_METRICS,
  DEFAULT_METRICS_PORT,
  DEFAULT_TRACING,
  DEFAULT_TRACING_PORT,
  DEFAULT_TRACING_SAMPLING_PERCENT,
  METRICS_PATH,
  ENVOY_READY_PORT,
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
  LIMITS,
  DNS1123_SUBDOMAIN_PATTERN,
  MESSAGES,
} from './knativegateway-constants.ts';
import { Obj, Str, Enum, Int, Num, Bool, cel } from './schema-builders.ts';

export const FleetHttpSchema = Obj(
  "How the fleet's Envoys treat each request before routing it: path normalisation, Host " +
    'clean-up, timeouts and size limits against slow or oversized requests, HTTP/1.0. Every field ' +
    'has a default suited to an internet-facing gateway, applied by kgw rather than stored, so an ' +
    'upgrade of kgw brings its current defaults; set a field to pin it.',
  {
    normalizePath: Bool(
      'Normalise the path as RFC 3986 says (resolve "." and ".." segments, decode percent-encoded ' +
        'unreserved characters) before routing; the backend gets the normalised path. Without it ' +
        '/public/../admin is routed by the rule for /public but may be read as /admin by the backend. ' +
        `Defaults to ${String(DEFAULT_NORMALIZE_PATH)}.`,
    ),
    mergeSlashes: Bool(
      'Merge adjacent slashes in the path (//a///b becomes /a/b) before routing; the backend gets the ' +
        `merged path. Defaults to ${String(DEFAULT_MERGE_SLASHES)}.`,
    ),
    escapedSlashes: Enum(
      'What to do with a path holding escaped slashes (%2F, %2f, %5C, %5c), which a backend may ' +
        'decode into path separators the routing never saw. KeepUnchanged: route and forward the path ' +
        'as it is. RejectRequest: answer 400. UnescapeAndRedirect: redirect the client to the unescaped ' +
        'path (gRPC requests fail instead). UnescapeAndForward: unescape, then route and forward. ' +
        `Defaults to ${DEFAULT_ESCAPED_SLASHES}; choose KeepUnchanged for applications that need ` +
        'encoded slashes in paths.',
      { enum: ESCAPED_SLASHES_ACTIONS },
    ),
    stripTrailingHostDot: Bool(
      'Remove a trailing dot from the Host header before routing, so example.com. is served as ' +
        `example.com (the backend gets the host without the dot). Defaults to ` +
        `${String(DEFAULT_STRIP_TRAILING_HOST_DOT)}.`,
    ),
    stripHostPort: Bool(
      'Remove any port from the Host header before routing, so example.com:8080 is served as ' +
        'example.com, also for wildcard hosts (*.example.com); the backend gets the host without the ' +
        `port. Defaults to ${String(DEFAULT_STRIP_HOST_PORT)}.`,
    ),
    requestHeadersTimeoutSeconds: Int(
      'Seconds a client may take to send the request headers, counted from their first byte; a slower ' +
        'client (e.g. one that trickles headers to hold connections open) gets 408 and the connection ' +
        `is closed. 0 turns it off. 0-${LIMITS.maxRequestHeadersTimeoutSeconds}. Defaults to ` +
        `${DEFAULT_REQUEST_HEADERS_TIMEOUT_SECONDS}.`,
      { minimum: 0, maximum: LIMITS.maxRequestHeadersTimeoutSeconds },
    ),
    streamIdleTimeoutSeconds: Int(
      'Seconds a request may go without any traffic in either direction (client or backend) before ' +
        'Envoy ends it: 408 while the request is still arriving, 504 while the backend has not ' +
        'answered, a reset once the response has started. It also ends quiet WebSocket connections ' +
        'and requests to backends that answer nothing for that long: raise it for long-polling, ' +
        `streaming or WebSocket applications. 0 turns it off. 0-${LIMITS.maxStreamIdleTimeoutSeconds}. Defaults to ` +
        `${DEFAULT_STREAM_IDLE_TIMEOUT_SECONDS}.`,
      { minimum: 0, maximum: LIMITS.maxStreamIdleTimeoutSeconds },
    ),
    maxRequestHeadersKiB: Int(
      'Largest size of all request headers together, in KiB; larger requests get 431. ' +
        `1-${LIMITS.maxRequestHeadersKiB}. Defaults to ${DEFAULT_MAX_REQUEST_HEADERS_KIB}.`,
      { minimum: 1, maximum: LIMITS.maxRequestHeadersKiB },
    ),
    maxRequestHeaders: Int(
      'Most request headers a request may have; HTTP/1 requests with more get 431, HTTP/2 streams ' +
        `are reset. 1-${LIMITS.maxRequestHeaders}. Defaults to ${DEFAULT_MAX_REQUEST_HEADERS}.`,
      { minimum: 1, maximum: LIMITS.maxRequestHeaders },
    ),
    http10: Obj('HTTP/1.0 requests (old clients, simple health checkers, load testers).', {
      enabled: Bool(
        'Serve HTTP/1.0 requests (the response is HTTP/1.0 and closes the connection); disabled, ' +
          `they get 426 Upgrade Required. Defaults to ${String(DEFAULT_HTTP10)}.`,
      ),
      defaultHost: Str(
        'Host given to HTTP/1.0 requests that send no Host header. Unset: such requests get 400.',
        { pattern: DNS1123_SUBDOMAIN_PATTERN, maxLength: LIMITS.domainMaxLength },
      ),
    }),
  },
);

export const FleetClientIPSchema = Obj(
  "Where the fleet's Envoys take each request's client address from: what backends see in " +
    'X-Forwarded-For and X-Envoy-External-Address. By default it is the address that connects to ' +
    'Envoy (appended to X-Forwarded-For); entries a client wrote into X-Forwarded-For itself are passed ' +
    'on but never taken as its address.',
  {
    xffNumTrustedHops: Int(
      'Proxies in front of the fleet (load balancers, CDNs) that append to X-Forwarded-For and are ' +
        'trusted: the client address is the entry that many places from the right of ' +
        'X-Forwarded-For (the last one with 1). Set it only when every request passes through those ' +
        `proxies, or clients can choose their address. 0-${LIMITS.maxXffNumTrustedHops}. Defaults to ` +
        `${DEFAULT_XFF_NUM_TRUSTED_HOPS}.`,
      { minimum: 0, maximum: LIMITS.maxXffNumTrustedHops },
    ),
    proxyProtocol: Bool(
      'Every connection, plain and TLS, starts with a PROXY protocol header (v1 or v2) carrying the ' +
        "client's address, as sent by load balancers configured for it (e.g. the AWS NLB annotation " +
        'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol). Connections without one are ' +
        "closed, so turn it on together with the load balancer's setting. kgw's readiness probes send " +
        `the header themselves. Defaults to ${String(DEFAULT_PROXY_PROTOCOL)}.`,
    ),
  },
);

export const FleetAccessLogSchema = Obj(
  "Access logging: one line per request on the Envoy container's standard output. (The first version " +
    'of this API had a boolean here; write {enabled: true} instead of true. kgw still reads the ' +
    'boolean from objects stored before.)',
  {
    enabled: Bool(`Whether Envoy writes access logs. Defaults to ${String(DEFAULT_ACCESS_LOG)}.`, {
      default: DEFAULT_ACCESS_LOG,
    }),
    format: Enum(
      "Line format. text: Envoy's default format. json: one JSON object per line, for log " +
        'collectors, with the Knative names of each request (route, upstream_cluster, ' +
        'knative_namespace, knative_revision, knative_tag) and its request_id; see ' +
        `docs/observability.md. Defaults to ${DEFAULT_ACCESS_LOG_FORMAT}.`,
      { enum: ACCESS_LOG_FORMATS, default: DEFAULT_ACCESS_LOG_FORMAT },
    ),
  },
  { default: {} },
);

export const FleetTracingSchema = Obj(
  "OpenTelemetry traces of the fleet's requests, sent over OTLP/gRPC to a collector. Each request's " +
    'span is named after the Knative Service it reached (<service>.<namespace>); W3C traceparent ' +
    'headers from clients are continued and passed on to the revision.',
  {
    enabled: Bool(`Whether the fleet's Envoys trace requests. Defaults to ${String(DEFAULT_TRACING)}.`, {
      default: DEFAULT_TRACING,
    }),
    collector: Obj('The OpenTelemetry collector receiving the spans (OTLP over gRPC, plaintext HTTP/2).', {
      host: Str(
        'DNS name or IPv4 address of the collector, e.g. otel-collector.observability.svc.cluster.local. ' +
          'Required when tracing is enabled.',
        {
          maxLength: LIMITS.tracingHostMaxLength,
          pattern: DNS1123_SUBDOMAIN_PATTERN,
          invalid: () => MESSAGES.tracingHost,
        },
      ),
      port: Int(`OTLP/gRPC port of the collector. Defaults to ${DEFAULT_TRACING_PORT}.`, {
        minimum: 1,
        maximum: 65535,
        default: DEFAULT_TRACING_PORT,
      }),
    }),
    samplingPercent: Num(
      'Share of requests to trace, 0-100 (decimals allowed: 0.1 is one request in a thousand). A ' +
        `request that arrives with a sampled trace context is traced regardless. Defaults to ${DEFAULT_TRACING_SAMPLING_PERCENT}.`,
      { minimum: 0, maximum: 100, default: DEFAULT_TRACING_SAMPLING_PERCENT },
    ),
  },
  {
    default: {},
    validations: [
      cel(
        '!has(self.enabled) || !self.enabled || (has(self.collector) && has(self.collector.host))',
        MESSAGES.tracingHostRequired,
        (t: { enabled?: boolean; collector?: { host?: string } }) =>
          t.enabled !== true || t.collector?.host !== undefined,
        { fieldPath: '.collector', reason: 'FieldValueRequired' },
      ),
    ],
  },
);

export const FleetMetricsSchema = Obj(
  `Prometheus metrics of the fleet's Envoys: each replica serves Envoy's ${METRICS_PATH} (GET or HEAD, ` +
    'query parameters such as ?usedonly passed on) on metrics.port, and nothing else: every other path ' +
    "answers 404, other methods on that path 405; Envoy's admin interface itself stays a unix socket. The pods get " +
    `the annotations prometheus.io/scrape, prometheus.io/port and prometheus.io/path, the container port ` +
    `is named metrics and the pods carry the label ${LABEL_METRICS}=${METRICS_LABEL_VALUE} (for a ` +
    "PodMonitor). The fleet's Service does not publish the port. The stats name every backend Service " +
    'the fleet routes to, so whoever reaches a pod address can read them: restrict access with a ' +
    'NetworkPolicy where that matters.',
  {
    enabled: Bool(`Whether the replicas serve their stats. Defaults to ${String(DEFAULT_METRICS)}.`, {
      default: DEFAULT_METRICS,
    }),
    port: Int(
      `Port of the stats listener in each replica, ${LIMITS.minListenerPort}-${LIMITS.maxListenerPort}; ` +
        `when enabled it must differ from ports.http, ports.https and ${ENVOY_READY_PORT} (Envoy's ` +
        `readiness listener). Defaults to ${DEFAULT_METRICS_PORT}.`,
      { minimum: LIMITS.minListenerPort, maximum: LIMITS.maxListenerPort, default: DEFAULT_METRICS_PORT },
    ),
  },
  { default: {} },
);

export type FleetHttp = Static<typeof FleetHttpSchema>;
export type FleetHttp10 = NonNullable<FleetHttp['http10']>;
export type FleetClientIP = Static<typeof FleetClientIPSchema>;
export type FleetAccessLog = Static<typeof FleetAccessLogSchema>;
export type FleetTracing = Static<typeof FleetTracingSchema>;
/** Envoy's Prometheus stats on a port of each replica (see DEFAULT_METRICS). */
export type FleetMetrics = Static<typeof FleetMetricsSchema>;
