// Conformance `retry` (the gateway must not retry a 5xx: the retry backend's first answer, 503,
// reaches the client) and `timeout` (no short request / first-byte / idle timeout: 10 s before
// headers and 10 s between headers and body both succeed).
import { httpRequest } from '../backends/client.ts';
import { createReady, rule, split, startBackends } from './conformance.ts';
import { publicGateway, startEnv, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('retry', async () => {
  const name = 'retry';
  await startBackends(env, [{ name, kind: 'retry', portName: 'http2' }]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, { rules: [rule([host], [{ splits: [split(name)] }])] });
  const gw = await publicGateway(env, ing);
  const first = await httpRequest({ address: gw.address, port: gw.port, host });
  expect({ status: first.status, body: first.body }).toEqual({ status: 503, body: 'Retry 0' });
  const second = await httpRequest({ address: gw.address, port: gw.port, host });
  expect({ status: second.status, body: second.body }).toEqual({ status: 200, body: 'Retry 1' });
});

test('timeout', async () => {
  const name = 'timeout';
  await startBackends(env, [{ name, kind: 'timeout' }]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, { rules: [rule([host], [{ splits: [split(name)] }])] });
  const gw = await publicGateway(env, ing);
  const paths = [
    '/?initialTimeout=0&timeout=0',
    '/?initialTimeout=10000&timeout=0',
    '/?initialTimeout=0&timeout=10000',
  ];
  const results = await Promise.all(
    paths.map(async (path) => {
      const res = await httpRequest({ address: gw.address, port: gw.port, host, path, timeoutMs: 60_000 });
      return { path, status: res.status };
    }),
  );
  expect(results).toEqual(paths.map((path) => ({ path, status: 200 })));
}, 120_000);
