// OpenTelemetry tracing (KnativeGateway fleets[].tracing, issue 12 item 3): a fleet that traces
// sends its spans over OTLP/gRPC to the collector the gateway names, each named after the Knative
// Service the request reached; a client's trace context is continued and passed on to the
// revision. Real Envoy replicas; the collector is a test OTLP server on the host side of the pods'
// network (test/support/otlp-collector.ts). Tracing is turned on by editing a running gateway.
import { httpRequest } from '../backends/client.ts';
import { startOtlpCollector, type CollectedSpan, type OtlpCollector } from '../support/otlp-collector.ts';
import {
  createIngress,
  privateGateway,
  publicGateway,
  sampleGateway,
  startEnv,
  startTestBackend,
  waitReady,
  TEST_NAMESPACE,
  type Env,
} from './harness.ts';

const GATEWAY_PATH = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

let env: Env;
let collector: OtlpCollector;
beforeAll(async () => {
  env = await startEnv({ gateway: sampleGateway });
  collector = await startOtlpCollector(env.network.gateway);
}, 180_000);
afterAll(async () => {
  await collector?.stop();
  await env?.stop();
});

/** Polls until `pick` finds spans (bounded: Envoy exports every 5 s). */
async function spansWhere(pick: (s: CollectedSpan) => boolean, timeoutMs = 30_000): Promise<CollectedSpan[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = collector.spans.filter(pick);
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('spans named after the Knative Service reach the collector; a client trace is continued', async () => {
  await startTestBackend(env, { name: 'traced-00001' });
  const host = 'traced.serving-tests.example.com';
  const paths = [
    { splits: [{ serviceNamespace: TEST_NAMESPACE, serviceName: 'traced-00001', servicePort: 80 }] },
  ];
  await createIngress(
    env,
    'traced',
    { rules: [{ hosts: [host], visibility: 'ExternalIP', http: { paths } }] },
    TEST_NAMESPACE,
    { 'serving.knative.dev/service': 'traced' },
  );
  const ing = await waitReady(env, 'traced');

  // Tracing on for the external fleet only, every request sampled.
  const gw = await env.rest.get<{ spec: { fleets: Record<string, unknown>[] } }>(GATEWAY_PATH);
  const fleets = gw.spec.fleets.map((f) =>
    f.name === 'external'
      ? {
          ...f,
          tracing: {
            enabled: true,
            collector: { host: env.network.gateway, port: collector.port },
            samplingPercent: 100,
          },
        }
      : f,
  );
  await env.rest.request('PATCH', GATEWAY_PATH, { spec: { fleets } }, 'application/merge-patch+json');
  const pub = await publicGateway(env, ing);

  // Once the listeners carry the tracing config, a request with a trace context is traced.
  const deadline = Date.now() + 30_000;
  let seen: Record<string, string[]> = {};
  let spans: CollectedSpan[] = [];
  for (let i = 0; i < 60 && spans.length === 0 && Date.now() < deadline; i++) {
    const res = await httpRequest({
      ...pub,
      host,
      path: `/traced-${i}`,
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    });
    expect(res.status).toBe(200);
    seen = res.json<{ request: { headers: Record<string, string[]> } }>().request.headers;
    spans = await spansWhere((s) => s.traceId === TRACE_ID, 6_000);
  }
  expect(spans.length).toBeGreaterThan(0);
  const [span] = spans;
  expect(span).toMatchObject({
    name: `traced.${TEST_NAMESPACE}`,
    traceId: TRACE_ID,
    parentSpanId: PARENT_ID,
    resource: { 'service.name': 'kgw-default-external' },
  });
  expect(span?.attributes['http.status_code']).toBe('200');
  // the revision receives the same trace, with Envoy's span as its parent
  const forwarded = seen['Traceparent']?.[0] ?? '';
  expect(forwarded).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
  expect(forwarded.split('-')[2]).not.toBe(PARENT_ID);

  // A request without a trace context starts a trace of its own (100%).
  expect((await httpRequest({ ...pub, host, path: '/fresh' })).status).toBe(200);
  const fresh = await spansWhere((s) => s.attributes['http.url']?.endsWith('/fresh') === true);
  expect(fresh.map((s) => [s.name, s.parentSpanId])).toEqual([[`traced.${TEST_NAMESPACE}`, '']]);

  // Nothing else was traced: not kgw's readiness probes (of this KIngress and of the bystander
  // KIngress, probed all along), whose routes say 0%.
  const traced = collector.spans.map((s) => `${s.name} ${s.attributes['http.url'] ?? ''}`);
  expect([...new Set(traced.map((t) => t.replace(/\/traced-\d+$/, '/traced-N')))].sort()).toEqual([
    `traced.${TEST_NAMESPACE} http://${host}/fresh`,
    `traced.${TEST_NAMESPACE} http://${host}/traced-N`,
  ]);

  // The cluster-local fleet does not trace.
  const priv = await privateGateway(env, ing);
  expect((await httpRequest({ ...priv, host, path: '/not-traced' })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 6_000)); // one export interval
  expect(collector.spans.filter((s) => s.attributes['http.url']?.includes('/not-traced'))).toEqual([]);
}, 180_000);
