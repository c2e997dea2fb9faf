// `retry` backend: the first request it ever handles gets 503 with body `Retry 0`; every later
// request gets 200 with body `Retry <n>` (n = number of earlier requests). Probe requests are
// answered by the probe handler and do not count.
import type { Handler } from './dual-server.ts';

export function retryHandler(): Handler {
  let seen = 0;
  return (req, res) => {
    req.resume();
    const n = seen++;
    res.statusCode = n === 0 ? 503 : 200;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(`Retry ${n}`);
  };
}
