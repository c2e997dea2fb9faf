// Benchmark (prints figures, asserts nothing): RSS of the operator process with 1k and 10k
// KIngresses. A real kube-apiserver + etcd; the operator runs as its own process
// (`node operator/cli.ts operator`, local Envoy fleets), so its RSS is measured alone; one real
// backend listens on the root side of the operator's network (198.18.N.1) so every KIngress is
// probed and becomes Ready. The RSS is read once all are Ready and a few seconds have passed.
//   node bench/rss.ts [N ...]      (default 1000 10000; each N adds to the previous)
//   The operator runs as the image runs it (operator-install.ts OPERATOR_NODE_OPTIONS, jemalloc with
//   OPERATOR_MALLOC_CONF; KGW_BENCH_ALLOCATOR=glibc runs it on glibc's malloc instead).
//   Each N is read 5 s after all are Ready and again KGW_BENCH_SETTLE_S (default 60) later, once
//   V8's memory reducer has run; KGW_BENCH_HOLD_S=60 keeps the operator running that long after the
//   last N, for inspection (gdb, heaptrack, /proc/<pid>/smaps).
//   KGW_BENCH_KEEP_LOG=1 keeps the operators' log file (else kept only when the bench fails).
//   KGW_BENCH_FLEET_METRICS=1 gives the fleets their stats listeners (fleets[].metrics, issue 12):
//   what the operator pays for it (the per-fleet traffic sampler's scrapes; it keeps no
//   per-Service series) shows as the difference to a run without.
//   Before the operator starts, the bench creates 2,000 objects kgw must not hold (cluster.ts
//   createUnrelated: Secrets, ConfigMaps, Pods, Services with EndpointSlices in app namespaces),
//   as a real cluster has; KGW_BENCH_UNRELATED=0 leaves them out.
//   The operator runs as the image's bundle (operator/gen/image-bundle.ts into a temp dir): the
//   sources type-stripped by node cost more RSS (~25 MiB more than tsc's output did, which the bundle
//   undercuts by another 6-7). KGW_BENCH_OPERATOR=ts runs the sources.
//   KGW_BENCH_NODE_FLAGS adds node flags (space-separated) after the image's, to try V8 flags.
//   KGW_BENCH_HEAPSNAPSHOT_DIR=<dir>: after each N's last reading the operator writes a heap
//   snapshot there (--heapsnapshot-signal=SIGUSR2), for Chrome DevTools' Memory tab.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OPERATOR_NAMESPACE } from '../operator/api/install.ts';
import { LocalNetwork } from '../operator/fleets/network.ts';
import { KubeRest } from '../operator/kube/rest.ts';
import { newLogger } from '../operator/log.ts';
import { bundleOperator } from '../operator/gen/image-bundle.ts';
import { knativeGatewayCrd } from '../operator/gen/knativegateway-crd.ts';
import { OPERATOR_MALLOC_CONF, OPERATOR_NODE_OPTIONS } from '../operator/gen/operator-install.ts';
import { ensureNamespace, gatewayWithMetrics, sampleGateway, TEST_NAMESPACE } from '../test/e2e/harness.ts';
import { startControlPlane } from '../test/env/control-plane.ts';
import { killSavedReplicas, localOperatorArgs, OPERATOR_CLI } from '../test/env/operator-cli.ts';
import { applyManifests } from '../test/env/manifests.ts';
import { jemallocLib } from '../test/env/paths.ts';
import { createMany, createUnrelated, rssOf, rssParts, waitReadyCount } from './cluster.ts';
import { sizes } from './fixtures.ts';

const root = join(import.meta.dirname, '..');
const BACKEND_PORT = 18080;
const METRICS_PORT = 18090;

/** Where the operator's memory is, from its /metrics: V8 heap in use and total, external (buffers). */
async function memoryBreakdown(): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)).text();
  const mib = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    return m?.[1] ? (Number(m[1]) / 1048576).toFixed(0) : '?';
  };
  return (
    `heap_used_mib=${mib('kgw_nodejs_heap_size_used_bytes')} heap_total_mib=${mib('kgw_nodejs_heap_size_total_bytes')} ` +
    `external_mib=${mib('kgw_nodejs_external_memory_bytes')}`
  );
}
/** One reading of the operator's memory: RSS, its anon/file split and the /metrics breakdown. */
async function reading(pid: number): Promise<string> {
  if (v8Report && pid > 0) process.kill(pid, 'SIGWINCH');
  return `operator_rss_mib=${rssOf(pid).toFixed(0)} ${rssParts(pid)} ${await memoryBreakdown()}`;
}

