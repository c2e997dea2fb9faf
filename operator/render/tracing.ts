// OpenTelemetry tracing of a fleet (KnativeGateway fleets[].tracing): the HTTP connection managers
// trace a share of requests (and every request that arrives with a sampled trace context) and send
// the spans over OTLP/gRPC to the collector the admin names, reached through one CDS cluster of the
// fleet (TRACING_CLUSTER, sent before the listeners that use it). Spans are named after the
// Knative Service a request reached: each Service route carries a decorator (route.ts).
import { isIPv4 } from 'node:net';
import type { KnativeNames } from '../translate/knative-names.ts';
import { T, type Json } from './types.ts';

export const TRACING_CLUSTER = 'kgw-tracing';

export interface TracingOptions {
  collector: { host: string; port: number };
  samplingPercent: number;
  /** The `service.name` resource attribute of the spans: the fleet, `kgw-<gateway>-<fleet>`. */
  serviceName: string;
}

/** The span name of a Knative Service's requests. */
export function spanName(k: KnativeNames): string {
  return `${k.service}.${k.namespace}`;
}

/** The HCM `tracing` field. */
export function renderHcmTracing(t: TracingOptions): Json {
  return {
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': T.openTelemetryTracer,
        grpc_service: { envoy_grpc: { cluster_name: TRACING_CLUSTER }, timeout: '1s' },
        service_name: t.serviceName,
      },
    },
    // without it Envoy would sample every request
    random_sampling: { value: t.samplingPercent },
  };
}

/** The collector's cluster: HTTP/2 (OTLP/gRPC), its name resolved by DNS unless it is an address. */
export function renderTracingCluster(t: TracingOptions): Json {
  const { host, port } = t.collector;
  return {
    name: TRACING_CLUSTER,
    type: isIPv4(host) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    ...(isIPv4(host) ? {} : { dns_lookup_family: 'V4_PREFERRED' }),
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': T.httpProtocolOptions,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: TRACING_CLUSTER,
      endpoints: [
        {
          lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }],
        },
      ],
    },
  };
}
