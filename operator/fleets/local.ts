// Local fleet runtime: each replica is an Envoy process in its own network namespace (see
// network.ts), bootstrapped to fetch its configuration from kgw's xDS server over a unix socket.
// A replica is ready once Envoy's admin /ready answers 200 (it has received its first config).
// The running replicas are recorded in <workDir>/replicas.json after every change. The next
// runtime on the same work dir and network adopts them at its first apply(): after an operator
// restart (close({ keepReplicas: true })), after the leader died (another operator replica that
// becomes leader takes over), or after release() (this replica stopped leading). Envoy keeps its
// last config and reconnects to xDS, so none of these interrupts traffic. Envoy's stderr goes to
// <workDir>/<replica>.log, never to a pipe, so a replica outlives the process that started it.
import { http } from '../node-http.ts';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { KubeRest } from '../kube/rest.ts';
import type { Logger } from '../log.ts';
import type { XdsTls } from '../pki/xds-tls.ts';
import { renderBootstrap, renderXdsTlsSdsFiles, type XdsTlsBootstrap } from '../render/bootstrap.ts';
import type { LocalNetwork, Pod } from './network.ts';
import { publishFleet } from './publish.ts';
import type { FleetDef, FleetRuntime, Replica } from './runtime.ts';

export interface LocalRuntimeOptions {
  network: LocalNetwork;
  envoyBin: string;
  /** Path of the xDS server's unix socket. */
  xdsSocket: string;
  /**
   * Every operator replica's xDS socket (HA: Envoy fails over between them). Default: xdsSocket.
   */
  xdsSockets?: string[];
  workDir: string;
  log: Logger;
  envoyLogLevel?: string;
  /** Envoy's xDS flavour: delta (default) or state-of-the-world. */
  xdsProtocol?: 'delta' | 'sotw';
  /** Where fleets are published (selector-less Service + EndpointSlice); none without it. */
  rest?: KubeRest;
  /**
   * Mutual TLS to the xDS server: each replica gets its fleet's client credentials in
   * `<workDir>/<id>.xds-tls/creds` (written, and rewritten on rotation, by `material`), the SDS
   * files next to them, and the TLS bootstrap; `serverName` is the xDS server certificate's name.
   */
  xdsTls?: { material: XdsTls; serverName: string };
}

interface LocalReplica extends Replica {
  fleet: string;
  pod: Pod;
  pid: number;
  /** Set for replicas this runtime started; adopted replicas are tracked by pid. */
  proc?: ChildProcess;
  /** The overload manager's heap limit in its bootstrap (unknown for adopted replicas). */
  maxHeapMiB?: number;
  /**
   * The stats listener's port in its bootstrap, 0 for none (recorded in replicas.json, so known for
   * adopted replicas too, except those recorded before it was).
   */
  statsPort?: number;
  /** Its bootstrap has the fleet-members cluster (rate limits SharedEvenly); like statsPort. */
  fleetMembers?: boolean;
  adminSocket: string;
  logFile: string;
  stopped: boolean;
  exited: boolean;
}

/** A running replica as recorded in <workDir>/replicas.json. */
export interface SavedReplica {
  id: string;
  fleet: string;
  netns: string;
  pid: number;
  address: string;
  adminSocket: string;
  /** LocalReplica.statsPort; absent in files written before it existed. */
  statsPort?: number;
  /** LocalReplica.fleetMembers; absent in files written before it existed. */
  fleetMembers?: boolean;
}

/** The file the runtime working in `workDir` records its replicas in. */
export function replicasFile(workDir: string): string {
  return join(workDir, 'replicas.json');
}

