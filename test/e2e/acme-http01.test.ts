// ACME HTTP-01 with httpOption Redirected (issue 4): Knative prepends the challenge path
// `/.well-known/acme-challenge/<token>` (to the solver Service) to the rule of its host. The
// challenge must be answered over plain HTTP — the ACME server and cert-manager's self-check fetch
// http://<host>/.well-known/acme-challenge/<token> — while every other plain-HTTP request is
// still redirected to https.
import { httpRequest } from '../backends/client.ts';
import { createTlsSecret, rule, runtimeGet, split } from './conformance.ts';
import {
  createIngress,
  publicGateway,
  startEnv,
  startTestBackend,
  TEST_NAMESPACE,
  waitReady,
  type Env,
} from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('challenge path served over plain HTTP under httpOption Redirected, the rest redirected', async () => {
  const name = 'acme-http01';
  const solver = `${name}-solver`;
  await startTestBackend(env, { name });
  await startTestBackend(env, { name: solver });
  const host = `${name}.example.com`;
  const challenge = '/.well-known/acme-challenge/tok123';
  const ca = await createTlsSecret(env, name, [host]);
  await createIngress(env, name, {
    httpOption: 'Redirected',
    tls: [{ hosts: [host], secretName: name, secretNamespace: TEST_NAMESPACE }],
    // As Knative builds it: the challenge path first, then the Route's own path.
    rules: [rule([host], [{ path: challenge, splits: [split(solver)] }, { splits: [split(name)] }])],
  });
  const ing = await waitReady(env, name);
  const plain = await publicGateway(env, ing, 80);

  // The challenge: 200 from the solver, over plain HTTP, with the path unchanged.
  const served = await runtimeGet(plain, host, { path: challenge });
  expect(served.host.suffix).toBe(solver);
  expect(served.request.uri).toBe(challenge);

  // Anything else on plain HTTP: a redirect to https.
  for (const path of ['/other', '/', '/.well-known/acme-challenge/other-token']) {
    const res = await httpRequest({ address: plain.address, port: plain.port, host, path });
    expect({ path, redirect: [301, 308].includes(res.status) }).toEqual({ path, redirect: true });
    expect(res.headers.location).toBe(`https://${host}${path}`);
  }

  // HTTPS serves both paths.
  const secure = await publicGateway(env, ing, 443);
  expect((await runtimeGet(secure, host, { path: '/other', tls: { ca } })).host.suffix).toBe(name);
  expect((await runtimeGet(secure, host, { path: challenge, tls: { ca } })).host.suffix).toBe(solver);
});

test('a Redirected KIngress without a certificate yet turns Ready (its HTTP probe is redirected, which counts as served, as in Knative)', async () => {
  // Knative's first issuance: the host has no TLS entry yet, only the challenge path.
  const name = 'acme-first';
  await startTestBackend(env, { name });
  const host = `${name}.example.com`;
  await createIngress(env, name, {
    httpOption: 'Redirected',
    rules: [
      rule(
        [host],
        [{ path: '/.well-known/acme-challenge/t0', splits: [split(name)] }, { splits: [split(name)] }],
      ),
    ],
  });
  const ing = await waitReady(env, name);
  const plain = await publicGateway(env, ing, 80);
  expect((await runtimeGet(plain, host, { path: '/.well-known/acme-challenge/t0' })).host.suffix).toBe(name);
  const other = await httpRequest({ address: plain.address, port: plain.port, host, path: '/x' });
  expect(other.status).toBe(301);
});
