// The shipped alert rules fire from live data: a real Prometheus (built from its Go module by
// setup.sh) scrapes a real kgw (the operator's /metrics and every Envoy replica's stats listener)
// while the test breaks things the way production does:
// - Envoy rejects a configuration (fault injection, nack-poison.ts)      → KgwXdsNack
// - that KIngress stays not Ready                                        → KgwKIngressesNotReady
// - a Knative Service's backend goes away and Envoy answers 503 for it  → KgwServiceErrorRatioHigh
// - the cluster-local fleet's only Envoy hangs (SIGSTOP)                 → KgwFleetDown, KgwFleetNotReady
// - the operator cannot watch Secrets through the API server            → KgwApiserverStale
// - no operator runs (stopped, then started again)                       → KgwNoLeader
// Prometheus loads deploy/observability/alerts.yaml as shipped, and a copy of the same rules
// without their `for` durations (label copy="immediate", so a test need not wait 10 minutes): the
// shipped rules must be pending (or firing, for those without `for`) and the copy firing, with
// the labels that name what broke; the alerts about a broken operator stay silent; when the
// Envoy resumes, its fleet's alerts resolve. How long each `for` holds is promtool's job
// (alerts.promtool.test.ts). Prometheus must also have stored every sample kgw exposes: no
// duplicate or out-of-order series in any scrape.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { repoRoot } from '../../operator/gen/generate.ts';
import { alertGroups } from '../../operator/gen/observability/alerts.ts';
import { parseSamples, select } from '../../operator/fleets/prometheus-text.ts';
import { httpRequest } from '../backends/client.ts';
import { freePorts, waitUntil } from '../env/proc.ts';
import { startPrometheus, type RunningPrometheus, type Sample } from '../env/prometheus.ts';
import { createReady, rule, sleep, split } from './conformance.ts';
import {
  BYSTANDER_NAMESPACE,
  createIngress,
  ingressPath,
  fleetReplicas,
  gatewayWithMetrics,
  kgwScrapeJobs,
  publicGateway,
  restartOperator,
  startEnv,
  startTestBackend,
  waitReason,
  TEST_NAMESPACE,
  type Env,
  type TestBackend,
} from './harness.ts';
import { POISON, poison } from './nack-poison.ts';

const STATS_PORT = 9091;
const EXTERNAL = 'default/external';
const LOCAL = 'default/local';

const gateway = gatewayWithMetrics(STATS_PORT);

let env: Env | undefined;
let prom: RunningPrometheus | undefined;
let rulesDir: string | undefined;
let stopped: number | undefined; // the process group SIGSTOPped, resumed in afterAll at the latest
const backends: TestBackend[] = [];
const started = Date.now();

/** The shipped rules without `for`, in groups of their own, each alert labelled copy="immediate". */
function immediateRules(): string {
  const groups = alertGroups().map((g) => ({
    ...g,
    name: `${g.name}-immediate`,
    rules: g.rules.map(({ for: _hold, ...r }) => ({ ...r, labels: { ...r.labels, copy: 'immediate' } })),
  }));
  return stringify({ groups });
}

/** The active alerts (ALERTS series), as `<alertname> <copy> <state> <label>=<value>…` lines. */
async function activeAlerts(p: RunningPrometheus, labels: string[]): Promise<string[]> {
  const fmt = (s: Sample) =>
    [
      s.metric.alertname,
      s.metric.copy === 'immediate' ? 'immediate' : 'shipped',
      s.metric.alertstate,
      ...labels.filter((l) => s.metric[l] !== undefined).map((l) => `${l}=${s.metric[l]}`),
    ].join(' ');
  return (await p.query('ALERTS')).map(fmt).sort();
}

/** Polls (every 500 ms, at most `timeoutMs`) until `done` holds for the active alerts; returns them. */
async function waitAlerts(
  p: RunningPrometheus,
  done: (active: string[]) => boolean,
  labels: string[],
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let got = await activeAlerts(p, labels);
  for (let i = 0; i < 1000 && Date.now() < deadline && !done(got); i++) {
    await sleep(500);
    got = await activeAlerts(p, labels);
  }
  return got;
}

