// What the test cluster changes on this machine outside its own state dir, recorded before it
// starts and undone when it stops (or, after a crash, by the next startCluster): processes,
// mounts, network namespaces, links, iptables chains, nf_tables tables, cgroups, sysctls and a few
// well-known directories. Everything here is synchronous so it can also run from a process 'exit'
// handler; every command is bounded by a timeout.
//
// The machine-wide lock (/run/kgw-cluster.json) holds the record: only one such cluster can run
// per machine (fixed node address, bridge names, pod range, kube-proxy's nft table, cgroups).
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** Names and addresses of the cluster's host-side parts (fixed: one cluster per machine). */
export const HOST = {
  nodeBridge: 'kgwnode0',
  cniBridge: 'kgwcni0',
  cniNetwork: 'kgw-cluster',
  /** all cluster addresses (node, Pods, Services): conntrack entries in it are flushed at stop */
  clusterRange: '198.19.0.0/16',
} as const;

/** Sysctls the kubelet, kube-proxy or the bridge CNI plugin may change; restored at stop. */
export const WATCHED_SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/route_localnet',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
] as const;

/**
 * Directories outside the state dir that the components create when missing (found by listing
 * what a run changed): libcni's result cache, the kubelet's container log links and its
 * device-plugin socket dir (both hard-coded, whatever --root-dir says). Removed at stop when we
 * made them and nothing but empty dirs is left in them.
 */
export const WATCHED_DIRS = ['/var/lib/cni', '/var/log/containers', '/var/lib/kubelet'] as const;

/** Files the kubelet writes at hard-coded paths (device plugin manager). */
const KUBELET_FIXED_FILES = [
  '/var/lib/kubelet/device-plugins/kubelet.sock',
  '/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint',
];

export interface HostRecord {
  /** owner process and its start time (a reused pid is not the owner) */
  pid: number;
  start: string;
  dir: string;
  /** the state dir is removed at stop */
  removeDir: boolean;
  createdAt: string;
  sysctls: Record<string, string>;
  netns: string[];
  links: string[];
  /** `<family>/<table>/<chain>` of KUBE-* and CNI-* chains present before */
  chains: string[];
  /** `<family> <table>` of nf_tables tables present before */
  nftTables: string[];
  /** WATCHED_DIRS that did not exist before */
  absentDirs: string[];
}

export const LOCK_PATH = process.env.KGW_CLUSTER_LOCK ?? '/run/kgw-cluster.json';

function run(cmd: string, args: string[], timeoutMs = 20_000): string {
  return execFileSync(cmd, args, {
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  }).toString('utf8');
}

function tryRun(cmd: string, args: string[], timeoutMs = 20_000): string | undefined {
  try {
    return run(cmd, args, timeoutMs);
  } catch {
    return undefined;
  }
}

/** True if `dir` holds nothing but (nested) empty dirs. */
function isEmptyTree(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).every(
      (e) => e.isDirectory() && isEmptyTree(join(dir, e.name)),
    );
  } catch {
    return false;
  }
}

/** Bridges in the root network namespace that are neither ours nor were there before. */
function otherBridges(rec: HostRecord): string[] {
  return [...(tryRun('ip', ['-o', 'link', 'show', 'type', 'bridge']) ?? '').matchAll(/^\d+: ([^:@\s]+)/gm)]
    .map((m) => m[1] ?? '')
    .filter((b) => !rec.links.includes(b) && b !== HOST.cniBridge && b !== HOST.nodeBridge);
}

