// A small Kubernetes REST client on node:https, configured from a client-node KubeConfig. It does
// exactly what kgw needs — JSON requests, merge/apply patches and line-delimited watch streams —
// with explicit timeouts, so reconnect and backoff policy stay in kgw's hands (see reflector.ts).
import { http } from '../node-http.ts';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeConnection } from './config.ts';

export class ApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(status: number, reason: string, message: string, body: unknown) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.body = body;
  }
}

/** GET `path`; undefined when the object does not exist (404), any other error thrown. */
export async function getIfExists<T>(
  client: { request<R>(method: string, path: string): Promise<R> },
  path: string,
): Promise<T | undefined> {
  try {
    return await client.request<T>('GET', path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

export interface WatchEvent<T = unknown> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

function qs(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * A promise's resolve/reject that let go of it once one is called. Node's https agent keeps the
 * request that opened a keep-alive TLS connection reachable for as long as the connection lives
 * (the socket's 'session' listener); from the request, its listeners, and through them whatever they
 * capture. Capturing the resolving functions kept the settled promise, and so the whole response,
 * alive: the first LIST on each connection (every KIngress, at start-up) stayed in memory.
 */
function settleOnce<T>(
  resolve: (v: T) => void,
  reject: (e: unknown) => void,
): { resolve: (v: T) => void; reject: (e: unknown) => void } {
  let fns: [(v: T) => void, (e: unknown) => void] | undefined = [resolve, reject];
  return {
    resolve(v) {
      const f = fns;
      fns = undefined;
      f?.[0](v);
    },
    reject(e) {
      const f = fns;
      fns = undefined;
      f?.[1](e);
    },
  };
}

export class KubeRest {
  private readonly auth: (opts: https.RequestOptions) => Promise<void>;
  private readonly server: URL;

  /**
   * From kgw's own connection (config.ts: kubeconfig file or in-cluster; what the operator uses) or
   * a client-node KubeConfig (tests and tools that have one anyway).
   */
  constructor(source: KubeConfig | KubeConnection) {
    if ('apply' in source) {
      this.server = new URL(source.server);
      this.auth = (opts) => source.apply(opts);
    } else {
      const cluster = source.getCurrentCluster();
      if (!cluster) throw new Error('kubeconfig has no current cluster');
      this.server = new URL(cluster.server);
      this.auth = (opts) => source.applyToHTTPSOptions(opts);
    }
  }

  private async options(
    method: string,
    path: string,
    headers: Record<string, string>,
  ): Promise<https.RequestOptions> {
    const opts: https.RequestOptions = {
      method,
      protocol: this.server.protocol,
      hostname: this.server.hostname,
      port: this.server.port || (this.server.protocol === 'https:' ? 443 : 80),
      path: `${this.server.pathname.replace(/\/$/, '')}${path}`,
      headers: { Accept: 'application/json', ...headers },
    };
    await this.auth(opts);
    // client-node makes a new Agent per call: every request would pay a TLS handshake and the
    // agents' native memory piles up. One keep-alive agent is shared while the TLS material stays
    // the same (a rotated client certificate gets a fresh agent).
    if (this.server.protocol === 'https:') opts.agent = this.sharedAgent(opts);
    return opts;
  }

  private agent: { key: string; agent: https.Agent } | undefined;

  private sharedAgent(opts: https.RequestOptions): https.Agent {
    const pem = (v: unknown): string =>
      Array.isArray(v)
        ? v.map(pem).join('|')
        : typeof v === 'string'
          ? v
          : Buffer.isBuffer(v)
            ? v.toString('latin1')
            : '';
    const key = [pem(opts.ca), pem(opts.cert), pem(opts.key), String(opts.rejectUnauthorized)].join('#');
    if (this.agent?.key === key) return this.agent.agent;
    this.agent?.agent.destroy();
    const agent = new https.Agent({
      keepAlive: true,
      maxFreeSockets: 8,
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(opts.cert !== undefined ? { cert: opts.cert } : {}),
      ...(opts.key !== undefined ? { key: opts.key } : {}),
      ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    });
    this.agent = { key, agent };
    return agent;
  }

  /** Closes idle keep-alive connections (open watches end on their own). */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }

  private transport() {
    return this.server.protocol === 'https:' ? https : http;
  }

  /** A JSON request. Non-2xx answers throw ApiError with the Status reason and message. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    query?: Query,
    signal?: AbortSignal,
    accept?: string,
  ): Promise<T> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    // Content-Length always: without it Node sends a DELETE/GET body unframed, and on a reused
    // keep-alive connection those bytes would corrupt the next request.
    const opts = await this.options(method, path + qs(query), {
      ...(payload
        ? { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(payload)) }
        : {}),
      ...(accept ? { Accept: accept } : {}),
    });
    opts.timeout = 30_000;
    return new Promise<T>((resolvePromise, rejectPromise) => {
      const { resolve, reject } = settleOnce(resolvePromise, rejectPromise);
      if (signal?.aborted) return reject(new Error(`aborted: ${method} ${path}`));
      const req = this.transport().request(opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          chunks.length = 0; // the response object outlives this (see settleOnce)
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* non-JSON body: keep the text */
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed as T);
          else {
            const st = parsed as { reason?: string; message?: string } | undefined;
            reject(
              new ApiError(
                status,
                st?.reason ?? '',
                st?.message ?? `HTTP ${status} for ${method} ${path}`,
                parsed,
              ),
            );
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      if (signal) {
        const abort = () => req.destroy(new Error(`aborted: ${method} ${path}`));
        signal.addEventListener('abort', abort, { once: true });
        req.on('close', () => signal.removeEventListener('abort', abort));
      }
      if (payload) req.write(payload);
      req.end();
    });
  }

  /**
   * A GET. `accept` replaces the Accept header, e.g. to ask for PartialObjectMetadata (only the
   * metadata of each object, never its data).
   */
  get<T>(path: string, query?: Query, signal?: AbortSignal, accept?: string): Promise<T> {
    return this.request<T>('GET', path, undefined, undefined, query, signal, accept);
  }

  /**
   * Streams watch events until the server closes the stream, the signal aborts, or an error
   * occurs. Resolves on a clean end or an abort; rejects with ApiError for a non-200 answer, with
   * the thrown error when `onEvent` throws or a line is not JSON, and with an Error when the
   * connection breaks or stays silent for `idleTimeoutMs` (default: the query's `timeoutSeconds`,
   * or an hour, plus 30 s — so a connection that died without a FIN/RST cannot hang a watch).
   */
  async watch<T>(
    path: string,
    query: Query,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
    idleTimeoutMs?: number,
    accept?: string,
    onOpen?: () => void,
  ): Promise<void> {
    const opts = await this.options(
      'GET',
      path + qs({ ...query, watch: true }),
      accept ? { Accept: accept } : {},
    );
    const idle = idleTimeoutMs ?? Number(query.timeoutSeconds ?? 3600) * 1000 + 30_000;
    opts.timeout = idle;
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return resolve();
      const req = this.transport().request(opts, (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let st: { reason?: string; message?: string } = {};
            try {
              st = JSON.parse(text) as typeof st;
            } catch {
              /* keep empty */
            }
            reject(new ApiError(res.statusCode ?? 0, st.reason ?? '', st.message ?? text, st));
          });
          // without a listener a connection reset mid-body is silent and the promise never settles
          res.on('error', reject);
          return;
        }
        onOpen?.();
        // Settle with the first failure at once: the server usually ends the stream right after
        // an ERROR event, and a later 'end' must not turn the handler's error into a clean end.
        let failed = false;
        const fail = (e: unknown): void => {
          failed = true;
          reject(e instanceof Error ? e : new Error(String(e)));
          req.destroy();
        };
        const deliver = (line: string): boolean => {
          try {
            onEvent(JSON.parse(line) as WatchEvent<T>);
            return true;
          } catch (e) {
            fail(e);
            return false;
          }
        };
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (failed) return;
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line && !deliver(line)) return;
          }
        });
        res.on('end', () => {
          if (failed) return;
          const last = buf.trim();
          if (last && !deliver(last)) return;
          resolve();
        });
        res.on('error', reject);
      });
      const abort = () => {
        req.destroy();
        resolve();
      };
      signal.addEventListener('abort', abort, { once: true });
      req.on('timeout', () => req.destroy(new Error(`watch idle for ${idle} ms: ${path}`)));
      req.on('error', (e) => (signal.aborted ? resolve() : reject(e)));
      req.on('close', () => signal.removeEventListener('abort', abort));
      req.end();
    });
  }
}
