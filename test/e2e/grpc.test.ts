// Conformance `grpc` and `grpc/split`: gRPC (h2c prior knowledge, :authority host:80) through the
// public gateway to grpc-ping backends whose Service port is named http2 with appProtocol h2c.
import { grpcPing } from '../backends/client.ts';
import { createReady, rule, split, startBackends } from './conformance.ts';
import { publicGateway, startEnv, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

const grpcBackend = (name: string, suffix: string) =>
  ({ name, kind: 'grpc-ping', suffix, portName: 'http2', appProtocol: 'kubernetes.io/h2c' }) as const;

test('grpc', async () => {
  const suffix = '- pong';
  await startBackends(env, [grpcBackend('grpc', suffix)]);
  const host = 'grpc.example.com';
  const ing = await createReady(env, 'grpc', { rules: [rule([host], [{ splits: [split('grpc')] }])] });
  const gw = await publicGateway(env, ing);
  const client = grpcPing({ address: gw.address, port: gw.port, authority: `${host}:80`, timeoutMs: 60_000 });
  try {
    const stream = client.stream();
    for (let i = 0; i < 100; i++) {
      const msg = `hello ${i}`;
      expect(await stream.send(msg)).toBe(msg + suffix);
    }
    await stream.close();
  } finally {
    client.close();
  }
});

test('grpc/split', async () => {
  const suffixes = { 'grpc-blue': '- blue', 'grpc-green': '- green' };
  await startBackends(env, [
    grpcBackend('grpc-blue', suffixes['grpc-blue']),
    grpcBackend('grpc-green', suffixes['grpc-green']),
  ]);
  const host = 'grpc-split.example.com';
  const ing = await createReady(env, 'grpc-split', {
    rules: [
      rule([host], [{ splits: [split('grpc-blue', { percent: 50 }), split('grpc-green', { percent: 50 })] }]),
    ],
  });
  const gw = await publicGateway(env, ing);
  const seenSuffixes = new Set<string>();
  for (let s = 0; s < 100 && seenSuffixes.size < 2; s++) {
    // A fresh client (connection) per stream, like conformance's per-stream dial.
    const client = grpcPing({
      address: gw.address,
      port: gw.port,
      authority: `${host}:80`,
      timeoutMs: 30_000,
    });
    try {
      const stream = client.stream();
      let streamSuffix: string | undefined;
      for (let i = 0; i < 10; i++) {
        const msg = `stream ${s} message ${i}`;
        const reply = await stream.send(msg);
        expect(reply.startsWith(msg)).toBe(true);
        const got = reply.slice(msg.length);
        expect(Object.values(suffixes)).toContain(got);
        streamSuffix ??= got;
        // Every message on one stream comes from the same backend.
        expect(got).toBe(streamSuffix);
      }
      await stream.close();
      seenSuffixes.add(streamSuffix!);
    } finally {
      client.close();
    }
  }
  expect([...seenSuffixes].sort()).toEqual(Object.values(suffixes).sort());
});
