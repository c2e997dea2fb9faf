// A fault-injecting proxy in front of a test control plane's kube-apiserver: plain HTTP on
// 127.0.0.1 towards kgw, HTTPS (with the apiserver's CA) towards the apiserver, requests and
// watch streams passed through as they are. Tests use it to make the API server misbehave the way
// real ones do: one request answered 500 (failNext), or the API server unreachable for a while
// (cut: open connections, watches included, are reset and new ones refused until restore).
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { ControlPlane } from './control-plane.ts';

export interface ApiProxy {
  /** http://127.0.0.1:<port> */
  server: string;
  /** A kubeconfig (admin token) that talks to the API server through the proxy. */
  kubeconfigPath: string;
  /** Answers the next `count` requests that match with `status` instead of passing them on. */
  failNext(match: (method: string, path: string) => boolean, status?: number, count?: number): void;
  /** Forgets every failNext not used up yet. */
  clearFaults(): void;
  /** Requests answered by failNext so far, as `METHOD path`. */
  readonly failed: string[];
  /** Resets every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  stop(): Promise<void>;
}

export async function startApiProxy(cp: ControlPlane): Promise<ApiProxy> {
  const upstream = new URL(cp.server);
  const agent = new https.Agent({ ca: cp.caPem, keepAlive: true });
  const faults: { match: (method: string, path: string) => boolean; status: number; left: number }[] = [];
  const failed: string[] = [];
  const sockets = new Set<Socket>();
  let isCut = false;

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = faults.find((f) => f.left > 0 && f.match(method, path));
    if (fault) {
      fault.left--;
      failed.push(`${method} ${path}`);
      req.resume();
      const body = JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        reason: 'InternalError',
        message: 'injected by the test proxy',
        code: fault.status,
      });
      res.writeHead(fault.status, { 'content-type': 'application/json' });
      res.end(body);
      return;
    }
    const headers = { ...req.headers, host: upstream.host };
    const up = https.request(
      { hostname: upstream.hostname, port: upstream.port, method, path, headers, agent },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        res.flushHeaders(); // a watch answers its headers at once, long before its first event
        ur.pipe(res);
        ur.on('error', () => res.destroy());
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  server.on('connection', (s: Socket) => {
    if (isCut) {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const kubeconfigPath = join(cp.dir, `kubeconfig-proxy-${port}`);
  writeFileSync(
    kubeconfigPath,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{ name: proxy, cluster: { server: "' + url + '" } }]',
      'users: [{ name: admin, user: { token: "' + cp.token + '" } }]',
      'contexts: [{ name: proxy, context: { cluster: proxy, user: admin } }]',
      'current-context: proxy',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return {
    server: url,
    kubeconfigPath,
    failed,
    failNext(match, status = 500, count = 1) {
      faults.push({ match, status, left: count });
    },
    clearFaults() {
      faults.length = 0;
    },
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      isCut = false;
    },
    async stop() {
      isCut = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
