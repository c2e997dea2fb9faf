// Conformance `tls` (a TLS KIngress serves both http:// and https:// with SNI = host) and
// `httpoption` (two TLS KIngresses, Enabled and Redirected: HTTPS 200 for both; plain HTTP 200 for
// Enabled and 301 for Redirected, independently of each other).
import { httpRequest } from '../backends/client.ts';
import { createTlsSecret, rule, runtimeGet, split, startBackends } from './conformance.ts';
import { createIngress, publicGateway, startEnv, TEST_NAMESPACE, waitReady, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('tls', async () => {
  const name = 'tls';
  await startBackends(env, [{ name }]);
  const host = `${name}.example.com`;
  const ca = await createTlsSecret(env, name, [host]);
  await createIngress(env, name, {
    tls: [{ hosts: [host], secretName: name, secretNamespace: TEST_NAMESPACE }],
    rules: [rule([host], [{ splits: [split(name)] }])],
    httpOption: 'Enabled',
  });
  const ing = await waitReady(env, name);
  const http = await runtimeGet(await publicGateway(env, ing, 80), host);
  expect(http.host.suffix).toBe(name);
  const https = await runtimeGet(await publicGateway(env, ing, 443), host, { tls: { ca } });
  expect(https.host.suffix).toBe(name);
  expect(https.request.host).toBe(host);
});

test('httpoption', async () => {
  const name = 'httpoption';
  await startBackends(env, [{ name }]);
  const options = ['Enabled', 'Redirected'] as const;
  const made = await Promise.all(
    options.map(async (opt) => {
      const n = `${name}-${opt.toLowerCase()}`;
      const host = `${n}.example.com`;
      const ca = await createTlsSecret(env, n, [host]);
      return { opt, name: n, host, ca };
    }),
  );
  // Both KIngresses are created together, then awaited.
  await Promise.all(
    made.map((m) =>
      createIngress(env, m.name, {
        tls: [{ hosts: [m.host], secretName: m.name, secretNamespace: TEST_NAMESPACE }],
        rules: [rule([m.host], [{ splits: [split(name)] }])],
        httpOption: m.opt,
      }),
    ),
  );
  for (const m of made) {
    const ing = await waitReady(env, m.name);
    const https = await runtimeGet(await publicGateway(env, ing, 443), m.host, { tls: { ca: m.ca } });
    expect(https.host.suffix).toBe(name);
    const gw = await publicGateway(env, ing, 80);
    const plain = await httpRequest({ address: gw.address, port: gw.port, host: m.host });
    expect({ option: m.opt, status: plain.status }).toEqual({
      option: m.opt,
      status: m.opt === 'Enabled' ? 200 : 301,
    });
  }
});
