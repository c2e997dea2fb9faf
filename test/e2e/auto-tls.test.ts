// Auto-TLS with kgw's certificate class (kgw.certificate.networking.knative.dev) and the real
// cert-manager controller (built from the Go module proxy by test/env/build-cert-manager.sh, run
// with a CA ClusterIssuer; no ACME, no network): a KCertificate of kgw's class becomes a
// cert-manager Certificate with the gateway's issuer; cert-manager issues the Secret; the
// KCertificate turns Ready with notAfter; a KIngress naming that Secret answers HTTPS with that
// certificate; a renewal (what `cmctl renew` does: Issuing=True on the Certificate) changes the
// certificate new connections get while an open keep-alive connection keeps answering.
//
// The operator's own CertificateController does the work (the gateway configures Knative, so its
// issuers apply).
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { KGW_CERTIFICATE_CLASS, type KnativeGateway } from '../../operator/api/knativegateway.ts';
import {
  type CertManagerCertificate,
  type Condition,
  type KCertificate,
} from '../../operator/controller/certificate-mapping.ts';
import type { Secret } from '../../operator/api/core.ts';
import { renewCertificate, startCertManager, type CertManager } from '../env/cert-manager.ts';
import { waitUntil } from '../env/proc.ts';
import { rule, split, startBackends } from './conformance.ts';
import {
  createIngress,
  publicGateway,
  sampleGateway,
  startEnv,
  TEST_NAMESPACE,
  waitReady,
  type Env,
} from './harness.ts';

