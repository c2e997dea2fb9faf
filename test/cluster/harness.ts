// What the cluster test files share: running kubectl (or any command) bounded in time without
// throwing, a 404-tolerant GET, and a steady request load that records every answer while
// something changes underneath (a rollout, a traffic move).
import { execFile } from 'node:child_process';
import { ApiError, type KubeRest } from '../../operator/kube/rest.ts';
import type { Cluster } from './cluster.ts';
import { k8sBin } from '../env/paths.ts';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A command, never throwing, bounded by timeoutMs (then SIGKILLed). */
export function run(
  file: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, maxBuffer: 64 << 20, env: env ?? process.env, cwd, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
        resolve({ code, stdout, stderr: stderr || (err !== null ? err.message : ''), ms: Date.now() - t0 });
      },
    );
  });
}

export interface Kubectl {
  /** kubectl with the given kubeconfig; never throws. */
  kubectl: (args: string[], timeoutMs?: number) => Promise<Run>;
  /** kubectl that must succeed: the error carries its output. */
  kubectlOk: (args: string[], timeoutMs?: number) => Promise<Run>;
}

/**
 * kubectl (build-k8s.sh's, the cluster's version) bound to a kubeconfig, read at each call (the
 * cluster may start after this is made).
 */
export function kubectlWith(kubeconfig: () => string): Kubectl {
  const kubectl = (args: string[], timeoutMs = 60_000): Promise<Run> =>
    run(k8sBin('kubectl'), ['--kubeconfig', kubeconfig(), ...args], timeoutMs);
  return {
    kubectl,
    kubectlOk: async (args: string[], timeoutMs = 60_000): Promise<Run> => {
      const r = await kubectl(args, timeoutMs);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (exit ${r.code}): ${r.stderr}${r.stdout}`);
      return r;
    },
  };
}

/** GET that answers undefined for 404. */
export async function getOrUndefined<T>(rest: KubeRest, path: string): Promise<T | undefined> {
  try {
    return await rest.get<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

export interface SteadyLoadOptions {
  /** Parallel senders (default 1). */
  workers?: number;
  /** Pause after each request of a sender (default 20 ms). */
  pauseMs?: number;
  /** Bounds: at most this many requests in all (default 20,000) … */
  maxRequests?: number;
  /** … and this long (default 10 minutes). */
  maxMs?: number;
}

export interface SteadyLoad {
  /** Answers so far by outcome key (what `send` returned, or `error <message>`). */
  readonly outcomes: Map<string, number>;
  /** Outcome changes in order as `<key> @<ms since start>` (first of each run of equal keys). */
  readonly timeline: string[];
  /** Stops sending, waits for requests in flight, and returns the outcomes. */
  stop(): Promise<Map<string, number>>;
}

/**
 * Sends requests one after another from `workers` senders until stopped (bounded in count and
 * time). `send` resolves to an outcome key (e.g. '200' or '503 no healthy upstream'); a rejection
 * counts as `error <message>`.
 */
export function steadyLoad(send: () => Promise<string>, opts: SteadyLoadOptions = {}): SteadyLoad {
  const outcomes = new Map<string, number>();
  const timeline: string[] = [];
  const t0 = Date.now();
  const deadline = t0 + (opts.maxMs ?? 600_000);
  const max = opts.maxRequests ?? 20_000;
  const pauseMs = opts.pauseMs ?? 20;
  let sent = 0;
  let stopped = false;
  let last = '';
  const worker = async (): Promise<void> => {
    while (!stopped && sent < max && Date.now() < deadline) {
      sent++;
      let key: string;
      try {
        key = await send();
      } catch (err) {
        key = `error ${String(err).slice(0, 80)}`;
      }
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (key !== last) {
        timeline.push(`${key} @${Date.now() - t0}`);
        last = key;
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const workers = Promise.all(Array.from({ length: Math.max(1, opts.workers ?? 1) }, worker));
  return {
    outcomes,
    timeline,
    async stop() {
      stopped = true;
      await workers;
      return outcomes;
    },
  };
}

/** The figures line of a cluster start: node Ready, CoreDNS, image import, and the whole start. */
export function clusterStartFigure(cluster: Cluster, t0: number): string {
  const t = cluster.timings;
  return (
    `cluster: node Ready ${t.nodeReadyMs} ms, CoreDNS ${t.dnsReadyMs ?? '-'} ms, images imported in ${t.imagesMs} ms, ` +
    `start ${Date.now() - t0} ms`
  );
}