export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function netnsNames(): string[] {
  return (tryRun('ip', ['netns', 'list']) ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

export function linkNames(): string[] {
  return [...(tryRun('ip', ['-o', 'link', 'show']) ?? '').matchAll(/^\d+: ([^:@\s]+)/gm)].map(
    (m) => m[1] ?? '',
  );
}

type Family = 'ip4' | 'ip6';
const SAVE: Record<Family, string> = { ip4: 'iptables-save', ip6: 'ip6tables-save' };
const IPT: Record<Family, string> = { ip4: 'iptables', ip6: 'ip6tables' };
const OURS = /^(KUBE|CNI)-/;

interface SavedTable {
  name: string;
  chains: string[];
  /** `-A …` lines */
  rules: string[];
}

function iptablesSave(family: Family): SavedTable[] {
  const out = tryRun(SAVE[family], []) ?? '';
  const tables: SavedTable[] = [];
  let cur: SavedTable | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('*')) {
      cur = { name: line.slice(1), chains: [], rules: [] };
      tables.push(cur);
    } else if (cur !== undefined && line.startsWith(':')) {
      cur.chains.push(line.slice(1).split(' ')[0] ?? '');
    } else if (cur !== undefined && line.startsWith('-A ')) {
      cur.rules.push(line);
    }
  }
  return tables;
}

/** KUBE-* and CNI-* chains, as `<family>/<table>/<chain>`. */
export function ourChains(): string[] {
  const out: string[] = [];
  for (const family of ['ip4', 'ip6'] as const) {
    for (const t of iptablesSave(family)) {
      for (const c of t.chains) if (OURS.test(c)) out.push(`${family}/${t.name}/${c}`);
    }
  }
  return out;
}

const BUILTIN_CHAINS: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/**
 * The chains of one table that the cluster made and that were not there before: every new KUBE-*
 * chain (nothing else on this machine runs Kubernetes, and only one cluster runs at a time), and
 * the new CNI-* chains of our CNI network (their rules, or the rules jumping to them, carry the
 * comment `name: "kgw-cluster"`). Other CNI users' chains (podman's CNI-FORWARD, the shared
 * CNI-HOSTPORT-* chains) are left alone.
 */
function clusterChains(family: Family, t: SavedTable, before: string[]): string[] {
  const fresh = t.chains.filter((c) => OURS.test(c) && !before.includes(`${family}/${t.name}/${c}`));
  const tagged = new Set<string>();
  for (const line of t.rules) {
    const args = splitRule(line);
    if (!args.some((a) => a.includes(`name: "${HOST.cniNetwork}"`))) continue;
    tagged.add(args[1] ?? '');
    const jump = args.findIndex((a) => a === '-j' || a === '-g');
    if (jump >= 0) tagged.add(args[jump + 1] ?? '');
  }
  return fresh.filter((c) => c.startsWith('KUBE-') || tagged.has(c));
}

/** The cluster's chains still present, as `<family>/<table>/<chain>`. */
export function clusterChainsLeft(before: string[]): string[] {
  const out: string[] = [];
  for (const family of ['ip4', 'ip6'] as const) {
    for (const t of iptablesSave(family)) {
      for (const c of clusterChains(family, t, before)) out.push(`${family}/${t.name}/${c}`);
    }
  }
  return out;
}

export function nftTables(): string[] {
  return (tryRun('nft', ['list', 'tables']) ?? '')
    .split('\n')
    .map((l) => l.replace(/^table /, '').trim())
    .filter((l) => l !== '');
}

/** Splits an iptables-save rule into argv (double quotes with backslash escapes). */
export function splitRule(line: string): string[] {
  const args: string[] = [];
  let cur = '';
  let inQuote = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] ?? '';
    if (inQuote) {
      if (ch === '\\' && i + 1 < line.length) cur += line[++i] ?? '';
      else if (ch === '"') inQuote = false;
      else cur += ch;
    } else if (ch === '"') {
      inQuote = true;
      has = true;
    } else if (ch === ' ') {
      if (has || cur !== '') args.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
    }
  }
  if (has || cur !== '') args.push(cur);
  return args;
}

