// kgw's own webhook CA against a real kube-apiserver: the Secret is created once and reused by the
// next start, the cert dir gets the serving pair, caBundle is patched only in kgw's labelled
// configuration, a foreign Secret is never overwritten, renewal keeps the CA, a CA rotation keeps
// the old CA in the bundle, and mounted mode touches nothing. Needs `bash test/env/setup.sh`.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../test/env/control-plane.ts';
import { LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../operator/api/knativegateway.ts';
import { releaseObjects } from '../operator/gen/release.ts';
import { validatingWebhookConfiguration } from '../operator/gen/webhooks.ts';
import { WEBHOOKS } from './webhooks.ts';
import { ApiError, KubeRest } from '../operator/kube/rest.ts';
import { newLogger } from '../operator/log.ts';
import { parseCertificate, splitPemBundle } from '../operator/pki/ca.ts';
import { readCredentialDir } from '../operator/pki/xds-tls.ts';
import { startWebhookCerts, webhookDnsNames } from './certs.ts';

const log = newLogger('webhook-certs-test');
const NS = 'kgw-system';
const VWC = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
const SERVICE = { name: 'kgw-operator-service', namespace: NS, port: 9443 };

let cp: ControlPlane;
let rest: KubeRest;
const dirs: string[] = [];

interface Secret {
  metadata: { resourceVersion: string; labels?: Record<string, string> };
  data: Record<string, string>;
}
interface Config {
  metadata: { resourceVersion: string };
  webhooks: { name: string; clientConfig: { caBundle?: string } }[];
}

const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kgw-webhook-certs-'));
  dirs.push(d);
  return join(d, 'serving-certs');
};
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString();

