// `timeout` backend: sleeps `initialTimeout` ms (query parameter) before sending 200 headers,
// flushes them, sleeps `timeout` ms, then sends the body. Sleeps are capped at 10 minutes and
// cancelled when the client goes away.
import { flushHeaders, type Handler } from './dual-server.ts';

const MAX_SLEEP_MS = 10 * 60 * 1000;

function parseMs(v: string | null): number | undefined {
  if (v === null || v === '') return 0;
  if (!/^\d+$/.test(v)) return undefined;
  return Math.min(Number(v), MAX_SLEEP_MS);
}

export function timeoutHandler(): Handler {
  return (req, res) => {
    req.resume();
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const initial = parseMs(query.get('initialTimeout'));
    const after = parseMs(query.get('timeout'));
    if (initial === undefined || after === undefined) {
      res.statusCode = 400;
      res.end('timeout: initialTimeout and timeout must be whole milliseconds\n');
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    res.on('close', () => clearTimeout(timer));
    timer = setTimeout(() => {
      res.statusCode = 200;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      flushHeaders(res);
      timer = setTimeout(
        () => res.end(`slept ${initial} ms before headers and ${after} ms before body\n`),
        after,
      );
    }, initial);
  };
}
