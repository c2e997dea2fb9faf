import http from 'node:http';
import http2 from 'node:http2';
import { httpRequest } from './client.ts';
import { startBackend, type Backend } from './server.ts';

let b: Backend;
beforeAll(async () => {
  b = await startBackend({ kind: 'timeout' });
});
afterAll(async () => {
  await b.close(100);
});

/** Progress flags of one slow request, observed without measuring time. */
interface Progress {
  headers: boolean;
  status: number;
  bodyBytes: number;
  ended: boolean;
  /** Resolves when the response headers arrive. */
  gotHeaders: Promise<void>;
  cancel(): void;
}

function watchH1(path: string): Progress {
  let onHeaders!: () => void;
  const p: Progress = {
    headers: false,
    status: 0,
    bodyBytes: 0,
    ended: false,
    gotHeaders: new Promise<void>((r) => (onHeaders = r)),
    cancel: () => req.destroy(),
  };
  const req = http.get({ host: b.address, port: b.port, path, agent: false }, (res) => {
    p.headers = true;
    p.status = res.statusCode ?? 0;
    onHeaders();
    res.on('data', (c: Buffer) => (p.bodyBytes += c.length));
    res.on('end', () => (p.ended = true));
  });
  req.on('error', () => undefined);
  return p;
}

function watchH2(path: string): Progress {
  let onHeaders!: () => void;
  const session = http2.connect(`http://${b.address}:${b.port}`);
  session.on('error', () => undefined);
  const p: Progress = {
    headers: false,
    status: 0,
    bodyBytes: 0,
    ended: false,
    gotHeaders: new Promise<void>((r) => (onHeaders = r)),
    cancel: () => session.destroy(),
  };
  const stream = session.request({ ':path': path });
  stream.on('error', () => undefined);
  stream.on('response', (h) => {
    p.headers = true;
    p.status = Number(h[':status']);
    onHeaders();
  });
  stream.on('data', (c: Buffer) => (p.bodyBytes += c.length));
  stream.on('end', () => (p.ended = true));
  return p;
}

const quick = (h2c: boolean) =>
  httpRequest({
    address: b.address,
    port: b.port,
    host: 't.example.com',
    path: '/?initialTimeout=0&timeout=0',
    h2c,
  });

describe.each([
  ['HTTP/1.1', false, watchH1],
  ['h2c', true, watchH2],
])('timeout backend over %s', (_name, h2c, watch) => {
  it('answers 200 with a body when both sleeps are 0', async () => {
    const res = await quick(h2c);
    expect(res.status).toBe(200);
    expect(res.body).toContain('slept 0 ms');
  });

  it('sends headers before sleeping `timeout`, and the body only after', async () => {
    const slow = watch('/?initialTimeout=0&timeout=60000');
    try {
      await slow.gotHeaders;
      expect(slow.status).toBe(200);
      // A whole other request completes while the slow one still has no body.
      expect((await quick(h2c)).status).toBe(200);
      expect(slow.headers).toBe(true);
      expect(slow.bodyBytes).toBe(0);
      expect(slow.ended).toBe(false);
    } finally {
      slow.cancel();
    }
  });

  it('holds the headers back while sleeping `initialTimeout`', async () => {
    const slow = watch('/?initialTimeout=60000&timeout=0');
    try {
      expect((await quick(h2c)).status).toBe(200);
      expect((await quick(h2c)).status).toBe(200);
      expect(slow.headers).toBe(false);
    } finally {
      slow.cancel();
    }
  });
});

it('rejects malformed durations with 400', async () => {
  const res = await httpRequest({ address: b.address, port: b.port, host: 't', path: '/?timeout=abc' });
  expect(res.status).toBe(400);
});
