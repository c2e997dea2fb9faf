import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { HEADER_HASH } from '../api/kingress.ts';
import { createCa, issueCertificate } from '../pki/ca.ts';
import {
  closeProbeConnections,
  PROBE_IDLE_MS,
  PROXY_V2_LOCAL,
  ProbeLimiter,
  probeAll,
  probeOnce,
  probeResult,
} from './prober.ts';

describe('ProbeLimiter', () => {
  test('runs at most max tasks at once, first come first served', async () => {
    const limiter = new ProbeLimiter(2);
    const started: number[] = [];
    const release: (() => void)[] = [];
    const tasks = [0, 1, 2, 3, 4].map((i) =>
      limiter.run(async () => {
        started.push(i);
        await new Promise<void>((r) => release.push(r));
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect([limiter.inFlight, limiter.queued]).toEqual([2, 3]);
    for (let step = 0; step < 5; step++) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
      expect(limiter.inFlight).toBeLessThanOrEqual(2);
    }
    expect(started).toEqual([0, 1, 2, 3, 4]);
    for (const r of release.splice(0)) r();
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4]);
    expect([limiter.inFlight, limiter.queued]).toEqual([0, 0]);
  });

  test('a failing task releases its slot', async () => {
    const limiter = new ProbeLimiter(1);
    await expect(limiter.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limiter.run(() => Promise.resolve('ok'))).toBe('ok');
    expect(limiter.inFlight).toBe(0);
  });
});

