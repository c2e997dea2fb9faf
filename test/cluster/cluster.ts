// A real single-node Kubernetes cluster for tests: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, containerd (+ runc, bridge CNI), kubelet, kube-proxy (nftables) and optionally
// CoreDNS, all as processes on this machine, in the style of test/env/control-plane.ts: its own
// temp state dir, one log per component (<dir>/logs/<component>.log, named in every startup
// error), progress lines, bounded waits, and stop() removes everything it created. The recipe
// (flags, the containerd setting without which every Pod hangs, the teardown order) was verified
// on this machine kind: /work/shared/reference/real-cluster.md.
//
// Addresses, all inside 198.18.0.0/15 and clear of kgw's local runtime (198.18.0–249.x) and of
// the bare test control plane's Service range (198.19.192.0/20):
//   node 198.19.255.1/32 on an empty bridge `kgwnode0` (this kernel has no dummy links)
//   Pods 198.19.0.0/17 (this node: 198.19.0.0/24 on bridge `kgwcni0`, gateway 198.19.0.1)
//   Services 198.19.128.0/18 (kubernetes 198.19.128.1, CoreDNS 198.19.128.10)
// Only one such cluster can run per machine (those fixed names and ranges): startCluster refuses
// while another holds /run/kgw-cluster.json, and cleans up after one whose process died. Every
// port that can be dynamic is (etcd, apiserver, kubelet, component health/metrics ports).
//
// Needs root and `bash test/cluster/setup-node.sh` (packages, binaries, test images).
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPair, randomBytes } from 'node:crypto';
import {
  chmodSync,
  rmSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { get as plainGet } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../operator/log.ts';
import { ApiError, KubeRest } from '../../operator/kube/rest.ts';
import { applyManifests } from '../env/manifests.ts';
import { crictlBin, etcdBin, k8sBin, pinnedVersions } from '../env/paths.ts';
import {
  freePorts,
  onProcessExit,
  progress,
  spawnOwned,
  tailFile,
  waitUntil,
  type OwnedProcess,
} from '../env/proc.ts';
import {
  HOST,
  LOCK_PATH,
  assertSafeDir,
  breakStaleLock,
  leftovers,
  releaseLock,
  snapshotHost,
  teardownHost,
  tryLock,
  updateLock,
  type HostRecord,
  type TeardownReport,
} from './host.ts';
import { testImages } from './test-images.ts';
import { createClusterPki } from './pki.ts';

const execFileAsync = promisify(execFile);
const generateKeyPairAsync = promisify(generateKeyPair);

export const NODE_NAME = 'kgw-node';
export const NODE_IP = '198.19.255.1';
export const POD_CIDR = '198.19.0.0/17';
export const NODE_POD_SUBNET = '198.19.0.0/24';
export const SERVICE_CIDR = '198.19.128.0/18';
export const KUBERNETES_SERVICE_IP = '198.19.128.1';
export const DNS_SERVICE_IP = '198.19.128.10';
export const CLUSTER_DOMAIN = 'cluster.local';

export type Component =
  | 'etcd'
  | 'containerd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubelet'
  | 'kube-proxy';

export interface ClusterOptions {
  /** State dir (must be dedicated; kept on stop). Default: a new /tmp/kgw-cluster-* dir, removed on stop. */
  dir?: string;
  log?: Logger;
  /** Image tarballs (docker-archive or OCI) imported into containerd before the node registers. */
  images?: string[];
  /**
   * Tarball of a CoreDNS image (entrypoint: the coredns binary, as upstream's image). With it the
   * cluster runs CoreDNS as Deployment `coredns` + Service `kube-dns` (198.19.128.10) in
   * kube-system and the kubelet hands Pods that resolver; without it there is no cluster DNS.
   */
  corednsImage?: string;
  /** Tarball of the Pod sandbox (pause) image; default: build-test-images.sh's pause. */
  sandboxImage?: string;
  /** kube-proxy mode (default nftables). */
  proxyMode?: 'nftables' | 'iptables';
  /** Bound for the node to become Ready (default 120 s); the apiserver gets 60 s. */
  readyTimeoutMs?: number;
  /**
   * How long to wait for another live cluster on this machine to stop before giving up (default:
   * env KGW_CLUSTER_LOCK_WAIT_S in seconds, else 0: refuse at once). Lets several test runs queue
   * for the one cluster a machine can hold.
   */
  lockWaitMs?: number;
}

export interface ClusterTimings {
  /** call → apiserver /readyz */
  apiserverReadyMs: number;
  /** call → node Ready */
  nodeReadyMs: number;
  /** call → default ServiceAccount and kube-root-ca.crt in `default` (Pods can be created) */
  readyMs: number;
  /** call → CoreDNS available (when it runs) */
  dnsReadyMs?: number;
  /** image imports (in parallel with the apiserver start) */
  imagesMs: number;
}

export interface ProcessRss {
  name: string;
  pid: number;
  rssMiB: number;
}

export interface ClusterRss {
  processes: ProcessRss[];
  /** containerd-shim-runc-v2 processes of this cluster */
  shimsMiB: number;
  /** memory usage of the kubelet's `kubepods` cgroup (all containers) */
  podsMiB: number;
  totalMiB: number;
}

export interface StopReport extends TeardownReport {
  ms: number;
  /** what is still there after the teardown (should be empty) */
  leftovers: string[];
}

export interface Cluster {
  /** https://198.19.255.1:<port> */
  server: string;
  /** Bearer token of `admin` (system:masters). */
  token: string;
  /** PEM of the cluster CA (serving certificate, kubelet clients, Pods' ca.crt). */
  caPem: string;
  kubeconfigPath: string;
  dir: string;
  nodeName: string;
  nodeIP: string;
  /** Image references imported (sandbox, `images`, CoreDNS). */
  images: string[];
  /** The CoreDNS Service IP when CoreDNS runs. */
  dnsServiceIP?: string;
  timings: ClusterTimings;
  /** The host record (what stop() undoes), e.g. for leftovers checks. */
  record: HostRecord;
  logPath(component: Component): string;
  kubeConfig(): KubeConfig;
  /** Imports image tarballs into containerd's k8s.io namespace; returns the image references. */
  importImages(tarballs: string[]): Promise<string[]>;
  /**
   * Gives an imported image a second name (`ctr images tag`): the same content under a new
   * reference, as a release of a new version would look to the kubelet.
   */
  tagImage(source: string, target: string): Promise<void>;
  rss(): ClusterRss;
  /** Stops everything and undoes every host change (see host.ts); idempotent. */
  stop(): Promise<StopReport>;
}

const PATH_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function childEnv(): NodeJS.ProcessEnv {
  const path = [...(process.env.PATH ?? '').split(':').filter((p) => p !== ''), ...PATH_DIRS];
  return { ...process.env, PATH: [...new Set(path)].join(':') };
}

async function cmd(file: string, args: string[], timeoutMs = 30_000): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      timeout: timeoutMs,
      env: childEnv(),
      maxBuffer: 16 << 20,
    });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${basename(file)} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, {
      cause: err,
    });
  }
}

