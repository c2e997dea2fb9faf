import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { httpRequest } from './client.ts';

let dir: string;
let cert: string;
let key: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kgw-backends-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=secure.example.com',
      '-addext',
      'subjectAltName=DNS:secure.example.com',
    ],
    { stdio: 'ignore' },
  );
  cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

async function listen(server: http.Server | https.Server | http2.Http2SecureServer): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

async function shut(server: http.Server | https.Server | http2.Http2SecureServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

describe('httpRequest', () => {
  it('HTTPS: sends SNI = host (port stripped) and Host, trusting the given CA', async () => {
    const server = https.createServer({ cert, key }, (req, res) => {
      const sni = (req.socket as tls.TLSSocket).servername;
      res.end(JSON.stringify({ sni, host: req.headers.host, conn: req.headers.connection }));
    });
    const port = await listen(server);
    try {
      const res = await httpRequest({
        address: '127.0.0.1',
        port,
        host: 'secure.example.com:443',
        tls: { ca: cert },
      });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({
        sni: 'secure.example.com',
        host: 'secure.example.com:443',
        conn: 'close',
      });
      // A CA that does not match fails verification.
      await expect(
        httpRequest({ address: '127.0.0.1', port, host: 'other.example.com', tls: { ca: cert } }),
      ).rejects.toThrow();
    } finally {
      await shut(server);
    }
  });

  it('HTTP/2 over TLS with h2c: true', async () => {
    const server = http2.createSecureServer({ cert, key }, (req, res) => {
      res.end(JSON.stringify({ authority: req.headers[':authority'], v: req.httpVersion }));
    });
    const port = await listen(server);
    try {
      const res = await httpRequest({
        address: '127.0.0.1',
        port,
        host: 'secure.example.com',
        tls: { ca: cert },
        h2c: true,
      });
      expect(res.httpVersion).toBe('2');
      expect(res.json()).toEqual({ authority: 'secure.example.com', v: '2.0' });
    } finally {
      await shut(server);
    }
  });

  it('never follows redirects and reports headers', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(301, { Location: 'https://elsewhere.example.com/', 'Set-Cookie': ['a=1', 'b=2'] });
      res.end();
    });
    const port = await listen(server);
    try {
      const res = await httpRequest({ address: '127.0.0.1', port, host: 'r.example.com' });
      expect(res.status).toBe(301);
      expect(res.headers['location']).toBe('https://elsewhere.example.com/');
      expect(res.headers['set-cookie']).toBe('a=1, b=2');
      expect(() => res.json()).toThrow(/not JSON/);
    } finally {
      await shut(server);
    }
  });

  it.each([false, true])('rejects when the server does not answer within timeoutMs (h2c=%s)', async (h2c) => {
    const { startBackend } = await import('./server.ts');
    const b = await startBackend({ kind: 'timeout' });
    try {
      await expect(
        httpRequest({
          address: b.address,
          port: b.port,
          host: 't',
          path: '/?initialTimeout=60000',
          h2c,
          timeoutMs: 200,
        }),
      ).rejects.toThrow(/timed out/);
    } finally {
      await b.close(100);
    }
  });

  it('rejects on a refused connection', async () => {
    const server = http.createServer();
    const port = await listen(server);
    await shut(server);
    await expect(httpRequest({ address: '127.0.0.1', port, host: 'x' })).rejects.toThrow(/ECONNREFUSED/);
    await expect(httpRequest({ address: '127.0.0.1', port, host: 'x', h2c: true })).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});
