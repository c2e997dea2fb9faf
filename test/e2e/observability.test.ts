// The shipped dashboard and alert rules against a real Prometheus (built from its Go module by
// setup.sh) scraping a real kgw: the operator's /metrics and every Envoy replica's stats listener
// (KnativeGateway fleets[].metrics), with two Ready KIngresses, traffic to both and 5xx answers
// from one whose backend is gone. Every target of every panel of deploy/observability/dashboard.json
// must return data from /api/v1/query, except the queries named in NOT_YET, which must be exactly
// the ones that return nothing (so the list shrinks as the metrics they need land). Every alert
// expression must run, and those that would fire in a healthy environment must not; Prometheus
// loads alerts.yaml and evaluates every rule without error.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest } from '../backends/client.ts';
import type { KIngress } from '../../operator/api/kingress.ts';
import { isReady } from '../../operator/status/conditions.ts';
import { repoRoot } from '../../operator/gen/generate.ts';
import { alertGroups } from '../../operator/gen/observability/alerts.ts';
import {
  dashboardProblems,
  dashboardQueries,
  labelVariables,
  type JsonDashboard,
  type PanelQuery,
} from '../../operator/gen/observability/dashboard-check.ts';
import { freePorts } from '../env/proc.ts';
import { startPrometheus, type RunningPrometheus } from '../env/prometheus.ts';
import {
  createIngress,
  publicGateway,
  gatewayWithMetrics,
  kgwScrapeJobs,
  startEnv,
  startTestBackend,
  waitReady,
  TEST_NAMESPACE,
  type Env,
  type TestBackend,
  fleetReplicas,
} from './harness.ts';

const STATS_PORT = 9091;
/** What `$__rate_interval` becomes: many 1 s scrapes, and short enough to see this test's traffic. */
const RATE_INTERVAL = '20s';
/** Requests sent to the healthy KIngress. */
const TRAFFIC = 20;

/**
 * Panel queries that cannot have data yet, `<panel title> / <refId>`, each with the reason. The
 * test fails if one of them returns data (remove it here) or if any other query returns none.
 */
const NOT_YET: Record<string, string> = {};

/** Dashboard variables that list nothing yet (their metric is a per-Service one), with the reason. */
const VARIABLES_NOT_YET: Record<string, string> = {};

/** Alerts about a broken kgw: nothing here may make them fire, or even match. */
const QUIET = ['KgwNoLeader', 'KgwMultipleLeaders', 'KgwApiserverStale', 'KgwXdsNack', 'KgwFleetDown'];

const gateway = gatewayWithMetrics(STATS_PORT);

let env: Env | undefined;
let prom: RunningPrometheus | undefined;
const backends: TestBackend[] = [];
let metricsPort = 0;
const started = Date.now();

const dashboard = (): JsonDashboard =>
  JSON.parse(readFileSync(join(repoRoot(), 'deploy/observability/dashboard.json'), 'utf8')) as JsonDashboard;
const key = (q: PanelQuery) => `${q.panel} / ${q.refId}`;

async function ingressFor(e: Env, name: string): Promise<{ address: string; port: number; host: string }> {
  const host = `${name}.${TEST_NAMESPACE}.example.com`;
  await createIngress(e, name, {
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [{ splits: [{ serviceNamespace: TEST_NAMESPACE, serviceName: name, servicePort: 80 }] }],
        },
      },
    ],
  });
  const gw = await publicGateway(e, await waitReady(e, name));
  return { ...gw, host };
}

/** `n` GETs, one after another; the status codes seen. */
async function send(to: { address: string; port: number; host: string }, n: number): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await httpRequest({ ...to, path: `/?i=${i}`, timeoutMs: 10_000 });
    codes.push(res.status);
  }
  return codes;
}