async function secret(name: string): Promise<Secret | undefined> {
  try {
    return await rest.get<Secret>(`${SECRETS}/${name}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

beforeAll(async () => {
  cp = await startControlPlane();
  rest = new KubeRest(cp.kubeConfig());
  await rest.request('POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: NS },
  });
  // kgw's configuration exactly as the release manifest (deploy/kgw.yaml) installs it, and a
  // foreign one with the same webhooks
  const released = releaseObjects()
    .map((o) => o.value as { kind?: string; metadata?: { name?: string } })
    .find((o) => o.kind === 'ValidatingWebhookConfiguration');
  if (!released) throw new Error('the release manifest has no ValidatingWebhookConfiguration');
  await rest.request('POST', VWC, released);
  const foreign = validatingWebhookConfiguration(SERVICE, {});
  foreign.metadata = {
    name: 'foreign-validation',
    labels: { 'app.kubernetes.io/managed-by': 'someone-else' },
  };
  await rest.request('POST', VWC, foreign);
}, 60_000);

afterAll(async () => {
  rest?.close();
  await cp?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('self-managed webhook certificates', () => {
  test("first start creates the Secret, writes the cert dir and patches only kgw's caBundle; a second start reuses it", async () => {
    const dir1 = tmp();
    const c1 = await startWebhookCerts({
      certSource: 'self',
      rest,
      log,
      namespace: NS,
      certDir: dir1,
      checkIntervalMs: 0,
    });
    const s1 = await secret('kgw-webhook-certs');
    expect(s1?.metadata.labels?.[LABEL_MANAGED_BY]).toBe(MANAGED_BY_KGW);
    const caPem = unb64(s1?.data['ca.crt']);
    expect(c1.caBundle).toBe(caPem);
    // the cert dir holds the Secret's pair, issued by the CA for the Service's names
    const files = await readCredentialDir(dir1);
    expect(files.cert).toBe(unb64(s1?.data['tls.crt']));
    expect(files.key).toBe(unb64(s1?.data['tls.key']));
    const leaf = parseCertificate(files.cert);
    expect(leaf.dnsNames).toEqual(webhookDnsNames('kgw-operator-service', NS));
    expect(new X509Certificate(files.cert).verify(new X509Certificate(caPem).publicKey)).toBe(true);
    // caBundle in every webhook of kgw's configuration; the foreign one untouched
    const ours = await rest.get<Config>(`${VWC}/kgw-validation`);
    expect(ours.webhooks.map((w) => w.clientConfig.caBundle)).toEqual(WEBHOOKS.map(() => b64(caPem)));
    const foreign = await rest.get<Config>(`${VWC}/foreign-validation`);
    expect(foreign.webhooks.map((w) => w.clientConfig.caBundle)).toEqual(WEBHOOKS.map(() => undefined));

    // another replica (or a restart) reuses the Secret as it is
    const dir2 = tmp();
    const c2 = await startWebhookCerts({
      certSource: 'self',
      rest,
      log,
      namespace: NS,
      certDir: dir2,
      checkIntervalMs: 0,
    });
    const s2 = await secret('kgw-webhook-certs');
    expect(s2?.metadata.resourceVersion).toBe(s1?.metadata.resourceVersion);
    expect((await readCredentialDir(dir2)).cert).toBe(files.cert);
    expect(c2.caBundle).toBe(caPem);
    expect((await rest.get<Config>(`${VWC}/kgw-validation`)).metadata.resourceVersion).toBe(
      ours.metadata.resourceVersion,
    );
    await c1.stop();
    await c2.stop();
  });

  test("a configuration without kgw's label is left alone even when it has the configured name", async () => {
    const before = await rest.get<Config>(`${VWC}/foreign-validation`);
    const c = await startWebhookCerts({
      certSource: 'self',
      rest,
      log,
      namespace: NS,
      certDir: tmp(),
      configurationName: 'foreign-validation',
      checkIntervalMs: 0,
    });
    const after = await rest.get<Config>(`${VWC}/foreign-validation`);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    await c.stop();
  });

  test('renewal at 2/3 of the lifetime keeps the CA; a due CA is rotated with the old one kept in the bundle', async () => {
    const s0 = await secret('kgw-webhook-certs');
    const ca0 = unb64(s0?.data['ca.crt']);
    const leaf0 = parseCertificate(unb64(s0?.data['tls.crt']));
    // 300 days on: the 1-year serving certificate is due, the 10-year CA is not
    const later = new Date(Date.now() + 300 * 86_400_000);
    const c1 = await startWebhookCerts({
      certSource: 'self',
      rest,
      log,
      namespace: NS,
      certDir: tmp(),
      checkIntervalMs: 0,
      now: () => later,
    });
    const s1 = await secret('kgw-webhook-certs');
    const leaf1 = parseCertificate(unb64(s1?.data['tls.crt']));
    expect(leaf1.serialNumber).not.toBe(leaf0.serialNumber);
    expect(unb64(s1?.data['ca.crt'])).toBe(ca0);
    await c1.stop();
    // 7 years on (CA due at 2/3 of 10 years): a new CA first, the old one still in the bundle
    const muchLater = new Date(Date.now() + 7 * 365 * 86_400_000);
    const c2 = await startWebhookCerts({
      certSource: 'self',
      rest,
      log,
      namespace: NS,
      certDir: tmp(),
      checkIntervalMs: 0,
      now: () => muchLater,
    });
    const s2 = await secret('kgw-webhook-certs');
    const bundle = splitPemBundle(unb64(s2?.data['ca.crt']));
    expect(bundle).toHaveLength(2);
    expect(bundle[1]).toBe(ca0);
    expect(
      new X509Certificate(unb64(s2?.data['tls.crt'])).verify(new X509Certificate(bundle[0] ?? '').publicKey),
    ).toBe(true);
    const cfg = await rest.get<Config>(`${VWC}/kgw-validation`);
    expect(cfg.webhooks.map((w) => unb64(w.clientConfig.caBundle))).toEqual(
      WEBHOOKS.map(() => bundle.join('')),
    );
    await c2.stop();
  });

  test("a Secret without kgw's label is never overwritten", async () => {
    await rest.request('POST', SECRETS, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'not-ours', namespace: NS },
      data: { 'tls.crt': b64('garbage') },
    });
    const before = await secret('not-ours');
    await expect(
      startWebhookCerts({
        certSource: 'self',
        rest,
        log,
        namespace: NS,
        secretName: 'not-ours',
        certDir: tmp(),
        checkIntervalMs: 0,
      }),
    ).rejects.toThrow(
      /Secret kgw-system\/not-ours exists without the label app.kubernetes.io\/managed-by=kgw .*kgw does not overwrite it/,
    );
    expect((await secret('not-ours'))?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
  });

  test('mounted mode touches nothing', async () => {
    const c = await startWebhookCerts({
      certSource: 'mounted',
      rest,
      log,
      namespace: NS,
      secretName: 'mounted-certs',
      certDir: tmp(),
    });
    expect(c.caBundle).toBeUndefined();
    expect(await secret('mounted-certs')).toBeUndefined();
    await c.stop();
  });
});