function kubeconfigText(server: string, caPem: string, user: string, token: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kgw-cluster',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'kgw-cluster', context: { cluster: 'kgw-cluster', user, namespace: 'default' } }],
    'current-context': 'kgw-cluster',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

function containerdConfig(dir: string, sandboxImage: string): string {
  const c = join(dir, 'containerd');
  return `version = 2
root = "${c}/root"
state = "${c}/state"
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${c}/containerd.sock"

[ttrpc]
  address = "${c}/containerd.sock.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "${c}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  # this machine's capability bounding set lacks CAP_SYS_RESOURCE: without this every sandbox
  # gets oom_score_adj -998, runc fails ("can't get final child's PID from pipe") and every Pod
  # hangs in ContainerCreating (real-cluster.md, blocker B1)
  restrict_oom_score_adj = true
  # pod network namespaces under our state dir, not /var/run/netns
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${c}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni/net.d"
    max_conf_num = 1
`;
}

function cniConflist(dir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: HOST.cniNetwork,
      plugins: [
        {
          type: 'bridge',
          bridge: HOST.cniBridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: NODE_POD_SUBNET }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: join(dir, 'cni', 'ipam'),
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** Parses the image references `ctr images import` reports (`unpacking <ref> (sha256:…)…done`). */
export function importedRefs(output: string): string[] {
  return [...output.matchAll(/^unpacking (\S+) \(sha256:/gm)].map((m) => m[1] ?? '');
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = plainGet(url, { timeout: 2000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
  });
}

function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

interface NodeStatus {
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

/**
 * Starts the cluster; resolves once the node is Ready and Pods can be created in `default` (and
 * CoreDNS is available, when given). On failure everything started is stopped and undone; the
 * state dir is kept for its logs.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const t0 = Date.now();
  const log = opts.log;
  const say = (msg: string): void => progress(`cluster: ${msg}`, log);
  const ownsDir = opts.dir === undefined;
  const keep = process.env.KGW_KEEP_ENV === '1';
  // binaries first: a missing one should fail before anything is touched
  const bins = {
    etcd: etcdBin(),
    apiserver: k8sBin('kube-apiserver'),
    controllerManager: k8sBin('kube-controller-manager'),
    scheduler: k8sBin('kube-scheduler'),
    kubelet: k8sBin('kubelet'),
    proxy: k8sBin('kube-proxy'),
    crictl: crictlBin(),
  };
  const sandboxTarball = opts.sandboxImage ?? testImages().pause;
  for (const f of [
    sandboxTarball,
    ...(opts.images ?? []),
    ...(opts.corednsImage ? [opts.corednsImage] : []),
  ]) {
    if (!existsSync(f))
      throw new Error(
        `image tarball ${f} does not exist (bash test/cluster/setup-node.sh builds the test images)`,
      );
  }

  if (opts.dir !== undefined) assertSafeDir(opts.dir);
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kgw-cluster-'));
  mkdirSync(dir, { recursive: true });

  // the machine-wide lock, holding what we will have to undo
  const record = snapshotHost({ pid: process.pid, dir, removeDir: ownsDir && !keep });
  let lock = tryLock(record);
  if (!lock.ok && !lock.alive) {
    const stale = lock.holder;
    say(`cleaning up after a cluster whose process died (${stale?.dir ?? 'unknown dir'})`);
    if (stale !== undefined) {
      const r = teardownHost(stale);
      if (r.errors.length > 0) say(`stale cleanup left: ${r.errors.join('; ')}`);
    }
    breakStaleLock(stale);
    // the snapshot may have seen the stale cluster's parts
    Object.assign(record, snapshotHost({ pid: process.pid, dir, removeDir: ownsDir && !keep }));
    lock = tryLock(record);
  }
  const lockWaitMs = opts.lockWaitMs ?? Number(process.env.KGW_CLUSTER_LOCK_WAIT_S ?? 0) * 1000;
  if (!lock.ok && lockWaitMs > 0) {
    say(
      `waiting up to ${Math.round(lockWaitMs / 1000)} s for the cluster of pid ${lock.holder?.pid ?? '?'} to stop`,
    );
    const until = Date.now() + lockWaitMs;
    while (!lock.ok && Date.now() < until) {
      await sleep(5000);
      lock = tryLock(record);
      if (!lock.ok && !lock.alive) {
        const stale = lock.holder;
        if (stale !== undefined) teardownHost(stale);
        breakStaleLock(stale);
        lock = tryLock(record);
      }
    }
    // what the holder left changed the host: snapshot again before we own it
    if (lock.ok)
      updateLock(Object.assign(record, snapshotHost({ pid: process.pid, dir, removeDir: ownsDir && !keep })));
  }
  if (!lock.ok) {
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
    const h = lock.holder;
    throw new Error(
      `a kgw test cluster is already running on this machine (pid ${h?.pid ?? '?'}, state dir ${h?.dir ?? '?'}, ` +
        `since ${h?.createdAt ?? '?'}; lock ${LOCK_PATH}): ` +
        'only one can run per machine (fixed node address, bridges and Pod range). Stop it first.',
    );
  }

  const procs = new Map<Component, OwnedProcess>();
  const logsDir = join(dir, 'logs');
  const logPath = (c: Component): string => join(logsDir, `${c}.log`);
  let tornDown: Promise<StopReport> | undefined;
  const unregisterExit = onProcessExit(() => {
    // proc.ts has SIGKILLed the components by now; undo the host changes synchronously
    teardownHost(record);
    releaseLock(record);
  });

  const containerdSock = join(dir, 'containerd', 'containerd.sock');
  const crictl = (args: string[], timeoutMs = 60_000): Promise<string> =>
    cmd(
      bins.crictl,
      ['--runtime-endpoint', `unix://${containerdSock}`, '--timeout', '20s', ...args],
      timeoutMs,
    );
  const ctr = (args: string[], timeoutMs = 180_000): Promise<string> =>
    cmd('ctr', ['--address', containerdSock, '--namespace', 'k8s.io', ...args], timeoutMs);
  const importImages = async (tarballs: string[]): Promise<string[]> => {
    const refs: string[] = [];
    for (const t of tarballs) {
      const found = importedRefs(await ctr(['images', 'import', t]));
      if (found.length === 0) throw new Error(`ctr images import ${t}: no image reference in its output`);
      refs.push(...found);
    }
    return refs;
  };

  const stopAll = async (): Promise<StopReport> => {
    const s0 = Date.now();
    say('stopping');
    const kubelet = procs.get('kubelet');
    if (kubelet) await kubelet.stop(10_000);
    // pods away while containerd runs: it runs the CNI DEL and unmounts their rootfs
    if (procs.get('containerd')?.exitInfo() === undefined && procs.has('containerd')) {
      try {
        await crictl(['rmp', '--all', '--force'], 60_000);
      } catch (err) {
        say(`crictl rmp: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const proxy = procs.get('kube-proxy');
    if (proxy) {
      await proxy.stop(5_000);
      try {
        await cmd(bins.proxy, [`--config=${join(dir, 'kube-proxy', 'config.yaml')}`, '--cleanup'], 30_000);
      } catch (err) {
        say(`kube-proxy --cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    for (const c of [
      'kube-scheduler',
      'kube-controller-manager',
      'kube-apiserver',
      'etcd',
      'containerd',
    ] as const) {
      await procs.get(c)?.stop(c === 'etcd' || c === 'containerd' ? 10_000 : 5_000);
    }
    const report = teardownHost(record);
    if (report.actions.length > 0) say(`teardown: ${report.actions.join('; ')}`);
    const left = leftovers(record);
    releaseLock(record);
    unregisterExit();
    const ms = Date.now() - s0;
    say(
      `stopped in ${ms} ms${left.length > 0 ? `; LEFT: ${left.join(', ')}` : ''}${report.errors.length > 0 ? `; errors: ${report.errors.join('; ')}` : ''}`,
    );
    return { ...report, ms, leftovers: left };
  };
  const stop = (): Promise<StopReport> => (tornDown ??= stopAll());

  const exitedReason = (): string | undefined => {
    for (const p of procs.values()) {
      const info = p.exitInfo();
      if (info !== undefined) {
        return `${p.name} exited (code ${info.code}, signal ${info.signal}); log ${p.logPath}:\n${tailFile(p.logPath, 25)}`;
      }
    }
    return undefined;
  };

  try {
    say(`starting in ${dir} (node ${NODE_IP}, Pods ${POD_CIDR}, Services ${SERVICE_CIDR})`);
    for (const d of [
      'logs',
      'pki',
      'kubeconfig',
      'etcd',
      'containerd',
      'cni/net.d',
      'cni/ipam',
      'kubelet/root',
      'kubelet/pki',
      'pod-logs',
      'kube-proxy',
      'apiserver',
    ]) {
      mkdirSync(join(dir, d), { recursive: true });
    }
    chmodSync(join(dir, 'etcd'), 0o700);

    // the node address on an empty bridge (no dummy links on this kernel)
    await cmd('ip', ['link', 'add', HOST.nodeBridge, 'type', 'bridge']);
    await cmd('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', HOST.nodeBridge]);
    await cmd('ip', ['link', 'set', HOST.nodeBridge, 'up']);
    updateLock(record);

    const [
      etcdClient,
      etcdPeer,
      apiPort,
      kubeletPort,
      kubeletHealthz,
      proxyHealthz,
      proxyMetrics,
      cmPort,
      schedPort,
    ] = (await freePorts(9)) as [number, number, number, number, number, number, number, number, number];

    // etcd and containerd boot while the PKI is made
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    procs.set(
      'etcd',
      spawnOwned(
        'etcd',
        bins.etcd,
        [
          '--name=default',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=default=${peerUrl}`,
          '--initial-cluster-state=new',
          '--heartbeat-interval=10',
          '--election-timeout=100',
          '--logger=zap',
          '--log-outputs=stderr',
          '--log-level=warn',
        ],
        { logPath: logPath('etcd'), cwd: dir },
      ),
    );
    const sandboxRef = sandboxRefOf(sandboxTarball);
    writeFileSync(join(dir, 'cni', 'net.d', `10-${HOST.cniNetwork}.conflist`), cniConflist(dir));
    writeFileSync(join(dir, 'containerd', 'config.toml'), containerdConfig(dir, sandboxRef));
    procs.set(
      'containerd',
      spawnOwned('containerd', 'containerd', ['--config', join(dir, 'containerd', 'config.toml')], {
        logPath: logPath('containerd'),
        cwd: dir,
        env: childEnv(),
      }),
    );

    const pki = await createClusterPki({
      ipAddresses: [NODE_IP, KUBERNETES_SERVICE_IP, '127.0.0.1'],
      dnsNames: [
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        `kubernetes.default.svc.${CLUSTER_DOMAIN}`,
        'localhost',
      ],
    });
    const sa = await generateKeyPairAsync('ec', {
      namedCurve: 'prime256v1',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const p = (f: string): string => join(dir, 'pki', f);
    const secret = (path: string, text: string): void => writeFileSync(path, text, { mode: 0o600 });
    writeFileSync(p('ca.crt'), pki.ca.certPem);
    secret(p('ca.key'), pki.ca.keyPem);
    writeFileSync(p('apiserver.crt'), pki.apiserver.certPem);
    secret(p('apiserver.key'), pki.apiserver.keyPem);
    writeFileSync(p('kubelet-client.crt'), pki.kubeletClient.certPem);
    secret(p('kubelet-client.key'), pki.kubeletClient.keyPem);
    secret(p('sa.key'), sa.privateKey);
    writeFileSync(p('sa.pub'), sa.publicKey);
    const tok = (): string => randomBytes(24).toString('hex');
    const tokens = {
      admin: tok(),
      kubelet: tok(),
      scheduler: tok(),
      controllerManager: tok(),
      proxy: tok(),
    };
    secret(
      p('tokens.csv'),
      [
        `${tokens.admin},admin,admin,"system:masters"`,
        `${tokens.kubelet},system:node:${NODE_NAME},kubelet,"system:nodes"`,
        `${tokens.scheduler},system:kube-scheduler,kube-scheduler`,
        `${tokens.controllerManager},system:kube-controller-manager,kube-controller-manager`,
        `${tokens.proxy},system:kube-proxy,kube-proxy`,
        '',
      ].join('\n'),
    );
    const server = `https://${NODE_IP}:${apiPort}`;
    const kubeconfig = (name: string, user: string, token: string): string => {
      const path = join(dir, 'kubeconfig', `${name}.kubeconfig`);
      secret(path, kubeconfigText(server, pki.ca.certPem, user, token));
      return path;
    };
    const adminKubeconfigText = kubeconfigText(server, pki.ca.certPem, 'admin', tokens.admin);
    const kubeconfigPath = kubeconfig('admin', 'admin', tokens.admin);
    const kubeletKubeconfig = kubeconfig('kubelet', `system:node:${NODE_NAME}`, tokens.kubelet);
    const schedulerKubeconfig = kubeconfig('kube-scheduler', 'system:kube-scheduler', tokens.scheduler);
    const cmKubeconfig = kubeconfig(
      'kube-controller-manager',
      'system:kube-controller-manager',
      tokens.controllerManager,
    );
    const proxyKubeconfig = kubeconfig('kube-proxy', 'system:kube-proxy', tokens.proxy);

    await waitUntil(
      `etcd ${etcdUrl}/health (log: ${logPath('etcd')})`,
      async () => (await httpGet(`${etcdUrl}/health`)).body.includes('"true"'),
      { timeoutMs: 20_000, intervalMs: 20, abort: exitedReason },
    );
    procs.set(
      'kube-apiserver',
      spawnOwned(
        'kube-apiserver',
        bins.apiserver,
        [
          `--etcd-servers=${etcdUrl}`,
          `--bind-address=${NODE_IP}`,
          `--advertise-address=${NODE_IP}`,
          `--secure-port=${apiPort}`,
          `--cert-dir=${join(dir, 'apiserver')}`,
          `--tls-cert-file=${p('apiserver.crt')}`,
          `--tls-private-key-file=${p('apiserver.key')}`,
          `--client-ca-file=${p('ca.crt')}`,
          `--token-auth-file=${p('tokens.csv')}`,
          '--authorization-mode=Node,RBAC',
          '--enable-admission-plugins=NodeRestriction',
          `--service-cluster-ip-range=${SERVICE_CIDR}`,
          `--service-account-key-file=${p('sa.pub')}`,
          `--service-account-signing-key-file=${p('sa.key')}`,
          `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
          `--kubelet-client-certificate=${p('kubelet-client.crt')}`,
          `--kubelet-client-key=${p('kubelet-client.key')}`,
          // without it `kubectl logs/exec` makes the apiserver look the node name up in the
          // machine's DNS
          '--kubelet-preferred-address-types=InternalIP,Hostname',
          '--allow-privileged=true',
          '--profiling=false',
        ],
        { logPath: logPath('kube-apiserver'), cwd: dir },
      ),
    );

    // containerd up → import the sandbox and the caller's images while the apiserver boots
    const tImages = Date.now();
    const imported = (async (): Promise<string[]> => {
      await waitUntil(
        `containerd ${containerdSock} (log: ${logPath('containerd')})`,
        async () => {
          if (!existsSync(containerdSock)) return false;
          await ctr(['version'], 5_000);
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 50, abort: exitedReason },
      );
      return importImages([
        sandboxTarball,
        ...(opts.images ?? []),
        ...(opts.corednsImage ? [opts.corednsImage] : []),
      ]);
    })();
    // a rejection is handled by the await below; keep Node from reporting it as unhandled meanwhile
    imported.catch(() => undefined);

    const kc = new KubeConfig();
    kc.loadFromString(adminKubeconfigText);
    const rest = new KubeRest(kc);
    try {
      await waitUntil(
        `kube-apiserver ${server}/readyz (log: ${logPath('kube-apiserver')})`,
        async () => (await rest.request<string>('GET', '/readyz')) === 'ok',
        { timeoutMs: 60_000, intervalMs: 100, abort: exitedReason },
      );
      const apiserverReadyMs = Date.now() - t0;
      say(`kube-apiserver ready at ${server} after ${apiserverReadyMs} ms`);

      procs.set(
        'kube-controller-manager',
        spawnOwned(
          'kube-controller-manager',
          bins.controllerManager,
          [
            `--kubeconfig=${cmKubeconfig}`,
            `--authentication-kubeconfig=${cmKubeconfig}`,
            `--authorization-kubeconfig=${cmKubeconfig}`,
            '--bind-address=127.0.0.1',
            `--secure-port=${cmPort}`,
            `--cert-dir=${join(dir, 'pki', 'kube-controller-manager')}`,
            '--leader-elect=false',
            '--use-service-account-credentials=true',
            `--service-account-private-key-file=${p('sa.key')}`,
            `--root-ca-file=${p('ca.crt')}`,
            `--cluster-signing-cert-file=${p('ca.crt')}`,
            `--cluster-signing-key-file=${p('ca.key')}`,
            '--allocate-node-cidrs=false',
            '--cluster-name=kgw-cluster',
            '--profiling=false',
          ],
          { logPath: logPath('kube-controller-manager'), cwd: dir },
        ),
      );
      procs.set(
        'kube-scheduler',
        spawnOwned(
          'kube-scheduler',
          bins.scheduler,
          [
            `--kubeconfig=${schedulerKubeconfig}`,
            `--authentication-kubeconfig=${schedulerKubeconfig}`,
            `--authorization-kubeconfig=${schedulerKubeconfig}`,
            '--bind-address=127.0.0.1',
            `--secure-port=${schedPort}`,
            `--cert-dir=${join(dir, 'pki', 'kube-scheduler')}`,
            '--leader-elect=false',
            '--profiling=false',
          ],
          { logPath: logPath('kube-scheduler'), cwd: dir },
        ),
      );

      const images = await imported;
      const imagesMs = Date.now() - tImages;
      say(`imported ${images.join(', ')} in ${imagesMs} ms`);
      const corednsRef =
        opts.corednsImage !== undefined ? importedRefsOf(images, opts.corednsImage) : undefined;

      writeFileSync(join(dir, 'kubelet', 'resolv.conf'), 'nameserver 127.0.0.1\n');
      const kubeletConfig = {
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        address: NODE_IP,
        port: kubeletPort,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort: kubeletHealthz,
        cgroupDriver: 'cgroupfs',
        containerRuntimeEndpoint: `unix://${containerdSock}`,
        failSwapOn: false,
        failCgroupV1: false,
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: true },
          x509: { clientCAFile: p('ca.crt') },
        },
        authorization: { mode: 'Webhook' },
        clusterDomain: CLUSTER_DOMAIN,
        ...(corednsRef !== undefined ? { clusterDNS: [DNS_SERVICE_IP] } : {}),
        // Pods never query the machine's resolver
        resolvConf: join(dir, 'kubelet', 'resolv.conf'),
        podLogsDir: join(dir, 'pod-logs'),
        serializeImagePulls: false,
        // our images cannot be pulled again: no image GC
        imageGCHighThresholdPercent: 100,
        evictionHard: {
          'memory.available': '100Mi',
          'nodefs.available': '1%',
          'imagefs.available': '1%',
          'nodefs.inodesFree': '1%',
        },
        rotateCertificates: false,
        serverTLSBootstrap: false,
      };
      writeFileSync(join(dir, 'kubelet', 'config.yaml'), `${JSON.stringify(kubeletConfig, null, 2)}\n`);
      procs.set(
        'kubelet',
        spawnOwned(
          'kubelet',
          bins.kubelet,
          [
            `--config=${join(dir, 'kubelet', 'config.yaml')}`,
            `--kubeconfig=${kubeletKubeconfig}`,
            `--root-dir=${join(dir, 'kubelet', 'root')}`,
            `--cert-dir=${join(dir, 'kubelet', 'pki')}`,
            `--hostname-override=${NODE_NAME}`,
            `--node-ip=${NODE_IP}`,
          ],
          { logPath: logPath('kubelet'), cwd: dir, env: childEnv() },
        ),
      );

      const proxyConfig = {
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig: proxyKubeconfig },
        hostnameOverride: NODE_NAME,
        bindAddress: NODE_IP,
        clusterCIDR: POD_CIDR,
        mode: opts.proxyMode ?? 'nftables',
        // leave the machine's conntrack settings alone
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
        healthzBindAddress: `127.0.0.1:${proxyHealthz}`,
        metricsBindAddress: `127.0.0.1:${proxyMetrics}`,
        nodePortAddresses: [`${NODE_IP}/32`],
      };
      writeFileSync(join(dir, 'kube-proxy', 'config.yaml'), `${JSON.stringify(proxyConfig, null, 2)}\n`);
      procs.set(
        'kube-proxy',
        spawnOwned('kube-proxy', bins.proxy, [`--config=${join(dir, 'kube-proxy', 'config.yaml')}`], {
          logPath: logPath('kube-proxy'),
          cwd: dir,
          env: childEnv(),
        }),
      );

      say('waiting for the node to register and become Ready');
      await waitUntil(
        `node ${NODE_NAME} Ready (logs: ${logPath('kubelet')}, ${logPath('containerd')})`,
        async () => {
          const node = await rest.request<NodeStatus>('GET', `/api/v1/nodes/${NODE_NAME}`);
          return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
        },
        {
          timeoutMs: opts.readyTimeoutMs ?? 120_000,
          intervalMs: 250,
          abort: exitedReason,
          retryIf: (err) => !(err instanceof ApiError) || err.status === 404,
        },
      );
      const nodeReadyMs = Date.now() - t0;
      say(`node ${NODE_NAME} Ready after ${nodeReadyMs} ms`);
      // Pods in `default` need its ServiceAccount and the root CA ConfigMap (projected token volume)
      await waitUntil(
        `ServiceAccount default/default and ConfigMap default/kube-root-ca.crt (log: ${logPath('kube-controller-manager')})`,
        async () => {
          await rest.request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
          await rest.request('GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt');
          return true;
        },
        { timeoutMs: 60_000, intervalMs: 200, abort: exitedReason },
      );
      const readyMs = Date.now() - t0;

      let dnsReadyMs: number | undefined;
      if (corednsRef !== undefined) {
        say(`starting CoreDNS (${corednsRef}) as Service kube-system/kube-dns ${DNS_SERVICE_IP}`);
        await applyManifests(kc, corednsObjects(corednsRef), { fieldManager: 'kgw-test-cluster' });
        await waitUntil(
          'Deployment kube-system/coredns available (kubectl -n kube-system describe pod -l k8s-app=kube-dns)',
          async () => {
            const d = await rest.request<{ status?: { availableReplicas?: number } }>(
              'GET',
              '/apis/apps/v1/namespaces/kube-system/deployments/coredns',
            );
            return (d.status?.availableReplicas ?? 0) >= 1;
          },
          { timeoutMs: 120_000, intervalMs: 250, abort: exitedReason },
        );
        dnsReadyMs = Date.now() - t0;
        say(`CoreDNS available after ${dnsReadyMs} ms`);
      }
      say(`ready after ${Date.now() - t0} ms (kubeconfig ${kubeconfigPath})`);

      return {
        server,
        token: tokens.admin,
        caPem: pki.ca.certPem,
        kubeconfigPath,
        dir,
        nodeName: NODE_NAME,
        nodeIP: NODE_IP,
        images,
        ...(corednsRef !== undefined ? { dnsServiceIP: DNS_SERVICE_IP } : {}),
        timings: {
          apiserverReadyMs,
          nodeReadyMs,
          readyMs,
          imagesMs,
          ...(dnsReadyMs !== undefined ? { dnsReadyMs } : {}),
        },
        record,
        logPath,
        kubeConfig(): KubeConfig {
          const k = new KubeConfig();
          k.loadFromString(adminKubeconfigText);
          return k;
        },
        importImages,
        tagImage: async (source: string, target: string): Promise<void> => {
          await ctr(['images', 'tag', '--force', source, target]);
        },
        rss(): ClusterRss {
          return clusterRss(procs, dir);
        },
        stop,
      };
    } finally {
      rest.close();
    }
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // keep the logs: the dir survives a failed start
    record.removeDir = false;
    updateLock(record);
    await stop();
    throw new Error(`cluster did not start (logs kept in ${logsDir}): ${msg}`, { cause: err });
  }
}

/** The image reference inside a docker-archive tarball (manifest.json RepoTags) or OCI layout. */
function sandboxRefOf(tarball: string): string {
  const refs = tarballRefs(tarball);
  const ref = refs[0];
  if (ref === undefined) throw new Error(`${tarball}: no image reference (RepoTags) in the tarball`);
  return ref;
}

function tarballRefs(tarball: string): string[] {
  // small JSON members only: `tar -xOf` of manifest.json / index.json
  const read = (member: string): string | undefined => {
    try {
      return execFileSyncText('tar', ['-xOf', tarball, member]);
    } catch {
      return undefined;
    }
  };
  const manifest = read('manifest.json');
  if (manifest !== undefined) {
    const parsed = JSON.parse(manifest) as { RepoTags?: string[] }[];
    return parsed.flatMap((m) => m.RepoTags ?? []);
  }
  const index = read('index.json');
  if (index !== undefined) {
    const parsed = JSON.parse(index) as { manifests?: { annotations?: Record<string, string> }[] };
    return (parsed.manifests ?? []).flatMap((m) => {
      const name =
        m.annotations?.['io.containerd.image.name'] ?? m.annotations?.['org.opencontainers.image.ref.name'];
      return name !== undefined ? [name] : [];
    });
  }
  return [];
}

function importedRefsOf(imported: string[], tarball: string): string {
  const refs = tarballRefs(tarball);
  const ref = refs.find((r) => imported.includes(r)) ?? refs[0];
  if (ref === undefined) throw new Error(`${tarball}: no image reference in the tarball`);
  return ref;
}

function execFileSyncText(file: string, args: string[]): string {
  return execFileSync(file, args, { timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
}

function clusterRss(procs: Map<Component, OwnedProcess>, dir: string): ClusterRss {
  const processes: ProcessRss[] = [];
  for (const proc of procs.values()) {
    if (proc.exitInfo() === undefined)
      processes.push({ name: proc.name, pid: proc.pid, rssMiB: rssMiB(proc.pid) });
  }
  let shimsMiB = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.startsWith('/usr/bin/containerd-shim') && cmdline.includes(dir))
        shimsMiB += rssMiB(Number(entry));
    } catch {
      // gone
    }
  }
  let podsMiB = 0;
  for (const f of [
    '/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes',
    '/sys/fs/cgroup/kubepods/memory.current',
  ]) {
    try {
      podsMiB = Number(readFileSync(f, 'utf8').trim()) / (1 << 20);
      break;
    } catch {
      // other cgroup layout
    }
  }
  const totalMiB = processes.reduce((a, p) => a + p.rssMiB, 0) + shimsMiB + podsMiB;
  return { processes, shimsMiB, podsMiB, totalMiB };
}

/** CoreDNS as kubeadm sets it up, without `forward`: only cluster names are answered, nothing leaves the machine. */
export function corednsObjects(image: string): object[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const corefile = `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes ${CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
`;
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: 'kube-system' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: 'kube-system' },
      data: { Corefile: corefile },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: 'kube-system', labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            // CoreDNS must not resolve through itself
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns', readOnly: true }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: 'kube-system', labels },
      spec: {
        selector: labels,
        clusterIP: DNS_SERVICE_IP,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
          { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        ],
      },
    },
  ];
}

/** The pinned Kubernetes version (what /version and the node report). */
export function kubernetesVersion(): string {
  const v = process.env.KGW_K8S_VERSION ?? pinnedVersions().KGW_K8S_VERSION;
  if (v === undefined) throw new Error('no KGW_K8S_VERSION');
  return v;
}