/** jemalloc, preloaded as the image does (Dockerfile); KGW_BENCH_ALLOCATOR=glibc measures without it. */
const jemalloc = process.env.KGW_BENCH_ALLOCATOR === 'glibc' ? undefined : jemallocLib();

/** The operator as the image has it: the bundle the Dockerfile's build stage makes; returns its path. */
async function buildOperator(dir: string): Promise<string> {
  return (await bundleOperator(join(dir, 'dist'))).file;
}

/**
 * KGW_BENCH_V8_REPORT=1: a preload (node --import, plain JS so nothing is type-stripped) makes the
 * operator print, at each reading (SIGWINCH), V8's spaces (size/used MiB), its malloced memory
 * and external memory to stderr: what of the RSS is V8's heap and what is not.
 */
const v8Report = process.env.KGW_BENCH_V8_REPORT === '1';
const V8_REPORT_JS = `import v8 from 'node:v8';
process.on('SIGWINCH', () => {
  const mib = (b) => (b / 1048576).toFixed(1);
  const h = v8.getHeapStatistics();
  const m = process.memoryUsage();
  const spaces = v8.getHeapSpaceStatistics().map((s) => s.space_name.replace('_space', '') + '=' + mib(s.space_size) + '/' + mib(s.space_used_size)).join(' ');
  process.stderr.write('bench rss v8 physical=' + mib(h.total_physical_size) + ' malloced=' + mib(h.malloced_memory) + ' peak_malloced=' + mib(h.peak_malloced_memory) + ' external=' + mib(m.external) + ' array_buffers=' + mib(m.arrayBuffers) + ' ' + spaces + '\\n');
});
// SIGURG starts V8's sampling heap profiler, garbage included; the next SIGURG writes the profile
let session;
process.on('SIGURG', async () => {
  const { Session } = await import('node:inspector/promises');
  if (!session) {
    session = new Session();
    session.connect();
    await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  session = undefined;
  const { writeFileSync } = await import('node:fs');
  writeFileSync(process.env.KGW_BENCH_ALLOC_PROFILE_FILE, JSON.stringify(profile));
});
// SIGPWR: a full, memory-reducing GC (needs --expose-gc in KGW_BENCH_NODE_FLAGS): what V8 could give back
process.on('SIGPWR', () => globalThis.gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' }));
`;

/**
 * KGW_BENCH_ALLOC_PROFILE_S=<s> (with KGW_BENCH_V8_REPORT=1): after each N's last reading, what the
 * operator allocates over that many idle seconds, garbage included (V8's sampling heap profiler),
 * written to <work dir>/alloc-<n>.heapprofile (the path is printed; KGW_BENCH_KEEP_LOG=1 keeps it).
 * KGW_BENCH_FORCE_GC=1 (with --expose-gc in KGW_BENCH_NODE_FLAGS): one more reading after a full
 * memory-reducing GC.
 */
const allocProfileS = Number(process.env.KGW_BENCH_ALLOC_PROFILE_S ?? 0);
const forceGc = process.env.KGW_BENCH_FORCE_GC === '1';

/** Heap snapshots: the operator writes one on SIGUSR2 into this directory (its cwd). */
const snapshotDir = process.env.KGW_BENCH_HEAPSNAPSHOT_DIR;