const ISSUER = 'kgw-test-ca';
const HOST = 'secure.example.com';
const NAME = 'secure';
const SECRET = 'secure-tls';
const KCERTS = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${TEST_NAMESPACE}/certificates`;
const CERTS = `/apis/cert-manager.io/v1/namespaces/${TEST_NAMESPACE}/certificates`;

const gateway = {
  ...sampleGateway,
  spec: { ...sampleGateway.spec, tls: { externalIssuer: { name: ISSUER } } },
} as unknown as KnativeGateway;

let env: Env;
let certManager: CertManager;

beforeAll(async () => {
  env = await startEnv({ gateway });
  certManager = await startCertManager({ cp: env.cp, clusterIssuers: [ISSUER], log: env.log });
}, 240_000);

afterAll(async () => {
  await certManager?.stop();
  await env?.stop();
});

interface TlsAnswer {
  status: number;
  serial: string;
  reused: boolean;
}

/** One GET over HTTPS to the gateway with SNI = HOST, trusting the issuing CA. */
function httpsGet(gw: { address: string; port: number }, agent: https.Agent | false): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: gw.address,
        port: gw.port,
        path: '/',
        servername: HOST,
        headers: { Host: HOST },
        ca: certManager.ca.certPem,
        agent,
        timeout: 10_000,
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, serial, reused: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('HTTPS request timed out')));
    req.on('error', reject);
    req.end();
  });
}

function secretSerial(s: Secret): string {
  const pem = Buffer.from(s.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
  return new X509Certificate(pem).serialNumber;
}

function ready(k: KCertificate): Condition | undefined {
  return k.status?.conditions?.find((c) => c.type === 'Ready');
}

test('KCertificate → cert-manager Certificate → Secret → HTTPS; renewal reaches open listeners', async () => {
  // 1. a KCertificate of kgw's class becomes a cert-manager Certificate with the gateway's issuer
  await env.rest.request('POST', KCERTS, {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Certificate',
    metadata: {
      name: NAME,
      namespace: TEST_NAMESPACE,
      annotations: { 'networking.knative.dev/certificate.class': KGW_CERTIFICATE_CLASS },
      labels: { 'networking.knative.dev/certificate-type': 'external-domain' },
    },
    spec: { dnsNames: [HOST], secretName: SECRET },
  });
  const cm = await waitUntil(
    'cert-manager Certificate',
    async () => env.rest.get<CertManagerCertificate>(`${CERTS}/${NAME}`),
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  expect(cm.spec.issuerRef).toEqual({ kind: 'ClusterIssuer', group: 'cert-manager.io', name: ISSUER });

  // 2. cert-manager issues the Secret; the KCertificate turns Ready with notAfter
  const kcert = await waitUntil(
    'KCertificate Ready',
    async () => {
      const k = await env.rest.get<KCertificate>(`${KCERTS}/${NAME}`);
      return ready(k)?.status === 'True' ? k : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  const secret = await env.rest.get<Secret>(`/api/v1/namespaces/${TEST_NAMESPACE}/secrets/${SECRET}`);
  const issued = new X509Certificate(Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8'));
  expect(issued.subjectAltName).toBe(`DNS:${HOST}`);
  expect(issued.checkIssued(new X509Certificate(certManager.ca.certPem))).toBe(true);
  expect(secret.metadata.labels?.['networking.internal.knative.dev/certificate-uid']).toBe(
    kcert.metadata.uid,
  );
  expect(kcert.status?.notAfter).toBeDefined();
  expect(Date.parse(kcert.status?.notAfter ?? '')).toBe(Date.parse(issued.validTo));
  const firstSerial = issued.serialNumber;

  // 3. a KIngress with that Secret answers HTTPS with that certificate
  await startBackends(env, [{ name: NAME }]);
  await createIngress(env, NAME, {
    tls: [{ hosts: [HOST], secretName: SECRET, secretNamespace: TEST_NAMESPACE }],
    rules: [rule([HOST], [{ splits: [split(NAME)] }])],
    httpOption: 'Enabled',
  });
  const ing = await waitReady(env, NAME);
  const gw = await publicGateway(env, ing, 443);
  const first = await waitUntil(
    'HTTPS with the issued certificate',
    async () => {
      const a = await httpsGet(gw, false);
      return a.status === 200 && a.serial === firstSerial ? a : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  expect(first.serial).toBe(firstSerial);

  // an open HTTP/1.1 keep-alive connection, kept across the renewal
  const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const opened = await httpsGet(gw, keepAlive);
    expect(opened).toEqual({ status: 200, serial: firstSerial, reused: false });

    // 4. renew: what `cmctl renew` does, Issuing=True (ManuallyTriggered) on the Certificate status
    await renewCertificate(env.rest, TEST_NAMESPACE, NAME);

    const renewedSerial = await waitUntil(
      'renewed Secret',
      async () => {
        const s = await env.rest.get<Secret>(`/api/v1/namespaces/${TEST_NAMESPACE}/secrets/${SECRET}`);
        const serial = secretSerial(s);
        return serial !== firstSerial ? serial : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    // a new connection gets the renewed certificate (over SDS)…
    const renewed = await waitUntil(
      'HTTPS with the renewed certificate',
      async () => {
        const a = await httpsGet(gw, false);
        return a.status === 200 && a.serial === renewedSerial ? a : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(renewed.serial).toBe(renewedSerial);
    // …while the connection opened before the renewal still answers (no listener drain)
    const again = await httpsGet(gw, keepAlive);
    expect(again).toEqual({ status: 200, serial: firstSerial, reused: true });

    // the KCertificate follows the renewal (still Ready, notAfter of the new certificate)
    await waitUntil(
      'KCertificate notAfter of the renewed certificate',
      async () => {
        const k = await env.rest.get<KCertificate>(`${KCERTS}/${NAME}`);
        const s = await env.rest.get<Secret>(`/api/v1/namespaces/${TEST_NAMESPACE}/secrets/${SECRET}`);
        const pem = Buffer.from(s.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
        return (
          ready(k)?.status === 'True' &&
          Date.parse(k.status?.notAfter ?? '') === Date.parse(new X509Certificate(pem).validTo)
        );
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } finally {
    keepAlive.destroy();
  }
});
