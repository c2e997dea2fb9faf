// A KnativeGateway's default (fallback) certificate: the fleet's HTTPS listener serves the Secret
// `kgw-<gateway>-default-tls` for any SNI no KIngress certificate covers, over SDS, so a renewed
// Secret reaches new connections while open ones keep working (no listener drain). Without
// cert-manager, the gateway says it cannot request the certificate.
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { startCertManager, type CertManager } from '../env/cert-manager.ts';
import { createTlsSecret, rule, split, startBackends } from './conformance.ts';
import { createIngress, publicGateway, startEnv, until, waitReady, type Env } from './harness.ts';

const gateway = {
  apiVersion: 'operator.kgw.dev/v1alpha1',
  kind: 'KnativeGateway',
  metadata: { name: 'default' },
  spec: {
    fleets: [{ name: 'external', visibility: 'ExternalIP', replicas: 1 }],
    domains: { default: 'example.com' },
    tls: { defaultCertificate: { issuer: { name: 'dns01' } } },
  },
};
const SECRET = 'kgw-default-default-tls';
const GW = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';

let env: Env;
let certManager: CertManager | undefined;
beforeAll(async () => {
  env = await startEnv({ gateway });
}, 180_000);
afterAll(async () => {
  await certManager?.stop();
  await env?.stop();
});

/** GET over `agent` with SNI `host`; resolves with the status and the served certificate's serial. */
function get(agent: https.Agent, address: string, port: number, host: string, ca: string[]) {
  return new Promise<{ status: number; serial: string; socket: TLSSocket }>((resolve, reject) => {
    const req = https.request(
      { host: address, port, path: '/', servername: host, headers: { host }, ca, agent, timeout: 5000 },
      (res) => {
        res.resume();
        const socket = res.socket as TLSSocket;
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, serial: socket.getPeerCertificate().serialNumber, socket }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('fallback certificate over SDS: served for uncovered SNI, renewed without dropping connections', async () => {
  // No cert-manager here: the gateway says why it cannot request the certificate.
  const blocked = await until('default certificate problem reported', 30_000, async () => {
    const g = await env.rest.get<KnativeGateway>(GW);
    const c = g.status?.conditions?.find((x) => x.type === 'FleetsReady');
    return c?.reason === 'DefaultCertificateNotReady' ? c : undefined;
  });
  expect(blocked.message).toContain('cert-manager is not installed');
  expect(blocked.message).toContain(
    `default/external: default certificate: TLS Secret kgw-system/${SECRET} does not exist`,
  );

  // The Secret appears (as cert-manager would write it).
  const ca1 = await createTlsSecret(env, SECRET, ['*.example.com'], 'kgw-system');
  await startBackends(env, [{ name: 'wild' }]);
  await createIngress(env, 'wild', { rules: [rule(['wild.example.com'], [{ splits: [split('wild')] }])] });
  const ing = await waitReady(env, 'wild');
  const gw = await publicGateway(env, ing, 443);
  const keep = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const first = await until('fallback certificate served', 30_000, async () =>
    get(keep, gw.address, gw.port, 'wild.example.com', [ca1]).catch(() => undefined),
  );
  expect(first.status).toBe(200);

  // Renewal: a new certificate in the same Secret.
  await env.rest.request('DELETE', `/api/v1/namespaces/kgw-system/secrets/${SECRET}`);
  const ca2 = await createTlsSecret(env, SECRET, ['*.example.com'], 'kgw-system');
  const fresh = await until('renewed certificate served to new connections', 30_000, async () => {
    const r = await get(new https.Agent({ keepAlive: false }), gw.address, gw.port, 'wild.example.com', [
      ca2,
    ]).catch(() => undefined);
    return r && r.serial !== first.serial ? r : undefined;
  });
  expect(fresh.status).toBe(200);
  // The connection opened before the renewal is still the same socket and still answers.
  const again = await get(keep, gw.address, gw.port, 'wild.example.com', [ca1]);
  expect(again.socket).toBe(first.socket);
  expect(again.serial).toBe(first.serial);
  expect(again.status).toBe(200);
  keep.destroy();
});

test('with cert-manager: kgw requests the wildcard certificate and the fleets serve what it issues', async () => {
  // A fresh start: the Secret the first test wrote by hand goes; cert-manager issues its own.
  await env.rest.request('DELETE', `/api/v1/namespaces/kgw-system/secrets/${SECRET}`);
  certManager = await startCertManager({ cp: env.cp, clusterIssuers: ['dns01'], log: env.log });
  const cert = await until('Certificate requested', 60_000, () =>
    env.rest.get<{
      metadata: { ownerReferences?: { kind: string; name: string }[] };
      spec: { dnsNames: string[]; issuerRef: { kind: string; name: string }; secretName: string };
    }>(`/apis/cert-manager.io/v1/namespaces/kgw-system/certificates/${SECRET}`),
  );
  expect(cert.spec).toMatchObject({
    dnsNames: ['*.example.com'],
    secretName: SECRET,
    issuerRef: { kind: 'ClusterIssuer', name: 'dns01' },
  });
  expect(cert.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'KnativeGateway', name: 'default' });
  const ca = certManager.ca.certPem;
  const ing = await waitReady(env, 'wild');
  const gw = await publicGateway(env, ing, 443);
  const served = await until('issued certificate served', 60_000, async () => {
    const r = await get(new https.Agent({ keepAlive: false }), gw.address, gw.port, 'wild.example.com', [
      ca,
    ]).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  });
  const peer = new X509Certificate(served.socket.getPeerX509Certificate()?.raw ?? Buffer.alloc(0));
  expect(peer.subjectAltName).toContain('DNS:*.example.com');
  expect(peer.checkIssued(new X509Certificate(ca))).toBe(true);
  await until('gateway FleetsReady', 30_000, async () => {
    const g = await env.rest.get<KnativeGateway>(GW);
    return g.status?.conditions?.find((c) => c.type === 'FleetsReady')?.status === 'True' ? g : undefined;
  });
}, 180_000);
