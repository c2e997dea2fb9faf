// Local fleet runtime: each replica is an Envoy process in its own network namespace (see
// network.ts), bootstrapped to fetch its configuration from kgw's xDS server over a unix socket.
// A replica is ready once Envoy's admin /ready answers 200 (it has received its first config).
import http from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../log.ts';
import { renderBootstrap } from '../render/bootstrap.ts';
import type { LocalNetwork, Pod } from './network.ts';
import type { FleetDef, FleetRuntime, Replica } from './runtime.ts';

export interface LocalRuntimeOptions {
  network: LocalNetwork;
  envoyBin: string;
  /** Path of the xDS server's unix socket. */
  xdsSocket: string;
  workDir: string;
  log: Logger;
  envoyLogLevel?: string;
}

interface LocalReplica extends Replica {
  pod: Pod;
  proc: ChildProcess;
  adminSocket: string;
  stopped: boolean;
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

function safe(s: string): string {
  return s.replace(/[^a-zA-Z0-9-]/g, '-');
}

export class LocalFleetRuntime implements FleetRuntime {
  private readonly opts: LocalRuntimeOptions;
  private readonly fleets = new Map<string, { def: FleetDef; replicas: LocalReplica[] }>();
  private readonly listeners: ((key: string) => void)[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(opts: LocalRuntimeOptions) {
    this.opts = opts;
    mkdirSync(opts.workDir, { recursive: true });
    this.timer = setInterval(() => void this.checkReadiness(), 250);
    this.timer.unref();
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

  async apply(defs: FleetDef[]): Promise<void> {
    const wanted = new Map(defs.map((d) => [d.key, d]));
    for (const [key, f] of this.fleets) {
      if (!wanted.has(key)) {
        for (const r of f.replicas) await this.stopReplica(r);
        this.fleets.delete(key);
        this.changed(key);
      }
    }
    for (const def of defs) {
      const f = this.fleets.get(def.key) ?? { def, replicas: [] };
      const portsChanged = f.def.ports.http !== def.ports.http || f.def.ports.https !== def.ports.https;
      f.def = def;
      this.fleets.set(def.key, f);
      while (f.replicas.length < def.replicas)
        f.replicas.push(await this.startReplica(def, f.replicas.length));
      while (f.replicas.length > def.replicas) {
        const r = f.replicas.pop();
        if (r) await this.stopReplica(r);
      }
      if (portsChanged) this.changed(def.key);
    }
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
        '--service-cluster',
        def.key,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const log = this.opts.log.child({ fleet: def.key, replica: id });
    let tail = '';
    proc.stderr?.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
    });
    const replica: LocalReplica = {
      id,
      address: pod.address,
      ready: false,
      pod,
      proc,
      adminSocket,
      stopped: false,
    };
    proc.once('exit', (code, signal) => {
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
    r.proc.kill('SIGTERM');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        r.proc.kill('SIGKILL');
        resolve();
      }, 3000);
      r.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      if (r.proc.exitCode !== null || r.proc.signalCode !== null) {
        clearTimeout(t);
        resolve();
      }
    });
    await r.pod.destroy();
    rmSync(r.adminSocket, { force: true });
  }

  private async checkReadiness(): Promise<void> {
    for (const [key, f] of this.fleets) {
      let changed = false;
      for (const r of f.replicas) {
        if (r.stopped || r.proc.exitCode !== null) continue;
        const ready = (await adminGet(r.adminSocket, '/ready')) === 200;
        if (ready !== r.ready) {
          r.ready = ready;
          changed = true;
        }
      }
      if (changed) this.changed(key);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    for (const f of this.fleets.values()) for (const r of f.replicas) await this.stopReplica(r);
    this.fleets.clear();
  }
}
