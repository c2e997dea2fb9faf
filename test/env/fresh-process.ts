// Runs a few lines of code in a fresh Node process against a test apiserver and reports how it
// ended. Tests use it to check that `stop()` leaves nothing that keeps the event loop alive: the
// process must exit by itself, and a 30 s bound (SIGKILL) catches one that does not.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface FreshProcessResult {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  /** `SIGKILL` when the bound killed it. */
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface FreshProcessOptions {
  /** Where the script is written (e.g. the control plane's dir). */
  dir: string;
  /** File name of the script (`<name>.mjs`). */
  name: string;
  kubeconfigPath: string;
  /** Named imports: exported name → module path relative to the repository root. */
  imports: Record<string, string>;
  /** The script's lines; `rest` (a KubeRest on the kubeconfig) and a silent `log` are in scope. */
  body: string[];
  /** Bound on the run (default 30 s), after which the process is SIGKILLed. */
  timeoutMs?: number;
}

/** Writes and runs the script; resolves with how it ended (never rejects on a non-zero exit). */
export function runInFreshProcess(o: FreshProcessOptions): Promise<FreshProcessResult> {
  const url = (p: string) => JSON.stringify(new URL(p, `file://${repoRoot}`).href);
  const script = join(o.dir, `${o.name}.mjs`);
  const imports = Object.entries({
    KubeRest: 'operator/kube/rest.ts',
    kubeconfigConnection: 'operator/kube/config.ts',
    ...o.imports,
  }).map(([name, path]) => `import { ${name} } from ${url(path)};`);
  writeFileSync(
    script,
    [
      ...imports,
      `const rest = new KubeRest(kubeconfigConnection(${JSON.stringify(o.kubeconfigPath)}));`,
      'const log = { info() {}, warn() {}, error() {}, debug() {} };',
      ...o.body,
    ].join('\n'),
  );
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [script],
      { timeout: o.timeoutMs ?? 30_000, killSignal: 'SIGKILL', cwd: repoRoot },
      (err, stdout, stderr) =>
        resolve({
          code: err ? ((err as { code?: number }).code ?? null) : 0,
          signal: child.signalCode,
          stdout,
          stderr,
        }),
    );
  });
}