beforeAll(async () => {
  const [metricsPort] = (await freePorts(1)) as [number];
  env = await startEnv({
    gateway,
    snapshotFilter: poison,
    apiProxy: true,
    operator: { metricsPort, staleAfterMs: 2000 },
  });
  rulesDir = mkdtempSync(join(tmpdir(), 'kgw-alert-rules-'));
  const immediate = join(rulesDir, 'immediate.yaml');
  writeFileSync(immediate, immediateRules());
  const e = env;
  await waitUntil(
    'three Envoy replicas ready',
    () => Promise.resolve(fleetReplicas(e).length === 3 || undefined),
    { timeoutMs: 60_000, intervalMs: 200, retryIf: () => true }, // replicas.json appears with the fleets
  );
  prom = await startPrometheus({
    jobs: kgwScrapeJobs(e, metricsPort, STATS_PORT),
    interval: '1s',
    ruleFiles: [join(repoRoot(), 'deploy/observability/alerts.yaml'), immediate],
    log: env.log,
  });
  await prom.waitTargetsUp(30_000);
}, 240_000);

afterAll(async () => {
  if (stopped !== undefined) process.kill(-stopped, 'SIGCONT');
  await prom?.stop();
  for (const b of backends) await b.stop();
  await env?.stop();
  if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
  console.log(`alerts e2e: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

test('a never-Ready KIngress fires KgwKIngressesNotReady; with every KIngress Ready nothing fires', async () => {
  const p = prom!;
  backends.push(await startTestBackend(env!, { name: 'flaky' }));
  await createReady(env!, 'flaky', {
    rules: [rule([`flaky.${TEST_NAMESPACE}.example.com`], [{ splits: [split('flaky')] }])],
  });
  // every rule of both files evaluated since the targets came up
  const names = alertGroups().flatMap((g) => g.rules.map((r) => r.alert));
  const evaluatedSince = Date.now();
  for (let i = 0; i < 50; i++) {
    const rules = await prom!.rules();
    if (
      rules.length === 2 * names.length &&
      rules.every((r) => Date.parse(r.lastEvaluation) > evaluatedSince)
    )
      break;
    await sleep(200);
  }
  const rules = await p.rules();
  expect(rules.length).toBe(2 * names.length);
  for (const r of rules)
    expect({ rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({
      rule: r.name,
      health: 'ok',
      error: '',
    });
  // Every e2e environment has a bystander KIngress whose Service has no endpoints: never Ready,
  // and the alert says so. Deleting it leaves only Ready KIngresses; the alert resolves and nothing
  // is active (bounded wait: Prometheus scrapes and evaluates every second).
  expect(
    await waitAlerts(p, (a) => a.includes('KgwKIngressesNotReady immediate firing'), [], 20_000),
  ).toEqual(['KgwKIngressesNotReady immediate firing', 'KgwKIngressesNotReady shipped pending']);
  await env!.rest.request('DELETE', ingressPath(BYSTANDER_NAMESPACE, 'guarded'));
  expect(await waitAlerts(p, (a) => a.length === 0, [], 20_000)).toEqual([]);
}, 120_000);

test('a NACK, a not-Ready KIngress, a Service answering 5xx and a hung fleet fire their alerts', async () => {
  const p = prom!;
  const e = env!;
  // 1. Envoy rejects a KIngress's route: it is reported, and the NACK is counted.
  await startTestBackend(e, { name: 'nacked' }).then((b) => backends.push(b));
  await createIngress(e, 'nacked', {
    rules: [
      rule(
        ['nacked.example.com'],
        [{ splits: [split('nacked', { appendHeaders: { 'Who-Are-You': POISON } })] }],
      ),
    ],
  });
  await waitReason(e, 'nacked', 'EnvoyRejected');

  // 2. flaky's backend goes away (its pod stays): Envoy answers 503 for it, steadily, from now on.
  const flaky = {
    ...(await publicGateway(
      e,
      await e.rest.get(
        `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${TEST_NAMESPACE}/ingresses/flaky`,
      ),
    )),
    host: `flaky.${TEST_NAMESPACE}.example.com`,
  };
  expect((await httpRequest({ ...flaky, path: '/' })).status).toBe(200);
  const gone = backends[0]!.proc;
  const exited = new Promise((r) => gone.once('exit', r));
  gone.kill('SIGTERM');
  await exited;
  let sending = true;
  let answered = 0;
  const codes = new Map<number, number>();
  const traffic = (async () => {
    // ≥ 10 requests/s for as long as the test waits (bounded: 1,200 requests)
    for (let i = 0; i < 1200 && sending; i++) {
      const res = await httpRequest({ ...flaky, path: `/?i=${i}`, timeoutMs: 5000 });
      codes.set(res.status, (codes.get(res.status) ?? 0) + 1);
      answered++;
      await sleep(50);
    }
  })();

  // 3. The cluster-local fleet's only Envoy hangs: its replica stops answering /ready.
  const [local] = fleetReplicas(e, LOCAL);
  expect(local).toBeDefined();
  stopped = local!.pid;
  process.kill(-stopped, 'SIGSTOP');

  const labels = ['fleet', 'kgw_namespace', 'kgw_service'];
  const want = [
    `KgwFleetDown immediate firing fleet=${LOCAL}`,
    `KgwFleetDown shipped pending fleet=${LOCAL}`,
    `KgwFleetNotReady immediate firing fleet=${LOCAL}`,
    `KgwFleetNotReady shipped pending fleet=${LOCAL}`,
    'KgwKIngressesNotReady immediate firing',
    'KgwKIngressesNotReady shipped pending',
    `KgwServiceErrorRatioHigh immediate firing kgw_namespace=${TEST_NAMESPACE} kgw_service=flaky`,
    `KgwServiceErrorRatioHigh shipped pending kgw_namespace=${TEST_NAMESPACE} kgw_service=flaky`,
  ];
  // KgwXdsNack (no `for`: the shipped rule fires at once) names each fleet whose Envoys rejected
  // the route: one or both, as the first NACK reverts the change before the other fleet may get it.
  const nacked = (active: string[]) =>
    [EXTERNAL, LOCAL].filter(
      (f) =>
        active.includes(`KgwXdsNack shipped firing fleet=${f}`) &&
        active.includes(`KgwXdsNack immediate firing fleet=${f}`),
    );
  let got: string[];
  try {
    got = await waitAlerts(
      p,
      (a) => want.every((w) => a.includes(w)) && nacked(a).length > 0,
      labels,
      90_000,
    );
  } finally {
    sending = false;
    await traffic;
  }
  console.log(
    `alerts e2e: ${answered} requests to flaky while waiting (${JSON.stringify([...codes])}); alerts:\n  ${got.join('\n  ')}`,
  );
  expect(codes.get(503)).toBeGreaterThan(0);
  expect(got.filter((g) => want.includes(g))).toEqual(want);
  // the fleets the NACK alert names are those whose NACK counter rose; nothing else is active
  const counted = (await p.query('kgw_xds_nacks_total > 0')).map((x) => x.metric.fleet).sort();
  expect(nacked(got)).toEqual(counted);
  expect(counted.length).toBeGreaterThan(0);
  const nackLines = nacked(got).flatMap((f) => [
    `KgwXdsNack immediate firing fleet=${f}`,
    `KgwXdsNack shipped firing fleet=${f}`,
  ]);
  expect(got.filter((g) => !want.includes(g))).toEqual([...nackLines].sort());
  // Prometheus holds what Envoy counted: flaky's 5xx in its latest samples equal the external
  // replicas' own counters (read from their stats listeners) and the 503s the test received.
  const fromEnvoy = async () => {
    let n = 0;
    for (const r of fleetReplicas(e, EXTERNAL)) {
      const res = await fetch(`http://${r.address}:${STATS_PORT}/stats/prometheus`, {
        signal: AbortSignal.timeout(5000),
      });
      n += select(parseSamples(await res.text()), 'envoy_vhost_route_upstream_rq_xx', {
        kgw_service: 'flaky',
        envoy_response_code_class: '5',
      }).reduce((sum, x) => sum + x.value, 0);
    }
    return n;
  };
  const inPrometheus = async () =>
    Number(
      (
        await p.query(
          `sum(envoy_vhost_route_upstream_rq_xx{kgw_service="flaky", envoy_response_code_class="5", fleet="${EXTERNAL}"})`,
        )
      )[0]?.value[1] ?? NaN,
    );
  let counts = { envoy: await fromEnvoy(), prometheus: await inPrometheus(), received: codes.get(503) };
  for (let i = 0; i < 20 && counts.prometheus !== counts.envoy; i++) {
    await sleep(500);
    counts = { envoy: await fromEnvoy(), prometheus: await inPrometheus(), received: codes.get(503) };
  }
  expect(counts).toEqual({ envoy: codes.get(503), prometheus: codes.get(503), received: codes.get(503) });

  // 4. The Envoy resumes: its fleet's alerts resolve (the others stay).
  process.kill(-stopped, 'SIGCONT');
  stopped = undefined;
  const after = await waitAlerts(
    p,
    (a) => !a.some((x) => x.includes(`fleet=${LOCAL}`) && !x.startsWith('KgwXdsNack')),
    labels,
    60_000,
  );
  expect(after.filter((a) => a.startsWith('KgwFleet'))).toEqual([]);
  expect(after).toEqual(expect.arrayContaining(nackLines));
}, 240_000);