/** The replicas recorded in `workDir` (throws when the file is missing or unreadable). */
export function readSavedReplicas(workDir: string): SavedReplica[] {
  return JSON.parse(readFileSync(replicasFile(workDir), 'utf8')) as SavedReplica[];
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

/** Signals the replica's process group (its shell and Envoy); falls back to the pid alone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** The port of a fleet's stats listener, 0 when it has none. */
function statsPort(def: FleetDef): number {
  return def.metrics.enabled ? def.metrics.port : 0;
}

/** Whether a fleet's bootstrap has the fleet-members cluster (its rate limits are SharedEvenly). */
function fleetMembers(def: FleetDef): boolean {
  return def.rateLimitSharing === 'SharedEvenly';
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
  /** Whether replicas.json has been read (at the first apply after construction or release). */
  private adopted = false;

  constructor(opts: LocalRuntimeOptions) {
    this.opts = opts;
    mkdirSync(opts.workDir, { recursive: true });
    this.stateFile = replicasFile(opts.workDir);
    this.timer = setInterval(() => void this.checkReadiness(), 250);
    this.timer.unref();
  }

  /** Takes over replicas a previous runtime left running (pid alive, pod still on the network). */
  private adopt(): void {
    if (this.adopted) return;
    this.adopted = true;
    if (!existsSync(this.stateFile)) return;
    let saved: SavedReplica[] = [];
    try {
      saved = readSavedReplicas(this.opts.workDir);
    } catch (err) {
      this.opts.log.warn({ err: String(err), file: this.stateFile }, 'unreadable replica state; ignoring it');
    }
    for (const s of saved) {
      if (this.fleets.get(s.fleet)?.replicas.some((r) => r.id === s.id)) continue;
      const pod = this.opts.network.pod(s.netns, s.address);
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
        ...(typeof s.statsPort === 'number' ? { statsPort: s.statsPort } : {}),
        ...(typeof s.fleetMembers === 'boolean' ? { fleetMembers: s.fleetMembers } : {}),
        logFile: join(this.opts.workDir, `${s.id}.log`),
        stopped: false,
        exited: false,
      });
      this.fleets.set(s.fleet, f);
      this.opts.log.info({ fleet: s.fleet, replica: s.id, pid: s.pid }, 'adopted running envoy replica');
      // Its client certificate now comes from this operator's material (and rotates with it).
      const x = this.opts.xdsTls;
      if (x) {
        const creds = join(this.opts.workDir, `${s.id}.xds-tls`, 'creds');
        x.material.writeClientDir(s.fleet, creds).catch((err: unknown) => {
          this.opts.log.warn(
            { replica: s.id, err: String(err) },
            'rewriting adopted replica xDS credentials failed',
          );
        });
      }
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
    this.adopt();
    try {
      await this.reconcile(defs);
    } finally {
      this.saveState();
    }
  }

  private async reconcile(defs: FleetDef[]): Promise<void> {
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
      // Replace replicas whose process is gone, or whose bootstrap has an old heap limit, stats
      // listener or fleet-members cluster.
      let replaced = false;
      for (const r of [...f.replicas]) {
        const stale =
          (r.maxHeapMiB !== undefined && r.maxHeapMiB !== def.maxHeapMiB) ||
          (r.statsPort !== undefined && r.statsPort !== statsPort(def)) ||
          (r.fleetMembers !== undefined && r.fleetMembers !== fleetMembers(def));
        if (r.exited || stale) {
          replaced ||= r.ready;
          await this.stopReplica(r);
          f.replicas.splice(f.replicas.indexOf(r), 1);
        }
      }
      while (f.replicas.length < def.replicas) {
        f.replicas.push(await this.startReplica(def, this.nextIndex(f.replicas)));
        this.saveState(); // recorded at once, not when the whole apply ends (a crash leaves none unknown)
      }
      while (f.replicas.length > def.replicas) {
        const r = f.replicas.pop();
        if (r) await this.stopReplica(r);
      }
      if (portsChanged || replaced) this.changed(def.key);
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
    const sockets = this.opts.xdsSockets ?? [this.opts.xdsSocket];
    const tls = await this.writeXdsTls(def.key, id);
    const config = renderBootstrap({
      nodeId: `${def.key}/${index}`,
      fleet: def.key,
      xds: sockets.map((pipe) => ({ pipe })),
      admin: { pipe: adminSocket },
      delta: this.opts.xdsProtocol !== 'sotw',
      ...(tls ? { tls } : {}),
      maxHeapMiB: def.maxHeapMiB,
      ...(def.metrics.enabled ? { stats: { port: def.metrics.port } } : {}),
      fleetMembers: fleetMembers(def),
    });
    const file = join(this.opts.workDir, `${id}.bootstrap.json`);
    writeFileSync(file, JSON.stringify(config, null, 2));
    const logFile = join(this.opts.workDir, `${id}.log`);
    const logFd = openSync(logFile, 'a');
    // Envoy dies with its parent process (it gets SIGTERM when the parent exits), so it runs
    // under a shell of its own session that outlives the operator: a successor (after a restart or
    // a leader change) adopts it. The trailing `exit` keeps the shell from exec'ing Envoy.
    const proc = pod.spawn(
      'sh',
      [
        '-c',
        '"$0" "$@"; exit $?',
        this.opts.envoyBin,
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
      // stdout (the access log, when the fleet has one) and stderr both go to the replica's log
      { stdio: ['ignore', logFd, logFd], detached: true },
    );
    closeSync(logFd);
    const log = this.opts.log.child({ fleet: def.key, replica: id });
    const replica: LocalReplica = {
      id,
      fleet: def.key,
      address: pod.address,
      ready: false,
      pod,
      pid: proc.pid ?? 0,
      proc,
      maxHeapMiB: def.maxHeapMiB,
      statsPort: statsPort(def),
      fleetMembers: fleetMembers(def),
      adminSocket,
      logFile,
      stopped: false,
      exited: false,
    };
    proc.once('exit', (code, signal) => {
      replica.exited = true;
      if (replica.stopped) return;
      let stderr = '';
      try {
        stderr = readFileSync(logFile, 'utf8').slice(-4000);
      } catch {
        /* no log */
      }
      log.error({ code, signal, stderr }, 'envoy exited');
      replica.ready = false;
      this.changed(def.key);
    });
    log.info({ address: pod.address, pid: proc.pid }, 'envoy replica started');
    return replica;
  }

  /** Writes a replica's xDS client credentials and SDS files; returns the bootstrap's `tls`. */
  private async writeXdsTls(fleet: string, id: string): Promise<XdsTlsBootstrap | undefined> {
    const x = this.opts.xdsTls;
    if (!x) return undefined;
    const sdsDir = join(this.opts.workDir, `${id}.xds-tls`);
    const tls = { serverName: x.serverName, credentialDir: join(sdsDir, 'creds'), sdsDir };
    await x.material.writeClientDir(fleet, tls.credentialDir);
    for (const [file, json] of Object.entries(renderXdsTlsSdsFiles(tls))) {
      writeFileSync(join(sdsDir, file), JSON.stringify(json, null, 2));
    }
    return tls;
  }

  private async stopReplica(r: LocalReplica): Promise<void> {
    r.stopped = true;
    r.ready = false;
    if (!r.exited && alive(r.pid)) {
      signalGroup(r.pid, 'SIGTERM');
      for (let i = 0; i < 60 && alive(r.pid) && !r.exited; i++)
        await new Promise((res) => setTimeout(res, 50));
      if (!r.exited && alive(r.pid)) signalGroup(r.pid, 'SIGKILL');
    }
    await r.pod.destroy();
    rmSync(r.adminSocket, { force: true });
    if (this.opts.xdsTls) {
      this.opts.xdsTls.material.forgetDir(join(this.opts.workDir, `${r.id}.xds-tls`, 'creds'));
      rmSync(join(this.opts.workDir, `${r.id}.xds-tls`), { recursive: true, force: true });
    }
    rmSync(r.logFile, { force: true });
  }

  /** Records the live replicas for whoever runs the fleets next (atomic replace). */
  private saveState(): void {
    const saved: SavedReplica[] = [...this.fleets.values()].flatMap((f) =>
      f.replicas
        .filter((r) => !r.exited && !r.stopped)
        .map((r) => ({
          id: r.id,
          fleet: r.fleet,
          netns: r.pod.netns,
          pid: r.pid,
          address: r.address,
          adminSocket: r.adminSocket,
          ...(r.statsPort !== undefined ? { statsPort: r.statsPort } : {}),
          ...(r.fleetMembers !== undefined ? { fleetMembers: r.fleetMembers } : {}),
        })),
    );
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(saved, null, 2));
    renameSync(tmp, this.stateFile);
  }

  /** Forgets the replicas, leaving them running for the next leader (this one stopped leading). */
  release(): Promise<void> {
    if (this.adopted) this.saveState();
    for (const f of this.fleets.values()) for (const r of f.replicas) r.proc?.unref();
    this.fleets.clear();
    this.adopted = false;
    return Promise.resolve();
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
    if (!this.adopted) {
      // Never led: the replicas (and replicas.json) belong to another operator replica.
    } else if (opts.keepReplicas) {
      this.saveState();
      for (const f of this.fleets.values()) for (const r of f.replicas) r.proc?.unref();
    } else {
      for (const f of this.fleets.values()) for (const r of f.replicas) await this.stopReplica(r);
      rmSync(this.stateFile, { force: true });
    }
    this.fleets.clear();
  }
}
