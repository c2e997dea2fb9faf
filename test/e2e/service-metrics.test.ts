// Per-Knative-Service request metrics (issue 12 item 2): each route of a KIngress counts its
// requests under the Knative Service it serves, and each cluster under the revision it reaches;
// Envoy's tag extraction turns those stat names into Prometheus labels (render/stats-names.ts).
// Real apiserver, operator, Envoy and backends; the counts are exact because probe requests go to
// probe routes, which are not counted.
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { httpRequest } from '../backends/client.ts';
import { parseSamples, select, type Sample } from '../../operator/fleets/prometheus-text.ts';
import {
  createIngress,
  fleetReplicas,
  privateGateway,
  publicGateway,
  sampleGateway,
  startEnv,
  startTestBackend,
  until,
  waitReady,
  TEST_NAMESPACE,
  type Env,
} from './harness.ts';

const PORT = 9091;
const gateway = {
  ...sampleGateway,
  spec: {
    fleets: [
      { name: 'external', visibility: 'ExternalIP', replicas: 1, metrics: { enabled: true, port: PORT } },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1, metrics: { enabled: true, port: PORT } },
    ],
  },
};

let env: Env;
beforeAll(async () => {
  // a short traffic window, so the status test below sees figures within seconds
  env = await startEnv({ gateway, operator: { trafficWindowMs: 1_000 } });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

/** Every sample the replicas of `fleet` serve on their stats port. */
async function scrape(fleet: string): Promise<{ samples: Sample[]; text: string }> {
  const replicas = fleetReplicas(env, fleet);
  expect(replicas).toHaveLength(1);
  const r = replicas[0]!;
  const res = await httpRequest({ address: r.address, port: PORT, host: 'stats', path: '/stats/prometheus' });
  expect(res.status).toBe(200);
  return { samples: parseSamples(res.body), text: res.body };
}

const total = (samples: Sample[], name: string, labels: Record<string, string>) =>
  select(samples, name, labels).reduce((n, s) => n + s.value, 0);

/** Sends `count` requests one after the other; the statuses seen. */
async function send(gw: { address: string; port: number }, host: string, path: string, count: number) {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await httpRequest({ ...gw, host, path })).status);
  return statuses;
}

