// A pino logger (level debug) whose lines tests can read back, parsed.
import { pino } from 'pino';
import type { Logger } from '../../operator/log.ts';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}
