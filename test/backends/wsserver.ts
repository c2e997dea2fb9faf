// `wsserver` backend: accepts a WebSocket upgrade on any path and echoes every message with a
// space and the suffix appended (`hello` → `hello - pong` for suffix `- pong`; no suffix → the
// message unchanged). Plain HTTP requests get 200 from the kubelet, 400 from anyone else.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Handler, UpgradeHandler } from './dual-server.ts';
import { isKubeletProbe } from './headers.ts';
import { HASH_HEADER, probeVerdict } from './probe.ts';

export function echoReply(msg: string, suffix: string): string {
  return suffix === '' ? msg : `${msg} ${suffix}`;
}

export interface WsBackend {
  handler: Handler;
  onUpgrade: UpgradeHandler;
  /** Close every WebSocket with 1001 (going away). */
  close: () => void;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function wsBackend(suffix: string): WsBackend {
  const wss = new WebSocketServer({ noServer: true });
  const onConnection = (ws: WebSocket): void => {
    ws.on('error', () => ws.terminate());
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = toBuffer(data);
      if (isBinary) ws.send(suffix === '' ? buf : Buffer.concat([buf, Buffer.from(` ${suffix}`)]));
      else ws.send(echoReply(buf.toString('utf8'), suffix));
    });
  };
  const onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    const v = probeVerdict(req);
    if (v.kind === 'answer') {
      const extra = v.status === 200 ? `${HASH_HEADER}: ${v.hash}\r\n` : '';
      const reason = v.status === 200 ? 'OK' : 'Bad Request';
      socket.end(`HTTP/1.1 ${v.status} ${reason}\r\n${extra}Content-Length: 0\r\nConnection: close\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, onConnection);
  };
  const handler: Handler = (req, res) => {
    req.resume();
    const ok = isKubeletProbe(req);
    res.statusCode = ok ? 200 : 400;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(ok ? 'ok\n' : 'wsserver: expected a WebSocket upgrade\n');
  };
  const close = (): void => {
    for (const ws of wss.clients) ws.close(1001, 'server shutting down');
    wss.close();
  };
  return { handler, onUpgrade, close };
}