/** Takes a snapshot of what the cluster may change. */
export function snapshotHost(owner: { pid: number; dir: string; removeDir: boolean }): HostRecord {
  const sysctls: Record<string, string> = {};
  for (const k of WATCHED_SYSCTLS) {
    const v = readSysctl(k);
    if (v !== undefined) sysctls[k] = v;
  }
  return {
    pid: owner.pid,
    start: processStart(owner.pid) ?? '',
    dir: owner.dir,
    removeDir: owner.removeDir,
    createdAt: new Date().toISOString(),
    sysctls,
    netns: netnsNames(),
    links: linkNames(),
    chains: ourChains(),
    nftTables: nftTables(),
    absentDirs: WATCHED_DIRS.filter((d) => !existsSync(d)),
  };
}

// ---------------------------------------------------------------------------------------------
// lock

export type LockResult =
  | { ok: true }
  | { ok: false; holder: HostRecord; alive: true }
  | { ok: false; holder: HostRecord | undefined; alive: false };

export function readLock(): HostRecord | undefined {
  try {
    return JSON.parse(readFileSync(LOCK_PATH, 'utf8')) as HostRecord;
  } catch {
    return undefined;
  }
}

export function holderAlive(rec: HostRecord): boolean {
  const start = processStart(rec.pid);
  return start !== undefined && start === rec.start;
}

