// Bad input never disturbs good objects: a KIngress pointing at a missing Service, at a missing or
// malformed Secret, or claiming a host another KIngress already serves gets a specific condition,
// while every other KIngress keeps serving. Dependencies heal (the Service appears → Ready), a
// failed update keeps the last good config serving, and a conflict loser takes over when the
// owner goes away.
import type { KIngress } from '../../operator/api/kingress.ts';
import { httpRequest } from '../backends/client.ts';
import { createReady, createTlsSecret, rule, split, updateIngressReady } from './conformance.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  getIngress,
  ingressPath,
  publicGateway,
  startEnv,
  startTestBackend,
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

async function waitCondition(name: string, reason: string, timeoutMs = 30_000): Promise<KIngress> {
  const deadline = Date.now() + timeoutMs;
  let last: KIngress | undefined;
  while (Date.now() < deadline) {
    last = await getIngress(env, name);
    const ready = last.status?.conditions?.find((c) => c.type === 'Ready');
    if (last.status?.observedGeneration === last.metadata.generation && ready?.reason === reason) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `${name}: no Ready reason ${reason} after ${timeoutMs} ms: ${JSON.stringify(last?.status)}`,
  );
}

async function suffixOf(host: string, gw: { address: string; port: number }): Promise<string> {
  const res = await httpRequest({ address: gw.address, port: gw.port, host });
  expect(res.status).toBe(200);
  return res.json<{ host: { suffix: string } }>().host.suffix;
}

