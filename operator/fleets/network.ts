// A private IPv4 network on this machine for the local fleet runtime and the end-to-end tests:
// every "pod" (an Envoy replica, a test backend) gets its own network namespace and address, like
// pods in a cluster, so replicas can all listen on the same port and addresses are non-loopback
// (the API server rejects loopback addresses in EndpointSlices). Layout: a hub namespace holding a
// bridge; one veth from the root namespace into the bridge (address 198.18.N.1/24); one veth per
// pod (address 198.18.N.k/24). Needs root (CAP_NET_ADMIN). Everything is removed on destroy() and
// on process exit; stale networks of dead processes are swept by sweepStaleNetworks().
// Another process (an operator replica) can attach() to a network: it adds and adopts pods but
// never removes the network. Pod addresses are claimed atomically (a lock directory per host
// number), so processes sharing a network never hand out the same address, and never reused.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LOCK_DIR = '/run/kgw-netns';

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

export interface Pod {
  name: string;
  netns: string;
  address: string;
  /** Runs a process inside the pod's network namespace. */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  destroy(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes networks whose creating process is gone (left by a crash or a killed test run). */
export async function sweepStaleNetworks(): Promise<void> {
  if (!existsSync(LOCK_DIR)) return;
  for (const n of readdirSync(LOCK_DIR)) {
    let pid = 0;
    try {
      pid = Number(readFileSync(`${LOCK_DIR}/${n}/pid`, 'utf8'));
    } catch {
      /* half-written lock */
    }
    if (pid && alive(pid)) continue;
    await removeNamespaces(`kgw${n}-`);
    rmSync(`${LOCK_DIR}/${n}`, { recursive: true, force: true });
  }
}

async function removeNamespaces(prefix: string): Promise<void> {
  const list = await ip('netns', 'list').catch(() => '');
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0];
    if (ns?.startsWith(prefix)) await ip('netns', 'del', ns).catch(() => undefined);
  }
}

export class LocalNetwork {
  readonly subnet: number;
  readonly gateway: string;
  private readonly hub: string;
  /** Attached to a network another process created: never removes the network itself. */
  private readonly attached: boolean;
  private readonly pods = new Map<string, Pod>();
  private readonly procs = new Set<ChildProcess>();
  private destroyed = false;
  private readonly onExit = () => this.destroySync();

  private constructor(subnet: number, attached = false) {
    this.subnet = subnet;
    this.attached = attached;
    this.gateway = `198.18.${subnet}.1`;
    this.hub = `kgw${subnet}-hub`;
  }

  /** Creates the hub and the root-side link, claiming a free 198.18.N.0/24. */
  static async create(): Promise<LocalNetwork> {
    await sweepStaleNetworks();
    mkdirSync(LOCK_DIR, { recursive: true });
    for (let i = 0; i < 256; i++) {
      const n = (process.pid + i) % 250;
      try {
        mkdirSync(`${LOCK_DIR}/${n}`);
      } catch {
        continue;
      }
      writeFileSync(`${LOCK_DIR}/${n}/pid`, String(process.pid));
      const net = new LocalNetwork(n);
      try {
        await net.setup();
      } catch (e) {
        await net.destroy();
        throw e;
      }
      return net;
    }
    throw new Error('no free 198.18.N.0/24 subnet for a local network');
  }

  /** Joins the network 198.18.`subnet`.0/24 that another process created (it must exist). */
  static attach(subnet: number): LocalNetwork {
    if (!existsSync(`/run/netns/kgw${subnet}-hub`)) {
      throw new Error(`no local network 198.18.${subnet}.0/24 (netns kgw${subnet}-hub) to attach to`);
    }
    return new LocalNetwork(subnet, true);
  }

  private hostsDir(): string {
    return `${LOCK_DIR}/${this.subnet}/hosts`;
  }

  /** Claims a free host number (atomic across processes sharing the network). */
  private claimHost(): number {
    mkdirSync(this.hostsDir(), { recursive: true });
    for (let k = 10; k <= 254; k++) {
      if (existsSync(`/run/netns/kgw${this.subnet}-p${k}`)) continue;
      try {
        mkdirSync(`${this.hostsDir()}/${k}`);
        return k;
      } catch {
        /* taken */
      }
    }
    throw new Error('local network is full (244 pods)');
  }

