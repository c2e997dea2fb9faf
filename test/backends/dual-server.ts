// One TCP port that serves HTTP/1.1 and h2c (HTTP/2 with prior knowledge), like Knative's test
// images. The first bytes of every connection are sniffed for the HTTP/2 connection preface and
// the socket is then handed to a node:http or a node:http2 server sharing one request handler.
// (HTTP/1.1 `Upgrade: h2c` is not supported; Envoy and gRPC clients use prior knowledge.)
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';

export type Req = http.IncomingMessage | http2.Http2ServerRequest;
export type Res = http.ServerResponse | http2.Http2ServerResponse;
export type Handler = (req: Req, res: Res) => void;
export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Sends the response headers now (both response flavours). */
export function flushHeaders(res: Res): void {
  if (res instanceof http.ServerResponse) res.flushHeaders();
  else if (!res.headersSent) res.writeHead(res.statusCode);
}

/** Writes one body chunk (both response flavours). */
export function writeChunk(res: Res, chunk: Buffer): boolean {
  return res instanceof http.ServerResponse ? res.write(chunk) : res.write(chunk);
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface DualServerOptions {
  host: string;
  port: number;
  handler: Handler;
  /** HTTP/1.1 upgrade requests (WebSocket); without it they are refused by node:http. */
  onUpgrade?: UpgradeHandler;
  onError?: (err: Error) => void;
}

export interface DualServer {
  address: string;
  port: number;
  /** Stop accepting, let in-flight work finish for up to graceMs, then destroy what is left. */
  close(graceMs?: number): Promise<void>;
}

/** Decides from the first bytes whether the connection speaks HTTP/2; null = need more bytes. */
export function isHttp2Preface(buf: Buffer): boolean | null {
  const n = Math.min(buf.length, PREFACE.length);
  if (!buf.subarray(0, n).equals(PREFACE.subarray(0, n))) return false;
  return n === PREFACE.length ? true : null;
}

function sniff(socket: net.Socket, done: (h2: boolean) => void): void {
  let buf = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buf = Buffer.concat([buf, chunk]);
    const verdict = isHttp2Preface(buf);
    if (verdict === null) return;
    socket.off('data', onData);
    socket.pause();
    socket.unshift(buf);
    done(verdict);
  };
  socket.on('data', onData);
}

export async function listenDual(opts: DualServerOptions): Promise<DualServer> {
  const onError = opts.onError ?? ((err: Error) => console.error(err));
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const h1 = http.createServer(opts.handler);
  h1.keepAliveTimeout = 0; // like Go: no idle timeout, so Envoy never reuses a half-closed socket
  h1.on('clientError', (err: Error, socket: Duplex) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
    if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') onError(err);
  });
  if (opts.onUpgrade) h1.on('upgrade', opts.onUpgrade);

  const h2 = http2.createServer(opts.handler);
  h2.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => s.destroy());
  });
  h2.on('sessionError', (err: Error) => onError(err));

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    sniff(socket, (isH2) => {
      (isH2 ? h2 : h1).emit('connection', socket);
      if (!isH2) socket.resume(); // node:http reads via 'data' events; the sniffer paused them
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', onError);
  const addr = server.address() as net.AddressInfo;

  let closing: Promise<void> | undefined;
  const close = (graceMs = 2000): Promise<void> => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.close();
      const deadline = Date.now() + Math.max(0, graceMs);
      for (let i = 0; i < 10_000 && sockets.size > 0 && Date.now() < deadline; i++) {
        h1.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closed;
    })();
    return closing;
  };
  return { address: addr.address, port: addr.port, close };
}
