// The shipped command line, `kgw operator --runtime local` (operator/cli.ts), as a child process:
// the way a user runs kgw on one machine, with Envoy replicas in network namespaces of a local
// network another process created (--network-subnet). Also the cleanup after an operator that
// could not stop its replicas: they run in sessions of their own (they outlive the operator by
// design, for a successor to adopt), recorded in the work dir's envoy/replicas.json.
import { join } from 'node:path';
import { readSavedReplicas, type SavedReplica } from '../../operator/fleets/local.ts';
import { envoyBin } from './paths.ts';
import { spawnOwned, type ExitInfo, type OwnedProcess } from './proc.ts';

/** operator/cli.ts, run with this process's node (TypeScript types stripped). */
export const OPERATOR_CLI = join(import.meta.dirname, '..', '..', 'operator', 'cli.ts');

export interface LocalOperatorOptions {
  kubeconfig: string;
  /** --work-dir: xDS socket, Envoy bootstraps, logs and envoy/replicas.json. */
  workDir: string;
  /** --network-subnet: the local network 198.18.N.0/24 to attach to (it must exist). */
  networkSubnet: number;
  /** More flags (--log-level, --xds-socket, --leader-elect, …). */
  args?: string[];
}

/** `operator --runtime local …` with the cached Envoy (test/env/paths.ts). */
export function localOperatorArgs(o: LocalOperatorOptions): string[] {
  return [
    'operator',
    '--runtime',
    'local',
    '--kubeconfig',
    o.kubeconfig,
    '--envoy-bin',
    envoyBin(),
    '--work-dir',
    o.workDir,
    '--network-subnet',
    String(o.networkSubnet),
    ...(o.args ?? []),
  ];
}

export interface LocalOperator {
  readonly process: OwnedProcess;
  /** The command line, as `node operator/cli.ts operator …` (node: this process's). */
  readonly argv: string[];
  /**
   * SIGTERM, at most `graceMs` for the operator to stop its fleets and exit, then SIGKILL and the
   * replicas it left; resolves with how it exited.
   */
  stop(graceMs: number): Promise<ExitInfo>;
}

/**
 * Starts the operator CLI with its output (the JSON log) appended to `logPath`, in a process group
 * of its own: a Ctrl-C in the terminal reaches only its parent, which stops it with stop().
 */
export function startLocalOperator(o: LocalOperatorOptions & { logPath: string }): LocalOperator {
  const argv = [OPERATOR_CLI, ...localOperatorArgs(o)];
  const proc = spawnOwned('kgw operator', process.execPath, argv, { logPath: o.logPath, ownGroup: true });
  return {
    process: proc,
    argv,
    async stop(graceMs) {
      await proc.stop(graceMs);
      killSavedReplicas(join(o.workDir, 'envoy'));
      return proc.exitInfo() ?? { code: null, signal: null };
    },
  };
}

/**
 * SIGKILLs the process group of every Envoy replica recorded in `<envoyWorkDir>/replicas.json`
 * (the replica's shell and Envoy); returns how many were still running. An operator that stopped
 * its fleets removed the file: then there is nothing to do.
 */
export function killSavedReplicas(envoyWorkDir: string): number {
  let saved: SavedReplica[];
  try {
    saved = readSavedReplicas(envoyWorkDir);
  } catch {
    return 0; // none recorded
  }
  let killed = 0;
  for (const r of saved) {
    try {
      process.kill(-r.pid, 'SIGKILL');
      killed++;
    } catch {
      /* gone */
    }
  }
  return killed;
}
