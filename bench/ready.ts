// Benchmark (prints figures, asserts nothing): time-to-ready against the real test environment
// (kube-apiserver + etcd, the operator in this process, real Envoy fleets, a real backend). With
// E existing KIngresses (default 1000, all Ready), N new ones (default 50) are created one after
// another; for each: create → every Envoy replica ACKed the new route table (config), create →
// Ready in its status, and create → Envoy answering 200 for its host.
//   node bench/ready.ts [--existing 1000] [--new 50]
import { parseArgs } from 'node:util';
import type { KIngress } from '../operator/api/kingress.ts';
import { newLogger } from '../operator/log.ts';
import { isReady } from '../operator/status/conditions.ts';
import { TYPE_ROUTE, TYPE_SCOPED_ROUTE } from '../operator/xds/protos.ts';
import { httpRequest } from '../test/backends/client.ts';
import { createIngress, getIngress, publicGateway, startEnv, startTestBackend } from '../test/e2e/harness.ts';
import { benchSpec, createMany, memory, waitReadyCount } from './cluster.ts';
import { fmt, percentile } from './fixtures.ts';

const { values } = parseArgs({
  options: { existing: { type: 'string', default: '1000' }, new: { type: 'string', default: '50' } },
});
const existing = Number(values.existing);
const fresh = Number(values.new);
const POLL_MS = 5;

const env = await startEnv({ log: newLogger('bench', process.env.KGW_LOG_LEVEL ?? 'warn') });
try {
  await startTestBackend(env, { name: 'bench' });
  let t0 = Date.now();
  await createMany(env.cp, 'existing-', 0, existing, 'bench');
  const createdMs = Date.now() - t0;
  await waitReadyCount(env.rest, existing, 300_000);
  const allReadyMs = Date.now() - t0;
  const m = memory();
  console.log(
    `bench ready-setup existing=${existing} create_all_ms=${createdMs} all_ready_ms=${allReadyMs} ` +
      `process_rss_mib=${m.rss.toFixed(0)} heap_mib=${m.heap.toFixed(0)}`,
  );

  // Bench-only instrumentation: when each Envoy replica ACKs routes (a route table, or on a delta
  // fleet the new scopes over SRDS).
  const xds = env.operator.xds;
  let rdsAcks = new Map<string, number>();
  xds.onAck((e) => {
    if ((e.typeUrl === TYPE_ROUTE || e.typeUrl === TYPE_SCOPED_ROUTE) && !rdsAcks.has(e.nodeId))
      rdsAcks.set(e.nodeId, performance.now());
  });
  // with BENCH_DEBUG: every ACK of the current round, by type (short name) and node
  let ackLog: string[] = [];
  xds.onAck((e) => {
    if (process.env.BENCH_DEBUG)
      ackLog.push(
        `${e.typeUrl.split('.').at(-1)}@${e.nodeId.split('/').at(-1)}:${Math.round(performance.now() - t0)}`,
      );
  });
  let seenAt = 0;
  env.operator.engine.ingresses.onEvent((e) => {
    if (seenAt === 0 && e.obj.metadata.name.startsWith('new-')) seenAt = performance.now();
  });
  const toConfig: number[] = [];
  const toReady: number[] = [];
  const toServe: number[] = [];
  let gateway: { address: string; port: number } | undefined;
  for (let i = 0; i < fresh; i++) {
    const name = `new-${i}`;
    const host = `${name}.bench.example.com`;
    rdsAcks = new Map();
    ackLog = [];
    seenAt = 0;
    const c0 = { ...env.operator.engine.counters };
    t0 = performance.now();
    await createIngress(env, name, benchSpec(host, 'bench'));
    let ing: KIngress | undefined;
    for (let k = 0; k < 30_000 / POLL_MS; k++) {
      ing = await getIngress(env, name);
      if (isReady(ing)) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    if (!ing || !isReady(ing)) throw new Error(`${name} not Ready within 30 s`);
    toReady.push(performance.now() - t0);
    const c1 = env.operator.engine.counters;
    if (process.env.BENCH_DEBUG)
      console.log(
        JSON.stringify({
          seen: Math.round(seenAt - t0),
          flushes: c1.flushes - c0.flushes,
          flushMs: c1.flushMs - c0.flushMs,
          pushMs: c1.pushMs - c0.pushMs,
          acks: [...rdsAcks.values()].map((t) => Math.round(t - t0)),
          all: ackLog,
          ready: Math.round(performance.now() - t0),
        }),
      );
    const replicas = xds.connections().length;
    if (rdsAcks.size >= replicas) toConfig.push(Math.max(...rdsAcks.values()) - t0);
    gateway ??= await publicGateway(env, ing);
    let status = 0;
    for (let k = 0; k < 30_000 / POLL_MS && status !== 200; k++) {
      status = (await httpRequest({ address: gateway.address, port: gateway.port, host, timeoutMs: 5000 }))
        .status;
      if (status !== 200) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    if (status !== 200) throw new Error(`${host} answered ${status}`);
    toServe.push(performance.now() - t0);
  }
  console.log(
    `bench ready existing=${existing} n=${fresh} config_acked_p50_ms=${fmt(percentile(toConfig, 50))} ` +
      `config_acked_p99_ms=${fmt(percentile(toConfig, 99))} ready_p50_ms=${fmt(percentile(toReady, 50))} ` +
      `ready_p99_ms=${fmt(percentile(toReady, 99))} ready_max_ms=${fmt(Math.max(...toReady))} ` +
      `serving_p50_ms=${fmt(percentile(toServe, 50))} serving_p99_ms=${fmt(percentile(toServe, 99))}`,
  );
} finally {
  await env.stop();
}