/** Creates the lock with `rec` (atomic). When it exists, says who holds it and whether it is alive. */
export function tryLock(rec: HostRecord): LockResult {
  try {
    writeFileSync(LOCK_PATH, JSON.stringify(rec, null, 2), { flag: 'wx', mode: 0o644 });
    return { ok: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const holder = readLock();
  if (holder !== undefined && holderAlive(holder)) return { ok: false, holder, alive: true };
  return { ok: false, holder, alive: false };
}

/** Rewrites the lock (same owner). */
export function updateLock(rec: HostRecord): void {
  writeFileSync(LOCK_PATH, JSON.stringify(rec, null, 2), { mode: 0o644 });
}

export function releaseLock(rec: HostRecord): void {
  const cur = readLock();
  if (cur !== undefined && cur.pid === rec.pid && cur.start === rec.start && cur.dir === rec.dir) {
    rmSync(LOCK_PATH, { force: true });
  }
}

/** Removes a lock whose holder is dead (compare-and-delete on its content). */
export function breakStaleLock(holder: HostRecord | undefined): void {
  const cur = readLock();
  if (holder === undefined || (cur !== undefined && JSON.stringify(cur) === JSON.stringify(holder))) {
    rmSync(LOCK_PATH, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// teardown

const SYSTEM_DIRS = new Set([
  '/tmp',
  '/var',
  '/var/tmp',
  '/var/lib',
  '/run',
  '/root',
  '/home',
  '/usr',
  '/etc',
  '/opt',
  '/srv',
  '/mnt',
]);

/**
 * The state dir names what teardown kills and unmounts (every process whose command line mentions
 * it, every mount under it): refuse anything that is not a dedicated dir.
 */
export function assertSafeDir(dir: string): void {
  const parts = dir.split('/').filter((p) => p !== '');
  if (
    !dir.startsWith('/') ||
    dir.includes('/../') ||
    dir.endsWith('/..') ||
    parts.length < 2 ||
    SYSTEM_DIRS.has(dir.replace(/\/+$/, ''))
  ) {
    throw new Error(
      `cluster state dir must be a dedicated absolute dir (at least two levels deep), not ${dir}`,
    );
  }
}

/** Every cgroup hierarchy root (v1 controllers and the unified one). */
function cgroupRoots(): string[] {
  const roots: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    const fstype = parts[sep + 1];
    if (fstype === 'cgroup' || fstype === 'cgroup2') roots.push(unescapeMount(parts[4] ?? ''));
  }
  return roots;
}

/** Cgroup dirs of the kubelet's pods (`kubepods*` under each hierarchy root), deepest first. */
export function kubepodsCgroups(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(d, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(d, e));
    out.push(d);
  };
  for (const root of cgroupRoots()) {
    let entries: string[] = [];
    try {
      entries = readdirSync(root).filter((e) => e.startsWith('kubepods'));
    } catch {
      continue;
    }
    for (const e of entries) {
      try {
        if (statSync(join(root, e)).isDirectory()) walk(join(root, e));
      } catch {
        // raced away
      }
    }
  }
  return out;
}

function cgroupPids(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Processes whose command line mentions the state dir (components, shims) or that run in kubepods cgroups. */
export function clusterProcesses(dir: string): { pid: number; what: string }[] {
  const found = new Map<number, string>();
  for (const cg of kubepodsCgroups()) for (const pid of cgroupPids(cg)) found.set(pid, `in cgroup ${cg}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (cmdline.includes(`${dir}/`) || cmdline.endsWith(dir)) found.set(pid, cmdline.slice(0, 160));
  }
  return [...found].map(([pid, what]) => ({ pid, what }));
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = unescapeMount(line.split(' ')[4] ?? '');
    if (mp === dir || mp.startsWith(`${dir}/`)) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

export interface TeardownReport {
  /** one line per action taken */
  actions: string[];
  /** what could not be removed */
  errors: string[];
}

/**
 * Undoes what the cluster did to the host, in the order that leaves it clean (processes, mounts,
 * netns, links, iptables chains, nft tables, cgroups, sysctls, conntrack entries, directories).
 * The running components must have been stopped first (or be dead); whatever is left of them is
 * killed. Idempotent.
 */
export function teardownHost(rec: HostRecord): TeardownReport {
  assertSafeDir(rec.dir);
  const actions: string[] = [];
  const errors: string[] = [];
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
      actions.push(what);
    } catch (err) {
      const e = err as { stderr?: Buffer; message?: string };
      errors.push(`${what}: ${(e.stderr?.toString() ?? '').trim() || (e.message ?? String(err))}`);
    }
  };

  // 1. processes: container processes (kubepods cgroups), shims and components (cmdline has the dir)
  for (let round = 0; round < 10; round++) {
    const procs = clusterProcesses(rec.dir);
    if (procs.length === 0) break;
    for (const p of procs) {
      try {
        process.kill(p.pid, 'SIGKILL');
        if (round === 0) actions.push(`killed ${p.pid} (${p.what})`);
      } catch {
        // gone
      }
    }
    execFileSync('sleep', ['0.2']);
  }
  const survivors = clusterProcesses(rec.dir);
  if (survivors.length > 0) errors.push(`processes left: ${survivors.map((p) => p.pid).join(', ')}`);

  // 2. mounts under the state dir (overlay rootfs, shm, projected-token tmpfs), deepest first
  for (const mp of mountsUnder(rec.dir)) {
    attempt(`umount ${mp}`, () => {
      if (tryRun('umount', [mp]) === undefined) run('umount', ['-l', mp]);
    });
  }

  // 3. pod network namespaces (containerd's cni-*) that were not there before
  for (const ns of netnsNames()) {
    if (ns.startsWith('cni-') && !rec.netns.includes(ns))
      attempt(`ip netns delete ${ns}`, () => run('ip', ['netns', 'delete', ns]));
  }

  // 4. links: pod veths still on the CNI bridge, then the two bridges
  const bridgeMembers = [
    ...(tryRun('ip', ['-o', 'link', 'show', 'master', HOST.cniBridge]) ?? '').matchAll(/^\d+: ([^:@\s]+)/gm),
  ].map((m) => m[1] ?? '');
  for (const l of bridgeMembers) attempt(`ip link del ${l}`, () => run('ip', ['link', 'del', l]));
  for (const l of [HOST.cniBridge, HOST.nodeBridge]) {
    if (linkNames().includes(l) && !rec.links.includes(l))
      attempt(`ip link del ${l}`, () => run('ip', ['link', 'del', l]));
  }

  // 5. iptables: the cluster's KUBE-*/CNI-* chains that were not there before (jumps to them first)
  for (const family of ['ip4', 'ip6'] as const) {
    for (const t of iptablesSave(family)) {
      const newChains = clusterChains(family, t, rec.chains);
      if (newChains.length === 0) continue;
      for (const line of t.rules) {
        const args = splitRule(line);
        const chain = args[1] ?? '';
        if (newChains.includes(chain)) continue; // flushed below
        const jump = args.findIndex((a) => a === '-j' || a === '-g');
        if (jump < 0 || !newChains.includes(args[jump + 1] ?? '')) continue;
        attempt(`${IPT[family]} -t ${t.name} -D ${args.slice(1).join(' ')}`, () =>
          run(IPT[family], ['-w', '5', '-t', t.name, '-D', ...args.slice(1)]),
        );
      }
      for (const c of newChains) tryRun(IPT[family], ['-w', '5', '-t', t.name, '-F', c]);
      for (const c of newChains)
        attempt(`${IPT[family]} -t ${t.name} -X ${c}`, () =>
          run(IPT[family], ['-w', '5', '-t', t.name, '-X', c]),
        );
    }
  }

  // 6. nf_tables: kube-proxy's tables, and tables iptables-nft created that are empty now
  for (const table of nftTables()) {
    if (rec.nftTables.includes(table)) continue;
    const [family, name] = table.split(' ') as [string, string];
    if (name === 'kube-proxy') {
      attempt(`nft delete table ${table}`, () => run('nft', ['delete', 'table', family, name]));
      continue;
    }
    const builtin = BUILTIN_CHAINS[name];
    if ((family === 'ip' || family === 'ip6') && builtin !== undefined) {
      // only with nothing but its built-in chains and no rules in it (iptables-nft retries a
      // command whose table vanished under it, so a concurrent user is not hurt)
      const saved = iptablesSave(family === 'ip' ? 'ip4' : 'ip6').find((t) => t.name === name);
      if (saved !== undefined && saved.rules.length === 0 && saved.chains.every((c) => builtin.includes(c))) {
        attempt(`nft delete table ${table}`, () => run('nft', ['delete', 'table', family, name]));
      }
    }
  }

  // 7. cgroups of the kubelet's pods (deepest first; a dying process may hold one for a moment)
  const cgBefore = kubepodsCgroups().length;
  for (let round = 0; round < 10; round++) {
    const left = kubepodsCgroups();
    if (left.length === 0) break;
    for (const cg of left) {
      try {
        rmdirSync(cg);
      } catch {
        // busy or gone; retried
      }
    }
    if (kubepodsCgroups().length > 0) execFileSync('sleep', ['0.2']);
  }
  if (cgBefore > 0) actions.push(`rmdir ${cgBefore} kubepods cgroups`);
  const cgLeft = kubepodsCgroups();
  if (cgLeft.length > 0) errors.push(`cgroups left: ${cgLeft.slice(0, 5).join(', ')}`);

  // 8. sysctls back to what they were; ip_forward stays on if someone else made a bridge meanwhile
  // (podman/buildah CNI networks need forwarding; kgw's local runtime keeps its bridges in a netns)
  const others = otherBridges(rec);
  for (const [key, before] of Object.entries(rec.sysctls)) {
    const now = readSysctl(key);
    if (now === undefined || now === before) continue;
    if (key === 'net/ipv4/ip_forward' && others.length > 0) {
      actions.push(
        `ip_forward left at ${now} (was ${before}): bridge ${others.join(', ')} appeared meanwhile`,
      );
      continue;
    }
    attempt(`sysctl ${key.replace(/\//g, '.')}=${before} (was ${now})`, () =>
      writeFileSync(`/proc/sys/${key}`, before),
    );
  }

  // 9. conntrack entries of cluster addresses (harmless, but they are ours)
  for (const flag of ['-s', '-d']) tryRun('conntrack', ['-D', flag, HOST.clusterRange], 5_000);

  // 10. files the components put in well-known places
  const cniResults = '/var/lib/cni/results';
  if (existsSync(cniResults)) {
    for (const f of readdirSync(cniResults)) {
      if (f.startsWith(`${HOST.cniNetwork}-`)) rmSync(join(cniResults, f), { force: true });
    }
  }
  for (const f of KUBELET_FIXED_FILES) {
    if (existsSync(f)) attempt(`rm ${f}`, () => rmSync(f, { force: true }));
  }
  const containerLogs = '/var/log/containers';
  if (existsSync(containerLogs)) {
    for (const f of readdirSync(containerLogs)) {
      const p = join(containerLogs, f);
      try {
        if (lstatSync(p).isSymbolicLink() && readlinkSync(p).startsWith(`${rec.dir}/`)) unlinkSync(p);
      } catch {
        // raced away
      }
    }
  }
  // dirs that were missing: removed when nothing but empty dirs is in them (another user may have
  // put files there meanwhile, e.g. podman's CNI state in /var/lib/cni)
  for (const d of rec.absentDirs) {
    if (existsSync(d) && isEmptyTree(d))
      attempt(`rm -r ${d}`, () => rmSync(d, { recursive: true, force: true }));
  }
  if (rec.removeDir && existsSync(rec.dir)) {
    attempt(`rm -r ${rec.dir}`, () => {
      if (mountsUnder(rec.dir).length > 0) throw new Error('mounts left under it');
      rmSync(rec.dir, { recursive: true, force: true });
    });
  }
  return { actions, errors };
}

/** What is left of the cluster on the host (empty after a clean stop). */
export function leftovers(rec: HostRecord): string[] {
  const out: string[] = [];
  for (const p of clusterProcesses(rec.dir)) out.push(`process ${p.pid}: ${p.what}`);
  for (const m of mountsUnder(rec.dir)) out.push(`mount ${m}`);
  for (const ns of netnsNames())
    if (ns.startsWith('cni-') && !rec.netns.includes(ns)) out.push(`netns ${ns}`);
  for (const l of linkNames()) {
    if (
      !rec.links.includes(l) &&
      (l.startsWith('kgwnode') || l.startsWith('kgwcni') || l.startsWith('veth'))
    ) {
      out.push(`link ${l}`);
    }
  }
  for (const c of clusterChainsLeft(rec.chains)) out.push(`iptables chain ${c}`);
  for (const t of nftTables()) {
    if (t.endsWith(' kube-proxy') && !rec.nftTables.includes(t)) out.push(`nft table ${t}`);
  }
  for (const cg of kubepodsCgroups()) out.push(`cgroup ${cg}`);
  const others = otherBridges(rec);
  for (const [key, before] of Object.entries(rec.sysctls)) {
    const now = readSysctl(key);
    if (key === 'net/ipv4/ip_forward' && others.length > 0) continue;
    if (now !== undefined && now !== before) out.push(`sysctl ${key} = ${now} (was ${before})`);
  }
  for (const d of rec.absentDirs) {
    if (existsSync(d) && isEmptyTree(d)) out.push(`dir ${d} (made by the cluster)`);
  }
  const cniResults = '/var/lib/cni/results';
  if (existsSync(cniResults)) {
    for (const f of readdirSync(cniResults)) {
      if (f.startsWith(`${HOST.cniNetwork}-`)) out.push(`file ${join(cniResults, f)}`);
    }
  }
  for (const f of KUBELET_FIXED_FILES) if (existsSync(f)) out.push(`file ${f}`);
  if (existsSync('/var/log/containers')) {
    for (const f of readdirSync('/var/log/containers')) {
      const p = join('/var/log/containers', f);
      try {
        if (readlinkSync(p).startsWith(`${rec.dir}/`)) out.push(`link ${p}`);
      } catch {
        // not a link
      }
    }
  }
  if (rec.removeDir && existsSync(rec.dir)) out.push(`dir ${rec.dir}`);
  return out;
}
