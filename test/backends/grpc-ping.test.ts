import * as grpc from '@grpc/grpc-js';
import { grpcPing, httpRequest, runRequests } from './client.ts';
import { listenDual, type DualServer } from './dual-server.ts';
import { encodeRequest, decodeResponse } from './grpc-codec.ts';
import { grpcPingHandler } from './grpc-ping.ts';
import { withProbe } from './probe.ts';
import { startBackend, type Backend } from './server.ts';

let b: Backend;
beforeAll(async () => {
  b = await startBackend({ kind: 'grpc-ping', suffix: '- pong' });
});
afterAll(async () => {
  await b.close(100);
});

describe('grpc-ping backend with a grpc-js client', () => {
  it('Ping replies with msg + suffix', async () => {
    const c = grpcPing({
      address: b.address,
      port: b.port,
      authority: 'grpc.example.com:80',
      timeoutMs: 10_000,
    });
    try {
      expect(await c.ping('hello')).toBe('hello- pong');
      expect(await c.ping('')).toBe('- pong');
    } finally {
      c.close();
    }
  });

  it('PingStream answers each message in order on one stream', async () => {
    const c = grpcPing({
      address: b.address,
      port: b.port,
      authority: 'grpc.example.com:80',
      timeoutMs: 10_000,
    });
    try {
      const s = c.stream();
      for (let i = 0; i < 50; i++) expect(await s.send(`m${i}`)).toBe(`m${i}- pong`);
      await s.close();
    } finally {
      c.close();
    }
  });

  it('serves many concurrent streams', async () => {
    const c = grpcPing({
      address: b.address,
      port: b.port,
      authority: 'grpc.example.com:80',
      timeoutMs: 10_000,
    });
    try {
      const out = await runRequests(20, 10, async (i) => {
        const s = c.stream();
        const replies: string[] = [];
        for (let j = 0; j < 5; j++) replies.push(await s.send(`${i}.${j}`));
        await s.close();
        return replies;
      });
      expect(out.every((o) => o.ok)).toBe(true);
      for (const o of out)
        if (o.ok) expect(o.value).toEqual([0, 1, 2, 3, 4].map((j) => `${o.index}.${j}- pong`));
    } finally {
      c.close();
    }
  });

  it('answers unknown methods with UNIMPLEMENTED', async () => {
    const client = new grpc.Client(`${b.address}:${b.port}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest(
          '/ping.PingService/Nope',
          (s: string) => encodeRequest(s),
          (buf: Buffer) => decodeResponse(buf),
          'x',
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (e) => resolve(e),
        );
      });
      expect(err?.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it('sends the chosen :authority', async () => {
    const seen: string[] = [];
    const inner = withProbe(grpcPingHandler('!'));
    const server: DualServer = await listenDual({
      host: '127.0.0.1',
      port: 0,
      handler: (req, res) => {
        seen.push(String(req.headers[':authority']));
        inner(req, res);
      },
    });
    const c = grpcPing({ address: server.address, port: server.port, authority: 'vanity.example.com:80' });
    try {
      expect(await c.ping('a')).toBe('a!');
      expect(seen).toEqual(['vanity.example.com:80']);
    } finally {
      c.close();
      await server.close(100);
    }
  });
});

describe('grpc-ping backend, non-gRPC requests', () => {
  it.each([
    ['HTTP/1.1', false],
    ['h2c', true],
  ])('over %s: 415 for plain requests, 200 for the kubelet', async (_n, h2c) => {
    const base = { address: b.address, port: b.port, host: 'grpc.example.com', h2c };
    expect((await httpRequest(base)).status).toBe(415);
    expect((await httpRequest({ ...base, headers: { 'User-Agent': 'kube-probe/1.30' } })).status).toBe(200);
  });
});