describe('probeAll', () => {
  test('poke() retries a target waiting out its backoff at once', async () => {
    let healthy = false;
    let requests = 0;
    const server = http.createServer((req, res) => {
      requests++;
      res.writeHead(healthy ? 200 : 503, { [HEADER_HASH]: 'h1' });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // Fake timers: the backoff sleep never ends by itself, so only poke() can finish the round.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const round = probeAll([{ address: '127.0.0.1', port, host: 'x.example.com', tls: false }], 'h1');
    try {
      const tick = () => new Promise((r) => setImmediate(r));
      for (let i = 0; i < 100_000 && jest.getTimerCount() === 0; i++) await tick();
      expect(requests).toBe(1); // one failed attempt, now sleeping
      healthy = true;
      round.poke();
      let result: boolean | undefined;
      void round.done.then((ok) => (result = ok));
      for (let i = 0; i < 100_000 && result === undefined; i++) await tick();
      expect(result).toBe(true);
      expect(requests).toBe(2);
    } finally {
      round.cancel();
      jest.useRealTimers();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('probeOnce with PROXY protocol', () => {
  /**
   * A listener like Envoy's with the proxy_protocol filter: it reads a 16-byte PROXY v2 header
   * (recorded; a connection without a valid one is closed), then relays the rest of the
   * connection to an HTTP or HTTPS server.
   */
  async function proxyListener(tlsOpts?: { cert: string; key: string }) {
    const headers: Buffer[] = [];
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(req.headers.host === 'x.example.com' ? 200 : 404, { [HEADER_HASH]: 'h1' });
      res.end();
    };
    const inner = tlsOpts ? https.createServer(tlsOpts, handler) : http.createServer(handler);
    await new Promise<void>((r) => inner.listen(0, '127.0.0.1', r));
    const innerPort = (inner.address() as AddressInfo).port;
    const sockets = new Set<net.Socket>();
    const outer = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < PROXY_V2_LOCAL.length) return;
        socket.off('data', onData);
        const header = buf.subarray(0, PROXY_V2_LOCAL.length);
        headers.push(header);
        if (!header.equals(PROXY_V2_LOCAL)) {
          socket.destroy();
          return;
        }
        const upstream = net.connect(innerPort, '127.0.0.1');
        sockets.add(upstream);
        upstream.on('close', () => sockets.delete(upstream));
        upstream.on('error', () => socket.destroy());
        upstream.write(buf.subarray(PROXY_V2_LOCAL.length));
        socket.pipe(upstream).pipe(socket);
      };
      socket.on('data', onData);
    });
    await new Promise<void>((r) => outer.listen(0, '127.0.0.1', r));
    return {
      headers,
      port: (outer.address() as AddressInfo).port,
      async close() {
        for (const s of sockets) s.destroy();
        inner.closeAllConnections();
        await Promise.all([new Promise((r) => outer.close(r)), new Promise((r) => inner.close(r))]);
      },
    };
  }

  test('plain HTTP: the probe starts with a PROXY v2 LOCAL header', async () => {
    const l = await proxyListener();
    try {
      const t = { address: '127.0.0.1', port: l.port, host: 'x.example.com', tls: false };
      expect(await probeOnce({ ...t, proxyProtocol: true }, 'h1')).toBe('ok');
      expect(l.headers).toEqual([PROXY_V2_LOCAL]);
      // Without the flag the listener sees HTTP where the header belongs and closes the connection.
      expect(await probeOnce(t, 'h1')).toBe('retry');
    } finally {
      await l.close();
    }
  });

  test('TLS: the PROXY header comes before the TLS handshake, SNI is the host', async () => {
    const ca = await createCa({ commonName: 'ca', validityDays: 1 });
    const leaf = await issueCertificate(ca, {
      commonName: 'x.example.com',
      dnsNames: ['x.example.com'],
      usage: 'server',
      validityDays: 1,
    });
    const l = await proxyListener({ cert: leaf.certPem, key: leaf.keyPem });
    try {
      const t = { address: '127.0.0.1', port: l.port, host: 'x.example.com', tls: true };
      expect(await probeOnce({ ...t, proxyProtocol: true }, 'h1')).toBe('ok');
      expect(l.headers).toEqual([PROXY_V2_LOCAL]);
    } finally {
      await l.close();
    }
  });
});

describe('probe failures', () => {
  test('probeResult says why a request failed; probeAll reports each failed request', async () => {
    const answers: { status: number; hash?: string }[] = [{ status: 404 }, { status: 200, hash: 'old' }];
    const server = http.createServer((_req, res) => {
      const a = answers.shift() ?? { status: 200, hash: 'h1' };
      res.writeHead(a.status, a.hash !== undefined ? { [HEADER_HASH]: a.hash } : {});
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const t = { address: '127.0.0.1', port, host: 'x.example.com', tls: false };
    try {
      const seen: string[] = [];
      const round = probeAll([t], 'h1', 20, undefined, (why) => seen.push(why));
      expect(await round.done).toBe(true);
      expect(seen).toEqual(['status', 'hash', 'ok']);
      answers.push({ status: 503 });
      expect(await probeResult(t, 'h1')).toBe('status');
      expect(await probeResult(t, 'h1')).toBe('ok');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    // nothing listens there any more
    expect(await probeResult(t, 'h1', 500)).toBe('error');
  });
});

describe('probe connections', () => {
  test('plain-HTTP probes to a replica reuse one connection; one Envoy closes (draining) is not reused', async () => {
    let connections = 0;
    let closeNext = false;
    const server = http.createServer((_req, res) => {
      const close = closeNext;
      closeNext = false;
      res.writeHead(200, { [HEADER_HASH]: 'h1', ...(close ? { Connection: 'close' } : {}) });
      res.end();
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const t = (host: string) => ({ address: '127.0.0.1', port, host, tls: false });
    try {
      // sequential probes of several hosts on one replica: one connection (a connect each before)
      for (const host of ['a.example.com', 'b.example.com', 'c.example.com', 'a.example.com'])
        expect(await probeResult(t(host), 'h1')).toBe('ok');
      expect(connections).toBe(1);
      // a listener being drained answers with Connection: close; the next probe connects anew
      closeNext = true;
      expect(await probeResult(t('a.example.com'), 'h1')).toBe('ok');
      expect(await probeResult(t('b.example.com'), 'h1')).toBe('ok');
      expect(connections).toBe(2);
    } finally {
      closeProbeConnections();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  test('idle probe connections close after PROBE_IDLE_MS', async () => {
    const closed: number[] = [];
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { [HEADER_HASH]: 'h1' });
      res.end();
    });
    server.keepAliveTimeout = 60_000;
    server.on('connection', (s: net.Socket) => s.on('close', () => closed.push(Date.now())));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const at = Date.now();
      expect(await probeResult({ address: '127.0.0.1', port, host: 'a.example.com', tls: false }, 'h1')).toBe(
        'ok',
      );
      for (let i = 0; i < 100 && closed.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(closed).toHaveLength(1);
      // closed by the prober's idle timeout, not kept for the server's (Node's default is 5 s too,
      // so the server's is raised here)
      expect((closed[0] ?? 0) - at).toBeGreaterThanOrEqual(PROBE_IDLE_MS - 100);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
