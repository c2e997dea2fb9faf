// Test HTTP client: sends one request to a chosen address while presenting a chosen Host (and
// TLS SNI), over HTTP/1.1, h2c prior knowledge, HTTPS, or HTTP/2 over TLS. Keep-alive is off
// (one connection per request) and redirects are never followed.
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';

export interface HttpRequestOptions {
  /** Address to dial (IP or name). */
  address: string;
  port: number;
  /** Host header / :authority, e.g. `foo.example.com` or `foo.example.com:80`. */
  host: string;
  /** Path and query; default `/`. */
  path?: string;
  method?: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** HTTPS: trust `ca` (PEM); SNI defaults to `host` without its port. */
  tls?: { ca: string; servername?: string };
  /** HTTP/2: prior knowledge on cleartext, or ALPN `h2` together with `tls`. */
  h2c?: boolean;
  /** Whole-request bound (connect to last body byte); default 30 000 ms. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: string;
  /** `1.1` or `2`. */
  httpVersion: string;
  /** Parses the body as JSON (throws with the body in the message when it is not). */
  json<T = unknown>(): T;
}

/** Brackets IPv6 literals for URLs. */
export function urlHost(address: string): string {
  return net.isIPv6(address) ? `[${address}]` : address;
}

/** `foo:80` → `foo`, `[::1]:80` → `::1`. */
export function hostWithoutPort(host: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return v6[1]!;
  const i = host.lastIndexOf(':');
  return i >= 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

function flatten(headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || k.startsWith(':')) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function makeResponse(status: number, headers: Record<string, string>, body: string, httpVersion: string) {
  return {
    status,
    headers,
    body,
    httpVersion,
    json<T = unknown>(): T {
      try {
        return JSON.parse(body) as T;
      } catch {
        throw new Error(`response (status ${status}) is not JSON: ${body.slice(0, 500)}`);
      }
    },
  };
}

function userHeaders(opts: HttpRequestOptions): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (k.toLowerCase() !== 'host') out[k.toLowerCase()] = v;
  }
  return out;
}

function servername(opts: HttpRequestOptions): string | undefined {
  const name = opts.tls?.servername ?? hostWithoutPort(opts.host);
  return net.isIP(name) ? undefined : name;
}

function http1(opts: HttpRequestOptions, timeoutMs: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const common: http.RequestOptions = {
      host: opts.address,
      port: opts.port,
      path: opts.path ?? '/',
      method: opts.method ?? 'GET',
      headers: { ...userHeaders(opts), host: opts.host },
      agent: false,
    };
    const req = opts.tls
      ? https.request({ ...common, ca: opts.tls.ca, servername: servername(opts) })
      : http.request(common);
    const timer = setTimeout(
      () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve(
          makeResponse(
            res.statusCode ?? 0,
            flatten(res.headers),
            Buffer.concat(chunks).toString('utf8'),
            res.httpVersion,
          ),
        );
      });
    });
    req.end(opts.body);
  });
}

function http2Request(opts: HttpRequestOptions, timeoutMs: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const scheme = opts.tls ? 'https' : 'http';
    const session = opts.tls
      ? http2.connect(`https://${urlHost(opts.address)}:${opts.port}`, {
          ca: opts.tls.ca,
          servername: servername(opts) ?? '',
          ALPNProtocols: ['h2'],
        })
      : http2.connect(`http://${urlHost(opts.address)}:${opts.port}`);
    let settled = false;
    const finish = (err: Error | undefined, res?: HttpResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      if (err) {
        session.destroy();
        reject(err);
      } else resolve(res!);
    };
    const timer = setTimeout(() => finish(new Error(`request timed out after ${timeoutMs} ms`)), timeoutMs);
    session.on('error', (err: Error) => finish(err));
    const stream = session.request({
      ...userHeaders(opts),
      ':method': opts.method ?? 'GET',
      ':path': opts.path ?? '/',
      ':scheme': scheme,
      ':authority': opts.host,
    });
    let status = 0;
    let headers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = flatten(h);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err: Error) => finish(err));
    stream.on('end', () =>
      finish(undefined, makeResponse(status, headers, Buffer.concat(chunks).toString('utf8'), '2')),
    );
    stream.end(opts.body);
  });
}

export function httpRequest(opts: HttpRequestOptions): Promise<HttpResponse> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return opts.h2c ? http2Request(opts, timeoutMs) : http1(opts, timeoutMs);
}
