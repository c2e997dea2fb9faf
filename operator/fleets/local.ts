// Local fleet runtime: each replica is an Envoy process in its own network namespace (see
// network.ts), bootstrapped to fetch its configuration from kgw's xDS server over a unix socket.
// A replica is ready once Envoy's admin /ready answers 200 (it has received its first config).
// close({ keepReplicas: true }) leaves the Envoys running and records them in
// <workDir>/replicas.json; the next runtime on the same work dir and network adopts them, so an
// operator restart never interrupts traffic (Envoy keeps its last config and reconnects to xDS).
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { KubeRest } from '../kube/rest.ts';
import type { Logger } from '../log.ts';
import { renderBootstrap } from '../render/bootstrap.ts';
import type { LocalNetwork, Pod } from './network.ts';
import { publishFleet } from './publish.ts';
import type { FleetDef, FleetRuntime, Replica } from './runtime.ts';

export interface LocalRuntimeOptions {
  network: LocalNetwork;
  envoyBin: string;
  /** Path of the xDS server's unix socket. */
  xdsSocket: string;
  workDir: string;
  log: Logger;
  envoyLogLevel?: string;
  /** Envoy's xDS flavour: delta (default) or state-of-the-world. */
  xdsProtocol?: 'delta' | 'sotw';
  /** Where fleets are published (selector-less Service + EndpointSlice); none without it. */
  rest?: KubeRest;
}

interface LocalReplica extends Replica {
  fleet: string;
  pod: Pod;
  pid: number;
  /** Set for replicas this runtime started; adopted replicas are tracked by pid. */
  proc?: ChildProcess;
  adminSocket: string;
  stopped: boolean;
  exited: boolean;
}

interface SavedReplica {
  id: string;
  fleet: string;
  netns: string;
  pid: number;
  address: string;
  adminSocket: string;
}