test('bad KIngresses get specific conditions and never disturb the good one', async () => {
  await startTestBackend(env, { name: 'good' });
  await startTestBackend(env, { name: 'other' });
  const good = await createReady(env, 'good', {
    rules: [rule(['good.example.com'], [{ splits: [split('good')] }])],
  });
  const gw = await publicGateway(env, good);
  expect(await suffixOf('good.example.com', gw)).toBe('good');

  // Missing Service.
  await createIngress(env, 'no-service', {
    rules: [rule(['no-service.example.com'], [{ splits: [split('ghost')] }])],
  });
  const ns = await waitCondition('no-service', 'ServiceNotFound');
  const lb = ns.status?.conditions?.find((c) => c.type === 'LoadBalancerReady');
  expect(lb).toMatchObject({ status: 'False', reason: 'ServiceNotFound' });
  expect(ns.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(
    `Service ${TEST_NAMESPACE}/ghost does not exist`,
  );

  // Missing Secret and malformed Secret.
  const tls = (host: string, secretName: string) => ({
    tls: [{ hosts: [host], secretName, secretNamespace: TEST_NAMESPACE }],
    rules: [rule([host], [{ splits: [split('other')] }])],
  });
  await createIngress(env, 'no-secret', tls('no-secret.example.com', 'missing-secret'));
  await waitCondition('no-secret', 'SecretNotFound');
  await env.rest.request('POST', `/api/v1/namespaces/${TEST_NAMESPACE}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: 'garbage', namespace: TEST_NAMESPACE },
    data: {
      'tls.crt': Buffer.from('not a cert').toString('base64'),
      'tls.key': Buffer.from('nope').toString('base64'),
    },
  });
  await createIngress(env, 'bad-secret', tls('bad-secret.example.com', 'garbage'));
  await waitCondition('bad-secret', 'SecretInvalid');

  // Host conflict: the younger KIngress loses and the owner keeps serving.
  await createIngress(env, 'thief', { rules: [rule(['good.example.com'], [{ splits: [split('other')] }])] });
  const thief = await waitCondition('thief', 'DomainConflict');
  expect(thief.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(
    `host good.example.com is already served by KIngress ${TEST_NAMESPACE}/good`,
  );
  for (let i = 0; i < 20; i++) expect(await suffixOf('good.example.com', gw)).toBe('good');
  expect((await getIngress(env, 'good')).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe(
    'True',
  );

  // The missing Secret appears → Ready and served over HTTPS.
  const cert = await createTlsSecret(env, 'missing-secret', ['no-secret.example.com']);
  const fixed = await waitReady(env, 'no-secret');
  const gws = await publicGateway(env, fixed, 443);
  const https = await httpRequest({
    address: gws.address,
    port: gws.port,
    host: 'no-secret.example.com',
    tls: { ca: cert, servername: 'no-secret.example.com' },
  });
  expect(https.status).toBe(200);

  // The missing Service appears → Ready and served.
  await startTestBackend(env, { name: 'ghost' });
  await waitReady(env, 'no-service');
  expect(await suffixOf('no-service.example.com', gw)).toBe('ghost');

  // A failed update keeps the last good config serving.
  const cur = await getIngress(env, 'good');
  cur.spec.rules![0]!.http!.paths[0]!.splits = [split('phantom', { percent: 100 })];
  await env.rest.request('PUT', ingressPath(TEST_NAMESPACE, 'good'), cur);
  await waitCondition('good', 'ServiceNotFound');
  for (let i = 0; i < 10; i++) expect(await suffixOf('good.example.com', gw)).toBe('good');
  await updateIngressReady(env, 'good', (spec) => {
    spec.rules![0]!.http!.paths[0]!.splits = [split('good', { percent: 100 })];
  });

  // When the owner is deleted, the conflict loser takes the host over.
  await env.rest.request('DELETE', ingressPath(TEST_NAMESPACE, 'good'));
  await waitReady(env, 'thief');
  expect(await suffixOf('good.example.com', gw)).toBe('other');
}, 150_000);

test('a TLS Secret deleted while served: that certificate is withdrawn, everything else keeps serving', async () => {
  // kgw's definition: the SNI chain of a certificate whose Secret is gone is left out of the HTTPS
  // listener (so Envoy never waits for it); such connections get the fleet's default certificate
  // if it has one, else the handshake is refused. Plain HTTP for the host and every other
  // certificate keep serving; the KIngress says SecretNotFound until the Secret is back.
  await startTestBackend(env, { name: 'tls-pair' });
  const hostOf = (n: string) => `${n}.example.com`;
  const cas: Record<string, string> = {};
  for (const n of ['cert-goes', 'cert-stays']) {
    cas[n] = await createTlsSecret(env, n, [hostOf(n)]);
    await createIngress(env, n, {
      tls: [{ hosts: [hostOf(n)], secretName: n, secretNamespace: TEST_NAMESPACE }],
      rules: [rule([hostOf(n)], [{ splits: [split('tls-pair')] }])],
      httpOption: 'Enabled',
    });
  }
  const goes = await waitReady(env, 'cert-goes');
  await waitReady(env, 'cert-stays');
  const https = await publicGateway(env, goes, 443);
  const http = await publicGateway(env, goes, 80);
  const get = (n: string) =>
    httpRequest({
      address: https.address,
      port: https.port,
      host: hostOf(n),
      tls: { ca: cas[n]! },
      timeoutMs: 5000,
    });
  expect((await get('cert-goes')).status).toBe(200);

  await env.rest.request('DELETE', `/api/v1/namespaces/${TEST_NAMESPACE}/secrets/cert-goes`);
  await waitCondition('cert-goes', 'SecretNotFound');
  // the chain is withdrawn: no certificate for that name any more (bounded wait for Envoy's ACK)
  let refused: unknown;
  for (let i = 0; i < 50 && refused === undefined; i++) {
    refused = await get('cert-goes').then(
      () => undefined,
      (err: unknown) => err,
    );
    if (refused === undefined) await new Promise((r) => setTimeout(r, 200));
  }
  expect(String(refused)).toMatch(/socket disconnected|ECONNRESET|handshake|alert/i);
  expect((await get('cert-stays')).status).toBe(200);
  const plain = await httpRequest({ address: http.address, port: http.port, host: hostOf('cert-goes') });
  expect(plain.status).toBe(200);

  // back: served again with the new certificate
  cas['cert-goes'] = await createTlsSecret(env, 'cert-goes', [hostOf('cert-goes')]);
  await waitReady(env, 'cert-goes');
  expect((await get('cert-goes')).status).toBe(200);
}, 120_000);
