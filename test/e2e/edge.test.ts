// Edge defaults (issue 8, item 7) with real Envoy: each KnativeGateway fleets[].http, clientIP and
// envoy.maxHeapMiB setting, proven with real requests through the operator's local fleets.
//
// Fleet `external` keeps the path and Host defaults, and sets small limits so the tests are quick:
// headers within 1 s, streams idle at most 2 s, headers at most 8 KiB / 30, a default host for
// HTTP/1.0, one trusted X-Forwarded-For hop and a 256 MiB heap limit. Fleet `proxied` expects a
// PROXY protocol header on every connection (kgw's own probes send one, or nothing would be Ready).
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { fleetDomainInternal } from '../../operator/api/knativegateway.ts';
import { httpRequest } from '../backends/client.ts';
import type { RuntimeInfo } from '../backends/runtime.ts';
import { adminRequest } from '../env/envoy.ts';
import { waitUntil } from '../env/proc.ts';
import { createReady, createTlsSecret, rule, split, startBackends, type Gateway } from './conformance.ts';
import { resolveGateway, startEnv, type Env } from './harness.ts';

const gateway = {
  apiVersion: 'operator.kgw.dev/v1alpha1',
  kind: 'KnativeGateway',
  metadata: { name: 'default' },
  spec: {
    fleets: [
      {
        name: 'external',
        visibility: 'ExternalIP',
        replicas: 1,
        http: {
          requestHeadersTimeoutSeconds: 1,
          streamIdleTimeoutSeconds: 2,
          maxRequestHeadersKiB: 8,
          maxRequestHeaders: 30,
          http10: { defaultHost: 'edge.example.com' },
        },
        clientIP: { xffNumTrustedHops: 1 },
        envoy: { maxHeapMiB: 256 },
      },
      { name: 'proxied', visibility: 'ExternalIP', replicas: 1, clientIP: { proxyProtocol: true } },
    ],
  },
};

const HOST = 'edge.example.com';
const WILD = '*.wild.example.com';
const SLOW = 'slow.example.com';
/** A client address a PROXY header or X-Forwarded-For claims (never dialled). */
const CLAIMED = '198.19.0.7';

let env: Env;
let external: Gateway;
let proxied: Gateway;
let ca: string;

beforeAll(async () => {
  env = await startEnv({ gateway });
  await startBackends(env, [{ name: 'edge' }, { name: 'edge-slow', kind: 'timeout' }]);
  ca = await createTlsSecret(env, 'edge-tls', [HOST]);
  await createReady(env, 'edge', {
    tls: [{ hosts: [HOST], secretName: 'edge-tls', secretNamespace: 'serving-tests' }],
    rules: [
      rule(
        [HOST, WILD],
        [
          // Routes only the normalised paths reach; the header says which route answered.
          { path: '/b', splits: [split('edge')], appendHeaders: { 'K-Route': 'b' } },
          { path: '/x', splits: [split('edge')], appendHeaders: { 'K-Route': 'x' } },
          { splits: [split('edge')] },
        ],
      ),
      rule([SLOW], [{ splits: [split('edge-slow')] }]),
    ],
  });
  external = await resolveGateway(env, fleetDomainInternal('default', 'external'));
  proxied = await resolveGateway(env, fleetDomainInternal('default', 'proxied'));
}, 240_000);
afterAll(async () => {
  await env?.stop();
});

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses what an HTTP/1.x server sent until it closed (chunked bodies decoded). */
function parseRaw(raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete response: ${JSON.stringify(raw.slice(0, 300))}`);
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let out = '';
    for (;;) {
      const nl = body.indexOf('\r\n');
      const size = parseInt(body.slice(0, nl), 16);
      if (!(size > 0)) break;
      out += body.slice(nl + 2, nl + 2 + size);
      body = body.slice(nl + 2 + size + 2);
    }
    body = out;
  }
  return { status: Number(m[1]), headers, body };
}

/**
 * Writes `chunks` on `socket` and collects everything until the server closes the connection.
 * Rejects when it stays open longer than `timeoutMs` (the server did not cut it off).
 */
function exchange(socket: net.Socket, chunks: (string | Buffer)[], timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const data: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`connection still open after ${timeoutMs} ms; got ${Buffer.concat(data).length} bytes`),
      );
    }, timeoutMs);
    socket.on('data', (d: Buffer) => data.push(d));
    socket.on('error', () => undefined); // a reset after the response still ends the exchange
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(data).toString('utf8'));
    });
    for (const c of chunks) socket.write(c);
  });
}

function connect(gw: Gateway): net.Socket {
  return net.connect({ host: gw.address, port: gw.port });
}

/** PROXY protocol v1: a text line with the claimed client and the real destination. */
function proxyV1(src: string, gw: Gateway): string {
  return `PROXY TCP4 ${src} ${gw.address} 40000 ${gw.port}\r\n`;
}

/** PROXY protocol v2: signature, PROXY command over TCP/IPv4, both addresses and ports. */
function proxyV2(src: string, gw: Gateway, dstPort = gw.port): Buffer {
  const ip = (a: string) => a.split('.').map(Number);
  const port = (p: number) => [p >> 8, p & 0xff];
  return Buffer.from([
    0x0d,
    0x0a,
    0x0d,
    0x0a,
    0x00,
    0x0d,
    0x0a,
    0x51,
    0x55,
    0x49,
    0x54,
    0x0a,
    0x21,
    0x11,
    0x00,
    0x0c,
    ...ip(src),
    ...ip(gw.address),
    ...port(40000),
    ...port(dstPort),
  ]);
}

const GET = (path: string, host: string) =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

function runtime(r: RawResponse): RuntimeInfo {
  if (r.status !== 200) throw new Error(`status ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as RuntimeInfo;
}

