import { httpRequest } from './client.ts';
import { BACKEND_KINDS, startBackend, type Backend } from './server.ts';
import type { RuntimeInfo } from './runtime.ts';

const backends: Backend[] = [];
let gateway: Backend;

beforeAll(async () => {
  gateway = await startBackend({ kind: 'runtime', suffix: 'gw' });
  backends.push(gateway);
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.close(100)));
});

async function start(kind: (typeof BACKEND_KINDS)[number]): Promise<Backend> {
  const b = await startBackend({
    kind,
    suffix: 'x',
    gateway: `127.0.0.1:${gateway.port}`,
    targetHost: 'target.example.com',
  });
  backends.push(b);
  return b;
}

describe.each(BACKEND_KINDS.map((k) => [k]))('probe contract on %s', (kind) => {
  it.each([
    ['HTTP/1.1', false],
    ['h2c', true],
  ])('over %s: echoes the hash, 400 when it is empty or missing', async (_name, h2c) => {
    const b = await start(kind);
    const base = { address: b.address, port: b.port, host: 'probe.example.com', path: '/healthz', h2c };
    const ok = await httpRequest({
      ...base,
      headers: {
        'K-Network-Probe': 'probe',
        'K-Network-Hash': 'abc123',
        'User-Agent': 'Knative-Ingress-Probe',
      },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['k-network-hash']).toBe('abc123');
    expect(ok.httpVersion).toBe(h2c ? '2' : '1.1');

    const empty = await httpRequest({
      ...base,
      headers: { 'K-Network-Probe': 'probe', 'K-Network-Hash': '' },
    });
    expect(empty.status).toBe(400);
    expect(empty.headers['k-network-hash']).toBeUndefined();

    const missing = await httpRequest({ ...base, headers: { 'K-Network-Probe': 'probe' } });
    expect(missing.status).toBe(400);
  });
});

describe('probe handler pass-through', () => {
  it.each([
    ['HTTP/1.1', false],
    ['h2c', true],
  ])('over %s: removes K-Network-Hash from normal requests', async (_name, h2c) => {
    const b = await start('runtime');
    const res = await httpRequest({
      address: b.address,
      port: b.port,
      host: 'a.example.com',
      h2c,
      headers: { 'K-Network-Hash': 'override', 'K-Network-Probe': 'activator', 'Foo-Bar-Baz': 'keep' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['k-network-hash']).toBeUndefined();
    const info = res.json<RuntimeInfo>();
    expect(info.request.headers['K-Network-Hash']).toBeUndefined();
    expect(info.request.headers['K-Network-Probe']).toEqual(['activator']);
    expect(info.request.headers['Foo-Bar-Baz']).toEqual(['keep']);
  });
});