/** Sends SIGUSR2 and waits (bounded) until a new snapshot file has stopped growing. */
async function heapSnapshot(proc: ChildProcess, label: string): Promise<void> {
  if (!snapshotDir || !proc.pid) return;
  const before = new Set(readdirSync(snapshotDir));
  proc.kill('SIGUSR2');
  let size = -1;
  for (let i = 0; i < 240; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const file = readdirSync(snapshotDir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (!file) continue;
    const now = statSync(join(snapshotDir, file)).size;
    if (now > 0 && now === size) {
      console.log(
        `bench rss heap snapshot ${label}: ${join(snapshotDir, file)} (${(now / 1048576).toFixed(0)} MiB)`,
      );
      return;
    }
    size = now;
  }
  console.log(`bench rss heap snapshot ${label}: none within 120 s`);
}

/** Seconds to wait after the first reading at each N for the settled one (0: none). */
const settleS = Number(process.env.KGW_BENCH_SETTLE_S ?? 60);
const log = newLogger('bench', process.env.KGW_LOG_LEVEL ?? 'warn');

function waitForLine(proc: ChildProcess, what: string, match: (line: string) => boolean, timeoutMs: number) {
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: proc.stdout! });
    lines.on('line', (line) => {
      if (!match(line)) return;
      clearTimeout(timer);
      resolve(line);
    });
    proc.once('exit', (code) => reject(new Error(`${what}: process exited with ${code}`)));
  });
}

/** SIGKILLs every process whose command line names `dir` (Envoy replicas: `-c <dir>/envoy/…`). */
function killProcessesNaming(dir: string): void {
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (!cmdline.includes(dir) || Number(pid) === process.pid) continue;
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** KIngress key → resourceVersion, every KIngress of the bench namespace. */
async function kingressVersions(rest: KubeRest): Promise<Map<string, string>> {
  const list = await rest.request<{ items: { metadata: { name: string; resourceVersion?: string } }[] }>(
    'GET',
    `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${TEST_NAMESPACE}/ingresses`,
  );
  return new Map(list.items.map((i) => [i.metadata.name, i.metadata.resourceVersion ?? '']));
}

/** A counter or gauge from the operator's /metrics, `labels` as written there (0 when absent). */
async function metricValue(name: string, labels = ''): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  const escaped = labels.replace(/[{}]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${name}${escaped} ([0-9.e+]+)$`, 'm').exec(text);
  return m?.[1] ? Number(m[1]) : 0;
}

/**
 * A progress line at most every 10 s while waiting for Ready: how many are Ready, and the probes
 * sent and failed (by reason) since the wait began. Where a large N spends its time.
 */
function readyProgress(n: number): (ready: number) => Promise<void> {
  const t0 = Date.now();
  let last = 0;
  let base: number[] | undefined;
  const counters = async () =>
    Promise.all([
      metricValue('kgw_probes_total'),
      ...['error', 'status', 'hash'].map((r) => metricValue('kgw_probe_failures_total', `{reason="${r}"}`)),
    ]);
  return async (ready) => {
    base ??= await counters();
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    const [probes, error, status, hash] = (await counters()).map((v, i) => v - base![i]!);
    console.log(
      `bench rss progress n=${n} t_s=${((last - t0) / 1000).toFixed(0)} ready=${ready} probes=${probes} ` +
        `failed_error=${error} failed_status=${status} failed_hash=${hash}`,
    );
  };
}

/**
 * Probe cost at steady state and for one change: the operator's kgw_probes_total over 10 idle
 * seconds, then around one spec change of KIngress `name` (until its new generation is Ready, and
 * 2 s more for retries).
 */
async function probeFigures(rest: KubeRest, name: string): Promise<string> {
  const idleFrom = await metricValue('kgw_probes_total');
  await new Promise((r) => setTimeout(r, 10_000));
  const idle = (await metricValue('kgw_probes_total')) - idleFrom;
  const path = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${TEST_NAMESPACE}/ingresses/${name}`;
  interface Ing {
    metadata: { generation?: number };
    spec: { rules?: { http?: { paths?: { appendHeaders?: Record<string, string> }[] } }[] };
    status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
  }
  const ing = await rest.request<Ing>('GET', path);
  const p0 = ing.spec.rules?.[0]?.http?.paths?.[0];
  if (!p0) throw new Error(`${name} has no path to change`);
  p0.appendHeaders = { ...p0.appendHeaders, 'x-bench-change': String(Date.now()) };
  const from = await metricValue('kgw_probes_total');
  const put = await rest.request<Ing>('PUT', path, ing);
  const generation = put.metadata.generation ?? 0;
  for (let i = 0; i < 300; i++) {
    const now = await rest.request<Ing>('GET', path);
    const ready = now.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    if (ready && now.status?.observedGeneration === generation) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const change = (await metricValue('kgw_probes_total')) - from;
  return `probes_per_s_idle=${(idle / 10).toFixed(1)} probes_per_change=${change}`;
}

/** The operator's log line when its xDS server serves its first full snapshot. */
const SERVING = 'xDS server synced; serving snapshots';

/**
 * Where a restart's time went: milliseconds from `spawnedAt` (epoch) to the first line in the
 * operator's log at or after it carrying each milestone message (the previous process has exited
 * by then; absent milestones are left out).
 */
function restartMilestones(file: string, spawnedAt: number): string {
  const milestones = ['xDS server listening', 'caches synced', 'first push ready', SERVING, 'became leader'];
  const seen = new Map<string, number>();
  const phases: Record<string, number> = {};
  let first: number | undefined;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: { time?: number; msg?: string } & Record<string, unknown>;
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      continue;
    }
    if (rec.time === undefined || rec.time < spawnedAt) continue;
    first ??= rec.time;
    if (rec.msg !== undefined && milestones.includes(rec.msg) && !seen.has(rec.msg)) {
      seen.set(rec.msg, rec.time);
      for (const [k, v] of Object.entries(rec)) if (k.endsWith('Ms') && typeof v === 'number') phases[k] = v;
    }
  }
  const parts = [`first_log_line_ms=${first === undefined ? 'none' : first - spawnedAt}`];
  for (const m of milestones) {
    const t = seen.get(m);
    if (t !== undefined)
      parts.push(`${m === SERVING ? 'serving' : m.replace(/ /g, '_').toLowerCase()}_ms=${t - spawnedAt}`);
  }
  // the engine's own phases (list, policies, secrets, gateways, hostOwners, firstFlush)
  for (const [k, v] of Object.entries(phases)) parts.push(`${k}=${v}`);
  return parts.join(' ');
}

