// Test WebSocket client: dials a chosen address with a chosen Host header and offers
// request/reply round trips (each send resolves with the next message received).
import WebSocket from 'ws';
import { urlHost } from './http-client.ts';

export interface WsDialOptions {
  address: string;
  port: number;
  host: string;
  /** Default `/`. */
  path?: string;
  headers?: Record<string, string>;
  /** Bound for the handshake and for each send's reply; default 10 000 ms. */
  timeoutMs?: number;
}

export interface WsConn {
  send(msg: string): Promise<string>;
  close(): Promise<void>;
}

export function wsDial(opts: WsDialOptions): Promise<WsConn> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const url = `ws://${urlHost(opts.address)}:${opts.port}${opts.path ?? '/'}`;
  const ws = new WebSocket(url, {
    headers: { ...opts.headers, Host: opts.host },
    handshakeTimeout: timeoutMs,
  });
  const waiters: Array<{ resolve: (s: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> =
    [];
  let failure: Error | undefined;
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const w of waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(failure);
    }
  };
  ws.on('message', (data: WebSocket.RawData) => {
    const w = waiters.shift();
    if (!w) return;
    clearTimeout(w.timer);
    w.resolve(
      Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8'),
    );
  });
  ws.on('close', (code: number) => failAll(new Error(`websocket closed (${code})`)));
  const conn: WsConn = {
    send(msg: string): Promise<string> {
      if (failure) return Promise.reject(failure);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          failAll(new Error(`no websocket reply within ${timeoutMs} ms`));
          ws.terminate();
        }, timeoutMs);
        waiters.push({ resolve, reject, timer });
        ws.send(msg);
      });
    },
    close(): Promise<void> {
      if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          ws.terminate();
          resolve();
        }, timeoutMs);
        ws.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        ws.close(1000);
      });
    },
  };
  return new Promise<WsConn>((resolve, reject) => {
    ws.once('open', () => resolve(conn));
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`websocket handshake got HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.on('error', (err: Error) => {
      failAll(err);
      reject(err);
    });
  });
}
