// cert-manager mode for the webhook serving certificate, with the real cert-manager controller
// (test/env/build-cert-manager.sh): kgw requests the certificate, annotates its webhook
// configuration for CA injection, and the webhook server serves what cert-manager issues, also
// after a renewal, without a restart.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { renewCertificate, startCertManager, type CertManager } from '../test/env/cert-manager.ts';
import { startControlPlane, type ControlPlane } from '../test/env/control-plane.ts';
import { waitUntil } from '../test/env/proc.ts';
import { KubeRest } from '../operator/kube/rest.ts';
import { newLogger } from '../operator/log.ts';
import {
  INJECT_CA_ANNOTATION,
  startCertManagerWebhookCerts,
  WEBHOOK_CERTIFICATE,
} from './cert-manager-certs.ts';
import { staticLookups } from './lookups.ts';
import { startWebhookServer } from './server.ts';

const NS = 'kgw-system';
const CERTS = `/apis/cert-manager.io/v1/namespaces/${NS}/certificates`;
let cp: ControlPlane;
let rest: KubeRest;
let cm: CertManager;
let dir: string;
const log = newLogger('test', 'silent');

beforeAll(async () => {
  cp = await startControlPlane();
  rest = new KubeRest(cp.kubeConfig());
  await rest.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  cm = await startCertManager({ cp, clusterIssuers: ['webhook-ca'] });
  dir = mkdtempSync(join(tmpdir(), 'kgw-wh-cm-'));
}, 240_000);
afterAll(async () => {
  await cm?.stop();
  rest?.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function served(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, servername: `kgw-operator-service.${NS}.svc`, ca: cm.ca.certPem },
      () => {
        const raw = s.getPeerX509Certificate();
        s.destroy();
        if (raw) resolve(raw);
        else reject(new Error('no peer certificate'));
      },
    );
    s.on('error', reject);
  });
}

/** Polls `check` every 200 ms for at most 60 s (waitUntil, test/env/proc.ts). */
const until = <T>(what: string, check: () => Promise<T | undefined>): Promise<T> =>
  waitUntil(what, check, { timeoutMs: 60_000, intervalMs: 200 });

test('kgw requests the serving certificate from cert-manager, serves it, and follows renewals', async () => {
  await rest.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: 'kgw-validation', labels: { 'app.kubernetes.io/managed-by': 'kgw' } },
    webhooks: [],
  });
  const certs = await startCertManagerWebhookCerts({
    rest,
    log,
    issuer: 'webhook-ca',
    namespace: NS,
    certDir: dir,
  });
  try {
    const cert = await rest.get<{ spec: { dnsNames: string[]; issuerRef: { name: string } } }>(
      `${CERTS}/${WEBHOOK_CERTIFICATE}`,
    );
    expect(cert.spec.issuerRef.name).toBe('webhook-ca');
    expect(cert.spec.dnsNames).toContain(`kgw-operator-service.${NS}.svc`);
    const cfg = await rest.get<{ metadata: { annotations?: Record<string, string> } }>(
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kgw-validation',
    );
    expect(cfg.metadata.annotations?.[INJECT_CA_ANNOTATION]).toBe(`${NS}/${WEBHOOK_CERTIFICATE}`);

    await certs.issued;
    const server = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      certDir: dir,
      lookups: staticLookups({}),
      log,
    });
    try {
      const first = await served(server.port);
      expect(first.checkIssued(new X509Certificate(cm.ca.certPem))).toBe(true);
      expect(first.subjectAltName).toContain(`DNS:kgw-operator-service.${NS}.svc`);

      // Renewal, as `cmctl renew` triggers it.
      await renewCertificate(rest, NS, WEBHOOK_CERTIFICATE);
      const renewed = await until('renewed certificate served', async () => {
        await server.reload();
        const now = await served(server.port);
        return now.serialNumber !== first.serialNumber ? now : undefined;
      });
      expect(renewed.checkIssued(new X509Certificate(cm.ca.certPem))).toBe(true);
    } finally {
      await server.close();
    }
  } finally {
    await certs.stop();
  }
}, 120_000);