test('requests are counted per Knative Service, status class, revision and visibility', async () => {
  await startTestBackend(env, { name: 'hello-00001' });
  await startTestBackend(env, { name: 'hello-00002', kind: 'retry' }); // 503 once, then 200
  const split = (rev: string) => ({ serviceNamespace: TEST_NAMESPACE, serviceName: rev, servicePort: 80 });
  const external = 'hello.serving-tests.example.com';
  const local = 'hello.serving-tests.svc.cluster.local';
  const paths = [
    { path: '/v2', splits: [{ ...split('hello-00002'), percent: 100 }] },
    { splits: [{ ...split('hello-00001'), percent: 100 }] },
  ];
  // Knative copies the Route's labels, `serving.knative.dev/service` among them, to the KIngress.
  await createIngress(
    env,
    'hello',
    {
      rules: [
        { hosts: [external], visibility: 'ExternalIP', http: { paths } },
        { hosts: [local], visibility: 'ClusterLocal', http: { paths } },
      ],
    },
    TEST_NAMESPACE,
    { 'serving.knative.dev/service': 'hello', 'serving.knative.dev/route': 'hello' },
  );
  const ing = await waitReady(env, 'hello');
  const pub = await publicGateway(env, ing);
  const priv = await privateGateway(env, ing);

  expect(await send(pub, external, '/', 6)).toEqual(Array(6).fill(200));
  expect(await send(pub, external, '/healthz', 2)).toEqual([400, 400]); // the backend refuses non-kubelet probes
  expect(await send(pub, external, '/v2', 3)).toEqual([503, 200, 200]);
  expect(await send(priv, local, '/', 4)).toEqual(Array(4).fill(200));

  const ext = (await scrape('default/external')).samples;
  // (the scrape adds fleet and kgw_visibility from the pod's labels; here each fleet is scraped apart)
  const svc = { kgw_namespace: TEST_NAMESPACE, kgw_service: 'hello' };
  const byClass = (samples: Sample[], labels: Record<string, string>, cls: string, of = 'vhost_route') =>
    total(samples, `envoy_${of}_upstream_rq_xx`, { ...labels, envoy_response_code_class: cls });
  expect([byClass(ext, svc, '2'), byClass(ext, svc, '4'), byClass(ext, svc, '5')]).toEqual([8, 2, 1]);
  expect(total(ext, 'envoy_vhost_route_upstream_rq', { ...svc, envoy_response_code: '503' })).toBe(1);
  const rev = (name: string) => ({ kgw_namespace: TEST_NAMESPACE, kgw_revision: name });
  // latency: one histogram observation per request, in Envoy's buckets; histograms reach the
  // stats output at Envoy's stats flush (every 5 s)
  const hist = await until('11 latency observations in the stats', 20_000, async () => {
    const now = (await scrape('default/external')).samples;
    return total(now, 'envoy_vhost_route_upstream_rq_time_count', svc) === 11 ? now : undefined;
  });
  expect(total(hist, 'envoy_vhost_route_upstream_rq_time_bucket', { ...svc, le: '+Inf' })).toBe(11);
  expect(total(hist, 'envoy_cluster_upstream_rq_time_count', rev('hello-00001'))).toBeGreaterThanOrEqual(6);
  // the vhost keeps its host, written without dots, named after its scope (`http/…`)
  expect(
    new Set(select(ext, 'envoy_vhost_route_upstream_rq_total', svc).map((s) => s.labels.envoy_virtual_host)),
  ).toEqual(new Set([`http/${TEST_NAMESPACE}~hello~hello_serving-tests_example_com`]));

  // per revision, from the cluster stats (probes reach the revisions too: only the 5xx is exact)
  expect(byClass(ext, rev('hello-00002'), '5', 'cluster')).toBe(1);
  expect(byClass(ext, rev('hello-00002'), '2', 'cluster')).toBeGreaterThanOrEqual(2);
  expect(byClass(ext, rev('hello-00001'), '2', 'cluster')).toBeGreaterThanOrEqual(6);
  expect(byClass(ext, rev('hello-00001'), '5', 'cluster')).toBe(0);

  // the cluster-local fleet counts its own requests
  const loc = (await scrape('default/local')).samples;
  const locSvc = svc;
  expect(byClass(loc, locSvc, '2')).toBe(4);
  expect(total(loc, 'envoy_vhost_route_upstream_rq_total', { ...locSvc, kgw_service: 'hello' })).toBe(4);

  // No host, namespace or Service name ever leaks into a metric name: the names are a fixed set.
  const names = new Set([...ext, ...loc].map((s) => s.name));
  for (const n of names) expect(n).not.toMatch(/serving_tests|example|hello|kgw~|svc_cluster/);
  expect(
    [...names].filter((n) => n.startsWith('envoy_vhost_')).every((n) => n.startsWith('envoy_vhost_route_')),
  ).toBe(true);
}, 120_000);

test('the Service label falls back to the Route label, then the KIngress name; bad label values are not used', async () => {
  await startTestBackend(env, { name: 'mapped-00001' });
  const rule = (host: string) => ({
    hosts: [host],
    visibility: 'ExternalIP' as const,
    http: {
      paths: [
        { splits: [{ serviceNamespace: TEST_NAMESPACE, serviceName: 'mapped-00001', servicePort: 80 }] },
      ],
    },
  });
  // a DomainMapping's KIngress is named after its domain and has no Service label
  await createIngress(env, 'api.mapped.example.com', { rules: [rule('api.mapped.example.com')] });
  // label values Kubernetes accepts but that are no DNS label: not used
  await createIngress(env, 'tricky', { rules: [rule('tricky.example.com')] }, TEST_NAMESPACE, {
    'serving.knative.dev/service': 'Upper.Case_x',
    'serving.knative.dev/route': 'tricky-route',
  });
  const ing = await waitReady(env, 'api.mapped.example.com');
  await waitReady(env, 'tricky');
  const pub = await publicGateway(env, ing);
  expect(await send(pub, 'api.mapped.example.com', '/', 2)).toEqual([200, 200]);
  expect(await send(pub, 'tricky.example.com', '/', 3)).toEqual([200, 200, 200]);
  const ext = (await scrape('default/external')).samples;
  const count = (service: string) =>
    total(ext, 'envoy_vhost_route_upstream_rq_total', {
      kgw_namespace: TEST_NAMESPACE,
      kgw_service: service,
    });
  expect([count('api_mapped_example_com'), count('tricky-route')]).toEqual([2, 3]);
  const services = new Set(
    select(ext, 'envoy_vhost_route_upstream_rq_total').map((s) => s.labels.kgw_service),
  );
  expect(services.has('Upper.Case_x')).toBe(false);
  // cardinality: the series a KIngress with one host adds to its fleet's scrape
  const perService = ext.filter((s) => s.labels.kgw_service === 'tricky-route').length;
  const perRevision = ext.filter((s) => s.labels.kgw_revision === 'mapped-00001').length;
  console.log(
    `series per Knative Service (one host, one status class seen): ${perService}; per revision: ${perRevision}`,
  );
}, 120_000);