  private async setup(): Promise<void> {
    process.once('exit', this.onExit);
    const n = this.subnet;
    await removeNamespaces(`kgw${n}-`);
    await ip('link', 'del', `kgw${n}h`).catch(() => undefined);
    await ip('netns', 'add', this.hub);
    await ip('-n', this.hub, 'link', 'set', 'lo', 'up');
    await ip('-n', this.hub, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', this.hub, 'link', 'set', 'br0', 'up');
    await ip('link', 'add', `kgw${n}h`, 'type', 'veth', 'peer', 'name', `kgw${n}hp`);
    await ip('link', 'set', `kgw${n}hp`, 'netns', this.hub);
    await ip('-n', this.hub, 'link', 'set', `kgw${n}hp`, 'master', 'br0', 'up');
    await ip('addr', 'add', `${this.gateway}/24`, 'dev', `kgw${n}h`);
    await ip('link', 'set', `kgw${n}h`, 'up');
  }

  /**
   * The pod with this network namespace: one this process created, or (given its address) one
   * another process on the network created that still exists, which this process adopts.
   */
  pod(netns: string, address?: string): Pod | undefined {
    const own = this.pods.get(netns);
    if (own) return own;
    const prefix = `kgw${this.subnet}-p`;
    if (address === undefined || !netns.startsWith(prefix) || !existsSync(`/run/netns/${netns}`))
      return undefined;
    return this.track(netns.slice(netns.indexOf('-') + 1), netns, address);
  }

  /** A new pod namespace with its own address on the network. */
  async addPod(name: string): Promise<Pod> {
    if (this.destroyed) throw new Error('network destroyed');
    const k = this.claimHost();
    const n = this.subnet;
    const netns = `kgw${n}-p${k}`;
    const address = `198.18.${n}.${k}`;
    const hostIf = `kgw${n}p${k}`;
    await ip('netns', 'add', netns);
    await ip('-n', netns, 'link', 'set', 'lo', 'up');
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    await ip('link', 'set', hostIf, 'netns', this.hub);
    await ip('-n', this.hub, 'link', 'set', hostIf, 'master', 'br0', 'up');
    await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', netns, 'link', 'set', 'eth0', 'up');
    return this.track(name, netns, address);
  }

  private track(name: string, netns: string, address: string): Pod {
    const procs = new Set<ChildProcess>();
    const pod: Pod = {
      name,
      netns,
      address,
      spawn: (cmd, args, opts = {}) => {
        const child = spawn('ip', ['netns', 'exec', netns, cmd, ...args], opts);
        procs.add(child);
        this.procs.add(child);
        child.once('exit', () => {
          procs.delete(child);
          this.procs.delete(child);
        });
        return child;
      },
      destroy: async () => {
        for (const p of procs) p.kill('SIGKILL');
        this.pods.delete(netns);
        await ip('netns', 'del', netns).catch(() => undefined);
        // The claim of `host` stays: an address is never reused on a network, as neighbours
        // (Envoy, the root namespace) would keep the old pod's MAC for it in their ARP caches.
      },
    };
    this.pods.set(netns, pod);
    return pod;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    process.removeListener('exit', this.onExit);
    for (const p of this.procs) p.kill('SIGKILL');
    for (const pod of [...this.pods.values()]) await pod.destroy();
    if (this.attached) return;
    await removeNamespaces(`kgw${this.subnet}-`);
    await ip('link', 'del', `kgw${this.subnet}h`).catch(() => undefined);
    rmSync(`${LOCK_DIR}/${this.subnet}`, { recursive: true, force: true });
  }

  /** Best-effort synchronous cleanup for process exit. */
  private destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.procs) p.kill('SIGKILL');
    try {
      const list = execFileSyncSafe(['netns', 'list']);
      for (const line of list.split('\n')) {
        const ns = line.split(' ')[0];
        if (ns?.startsWith(`kgw${this.subnet}-`)) execFileSyncSafe(['netns', 'del', ns]);
      }
      execFileSyncSafe(['link', 'del', `kgw${this.subnet}h`]);
      rmSync(`${LOCK_DIR}/${this.subnet}`, { recursive: true, force: true });
    } catch {
      /* exiting anyway */
    }
  }
}

function execFileSyncSafe(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}
