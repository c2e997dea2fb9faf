// `runtime` backend: answers every path with a JSON description of the request, like Knative's
// runtime test image. `/healthz` answers 200 only to the kubelet (`User-Agent: kube-probe/…`),
// 400 to anyone else.
import os from 'node:os';
import type { Handler, Req, Res } from './dual-server.ts';
import { goHeaders, isKubeletProbe, requestPath } from './headers.ts';

export interface RuntimeInfo {
  request: {
    /** Time the request was handled, RFC 3339 (ISO 8601) in UTC. */
    ts: string;
    /** Request target as sent: path and query. */
    uri: string;
    /** Host header (HTTP/1.1) or :authority (HTTP/2). */
    host: string;
    method: string;
    /** Request headers with Go-canonical names (`Foo-Bar-Baz`), one entry per header line;
     *  no Host, no HTTP/2 pseudo-headers, no `K-Network-Hash` (removed by the probe handler). */
    headers: Record<string, string[]>;
    protoMajor: number;
    protoMinor: number;
  };
  host: { suffix: string; hostname: string; pid: number };
}

export function describeRequest(req: Req, suffix: string): RuntimeInfo {
  const authority = req.headers[':authority'];
  return {
    request: {
      ts: new Date().toISOString(),
      uri: req.url ?? '',
      host: (typeof authority === 'string' ? authority : undefined) ?? req.headers.host ?? '',
      method: req.method ?? '',
      headers: goHeaders(req),
      protoMajor: req.httpVersionMajor,
      protoMinor: req.httpVersionMinor,
    },
    host: { suffix, hostname: os.hostname(), pid: process.pid },
  };
}

export function setNoCache(res: Res): void {
  res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate, max-age=0');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('Expires', '0');
}

export function runtimeHandler(suffix: string): Handler {
  return (req, res) => {
    req.resume(); // drain any body
    setNoCache(res);
    if (requestPath(req) === '/healthz') {
      const ok = isKubeletProbe(req);
      res.statusCode = ok ? 200 : 400;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(ok ? 'ok\n' : 'healthz: kubelet probes only\n');
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(describeRequest(req, suffix)));
  };
}