test('an operator cut off from the API server, or none at all, fires the operator alerts', async () => {
  const p = prom!;
  const e = env!;
  const operatorAlerts = (active: string[]) =>
    active.filter((a) => /^Kgw(NoLeader|MultipleLeaders|ApiserverStale) /.test(a));
  const settle = async (want: string[]) =>
    operatorAlerts(await waitAlerts(p, (a) => operatorAlerts(a).join() === want.join(), [], 30_000));
  expect(await settle([])).toEqual([]);

  // The Secrets watch fails (list and watch answered 500) while everything else works.
  const proxy = e.proxy!;
  proxy.failNext((method, path) => method === 'GET' && path.startsWith('/api/v1/secrets'), 500, 1_000_000);
  proxy.cut(); // every open watch breaks and reconnects; the Secrets one cannot
  proxy.restore();
  const stale = ['KgwApiserverStale immediate firing', 'KgwApiserverStale shipped pending'];
  expect(await settle(stale)).toEqual(stale);
  proxy.clearFaults();
  expect(await settle([])).toEqual([]);

  // No operator: its /metrics is gone and kgw_leader with it. A new one (same metrics port)
  // takes over and the alert resolves.
  const noLeader = ['KgwNoLeader immediate firing', 'KgwNoLeader shipped pending'];
  await restartOperator(e, async () => {
    expect(await settle(noLeader)).toEqual(noLeader);
  });
  expect(await settle([])).toEqual([]);
}, 120_000);

test('Prometheus stored every sample kgw exposed: no duplicate or out-of-order series', async () => {
  const res = await fetch(`${prom!.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const own = parseSamples(await res.text());
  const total = (name: string) => own.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
  expect({
    duplicate: total('prometheus_target_scrapes_sample_duplicate_timestamp_total'),
    outOfOrder: total('prometheus_target_scrapes_sample_out_of_order_total'),
    outOfBounds: total('prometheus_target_scrapes_sample_out_of_bounds_total'),
  }).toEqual({ duplicate: 0, outOfOrder: 0, outOfBounds: 0 });
  expect(own.some((s) => s.name === 'prometheus_target_scrapes_sample_duplicate_timestamp_total')).toBe(true);
});