beforeAll(async () => {
  [metricsPort] = (await freePorts(1)) as [number];
  env = await startEnv({ gateway, operator: { metricsPort } });
  backends.push(await startTestBackend(env, { name: 'hello' }));
  backends.push(await startTestBackend(env, { name: 'flaky' }));
  const hello = await ingressFor(env, 'hello');
  const flaky = await ingressFor(env, 'flaky');

  const replicas = fleetReplicas(env);
  expect(replicas.map((r) => [r.fleet, r.statsPort]).sort()).toEqual([
    ['default/external', STATS_PORT],
    ['default/external', STATS_PORT],
    ['default/local', STATS_PORT],
  ]);
  const jobs = kgwScrapeJobs(env, metricsPort, STATS_PORT);
  const ruleFiles = [join(repoRoot(), 'deploy/observability/alerts.yaml')];
  prom = await startPrometheus({ jobs, interval: '1s', ruleFiles, log: env.log });
  await prom.waitTargetsUp(30_000);

  // Traffic while Prometheus scrapes: 200s from both, then 5xx from flaky.
  expect(await send(hello, TRAFFIC)).toEqual(Array.from({ length: TRAFFIC }, () => 200));
  expect(await send(flaky, 5)).toEqual(Array.from({ length: 5 }, () => 200));
  // flaky's backend goes away (its pod stays): Envoy answers 503 for it from now on
  const gone = backends[1]!.proc;
  const exited = new Promise((r) => gone.once('exit', r));
  gone.kill('SIGTERM');
  await exited;
  const codes = await send(flaky, 10);
  expect(codes.filter((c) => c >= 500).length).toBeGreaterThan(0);
}, 240_000);

