import { httpRequest, runRequests } from './client.ts';
import { startBackend, type Backend } from './server.ts';
import type { RuntimeInfo } from './runtime.ts';

let target: Backend;
let proxy: Backend;
beforeAll(async () => {
  target = await startBackend({ kind: 'runtime', suffix: 'private' });
  proxy = await startBackend({
    kind: 'httpproxy',
    gateway: `127.0.0.1:${target.port}`,
    targetHost: 'priv.serving-tests.svc.cluster.local',
  });
});
afterAll(async () => {
  await proxy.close(100);
  await target.close(100);
});

describe('httpproxy backend', () => {
  it.each([
    ['HTTP/1.1', false],
    ['h2c', true],
  ])('over %s: forwards with Host rewritten, path and headers kept', async (_n, h2c) => {
    const res = await httpRequest({
      address: proxy.address,
      port: proxy.port,
      host: 'public.example.com',
      path: '/foo?bar=1',
      h2c,
      headers: { 'Foo-Bar-Baz': 'v' },
    });
    expect(res.status).toBe(200);
    const info = res.json<RuntimeInfo>();
    expect(info.host.suffix).toBe('private');
    expect(info.request.host).toBe('priv.serving-tests.svc.cluster.local');
    expect(info.request.uri).toBe('/foo?bar=1');
    expect(info.request.protoMajor).toBe(1);
    expect(info.request.headers['Foo-Bar-Baz']).toEqual(['v']);
    expect(info.request.headers['X-Forwarded-For']).toEqual(['127.0.0.1']);
  });

  it('keeps forwarding across many requests on reused upstream connections', async () => {
    const out = await runRequests(60, 8, async () => {
      const r = await httpRequest({ address: proxy.address, port: proxy.port, host: 'public.example.com' });
      return r.status;
    });
    expect(out.map((o) => (o.ok ? o.value : o.error.message))).toEqual(Array(60).fill(200));
  });

  it('answers 502 when the gateway is unreachable', async () => {
    const dead = await startBackend({ kind: 'runtime' });
    const deadPort = dead.port;
    await dead.close(100);
    const p = await startBackend({ kind: 'httpproxy', gateway: `127.0.0.1:${deadPort}`, targetHost: 'x' });
    try {
      const res = await httpRequest({ address: p.address, port: p.port, host: 'public.example.com' });
      expect(res.status).toBe(502);
    } finally {
      await p.close(100);
    }
  });

  it('refuses to start without gateway and target host', async () => {
    await expect(startBackend({ kind: 'httpproxy' })).rejects.toThrow(/gateway/);
  });
});