describe('HTTP/1.0 (http.http10)', () => {
  test('an HTTP/1.0 request is served, not answered 426', async () => {
    const r = parseRaw(await exchange(connect(external), [`GET / HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`]));
    expect(r.status).toBe(200);
    expect(runtime(r).request.host).toBe(HOST);
  });

  test('an HTTP/1.0 request without Host gets the default host', async () => {
    const r = parseRaw(await exchange(connect(external), ['GET / HTTP/1.0\r\n\r\n']));
    expect(runtime(r).request.host).toBe(HOST);
  });
});

describe('paths are normalised before routing (http.normalizePath, mergeSlashes, escapedSlashes)', () => {
  test('/a/../b reaches the route for /b, as /b', async () => {
    const info = runtime(parseRaw(await exchange(connect(external), [GET('/a/../b', HOST)])));
    expect(info.request.uri).toBe('/b');
    expect(info.request.headers['K-Route']).toEqual(['b']);
  });

  test('//x reaches the route for /x, as /x', async () => {
    const info = runtime(parseRaw(await exchange(connect(external), [GET('//x', HOST)])));
    expect(info.request.uri).toBe('/x');
    expect(info.request.headers['K-Route']).toEqual(['x']);
  });

  test('an escaped slash is redirected to the unescaped path', async () => {
    const r = parseRaw(await exchange(connect(external), [GET('/b%2Fc', HOST)]));
    expect({ status: r.status, location: r.headers.location }).toEqual({ status: 307, location: '/b/c' });
  });
});

describe('Host clean-up (http.stripTrailingHostDot, stripHostPort)', () => {
  test.each([
    ['a trailing dot', `${HOST}.`, HOST],
    ['a port', `${HOST}:8080`, HOST],
    ['a trailing dot and a port', `${HOST}.:8080`, HOST],
    ['a wildcard host with a port', 'a.wild.example.com:8080', 'a.wild.example.com'],
  ])('%s: served by the vhost, the backend gets the bare host', async (_what, sent, bare) => {
    const res = await httpRequest({ ...external, host: sent });
    expect(res.status).toBe(200);
    expect(res.json<RuntimeInfo>().request.host).toBe(bare);
  });
});

describe('timeouts (http.requestHeadersTimeoutSeconds, streamIdleTimeoutSeconds)', () => {
  test('a client sending its headers slower than the timeout is cut off with 408', async () => {
    // The request line and one header, then nothing: the headers never end.
    const raw = await exchange(connect(external), [`GET / HTTP/1.1\r\nHost: ${HOST}\r\n`]);
    const r = parseRaw(raw);
    expect({ status: r.status, body: r.body }).toEqual({ status: 408, body: 'request header timeout' });
  });

  test('a request idle longer than the stream idle timeout ends (504 while the backend is silent)', async () => {
    // The backend waits 8 s before answering; the fleet gives up on an idle stream after 2 s.
    const res = await httpRequest({
      ...external,
      host: SLOW,
      path: '/?initialTimeout=8000',
      timeoutMs: 15_000,
    });
    expect({ status: res.status, body: res.body }).toEqual({ status: 504, body: 'stream timeout' });
  });
});

