// Test networks: a network namespace `kgw-<id>` joined to the root namespace by a veth pair, for
// servers that need non-loopback addresses (the apiserver rejects 127.0.0.0/8 in EndpointSlices).
// Network N owns 198.18.N.0/24: the root side is 198.18.N.1, addresses handed out by
// allocateAddress() go on the namespace side. N is claimed with the same convention as
// operator/fleets/network.ts (an exclusively created slot dir /run/kgw-netns/<N> holding `pid`),
// so the two never pick the same subnet; our slots also hold `test-network.json` (pid, its start
// time, namespace name), from which stale networks of dead processes are found and removed.
// Needs root and iproute2.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onProcessExit, raceTimeout } from './proc.ts';

const execFileAsync = promisify(execFile);

export interface TestNetwork {
  /** Network namespace name (`kgw-…`). */
  readonly name: string;
  /** N in 198.18.N.0/24. */
  readonly index: number;
  /** 198.18.N.1: the root namespace's address on this network. */
  readonly hostAddress: string;
  /** Interface inside the namespace that carries allocated addresses. */
  readonly interfaceName: string;
  /** Adds the next free 198.18.N.x/24 (x = 2…254) to the namespace interface and returns it. */
  allocateAddress(): Promise<string>;
  /** Runs `cmd args` inside the namespace (`ip netns exec`); killed by destroy() and on exit. */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Kills what runs inside, deletes the namespace, the veth pair and the record. Idempotent. */
  destroy(): Promise<void>;
}

interface NetRecord {
  pid: number;
  /** start time of `pid` (field 22 of /proc/<pid>/stat), to tell a reused pid apart */
  start: string;
  name: string;
  index: number;
}

const RECORD = 'test-network.json';

/** Slot dirs, shared with operator/fleets/network.ts (/run is cleared on reboot, like namespaces). */
function slotDir(): string {
  const dir = process.env.KGW_NETNS_STATE_DIR ?? '/run/kgw-netns';
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Where reclaimed slots are moved before their resources are removed (outside slotDir()). */
function trashDir(): string {
  const dir = `${slotDir()}.trash`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces: count fields after its closing parenthesis
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function isAlive(rec: NetRecord): boolean {
  const start = processStart(rec.pid);
  return start !== undefined && start === rec.start;
}

const rootIf = (n: number): string => `kgw${n}r`;
const nsIf = (n: number): string => `kgw${n}n`;
const slotPath = (n: number): string => join(slotDir(), String(n));

function sameRecord(a: NetRecord, b: NetRecord | undefined): boolean {
  return (
    b !== undefined && a.pid === b.pid && a.start === b.start && a.name === b.name && a.index === b.index
  );
}

function readRecord(dir: string): NetRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, RECORD), 'utf8')) as NetRecord;
  } catch {
    return undefined;
  }
}

/** Claims slot N: mkdir is atomic; `pid` is written at once (the other user of the dirs reads it). */
function tryClaim(n: number, rec: NetRecord): boolean {
  const dir = slotPath(n);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  writeFileSync(join(dir, 'pid'), String(rec.pid));
  writeFileSync(join(dir, RECORD), JSON.stringify(rec));
  return true;
}

/**
 * Takes over the slot of a dead test network: the slot dir is renamed away (atomic: of several
 * reclaimers exactly one wins), then its namespace and veth are removed. If the dir moved turns
 * out to be a fresh claim (someone reclaimed and re-claimed it meanwhile), it is put back.
 */
function reclaim(stale: NetRecord): boolean {
  const moved = join(trashDir(), `${stale.index}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    renameSync(slotPath(stale.index), moved);
  } catch {
    return false; // another process got there first
  }
  if (!sameRecord(stale, readRecord(moved))) {
    try {
      renameSync(moved, slotPath(stale.index));
    } catch {
      // the slot was claimed again meanwhile; the moved record's owner keeps its resources
    }
    return false;
  }
  removeSync(stale.name, stale.index);
  rmSync(moved, { recursive: true, force: true });
  return true;
}

function releaseSlot(n: number, rec: NetRecord): void {
  if (sameRecord(rec, readRecord(slotPath(n)))) rmSync(slotPath(n), { recursive: true, force: true });
}

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', args, { timeout: 10_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`, { cause: err });
  }
}

