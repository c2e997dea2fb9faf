import { withClientIPDefaults, withHttpDefaults } from '../api/knativegateway.ts';
import { renderFleet, type FleetRenderOptions } from './fleet.ts';
import { renderRoute } from './route.ts';
import {
  renderHcmTracing,
  renderTracingCluster,
  spanName,
  TRACING_CLUSTER,
  type TracingOptions,
} from './tracing.ts';
import { T, type Json } from './types.ts';
import { backendData } from '../translate/backend-data.ts';

const tracing: TracingOptions = {
  collector: { host: 'otel-collector.observability.svc.cluster.local', port: 4317 },
  samplingPercent: 0.5,
  serviceName: 'kgw-default-external',
};

test('the HCM traces a share of requests to the collector cluster, named after the fleet', () => {
  expect(renderHcmTracing(tracing)).toEqual({
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': T.openTelemetryTracer,
        grpc_service: { envoy_grpc: { cluster_name: TRACING_CLUSTER }, timeout: '1s' },
        service_name: 'kgw-default-external',
      },
    },
    random_sampling: { value: 0.5 },
  });
});

test('the collector cluster speaks HTTP/2; a DNS name is resolved, an address used as is', () => {
  const byName = renderTracingCluster(tracing);
  expect([byName.type, byName.dns_lookup_family]).toEqual(['STRICT_DNS', 'V4_PREFERRED']);
  expect(JSON.stringify(byName)).toContain('http2_protocol_options');
  const byAddress = renderTracingCluster({ ...tracing, collector: { host: '198.18.0.1', port: 14317 } });
  expect([byAddress.type, byAddress.dns_lookup_family]).toEqual(['STATIC', undefined]);
});

test('a Knative Service route names its spans; probe copies do not', () => {
  const base = {
    prefix: '/',
    headers: [],
    setHeaders: [],
    targets: [{ cluster: 'ns/a:80', weight: 100, headers: [] }],
  };
  const knative = renderRoute({
    ...base,
    name: 'r',
    acme: false,
    knative: { namespace: 'ns', service: 'hello' },
  });
  expect(knative.decorator).toEqual({ operation: spanName({ namespace: 'ns', service: 'hello' }) });
  expect(spanName({ namespace: 'ns', service: 'hello' })).toBe('hello.ns');
  const probe = renderRoute({ ...base, name: 'p', acme: false, probe: true });
  expect(probe).not.toHaveProperty('decorator');
  // and are never traced: 0% after every other sampling decision
  expect(probe.tracing).toEqual({ overall_sampling: {} });
});

test('only a fleet that traces gets the tracing config and the collector cluster', () => {
  const opts: FleetRenderOptions = {
    visibility: 'ExternalIP',
    httpPort: 8080,
    httpsPort: 8443,
    accessLog: false,
    http: withHttpDefaults(undefined),
    clientIP: withClientIPDefaults(undefined),
  };
  const hcm = (res: ReturnType<typeof renderFleet>) =>
    ((res.listeners.get('http')?.filter_chains as Json[])[0]?.filters as Json[])[0]?.typed_config as Json;
  const lookups = {
    clusterDomain: 'cluster.local',
    service: () => undefined,
    endpointSlices: () => [],
    secret: () => undefined,
  };
  const plain = renderFleet(opts, [], backendData(lookups));
  expect(plain.clusters.has(TRACING_CLUSTER)).toBe(false);
  expect(hcm(plain)).not.toHaveProperty('tracing');
  const traced = renderFleet({ ...opts, tracing }, [], backendData(lookups));
  expect(traced.clusters.get(TRACING_CLUSTER)).toEqual(renderTracingCluster(tracing));
  expect(hcm(traced).tracing).toEqual(renderHcmTracing(tracing));
});