describe('header limits (http.maxRequestHeadersKiB, maxRequestHeaders)', () => {
  test('headers larger than the limit get 431', async () => {
    const big = await httpRequest({ ...external, host: HOST, headers: { 'X-Big': 'a'.repeat(10 * 1024) } });
    expect(big.status).toBe(431);
    const fits = await httpRequest({ ...external, host: HOST, headers: { 'X-Big': 'a'.repeat(4 * 1024) } });
    expect(fits.status).toBe(200);
  });

  test('more headers than the limit get 431', async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`X-H${i}`, 'v']));
    expect((await httpRequest({ ...external, host: HOST, headers: many })).status).toBe(431);
    const few = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-H${i}`, 'v']));
    expect((await httpRequest({ ...external, host: HOST, headers: few })).status).toBe(200);
  });
});

describe('client address (clientIP)', () => {
  test('one trusted hop: the last X-Forwarded-For entry is the client', async () => {
    const res = await httpRequest({
      ...external,
      host: HOST,
      headers: { 'X-Forwarded-For': `198.19.0.99, ${CLAIMED}` },
    });
    const h = res.json<RuntimeInfo>().request.headers;
    expect(h['X-Envoy-External-Address']).toEqual([CLAIMED]);
    // Envoy appends the address that connected (the test process, on the root side of the network).
    const xff = h['X-Forwarded-For']?.[0]?.split(/,\s*/);
    expect(xff?.slice(0, 2)).toEqual(['198.19.0.99', CLAIMED]);
    expect(xff?.[2]).toMatch(/^198\.18\.\d+\.1$/);
    expect(xff).toHaveLength(3);
  });

  test.each([
    ['v1', (gw: Gateway) => proxyV1(CLAIMED, gw)],
    ['v2', (gw: Gateway) => proxyV2(CLAIMED, gw)],
  ])('PROXY protocol %s: the backend sees the proxied client address', async (_v, header) => {
    const info = runtime(parseRaw(await exchange(connect(proxied), [header(proxied), GET('/', HOST)])));
    expect(info.request.headers['X-Forwarded-For']).toEqual([CLAIMED]);
    expect(info.request.headers['X-Envoy-External-Address']).toEqual([CLAIMED]);
  });

  test('PROXY protocol before TLS: the header comes first, then the handshake', async () => {
    const httpsGw = await resolveGateway(env, fleetDomainInternal('default', 'proxied'), 443);
    const raw = net.connect({ host: httpsGw.address, port: httpsGw.port });
    raw.write(proxyV2(CLAIMED, httpsGw));
    const secure = tls.connect({ socket: raw, servername: HOST, ca });
    const info = runtime(parseRaw(await exchange(secure, [GET('/', HOST)])));
    expect(info.request.headers['X-Forwarded-For']).toEqual([CLAIMED]);
  });

  test('a connection without a PROXY header is closed unanswered', async () => {
    expect(await exchange(connect(proxied), [GET('/', HOST)])).toBe('');
  });
});

describe('overload manager (envoy.maxHeapMiB)', () => {
  /** The bootstrap's heap limit and the fixed-heap pressure stat of a fleet's first replica. */
  async function overload(fleet: string): Promise<{ maxHeap: string; pressure: string }> {
    const socket = join(env.workDir, 'envoy', `default-${fleet}-0.admin.sock`);
    const dump = await adminRequest(socket, 'GET', '/config_dump');
    interface Dump {
      configs: {
        bootstrap?: {
          overload_manager?: { resource_monitors?: { typed_config?: { max_heap_size_bytes?: string } }[] };
        };
      }[];
    }
    const bootstrap = (JSON.parse(dump.body) as Dump).configs.find((c) => c.bootstrap)?.bootstrap;
    const maxHeap =
      bootstrap?.overload_manager?.resource_monitors?.[0]?.typed_config?.max_heap_size_bytes ?? '';
    const pressure = await waitUntil(
      `${fleet}: fixed_heap pressure`,
      async () => {
        const stats = await adminRequest(socket, 'GET', '/stats?filter=^overload\\.');
        return /overload\.envoy\.resource_monitors\.fixed_heap\.pressure: (\d+)/.exec(stats.body)?.[1];
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    return { maxHeap, pressure };
  }

  test('the fleet Envoys run it with the configured or the default heap limit', async () => {
    expect((await overload('external')).maxHeap).toBe(String(256 * 2 ** 20));
    // No memory limit: 2048 MiB.
    expect((await overload('proxied')).maxHeap).toBe(String(2048 * 2 ** 20));
  });
});
