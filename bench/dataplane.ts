// Benchmark (prints figures, asserts nothing), issue 11 item 4: what a kgw fleet costs on the data
// path and in Envoy's memory. Real kube-apiserver + etcd, the operator in this process, real Envoy
// fleets (delta xDS, route tables as scoped routes) and a real backend (the e2e harness):
// - latency: requests at a fixed rate, alternating between the backend directly and the same
//   backend through an Envoy of the external fleet (so both see the same machine load): p50/p99 of
//   each and what Envoy adds;
// - throughput: a closed loop of C concurrent clients for T seconds, directly and through Envoy
//   (twice each, alternating): requests per second and their ratio;
// - Envoy RSS: every replica with one KIngress, then with N more (default 1,000), read 5 s after all
//   are Ready: MiB per 1,000 KIngresses.
//   node bench/dataplane.ts [--rate 200] [--requests 2000] [--concurrency 16] [--seconds 5] [--ingresses 1000]
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { newLogger } from '../operator/log.ts';
import { httpRequest } from '../test/backends/client.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  fleetReplicas,
  publicGateway,
  startEnv,
  startTestBackend,
  waitReady,
} from '../test/e2e/harness.ts';
import { benchSpec, createMany, rssOf, waitReadyCount } from './cluster.ts';
import { fixedRate, fmt, percentile } from './fixtures.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    requests: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '5' },
    ingresses: { type: 'string', default: '1000' },
  },
});
const clamp = (v: string | undefined, lo: number, hi: number) => Math.min(Math.max(Number(v), lo), hi);
const RATE = clamp(values.rate, 1, 2000);
const N = clamp(values.requests, 10, 20_000);
const CONCURRENCY = clamp(values.concurrency, 1, 128);
const SECONDS = clamp(values.seconds, 1, 60);
const INGRESSES = clamp(values.ingresses, 0, 10_000);
const HOST = `hello.${TEST_NAMESPACE}.example.com`;

const env = await startEnv({ log: newLogger('bench', 'silent') });
try {
  const backend = await startTestBackend(env, { name: 'hello' });
  await createIngress(env, 'hello', benchSpec(HOST, 'hello'));
  const gw = await publicGateway(env, await waitReady(env, 'hello'));
  const direct = { address: backend.address, port: backend.port };
  const via = (viaEnvoy: boolean) =>
    httpRequest({ ...(viaEnvoy ? gw : direct), host: HOST, timeoutMs: 10_000 });

  /** N requests at RATE per second (at most 64 in flight), alternating direct and through Envoy. */
  async function latency(): Promise<{ direct: number[]; envoy: number[]; bad: number }> {
    const out = { direct: [] as number[], envoy: [] as number[], bad: 0 };
    await fixedRate(N, RATE, async (i) => {
      const viaEnvoy = i % 2 === 1;
      const s = performance.now();
      const res = await via(viaEnvoy);
      (viaEnvoy ? out.envoy : out.direct).push(performance.now() - s);
      if (res.status !== 200) out.bad++;
    });
    out.direct.sort((a, b) => a - b);
    out.envoy.sort((a, b) => a - b);
    return out;
  }

  /** Requests per second of CONCURRENCY clients, each sending its next request on an answer. */
  async function throughput(viaEnvoy: boolean): Promise<number> {
    const end = performance.now() + SECONDS * 1000;
    let done = 0;
    const client = async () => {
      for (let i = 0; i < 1_000_000 && performance.now() < end; i++) {
        if ((await via(viaEnvoy)).status === 200) done++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    return done / ((performance.now() - t0) / 1000);
  }

  await latency(); // warm-up: connections, caches
  const l = await latency();
  if (l.bad > 0) console.log(`bench dataplane: ${l.bad} of ${N} answers were not 200`);
  console.log(
    `bench dataplane latency rate=${RATE}/s requests=${N} direct_p50_ms=${fmt(percentile(l.direct, 50))} ` +
      `direct_p99_ms=${fmt(percentile(l.direct, 99))} envoy_p50_ms=${fmt(percentile(l.envoy, 50))} ` +
      `envoy_p99_ms=${fmt(percentile(l.envoy, 99))} added_p50_ms=${fmt(percentile(l.envoy, 50) - percentile(l.direct, 50))} ` +
      `added_p99_ms=${fmt(percentile(l.envoy, 99) - percentile(l.direct, 99))}`,
  );
  const rps = { direct: [] as number[], envoy: [] as number[] };
  for (let round = 0; round < 2; round++) {
    rps.direct.push(await throughput(false));
    rps.envoy.push(await throughput(true));
  }
  const best = (xs: number[]) => Math.max(...xs);
  console.log(
    `bench dataplane throughput concurrency=${CONCURRENCY} seconds=${SECONDS} direct_rps=${fmt(best(rps.direct))} ` +
      `envoy_rps=${fmt(best(rps.envoy))} ratio=${fmt(best(rps.envoy) / best(rps.direct))}`,
  );

  /** The Envoy process of a replica: the recorded pid or its first descendant named envoy. */
  const envoyPid = (pid: number): number => {
    const queue = [pid];
    for (let i = 0; i < 50 && queue.length > 0; i++) {
      const p = queue.shift() as number;
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'envoy') return p;
      const children = `/proc/${p}/task/${p}/children`;
      if (existsSync(children))
        queue.push(...readFileSync(children, 'utf8').split(' ').filter(Boolean).map(Number));
    }
    return pid;
  };
  const envoyRss = () =>
    fleetReplicas(env).map((r) => ({ fleet: r.fleet, id: r.id, mib: rssOf(envoyPid(r.pid)) }));
  const before = envoyRss();
  if (INGRESSES > 0) {
    const t0 = Date.now();
    await createMany(env.cp, 'bulk-', 0, INGRESSES, 'hello');
    await waitReadyCount(env.rest, INGRESSES + 1, 600_000, (ready) => {
      console.log(`bench dataplane progress ready=${ready}/${INGRESSES + 1} after_ms=${Date.now() - t0}`);
      return Promise.resolve();
    });
    await new Promise((r) => setTimeout(r, 5000));
    const after = envoyRss();
    for (const a of after) {
      const b = before.find((x) => x.id === a.id);
      const per1k = b ? ((a.mib - b.mib) * 1000) / INGRESSES : NaN;
      console.log(
        `bench dataplane envoy fleet=${a.fleet} replica=${a.id} rss_1_mib=${fmt(b?.mib ?? NaN)} ` +
          `rss_${INGRESSES + 1}_mib=${fmt(a.mib)} mib_per_1k=${fmt(per1k)}`,
      );
    }
  }
} finally {
  await env.stop();
}
