// Benchmark (prints figures, asserts nothing): are changes hitless under load? Against the real
// test environment (kube-apiserver + etcd, the operator in this process, real Envoy fleets, two
// real backends): with E existing Ready KIngresses, a client sends requests at a fixed rate to
// the hosts of the first M of them while C of those M get a spec change every second, each moving
// its traffic to the other backend the way a new Knative revision does (a new cluster, routes
// switched, the old cluster removed). A request that does not answer 200 is a failed request.
//   node bench/hitless.ts [--existing 10000] [--targets 50] [--rate 200] [--changes-per-s 10] [--seconds 30]
// Prints `failed` (of `requests`), latency p50/p99, the changes made, and how many changed
// KIngresses were Ready for their last generation within 60 s after the load.
import { parseArgs } from 'node:util';
import type { KIngress } from '../operator/api/kingress.ts';
import { newLogger } from '../operator/log.ts';
import { isReady } from '../operator/status/conditions.ts';
import { withDefaults } from '../operator/translate/defaults.ts';
import { httpRequest } from '../test/backends/client.ts';
import {
  getIngress,
  ingressPath,
  publicGateway,
  startEnv,
  startTestBackend,
  TEST_NAMESPACE,
} from '../test/e2e/harness.ts';
import { benchSpec, createMany, waitReadyCount } from './cluster.ts';
import { fmt, percentile } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    existing: { type: 'string', default: '10000' },
    targets: { type: 'string', default: '50' },
    rate: { type: 'string', default: '200' },
    'changes-per-s': { type: 'string', default: '10' },
    seconds: { type: 'string', default: '30' },
  },
});
const existing = Number(values.existing);
const targets = Math.min(existing, Number(values.targets));
const rate = Number(values.rate);
const changesPerS = Number(values['changes-per-s']);
const seconds = Number(values.seconds);
const MAX_IN_FLIGHT = 256;
const BACKENDS = ['bench', 'bench-b'] as const;

const env = await startEnv({ log: newLogger('bench', process.env.KGW_LOG_LEVEL ?? 'warn') });
try {
  for (const name of BACKENDS) await startTestBackend(env, { name });
  const t0 = Date.now();
  await createMany(env.cp, 'existing-', 0, existing, BACKENDS[0]);
  await waitReadyCount(env.rest, existing, 900_000);
  console.log(`bench hitless-setup existing=${existing} all_ready_ms=${Date.now() - t0}`);
  const gateway = await publicGateway(env, await getIngress(env, 'existing-0'));
  const hostOf = (i: number) => `existing-${i}.bench.example.com`;

  // Load: one request every 1000/rate ms, at most MAX_IN_FLIGHT at once (bounded in count and time).
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let requests = 0;
  let skipped = 0;
  let inFlight = 0;
  const fail = (why: string) => failures.set(why, (failures.get(why) ?? 0) + 1);
  const one = async (i: number): Promise<void> => {
    const started = performance.now();
    inFlight++;
    try {
      const res = await httpRequest({ ...gateway, host: hostOf(i % targets), timeoutMs: 5000 });
      if (res.status === 200) latencies.push(performance.now() - started);
      else fail(`status ${res.status}`);
    } catch (err) {
      fail(err instanceof Error ? err.message.slice(0, 80) : 'error');
    } finally {
      inFlight--;
    }
  };
  const load = (async () => {
    const pending: Promise<void>[] = [];
    const start = performance.now();
    const total = Math.round(rate * seconds);
    for (let i = 0; i < total; i++) {
      const at = start + (i * 1000) / rate;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      requests++;
      pending.push(one(i));
    }
    await Promise.all(pending);
  })();

  // Changes: every 1000/C ms the next target moves to the other backend (GET + PUT of its spec).
  let changes = 0;
  let changeErrors = 0;
  const backendOf = new Map<number, number>();
  const changed = new Set<number>();
  const churn = (async () => {
    const start = performance.now();
    const total = Math.round(changesPerS * seconds);
    for (let k = 0; k < total; k++) {
      const at = start + (k * 1000) / changesPerS;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const i = k % targets;
      const next = ((backendOf.get(i) ?? 0) + 1) % BACKENDS.length;
      try {
        const cur = await getIngress(env, `existing-${i}`);
        const spec = withDefaults(benchSpec(hostOf(i), BACKENDS[next]!));
        spec.httpOption = 'Enabled';
        cur.spec = spec;
        await env.rest.request('PUT', ingressPath(TEST_NAMESPACE, `existing-${i}`), cur);
        backendOf.set(i, next);
        changed.add(i);
        changes++;
      } catch {
        changeErrors++; // a conflict with the operator's status write: the next round retries
      }
    }
  })();
  await Promise.all([load, churn]);

  // Did every changed KIngress reach Ready for its last generation? (bounded: 60 s)
  let readyChanged = 0;
  const deadline = Date.now() + 60_000;
  for (const i of changed) {
    for (;;) {
      const ing: KIngress = await getIngress(env, `existing-${i}`);
      if (isReady(ing) && ing.status?.observedGeneration === ing.metadata.generation) {
        readyChanged++;
        break;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  console.log(
    `bench hitless existing=${existing} targets=${targets} rate=${rate} changes_per_s=${changesPerS} ` +
      `seconds=${seconds} requests=${requests} failed=${failed} skipped=${skipped} ` +
      `latency_p50_ms=${fmt(percentile(latencies, 50))} latency_p99_ms=${fmt(percentile(latencies, 99))} ` +
      `changes=${changes} change_errors=${changeErrors} changed_ready=${readyChanged}/${changed.size}` +
      (failed > 0 ? ` failures=${JSON.stringify(Object.fromEntries(failures))}` : ''),
  );
} finally {
  await env.stop();
}