function ipSync(args: string[]): string {
  try {
    return execFileSync('ip', args, { timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString(
      'utf8',
    );
  } catch {
    return '';
  }
}

/** Removes a network's processes, namespace and veth pair (synchronous: also used at exit). */
function removeSync(name: string, index: number | undefined): void {
  for (const pid of ipSync(['netns', 'pids', name]).split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (index !== undefined) ipSync(['link', 'del', rootIf(index)]);
  ipSync(['netns', 'delete', name]);
}

let staleSweepDone = false;

/**
 * Removes test networks (`kgw-*` namespaces, `kgw<N>r` veths, records) whose creating process is
 * gone. Networks of live processes are left alone. Returns the removed namespace names.
 */
export function cleanupStaleNetworks(): string[] {
  // List namespaces and veths before reading records: a creator writes its record before it
  // creates them, so anything listed here that belongs to a live process has its record read below.
  const namespaces = ipSync(['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith('kgw-'));
  const veths = [...ipSync(['-o', 'link', 'show', 'type', 'veth']).matchAll(/^\d+: kgw(\d+)r@/gm)].map((m) =>
    Number(m[1]),
  );
  const removed: string[] = [];
  const owned = new Set<string>();
  const ownedIndexes = new Set<number>();
  for (const entry of readdirSync(slotDir())) {
    if (!/^\d+$/.test(entry)) continue;
    const rec = readRecord(join(slotDir(), entry));
    if (rec === undefined) {
      // a LocalNetwork slot (operator/fleets/network.ts sweeps those) or a claim being written
      ownedIndexes.add(Number(entry));
      continue;
    }
    if (isAlive(rec) || !reclaim(rec)) {
      owned.add(rec.name);
      ownedIndexes.add(rec.index);
      continue;
    }
    removed.push(rec.name);
  }
  // namespaces and veths without a live record (their record was lost or never written)
  for (const name of namespaces) {
    if (owned.has(name) || removed.includes(name)) continue;
    removeSync(name, undefined);
    removed.push(name);
  }
  for (const n of veths) if (!ownedIndexes.has(n)) ipSync(['link', 'del', rootIf(n)]);
  staleSweepDone = true;
  return removed;
}

/** Claims a free N in 1..254 (random start); takes over slots of dead test networks on the way. */
function claimIndex(name: string): { n: number; rec: NetRecord } {
  const start = processStart(process.pid) ?? '';
  const offset = Math.floor(Math.random() * 254);
  for (let i = 0; i < 254; i++) {
    const n = ((offset + i) % 254) + 1;
    const rec: NetRecord = { pid: process.pid, start, name, index: n };
    if (tryClaim(n, rec)) return { n, rec };
    const old = readRecord(slotPath(n));
    if (old !== undefined && !isAlive(old) && reclaim(old) && tryClaim(n, rec)) return { n, rec };
  }
  throw new Error(`no free test network slot in ${slotDir()} (all 254 taken)`);
}

/** Creates a namespace `kgw-<id>` (or `opts.name`, which must start with `kgw-`) with a veth link to the root namespace. */
export async function createTestNetwork(opts: { name?: string } = {}): Promise<TestNetwork> {
  if (!staleSweepDone) cleanupStaleNetworks();
  const name = opts.name ?? `kgw-${randomBytes(3).toString('hex')}`;
  if (!/^kgw-[a-zA-Z0-9_.-]{1,40}$/.test(name))
    throw new Error(`test network name must look like kgw-<id>: ${name}`);
  const { n, rec } = claimIndex(name);
  const hostAddress = `198.18.${n}.1`;
  const children = new Set<ChildProcess>();
  let destroyed = false;
  const unregister = onProcessExit(() => {
    for (const c of children) c.kill('SIGKILL');
    removeSync(name, n);
    releaseSlot(n, rec);
  });
  try {
    await ip(['netns', 'add', name]);
    await ip(['link', 'add', rootIf(n), 'type', 'veth', 'peer', 'name', nsIf(n), 'netns', name]);
    await ip(['addr', 'add', `${hostAddress}/24`, 'dev', rootIf(n)]);
    await ip(['link', 'set', rootIf(n), 'up']);
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    await ip(['-n', name, 'link', 'set', nsIf(n), 'up']);
  } catch (err) {
    unregister();
    removeSync(name, n);
    releaseSlot(n, rec);
    throw err;
  }

  let nextHost = 2;
  return {
    name,
    index: n,
    hostAddress,
    interfaceName: nsIf(n),
    async allocateAddress(): Promise<string> {
      if (destroyed) throw new Error(`test network ${name} is destroyed`);
      if (nextHost > 254) throw new Error(`test network ${name}: no addresses left`);
      const addr = `198.18.${n}.${nextHost++}`;
      await ip(['-n', name, 'addr', 'add', `${addr}/24`, 'dev', nsIf(n)]);
      return addr;
    },
    spawn(cmd: string, args: string[], spawnOpts: SpawnOptions = {}): ChildProcess {
      if (destroyed) throw new Error(`test network ${name} is destroyed`);
      const argv = ['netns', 'exec', name];
      // die with this process even if it is SIGKILLed (util-linux setpriv sets PR_SET_PDEATHSIG)
      if (hasSetpriv()) argv.push('setpriv', '--pdeathsig', 'KILL', '--');
      const child = spawn('ip', [...argv, cmd, ...args], spawnOpts);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async destroy(): Promise<void> {
      if (destroyed) return;
      destroyed = true;
      await Promise.all(
        [...children].map(async (c) => {
          c.kill('SIGTERM');
          if (!(await raceTimeout(exitOf(c), 3000))) c.kill('SIGKILL');
        }),
      );
      removeSync(name, n);
      releaseSlot(n, rec);
      unregister();
    },
  };
}

function exitOf(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once('exit', () => resolve()));
}

let setprivCache: boolean | undefined;
function hasSetpriv(): boolean {
  if (setprivCache === undefined) {
    try {
      execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
      setprivCache = true;
    } catch {
      setprivCache = false;
    }
  }
  return setprivCache;
}