/** Route-table bytes (RDS and SRDS) the operator has sent, from its /metrics. */
async function routeBytesSent(): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${METRICS_PORT}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  let sum = 0;
  for (const m of text.matchAll(/^kgw_xds_sent_bytes_total\{type="S?RDS"\} ([0-9.e+]+)$/gm))
    sum += Number(m[1]);
  return sum;
}

const cp = await startControlPlane({ log });
const workDir = mkdtempSync(join(tmpdir(), 'kgw-bench-rss-'));
const logFile = join(tmpdir(), `kgw-bench-rss-operator-${process.pid}.log`);
const procs: ChildProcess[] = [];
let network: LocalNetwork | undefined;
let failed = true;
try {
  const kc = cp.kubeConfig();
  const rest = new KubeRest(kc);
  const cli = process.env.KGW_BENCH_OPERATOR === 'ts' ? OPERATOR_CLI : await buildOperator(workDir);
  if (process.env.KGW_BENCH_UNRELATED !== '0') {
    const t0 = Date.now();
    const counts = await createUnrelated(rest);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(
      `bench rss unrelated_objects=${total} ${Object.entries(counts)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')} create_ms=${Date.now() - t0}`,
    );
  }
  if (snapshotDir) mkdirSync(snapshotDir, { recursive: true });
  const v8ReportFile = join(workDir, 'v8-report.mjs');
  if (v8Report) writeFileSync(v8ReportFile, V8_REPORT_JS);
  await applyManifests(kc, [join(root, 'test/env/crds/knative'), knativeGatewayCrd()]);
  await ensureNamespace(rest, TEST_NAMESPACE);
  const fleetMetrics = process.env.KGW_BENCH_FLEET_METRICS === '1';
  const gateway = fleetMetrics ? gatewayWithMetrics() : sampleGateway;
  await applyManifests(kc, [gateway]);

  // the bench's own network, so the replicas outlive an operator and the next one adopts them
  const net = await LocalNetwork.create();
  network = net;
  const operatorProc = (): ChildProcess => {
    const proc = spawn(
      process.execPath,
      [
        // as the image runs it (Dockerfile ENV)
        ...OPERATOR_NODE_OPTIONS.split(' '),
        ...(process.env.KGW_BENCH_NODE_FLAGS ?? '').split(' ').filter((f) => f !== ''),
        ...(snapshotDir ? ['--heapsnapshot-signal=SIGUSR2'] : []),
        ...(v8Report ? ['--import', v8ReportFile] : []),
        cli,
        ...localOperatorArgs({
          kubeconfig: cp.kubeconfigPath,
          workDir,
          networkSubnet: net.subnet,
          args: [
            '--log-level',
            process.env.KGW_BENCH_OPERATOR_LOG_LEVEL ?? 'info',
            '--metrics-port',
            String(METRICS_PORT),
            // with leader election a stopped operator leaves its Envoys running for the next one,
            // as in a rollout: the restart figures below measure adoption, not Envoy start-up
            '--leader-elect',
            '--leader-elect-namespace',
            OPERATOR_NAMESPACE,
          ],
        }),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        ...(snapshotDir ? { cwd: snapshotDir } : {}),
        env:
          jemalloc !== undefined
            ? {
                ...process.env,
                KGW_BENCH_ALLOC_PROFILE_FILE: join(workDir, 'alloc.heapprofile'),
                LD_PRELOAD: jemalloc,
                MALLOC_CONF: process.env.MALLOC_CONF ?? OPERATOR_MALLOC_CONF,
              }
            : process.env,
      },
    );
    procs.push(proc);
    // The operator's log goes to a file, kept when something fails.
    proc.stdout?.on('data', (chunk: Buffer) => logStream.write(chunk));
    return proc;
  };
  await ensureNamespace(rest, OPERATOR_NAMESPACE);
  const logStream = createWriteStream(logFile);
  let operator = operatorProc();
  const started = await waitForLine(
    operator,
    'operator start',
    (l) => l.includes('"operator started"'),
    120_000,
  );
  if (!started.includes(`198.18.${net.subnet}.0`)) throw new Error(`not on the bench's network: ${started}`);
  const address = net.gateway;

  const backend = spawn(
    process.execPath,
    [
      join(root, 'test/backends/main.ts'),
      '--kind',
      'runtime',
      '--host',
      address,
      '--port',
      String(BACKEND_PORT),
      '--suffix=bench',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(backend);
  await waitForLine(backend, 'backend READY', (l) => l.includes('READY'), 20_000);
  await rest.request('POST', `/api/v1/namespaces/${TEST_NAMESPACE}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'bench', namespace: TEST_NAMESPACE },
    spec: { ports: [{ name: 'http', port: 80, targetPort: BACKEND_PORT }] },
  });
  await rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${TEST_NAMESPACE}/endpointslices`, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'bench-1',
      namespace: TEST_NAMESPACE,
      labels: { 'kubernetes.io/service-name': 'bench' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: BACKEND_PORT }],
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
  });

  let pid = operator.pid ?? 0;
  console.log(
    `bench rss n=0 allocator=${jemalloc !== undefined ? 'jemalloc' : 'glibc'} ` +
      `fleet_metrics=${fleetMetrics ? 'on' : 'off'} operator=${cli === OPERATOR_CLI ? 'ts' : 'bundled'} ` +
      `node_flags=${JSON.stringify(process.env.KGW_BENCH_NODE_FLAGS ?? '')} ${await reading(pid)}`,
  );
  if (settleS > 0) {
    // idle settles too (start-up garbage collected by the memory reducer)
    await new Promise((r) => setTimeout(r, Math.min(settleS, 30) * 1000));
    console.log(`bench rss n=0 settled_after_s=${Math.min(settleS, 30)} ${await reading(pid)}`);
  }
  await heapSnapshot(operator, 'n=0');
  let have = 0;
  for (const n of sizes([1000, 10000])) {
    const t0 = Date.now();
    await createMany(cp, 'rss-', have, n, 'bench');
    // the API server's share: every KIngress created (32 POSTs in flight), Ready or not
    const createdMs = Date.now() - t0;
    have = n;
    await waitReadyCount(rest, n, 600_000, readyProgress(n));
    const readyMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 5000));
    console.log(`bench rss n=${n} created_ms=${createdMs} all_ready_ms=${readyMs} ${await reading(pid)}`);
    console.log(`bench rss n=${n} ${await probeFigures(rest, 'rss-0')}`);
    // V8's memory reducer shrinks the heap only after some idle seconds: the settled figure
    if (settleS > 0) {
      await new Promise((r) => setTimeout(r, settleS * 1000));
      console.log(`bench rss n=${n} settled_after_s=${settleS} ${await reading(pid)}`);
    }
    await heapSnapshot(operator, `n=${n}`);
    if (v8Report && allocProfileS > 0 && pid > 0) {
      const file = join(workDir, 'alloc.heapprofile');
      process.kill(pid, 'SIGURG');
      await new Promise((r) => setTimeout(r, allocProfileS * 1000));
      process.kill(pid, 'SIGURG');
      await new Promise((r) => setTimeout(r, 3000));
      const kept = join(tmpdir(), `kgw-bench-rss-alloc-${n}-${process.pid}.heapprofile`);
      writeFileSync(kept, readFileSync(file));
      console.log(`bench rss n=${n} idle allocation profile over ${allocProfileS} s: ${kept}`);
    }
    if (v8Report && forceGc && pid > 0) {
      process.kill(pid, 'SIGPWR');
      await new Promise((r) => setTimeout(r, 5000));
      console.log(`bench rss n=${n} after_full_gc ${await reading(pid)}`);
    }
  }
  if (have > 0) {
    // Restart with every KIngress Ready: time from the new process's start to serving its first
    // full snapshot (it adopts the running replicas), the route-table bytes it then sent (0 when
    // the Envoys already had it all), and how many KIngress statuses it rewrote although nothing
    // changed (resourceVersions before and after, 10 s after it serves).
    const versions = await kingressVersions(rest);
    const exited = new Promise((r) => operator.once('exit', r));
    operator.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    const spawnedAt = Date.now();
    operator = operatorProc();
    pid = operator.pid ?? 0;
    // until its log says the xDS server serves its first full snapshot: from then on every Envoy
    // that (re)connects gets the current configuration at once. Envoys that already have it get
    // nothing (over delta xDS they report the versions they hold), so "first bytes sent" is no
    // milestone of a restart.
    const serving = await waitForLine(
      operator,
      'served snapshot after the restart',
      (l) => l.includes(SERVING),
      120_000,
    );
    const servingMs = (JSON.parse(serving) as { time: number }).time - spawnedAt;
    await new Promise((r) => setTimeout(r, 10_000));
    const routeBytes = await routeBytesSent();
    const after = await kingressVersions(rest);
    const restartProbes = await metricValue('kgw_probes_total');
    const rewritten = [...versions].filter(([k, v]) => after.get(k) !== v).length;
    console.log(
      `bench rss restart n=${have} restart_to_serving_ms=${servingMs} route_bytes_sent=${routeBytes} ` +
        `status_rewritten=${rewritten} of=${versions.size} probes_in_first_10s=${restartProbes}`,
    );
    console.log(`bench rss restart n=${have} ${restartMilestones(logFile, spawnedAt)}`);
  }
  const holdS = Number(process.env.KGW_BENCH_HOLD_S ?? 0);
  if (holdS > 0) {
    // keeps the operator running for inspection (gdb, heaptrack, /proc/<pid>/smaps)
    console.log(`bench rss holding operator pid=${pid} for ${holdS} s`);
    await new Promise((r) => setTimeout(r, holdS * 1000));
    console.log(`bench rss after hold ${await reading(pid)}`);
  }
  failed = false;
} finally {
  for (const p of procs.reverse()) {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (p.exitCode !== null || p.signalCode !== null) break;
      // an operator with 10k KIngresses can take longer than the bound to stop: then SIGKILL, so
      // it cannot write its replicas' record after they were stopped below
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
  }
  // with leader election the last operator left its Envoys running for a successor: stop them,
  // and whatever else still runs from the bench's work dir (a replica the record missed)
  killSavedReplicas(join(workDir, 'envoy'));
  killProcessesNaming(workDir);
  await network?.destroy();
  await cp.stop();
  rmSync(workDir, { recursive: true, force: true });
  if (failed || process.env.KGW_BENCH_KEEP_LOG === '1') console.error(`operator log: ${logFile}`);
  else rmSync(logFile, { force: true });
}