function adminGet(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function safe(s: string): string {
  return s.replace(/[^a-zA-Z0-9-]/g, '-');
}

export class LocalFleetRuntime implements FleetRuntime {
  private readonly opts: LocalRuntimeOptions;
  private readonly fleets = new Map<string, { def?: FleetDef; replicas: LocalReplica[] }>();
  private readonly listeners: ((key: string) => void)[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly stateFile: string;

  constructor(opts: LocalRuntimeOptions) {
    this.opts = opts;
    mkdirSync(opts.workDir, { recursive: true });
    this.stateFile = join(opts.workDir, 'replicas.json');
    this.adopt();
    this.timer = setInterval(() => void this.checkReadiness(), 250);
    this.timer.unref();
  }

  /** Takes over replicas a previous runtime left running (pid alive, pod still on the network). */
  private adopt(): void {
    if (!existsSync(this.stateFile)) return;
    let saved: SavedReplica[] = [];
    try {
      saved = JSON.parse(readFileSync(this.stateFile, 'utf8')) as SavedReplica[];
    } catch (err) {
      this.opts.log.warn({ err: String(err), file: this.stateFile }, 'unreadable replica state; ignoring it');
    }
    rmSync(this.stateFile, { force: true });
    for (const s of saved) {
      const pod = this.opts.network.pod(s.netns);
      if (!pod || !alive(s.pid)) continue;
      const f = this.fleets.get(s.fleet) ?? { replicas: [] };
      f.replicas.push({
        id: s.id,
        fleet: s.fleet,
        address: s.address,
        ready: false,
        pod,
        pid: s.pid,
        adminSocket: s.adminSocket,
        stopped: false,
        exited: false,
      });
      this.fleets.set(s.fleet, f);
      this.opts.log.info({ fleet: s.fleet, replica: s.id, pid: s.pid }, 'adopted running envoy replica');
    }
  }

  onChange(cb: (key: string) => void): void {
    this.listeners.push(cb);
  }

  private changed(key: string): void {
    for (const l of this.listeners) l(key);
  }

  replicas(fleetKey: string): Replica[] {
    return (this.fleets.get(fleetKey)?.replicas ?? []).map((r) => ({
      id: r.id,
      address: r.address,
      ready: r.ready,
    }));
  }

  async publish(def: FleetDef): Promise<void> {
    if (this.opts.rest) await publishFleet(this.opts.rest, def, this.replicas(def.key), this.opts.log);
  }

  async apply(defs: FleetDef[]): Promise<void> {
    await this.checkReadiness(); // adopted replicas: know who is ready before publishing
    const wanted = new Map(defs.map((d) => [d.key, d]));
    for (const [key, f] of this.fleets) {
      if (!wanted.has(key)) {
        for (const r of f.replicas) await this.stopReplica(r);
        this.fleets.delete(key);
        this.changed(key);
      }
    }
    for (const def of defs) {
      const f = this.fleets.get(def.key) ?? { replicas: [] };
      const portsChanged =
        f.def && (f.def.ports.http !== def.ports.http || f.def.ports.https !== def.ports.https);
      f.def = def;
      this.fleets.set(def.key, f);
      // Replace replicas whose process is gone.
      for (const r of [...f.replicas]) {
        if (r.exited) {
          await this.stopReplica(r);
          f.replicas.splice(f.replicas.indexOf(r), 1);
        }
      }
      while (f.replicas.length < def.replicas)
        f.replicas.push(await this.startReplica(def, this.nextIndex(f.replicas)));
      while (f.replicas.length > def.replicas) {
        const r = f.replicas.pop();
        if (r) await this.stopReplica(r);
      }
      if (portsChanged) this.changed(def.key);
    }
  }

  private nextIndex(replicas: LocalReplica[]): number {
    const used = new Set(replicas.map((r) => Number(r.id.slice(r.id.lastIndexOf('-') + 1))));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  private async startReplica(def: FleetDef, index: number): Promise<LocalReplica> {
    const id = `${safe(def.gateway)}-${safe(def.name)}-${index}`;
    const pod = await this.opts.network.addPod(id);
    const adminSocket = join(this.opts.workDir, `${id}.admin.sock`);
    rmSync(adminSocket, { force: true });
    const config = renderBootstrap({
      nodeId: `${def.key}/${index}`,
      fleet: def.key,
      xds: { pipe: this.opts.xdsSocket },
      admin: { pipe: adminSocket },
      delta: this.opts.xdsProtocol !== 'sotw',
    });
    const file = join(this.opts.workDir, `${id}.bootstrap.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    const proc = pod.spawn(
      this.opts.envoyBin,
      [
        '-c',
        file,
        '--use-dynamic-base-id',
        '--concurrency',
        '1',
        '--log-level',
        this.opts.envoyLogLevel ?? 'warn',
        '--drain-time-s',
        '2',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    const log = this.opts.log.child({ fleet: def.key, replica: id });
    let tail = '';
    proc.stderr?.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
    });
    const replica: LocalReplica = {
      id,
      fleet: def.key,
      address: pod.address,
      ready: false,
      pod,
      pid: proc.pid ?? 0,
      proc,
      adminSocket,
      stopped: false,
      exited: false,
    };
    proc.once('exit', (code, signal) => {
      replica.exited = true;
      if (replica.stopped) return;
      log.error({ code, signal, stderr: tail }, 'envoy exited');
      replica.ready = false;
      this.changed(def.key);
    });
    log.info({ address: pod.address, pid: proc.pid }, 'envoy replica started');
    return replica;
  }

  private async stopReplica(r: LocalReplica): Promise<void> {
    r.stopped = true;
    r.ready = false;
    if (!r.exited && alive(r.pid)) {
      process.kill(r.pid, 'SIGTERM');
      for (let i = 0; i < 60 && alive(r.pid) && !r.exited; i++)
        await new Promise((res) => setTimeout(res, 50));
      if (!r.exited && alive(r.pid)) process.kill(r.pid, 'SIGKILL');
    }
    await r.pod.destroy();
    rmSync(r.adminSocket, { force: true });
  }

  private async checkReadiness(): Promise<void> {
    for (const [key, f] of this.fleets) {
      let changed = false;
      for (const r of f.replicas) {
        if (r.stopped) continue;
        if (!r.exited && !r.proc && !alive(r.pid)) r.exited = true;
        const ready = !r.exited && (await adminGet(r.adminSocket, '/ready')) === 200;
        if (ready !== r.ready) {
          r.ready = ready;
          changed = true;
        }
      }
      if (changed) this.changed(key);
    }
  }

  /**
   * Stops every replica, or with keepReplicas leaves them running for the next runtime on this
   * work dir (their pids and pods are recorded in replicas.json).
   */
  async close(opts: { keepReplicas?: boolean } = {}): Promise<void> {
    clearInterval(this.timer);
    if (opts.keepReplicas) {
      const saved: SavedReplica[] = [...this.fleets.values()].flatMap((f) =>
        f.replicas
          .filter((r) => !r.exited)
          .map((r) => ({
            id: r.id,
            fleet: r.fleet,
            netns: r.pod.netns,
            pid: r.pid,
            address: r.address,
            adminSocket: r.adminSocket,
          })),
      );
      for (const f of this.fleets.values()) {
        for (const r of f.replicas) {
          r.proc?.stderr?.destroy();
          r.proc?.unref();
        }
      }
      writeFileSync(this.stateFile, JSON.stringify(saved, null, 2));
    } else {
      for (const f of this.fleets.values()) for (const r of f.replicas) await this.stopReplica(r);
    }
    this.fleets.clear();
  }
}