test('KnativeGateway status shows each fleet’s request rate and 5xx share (kubectl get kgw)', async () => {
  const backend = await startTestBackend(env, { name: 'busy-00001' });
  const host = 'busy.serving-tests.example.com';
  await createIngress(env, 'busy', {
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [
            { splits: [{ serviceNamespace: TEST_NAMESPACE, serviceName: 'busy-00001', servicePort: 80 }] },
          ],
        },
      },
    ],
  });
  const pub = await publicGateway(env, await waitReady(env, 'busy'));
  const status = async () =>
    (await env.rest.get<KnativeGateway>('/apis/operator.kgw.dev/v1alpha1/knativegateways/default')).status;
  /** Sends requests until the status shows `want` (checked about every 500 ms, bounded); the statuses sent. */
  const sendUntil = async (want: (s: Awaited<ReturnType<typeof status>>) => boolean) => {
    const seen = new Set<number>();
    const deadline = Date.now() + 30_000;
    let check = 0;
    for (let i = 0; i < 20_000 && Date.now() < deadline; i++) {
      seen.add((await httpRequest({ ...pub, host, path: '/' })).status);
      if (Date.now() < check) continue;
      if (want(await status())) return seen;
      check = Date.now() + 500;
    }
    throw new Error(`status never showed it: ${JSON.stringify(await status())}`);
  };
  const ext = (s: Awaited<ReturnType<typeof status>>) =>
    s?.fleets?.find((f) => f.name === 'external')?.traffic;

  // answered 200: a rate, no errors; the overall figures (printer columns) follow
  const ok = await sendUntil(
    (s) => Number(ext(s)?.requestsPerSecond ?? 0) > 1 && ext(s)?.errorRatio === '0.0%',
  );
  expect([...ok]).toEqual([200]);
  const s1 = await status();
  expect(Number(s1?.requestsPerSecond)).toBeGreaterThan(0);
  expect(ext(s1)?.windowSeconds).toBe(1);
  // the local fleet has metrics too, and no traffic
  expect(s1?.fleets?.find((f) => f.name === 'local')?.traffic?.requestsPerSecond).toBe('0.00');

  // the revision's process dies (its address stays: connections are refused): Envoy answers
  // 503, and the error ratio says so
  const exited = new Promise((r) => backend.proc.once('exit', r));
  backend.proc.kill('SIGKILL');
  await exited;
  const failing = await sendUntil((s) => ext(s)?.errorRatio === '100.0%');
  expect(failing.has(503)).toBe(true);
  expect((await status())?.errorRatio).toMatch(/%$/);
  await backend.stop();

  // no more requests: the rate falls to 0 and the ratios go (also from the top-level columns)
  const deadline = Date.now() + 20_000;
  let last = await status();
  while (
    Date.now() < deadline &&
    !(ext(last)?.requestsPerSecond === '0.00' && last?.errorRatio === undefined)
  ) {
    await new Promise((r) => setTimeout(r, 250));
    last = await status();
  }
  expect([ext(last), last?.requestsPerSecond, last?.errorRatio]).toEqual([
    { requestsPerSecond: '0.00', windowSeconds: 1 },
    '0.00',
    undefined,
  ]);
}, 120_000);
