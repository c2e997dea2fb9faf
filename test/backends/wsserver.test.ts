import http from 'node:http';
import { WebSocketServer } from 'ws';
import { httpRequest, wsDial } from './client.ts';
import { startBackend, type Backend } from './server.ts';

let b: Backend;
beforeAll(async () => {
  b = await startBackend({ kind: 'wsserver', suffix: '- pong' });
});
afterAll(async () => {
  await b.close(100);
});

describe('wsserver backend', () => {
  it('echoes every message with " <suffix>" appended', async () => {
    const conn = await wsDial({ address: b.address, port: b.port, host: 'ws.example.com' });
    try {
      for (let i = 0; i < 20; i++) expect(await conn.send(`hello ${i}`)).toBe(`hello ${i} - pong`);
    } finally {
      await conn.close();
    }
  });

  it('serves several connections at once on any path', async () => {
    const conns = await Promise.all(
      ['/', '/a', '/b/c'].map((path) =>
        wsDial({ address: b.address, port: b.port, host: 'ws.example.com', path }),
      ),
    );
    try {
      const replies = await Promise.all(conns.map((c, i) => c.send(`m${i}`)));
      expect(replies).toEqual(['m0 - pong', 'm1 - pong', 'm2 - pong']);
    } finally {
      await Promise.all(conns.map((c) => c.close()));
    }
  });

  it('plain HTTP: 200 for the kubelet, 400 otherwise', async () => {
    const base = { address: b.address, port: b.port, host: 'ws.example.com' };
    expect((await httpRequest({ ...base, headers: { 'User-Agent': 'kube-probe/1.30' } })).status).toBe(200);
    expect((await httpRequest(base)).status).toBe(400);
  });

  it('answers a network probe that carries upgrade headers', async () => {
    const status = await new Promise<{ code: number; hash: string | undefined }>((resolve, reject) => {
      const req = http.get({
        host: b.address,
        port: b.port,
        agent: false,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'K-Network-Probe': 'probe',
          'K-Network-Hash': 'h1',
        },
      });
      req.on('response', (res) => {
        res.resume();
        const h = res.headers['k-network-hash'];
        resolve({ code: res.statusCode ?? 0, hash: typeof h === 'string' ? h : undefined });
      });
      req.on('upgrade', () => reject(new Error('probe was upgraded')));
      req.on('error', reject);
    });
    expect(status).toEqual({ code: 200, hash: 'h1' });
  });

  it('wsDial rejects a refused handshake with the HTTP status', async () => {
    const rt = await startBackend({ kind: 'runtime' });
    try {
      await expect(wsDial({ address: rt.address, port: rt.port, host: 'x' })).rejects.toThrow(/HTTP 200/);
    } finally {
      await rt.close(100);
    }
  });
});

describe('wsDial', () => {
  it('sends the chosen Host header and path', async () => {
    const seen: Array<{ host: string | undefined; url: string | undefined }> = [];
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      seen.push({ host: req.headers.host, url: req.url });
      ws.on('message', (m: Buffer) => ws.send(`got ${m.toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const conn = await wsDial({ address: '127.0.0.1', port, host: 'vanity.example.com', path: '/p?q=1' });
      expect(await conn.send('x')).toBe('got x');
      await conn.close();
      expect(seen).toEqual([{ host: 'vanity.example.com', url: '/p?q=1' }]);
    } finally {
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
