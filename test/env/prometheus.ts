// A real Prometheus for tests (built from its Go module by setup.sh, found by paths.ts): started on
// a free loopback port with a generated configuration that scrapes the given static targets, its
// TSDB and log in a temp dir, stopped (and the dir removed) by stop(). Helpers query it over the
// HTTP API and wait, bounded, until every target has been scraped successfully.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Logger } from '../../operator/log.ts';
import { prometheusBin } from './paths.ts';
import { freePorts, progress, spawnOwned, tailFile, waitUntil, type OwnedProcess } from './proc.ts';

export interface ScrapeJob {
  name: string;
  /** `host:port` of each target, with labels added to all its series. */
  targets: { address: string; labels?: Record<string, string> }[];
  metricsPath?: string;
}

export interface PrometheusOptions {
  jobs: ScrapeJob[];
  /** Scrape and evaluation interval (default 1s). */
  interval?: string;
  /** Rule files to load (absolute paths), evaluated every interval. */
  ruleFiles?: string[];
  log?: Logger;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RuleState {
  name: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  lastEvaluation: string;
  /** Alerting rules: inactive, pending or firing. */
  state?: string;
}

export interface RunningPrometheus {
  url: string;
  proc: OwnedProcess;
  logPath: string;
  /** An instant query (throws on an API error, e.g. a parse error). */
  query(expr: string): Promise<Sample[]>;
  /** The values of `label` on the series `match` selects (the API behind Grafana's label_values). */
  labelValues(label: string, match: string): Promise<string[]>;
  /** Every loaded rule with its health and, for alerts, state (/api/v1/rules). */
  rules(): Promise<RuleState[]>;
  /** Waits until every target of every job has been scraped and is up. */
  waitTargetsUp(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data?: T;
  error?: string;
  errorType?: string;
}

interface TargetsData {
  activeTargets: { scrapePool: string; scrapeUrl: string; health: string; lastError: string }[];
}

/** The prometheus.yml for `jobs` (and `ruleFiles`). */
export function prometheusConfig(jobs: ScrapeJob[], interval = '1s', ruleFiles: string[] = []): string {
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    ...(ruleFiles.length > 0 ? { rule_files: ruleFiles } : {}),
    scrape_configs: jobs.map((j) => ({
      job_name: j.name,
      metrics_path: j.metricsPath ?? '/metrics',
      static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
    })),
  });
}

async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as ApiAnswer<T>;
  if (body.status !== 'success' || body.data === undefined)
    throw new Error(`${url}: ${res.status} ${body.errorType ?? ''} ${body.error ?? ''}`);
  return body.data;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<RunningPrometheus> {
  const bin = prometheusBin();
  const dir = mkdtempSync(join(tmpdir(), 'kgw-prometheus-'));
  const configPath = join(dir, 'prometheus.yml');
  writeFileSync(configPath, prometheusConfig(opts.jobs, opts.interval, opts.ruleFiles));
  const [port] = await freePorts(1);
  const listen = `127.0.0.1:${port ?? 0}`;
  const logPath = join(dir, 'prometheus.log');
  const proc = spawnOwned(
    'prometheus',
    bin,
    [
      `--config.file=${configPath}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${listen}`,
      '--log.level=warn',
    ],
    { logPath },
  );
  const url = `http://${listen}`;
  const stop = async (): Promise<void> => {
    await proc.stop();
    if (process.env.KGW_KEEP_ENV !== '1') rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      'Prometheus ready',
      async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        abort: () => (proc.exitInfo() ? `prometheus exited:\n${tailFile(logPath)}` : undefined),
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  progress(`prometheus running at ${url} (config ${configPath}, log ${logPath})`, opts.log);
  return {
    url,
    proc,
    logPath,
    async query(expr) {
      const data = await api<{ resultType: string; result: Sample[] }>(
        `${url}/api/v1/query?query=${encodeURIComponent(expr)}`,
      );
      if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
      return data.result;
    },
    async rules() {
      const data = await api<{ groups: { rules: RuleState[] }[] }>(`${url}/api/v1/rules`);
      return data.groups.flatMap((g) => g.rules);
    },
    labelValues(label, match) {
      return api<string[]>(`${url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`);
    },
    async waitTargetsUp(timeoutMs) {
      const want = opts.jobs.reduce((n, j) => n + j.targets.length, 0);
      let last = '';
      await waitUntil(
        'every scrape target up',
        async () => {
          const { activeTargets } = await api<TargetsData>(`${url}/api/v1/targets?state=active`);
          last = activeTargets.map((t) => `${t.scrapeUrl} ${t.health} ${t.lastError}`).join('; ');
          return activeTargets.length === want && activeTargets.every((t) => t.health === 'up');
        },
        {
          timeoutMs,
          intervalMs: 250,
          abort: () => (proc.exitInfo() ? `prometheus exited:\n${tailFile(logPath)}` : undefined),
        },
      ).catch((err: Error) => {
        throw new Error(`${err.message}; targets: ${last}`);
      });
    },
    stop,
  };
}
