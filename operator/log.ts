import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process-wide JSON logger. Objects are logged by key: `log.info({ namespace, name }, 'msg')`.
 * Level comes from KGW_LOG_LEVEL (default info); tests default to `silent` unless KGW_LOG_LEVEL is set.
 * With `file`, the JSON lines go to that file (created with its directory) instead of stdout.
 */
export function newLogger(component: string, level?: string, file?: string): Logger {
  const fallback = process.env.JEST_WORKER_ID !== undefined ? 'silent' : 'info';
  const opts = { name: 'kgw', level: level ?? process.env.KGW_LOG_LEVEL ?? fallback, base: { component } };
  return file === undefined
    ? pino(opts)
    : pino(opts, pino.destination({ dest: file, mkdir: true, sync: true }));
}