afterAll(async () => {
  await prom?.stop();
  for (const b of backends) await b.stop();
  await env?.stop();
  console.log(`observability e2e: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

test('the shipped dashboard is valid', () => {
  expect(dashboardProblems(dashboard())).toEqual([]);
});

test('every dashboard query returns data, except exactly those not expected to yet', async () => {
  const p = prom!;
  const queries = dashboardQueries(dashboard(), RATE_INTERVAL);
  for (const k of Object.keys(NOT_YET)) expect(queries.map(key)).toContain(k);
  const empty = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const q of queries) if ((await p.query(q.expr)).length === 0) out.push(key(q));
    return out;
  };
  // Rates need two scrapes inside the window: wait (bounded) for the set to settle on NOT_YET.
  const expected = Object.keys(NOT_YET).sort();
  const deadline = Date.now() + 60_000;
  let got = await empty();
  for (let i = 0; i < 120 && Date.now() < deadline && got.join('\n') !== expected.join('\n'); i++) {
    await new Promise((r) => setTimeout(r, 500));
    got = (await empty()).sort();
  }
  expect(got.sort()).toEqual(expected);
  console.log(
    `observability e2e: ${queries.length} panel queries, ${queries.length - got.length} with data, ` +
      `${got.length} allowed empty (${got.join('; ')})`,
  );
});

test('the dashboard variables list values, except exactly those not expected to yet', async () => {
  const p = prom!;
  const got: Record<string, string[]> = {};
  for (const v of labelVariables(dashboard())) got[v.name] = await p.labelValues(v.label, v.match);
  expect(got.fleet).toEqual(['default/external', 'default/local']);
  const empty = Object.keys(got).filter((n) => got[n]?.length === 0);
  expect(empty.sort()).toEqual(Object.keys(VARIABLES_NOT_YET).sort());
});

test('the operator reports what the dashboard reads: fleets, KIngresses, time to ready, probes', async () => {
  const p = prom!;
  const value = async (expr: string) => Number((await p.query(expr))[0]?.value[1] ?? NaN);
  expect(await value('kgw_fleet_replicas{fleet="default/external"}')).toBe(2);
  expect(await value('kgw_fleet_ready_replicas{fleet="default/external"}')).toBe(2);
  expect(await value('kgw_fleet_ready_replicas{fleet="default/local"}')).toBe(1);
  expect(await value('kgw_leader')).toBe(1);
  // hello and flaky were each made Ready once, after their generation was first seen
  expect(await value('kgw_kingress_ready_seconds_count')).toBeGreaterThanOrEqual(2);
  expect(await value('kgw_kingress_ready_seconds_bucket{le="+Inf"}')).toBe(
    await value('kgw_kingress_ready_seconds_count'),
  );
  expect(await value('kgw_kingresses{state="ready"}')).toBeGreaterThanOrEqual(2);
  expect(await value('sum(kgw_xds_connected_proxies)')).toBe(3);
  expect(await value('count(kgw_probe_failures_total)')).toBe(3);
  // Prometheus saw the traffic (sent after its first scrapes) and flaky's 5xx answers arrive on
  // the external fleet, in the series the fleet health panels read
  const external = 'fleet="default/external", envoy_http_conn_manager_prefix="http"';
  expect(
    await value(`sum(increase(envoy_http_downstream_rq_total{${external}}[10m]))`),
  ).toBeGreaterThanOrEqual(TRAFFIC);
  expect(
    await value(
      `sum(increase(envoy_http_downstream_rq_xx{${external}, envoy_response_code_class="5"}[10m]))`,
    ),
  ).toBeGreaterThan(0);
});

test('every alert expression runs; those of a broken kgw return nothing here', async () => {
  const p = prom!;
  const rules = alertGroups().flatMap((g) => g.rules);
  for (const r of rules) {
    const result = await p.query(r.expr);
    if (QUIET.includes(r.alert)) expect({ alert: r.alert, result }).toEqual({ alert: r.alert, result: [] });
  }
  for (const q of QUIET) expect(rules.map((r) => r.alert)).toContain(q);
});

test('Prometheus loads the shipped rules and evaluates each without error; the quiet ones stay inactive', async () => {
  const p = prom!;
  const names = alertGroups().flatMap((g) => g.rules.map((r) => r.alert));
  // every rule evaluated at least twice since the traffic (1 s interval), bounded
  const evaluated = async () => {
    const rules = await p.rules();
    return (
      rules.length === names.length && rules.every((r) => Date.parse(r.lastEvaluation) > Date.now() - 1500)
    );
  };
  for (let i = 0; i < 50 && !(await evaluated()); i++) await new Promise((r) => setTimeout(r, 200));
  const rules = await p.rules();
  expect(rules.map((r) => r.name).sort()).toEqual([...names].sort());
  for (const r of rules)
    expect({ rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({
      rule: r.name,
      health: 'ok',
      error: '',
    });
  // KgwKIngressesNotReady follows the API: pending (its 10 minutes not over) while a KIngress is not Ready
  const list = await env!.rest.get<{ items: KIngress[] }>(
    '/apis/networking.internal.knative.dev/v1alpha1/ingresses',
  );
  const notReady = list.items
    .filter((i) => !isReady(i))
    .map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
  const metric = Number((await p.query('max(kgw_kingresses{state="not_ready"})'))[0]?.value[1] ?? NaN);
  expect({ metric, notReady }).toEqual({ metric: notReady.length, notReady });
  expect(rules.find((r) => r.name === 'KgwKIngressesNotReady')?.state).toBe(
    notReady.length > 0 ? 'pending' : 'inactive',
  );
  for (const q of QUIET)
    expect({ rule: q, state: rules.find((r) => r.name === q)?.state }).toEqual({
      rule: q,
      state: 'inactive',
    });
});

test('figures: series and scrape sizes', async () => {
  const p = prom!;
  const perJob = await p.query('count by (job) ({job!=""})');
  const alerts = await p.query('ALERTS');
  const samples = await p.query('scrape_samples_scraped');
  const duration = await p.query('max by (job) (scrape_duration_seconds)');
  const fmt = (s: { metric: Record<string, string>; value: [number, string] }[], label: string) =>
    s.map((x) => `${x.metric[label] ?? ''}=${x.value[1]}`).join(', ');
  console.log(
    `observability e2e: series by job ${fmt(perJob, 'job')}; samples per scrape ${fmt(samples, 'instance')}; ` +
      `longest scrape (s) ${fmt(duration, 'job')}; alerts ${fmt(alerts, 'alertname')}`,
  );
  expect(perJob.map((s) => s.metric.job).sort()).toEqual(['kgw-envoy', 'kgw-operator']);
});
