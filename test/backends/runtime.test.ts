import { httpRequest } from './client.ts';
import { startBackend, type Backend } from './server.ts';
import type { RuntimeInfo } from './runtime.ts';

let b: Backend;
beforeAll(async () => {
  b = await startBackend({ kind: 'runtime', suffix: 'blue' });
});
afterAll(async () => {
  await b.close(100);
});

describe('runtime backend', () => {
  it('describes an HTTP/1.1 request', async () => {
    const res = await httpRequest({
      address: b.address,
      port: b.port,
      host: 'app.example.com',
      path: '/some/path?x=1&y=2',
      method: 'PUT',
      body: 'ignored',
      headers: { 'foo-BAR-baz': 'one', 'X-Multi': ['a', 'b'] },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toContain('no-cache');
    expect(res.headers['pragma']).toBe('no-cache');
    const info = res.json<RuntimeInfo>();
    expect(info.request).toMatchObject({
      uri: '/some/path?x=1&y=2',
      host: 'app.example.com',
      method: 'PUT',
      protoMajor: 1,
      protoMinor: 1,
    });
    expect(Number.isNaN(Date.parse(info.request.ts))).toBe(false);
    expect(info.request.headers['Foo-Bar-Baz']).toEqual(['one']);
    expect(info.request.headers['X-Multi']).toEqual(['a', 'b']);
    expect(info.request.headers['Host']).toBeUndefined();
    expect(info.host.suffix).toBe('blue');
  });

  it('describes an h2c request with protoMajor 2 and the :authority as host', async () => {
    const res = await httpRequest({
      address: b.address,
      port: b.port,
      host: 'app.example.com:80',
      path: '/h2',
      h2c: true,
      headers: { 'foo-bar-baz': 'two' },
    });
    expect(res.status).toBe(200);
    expect(res.httpVersion).toBe('2');
    const info = res.json<RuntimeInfo>();
    expect(info.request).toMatchObject({
      uri: '/h2',
      host: 'app.example.com:80',
      protoMajor: 2,
      protoMinor: 0,
    });
    expect(info.request.headers['Foo-Bar-Baz']).toEqual(['two']);
    expect(Object.keys(info.request.headers).some((k) => k.startsWith(':'))).toBe(false);
  });

  it.each([
    [false, 'HTTP/1.1'],
    [true, 'h2c'],
  ])('/healthz: 200 for the kubelet only (h2c=%s, %s)', async (h2c) => {
    const base = { address: b.address, port: b.port, host: 'app.example.com', path: '/healthz', h2c };
    const kubelet = await httpRequest({ ...base, headers: { 'User-Agent': 'kube-probe/1.30' } });
    expect(kubelet.status).toBe(200);
    const other = await httpRequest({ ...base, headers: { 'User-Agent': 'curl/8' } });
    expect(other.status).toBe(400);
  });
});
