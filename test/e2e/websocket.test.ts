// Conformance `websocket` and `websocket/split`: WebSocket upgrades through the public gateway to
// wsserver backends, which echo every message with " <suffix>" appended.
import { wsDial } from '../backends/client.ts';
import { createReady, rule, split, startBackends } from './conformance.ts';
import { publicGateway, startEnv, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('websocket', async () => {
  const suffix = '- pong';
  await startBackends(env, [{ name: 'websocket', kind: 'wsserver', suffix }]);
  const host = 'websocket.example.com';
  const ing = await createReady(env, 'websocket', {
    rules: [rule([host], [{ splits: [split('websocket')] }])],
  });
  const gw = await publicGateway(env, ing);
  const conn = await wsDial({ address: gw.address, port: gw.port, host });
  try {
    for (let i = 0; i < 100; i++) {
      const msg = `hello ${i}`;
      expect(await conn.send(msg)).toBe(`${msg} ${suffix}`);
    }
  } finally {
    await conn.close();
  }
});

test('websocket/split', async () => {
  const suffixes = ['- blue', '- green'];
  await startBackends(env, [
    { name: 'websocket-blue', kind: 'wsserver', suffix: suffixes[0] },
    { name: 'websocket-green', kind: 'wsserver', suffix: suffixes[1] },
  ]);
  const host = 'websocket-split.example.com';
  const ing = await createReady(env, 'websocket-split', {
    rules: [
      rule(
        [host],
        [{ splits: [split('websocket-blue', { percent: 50 }), split('websocket-green', { percent: 50 })] }],
      ),
    ],
  });
  const gw = await publicGateway(env, ing);
  const seenSuffixes = new Set<string>();
  for (let c = 0; c < 100 && seenSuffixes.size < 2; c++) {
    const conn = await wsDial({ address: gw.address, port: gw.port, host });
    try {
      let connSuffix: string | undefined;
      for (let i = 0; i < 10; i++) {
        const msg = `conn ${c} message ${i}`;
        const reply = await conn.send(msg);
        expect(reply.startsWith(`${msg} `)).toBe(true);
        const got = reply.slice(msg.length + 1);
        expect(suffixes).toContain(got);
        connSuffix ??= got;
        // Every message on one connection is answered by the same backend.
        expect(got).toBe(connSuffix);
      }
      seenSuffixes.add(connSuffix!);
    } finally {
      await conn.close();
    }
  }
  expect([...seenSuffixes].sort()).toEqual([...suffixes].sort());
});
