// `httpproxy` backend: a reverse proxy that forwards every request over plain HTTP/1.1 to
// `--gateway host:port` with the Host header forced to `--target-host`, streaming bodies both
// ways; 502 when the gateway cannot be reached. Adds X-Forwarded-For like Go's ReverseProxy.
import http from 'node:http';
import { writeChunk, type Handler, type Req } from './dual-server.ts';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
]);

/** Parses `host:port` or `[v6]:port` (port defaults to 80). */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? /^([^:]+)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`invalid host:port ${JSON.stringify(s)}`);
  const port = m[2] === undefined ? 80 : Number(m[2]);
  if (!(port > 0 && port < 65536)) throw new Error(`invalid port in ${JSON.stringify(s)}`);
  return { host: m[1]!, port };
}

function forwardHeaders(req: Req, targetHost: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k.startsWith(':') || HOP_BY_HOP.has(k)) continue;
    out[k] = v;
  }
  out.host = targetHost;
  const peer = req.socket.remoteAddress;
  if (peer !== undefined) {
    const prior = req.headers['x-forwarded-for'];
    out['x-forwarded-for'] = typeof prior === 'string' && prior !== '' ? `${prior}, ${peer}` : peer;
  }
  return out;
}

export interface ProxyBackend {
  handler: Handler;
  close: () => void;
}

export function httpProxyBackend(gateway: string, targetHost: string): ProxyBackend {
  const gw = parseHostPort(gateway);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const handler: Handler = (req, res) => {
    const method = req.method ?? 'GET';
    const send = (attempt: number): void => {
      const up = http.request({
        host: gw.host,
        port: gw.port,
        method,
        path: req.url ?? '/',
        headers: forwardHeaders(req, targetHost),
        agent,
      });
      up.on('response', (upRes) => {
        res.statusCode = upRes.statusCode ?? 502;
        for (const [k, v] of Object.entries(upRes.headers)) {
          if (v !== undefined && !HOP_BY_HOP.has(k)) res.setHeader(k, v);
        }
        upRes.on('data', (chunk: Buffer) => writeChunk(res, chunk));
        upRes.on('end', () => res.end());
        upRes.on('error', () => res.destroy());
      });
      up.on('error', (err) => {
        // A kept-alive socket the gateway closed meanwhile: retry once if nothing was sent yet.
        const bodyless = method === 'GET' || method === 'HEAD';
        if (up.reusedSocket && bodyless && attempt === 0 && !res.headersSent) return send(1);
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.statusCode = 502;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end(`httpproxy: ${err.message}\n`);
      });
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
      });
      if (attempt === 0) req.pipe(up);
      else up.end();
    };
    send(0);
  };
  return { handler, close: () => agent.destroy() };
}
