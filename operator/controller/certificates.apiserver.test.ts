// CertificateController against a real kube-apiserver + etcd. The test plays cert-manager's part
// (it writes the cert-manager Certificates' status), so only the Certificate CRD is needed: the
// minimal test CRD in test/env/crds/cert-manager (the real controller runs in
// test/e2e/auto-tls.test.ts). Needs the test parts from `bash test/env/setup.sh`.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KGW_CERTIFICATE_CLASS, type KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { CertificateController } from './certificates.ts';
import { type CertManagerCertificate, type Condition, type KCertificate } from './certificate-mapping.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NS = 'certs';
const KCERTS = `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${NS}/certificates`;
const CERTS = `/apis/cert-manager.io/v1/namespaces/${NS}/certificates`;

const gateway: KnativeGateway = {
  metadata: { name: 'gw' },
  spec: {
    fleets: [{ name: 'external', visibility: 'ExternalIP' }],
    tls: { externalIssuer: { name: 'public-acme' }, clusterLocalIssuer: { name: 'internal-ca' } },
  },
};

let cp: ControlPlane;
let rest: KubeRest;
let ctl: CertificateController;
let leading = true;

beforeAll(async () => {
  cp = await startControlPlane();
  const kc = cp.kubeConfig();
  rest = new KubeRest(kc);
  // cert-manager's CRD is installed later, by the first test
  await applyManifests(kc, [
    join(root, 'test/env/crds/knative'),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
  ]);
  ctl = new CertificateController({
    rest,
    log: newLogger('certificates-test'),
    gateway: () => gateway,
    leading: () => leading,
    retryMs: 100,
    maxRetryMs: 1000,
  });
  ctl.start();
  await ctl.synced;
}, 120_000);

afterAll(async () => {
  await ctl?.stop();
  rest?.close();
  await cp?.stop();
});

function kcert(
  name: string,
  opts: { cls?: string; labels?: Record<string, string>; dnsNames?: string[] } = {},
): KCertificate {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Certificate',
    metadata: {
      name,
      namespace: NS,
      annotations: { 'networking.knative.dev/certificate.class': opts.cls ?? KGW_CERTIFICATE_CLASS },
      labels: { 'serving.knative.dev/route': name, ...opts.labels },
    },
    spec: { dnsNames: opts.dnsNames ?? [`${name}.${NS}.example.com`], secretName: `${name}-tls` },
  };
}

async function createKCert(k: KCertificate): Promise<KCertificate> {
  return rest.request<KCertificate>('POST', KCERTS, k);
}

async function getOrUndefined<T>(path: string): Promise<T | undefined> {
  try {
    return await rest.get<T>(path);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return undefined;
    throw e;
  }
}

function readyOf(k: KCertificate | undefined): Condition | undefined {
  return k?.status?.conditions?.find((c) => c.type === 'Ready');
}

async function waitKCert(
  name: string,
  what: string,
  ok: (k: KCertificate) => boolean,
): Promise<KCertificate> {
  let last: KCertificate | undefined;
  try {
    return await waitUntil(
      `KCertificate ${name}: ${what}`,
      async () => {
        last = await rest.get<KCertificate>(`${KCERTS}/${name}`);
        return ok(last) ? last : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (e) {
    throw new Error(`${String(e)}; last status ${JSON.stringify(last?.status)}`, { cause: e });
  }
}

async function waitCert(name: string): Promise<CertManagerCertificate> {
  return waitUntil(
    `cert-manager Certificate ${name}`,
    () => getOrUndefined<CertManagerCertificate>(`${CERTS}/${name}`),
    {
      timeoutMs: 30_000,
      intervalMs: 100,
    },
  );
}

async function setCertStatus(name: string, status: CertManagerCertificate['status']): Promise<void> {
  await rest.request('PATCH', `${CERTS}/${name}/status`, { status }, 'application/merge-patch+json');
}

test('cert-manager CRD absent: the KCertificate reports it; once installed the Certificate is made', async () => {
  await createKCert(kcert('early'));
  await waitKCert(
    'early',
    'CertManagerNotInstalled',
    (k) => readyOf(k)?.reason === 'CertManagerNotInstalled',
  );
  expect(readyOf(await rest.get<KCertificate>(`${KCERTS}/early`))?.status).toBe('Unknown');
  await applyManifests(cp.kubeConfig(), join(root, 'test/env/crds/cert-manager'));
  await waitCert('early');
  await waitKCert(
    'early',
    'waiting for cert-manager',
    (k) => readyOf(k)?.reason === 'NoCertManagerCertCondition',
  );
});

test('a KCertificate of kgw class becomes a Certificate with the issuer of its type', async () => {
  const ext = await createKCert(kcert('ext'));
  const local = await createKCert(
    kcert('local', {
      labels: { 'networking.knative.dev/certificate-type': 'cluster-local-domain' },
      dnsNames: ['local.certs.svc.cluster.local', 'local.certs.svc'],
    }),
  );
  const extCert = await waitCert('ext');
  expect(extCert.spec).toEqual({
    commonName: 'ext.certs.example.com',
    dnsNames: ['ext.certs.example.com'],
    secretName: 'ext-tls',
    issuerRef: { kind: 'ClusterIssuer', group: 'cert-manager.io', name: 'public-acme' },
    secretTemplate: { labels: { 'networking.internal.knative.dev/certificate-uid': ext.metadata.uid } },
  });
  expect(extCert.metadata.ownerReferences).toEqual([
    {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Certificate',
      name: 'ext',
      uid: ext.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ]);
  expect(extCert.metadata.labels).toEqual({ 'serving.knative.dev/route': 'ext' });
  expect(extCert.metadata.annotations).toEqual({
    'networking.knative.dev/certificate.class': KGW_CERTIFICATE_CLASS,
  });
  const localCert = await waitCert('local');
  expect(localCert.spec.issuerRef).toEqual({
    kind: 'ClusterIssuer',
    group: 'cert-manager.io',
    name: 'internal-ca',
  });
  expect(localCert.spec.dnsNames).toEqual(['local.certs.svc.cluster.local', 'local.certs.svc']);
  expect(localCert.metadata.ownerReferences?.[0]?.uid).toBe(local.metadata.uid);

  // a spec change reaches the Certificate (only its spec is replaced)
  const cur = await rest.get<KCertificate>(`${KCERTS}/ext`);
  cur.spec.dnsNames = ['ext.certs.example.com', 'www.ext.certs.example.com'];
  await rest.request('PUT', `${KCERTS}/ext`, cur);
  await waitUntil(
    'Certificate ext has the new names',
    async () => (await rest.get<CertManagerCertificate>(`${CERTS}/ext`)).spec.dnsNames.length === 2,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
});

test('KCertificates of another class are never touched', async () => {
  await createKCert(kcert('serving', { cls: 'cert-manager.certificate.networking.knative.dev' }));
  // reflector events are handled in order: once a later kgw KCertificate is done, the other was seen
  await createKCert(kcert('marker'));
  await waitCert('marker');
  await waitKCert('marker', 'status written', (k) => readyOf(k) !== undefined);
  expect(await getOrUndefined(`${CERTS}/serving`)).toBeUndefined();
  expect((await rest.get<KCertificate>(`${KCERTS}/serving`)).status).toBeUndefined();
});

test('a Certificate the KCertificate does not control is left alone: NotOwned', async () => {
  const foreign = {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: 'taken', namespace: NS },
    spec: {
      secretName: 'someone-elses',
      dnsNames: ['other.example.com'],
      issuerRef: { name: 'x', kind: 'Issuer' },
    },
  };
  const before = await rest.request<CertManagerCertificate>('POST', CERTS, foreign);
  await createKCert(kcert('taken'));
  const k = await waitKCert('taken', 'NotOwned', (x) => readyOf(x)?.reason === 'NotOwned');
  expect(readyOf(k)?.status).toBe('False');
  const after = await rest.get<CertManagerCertificate>(`${CERTS}/taken`);
  expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  expect(after.spec).toEqual(foreign.spec);
});

test('status: issuing → Unknown; Ready → Ready with notAfter; past renewalTime → Renewing', async () => {
  await createKCert(kcert('prop'));
  await waitCert('prop');
  await setCertStatus('prop', {
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'DoesNotExist',
        message: 'Issuing certificate as Secret does not exist',
      },
      {
        type: 'Issuing',
        status: 'True',
        reason: 'DoesNotExist',
        message: 'Issuing certificate as Secret does not exist',
      },
    ],
  });
  await waitKCert('prop', 'Unknown DoesNotExist', (k) => readyOf(k)?.reason === 'DoesNotExist');
  expect(readyOf(await rest.get<KCertificate>(`${KCERTS}/prop`))?.status).toBe('Unknown');

  const notAfter = new Date(Date.now() + 90 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
  await setCertStatus('prop', {
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Ready',
        message: 'Certificate is up to date and has not expired',
      },
    ],
    notAfter,
    renewalTime: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  const ready = await waitKCert('prop', 'Ready', (k) => readyOf(k)?.status === 'True');
  expect(ready.status?.notAfter).toBe(notAfter);
  expect(ready.status?.observedGeneration).toBe(ready.metadata.generation);
  expect(ready.status?.http01Challenges).toEqual([]);
  expect(ready.status?.conditions?.find((c) => c.type === 'Renewing')).toBeUndefined();

  // the renewal time passes without any further event: the controller looks again by itself
  await setCertStatus('prop', {
    renewalTime: new Date(Date.now() + 1500).toISOString(),
  });
  const renewing = await waitKCert(
    'prop',
    'Renewing',
    (k) => k.status?.conditions?.find((c) => c.type === 'Renewing')?.status === 'True',
  );
  expect(readyOf(renewing)?.status).toBe('True');
  expect(renewing.status?.notAfter).toBe(notAfter);

  // a failed issuance (cert-manager stopped issuing, with a failure recorded) → False
  await setCertStatus('prop', {
    conditions: [
      { type: 'Ready', status: 'False', reason: 'Expired', message: 'expired' },
      { type: 'Issuing', status: 'False', reason: 'Failed', message: 'the issuer is not ready' },
    ],
    lastFailureTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    failedIssuanceAttempts: 1,
  });
  const failed = await waitKCert('prop', 'failed', (k) => readyOf(k)?.status === 'False');
  expect(readyOf(failed)).toMatchObject({ reason: 'Failed', message: 'the issuer is not ready' });
});

test('a follower writes nothing; on resync after gaining leadership it does', async () => {
  leading = false;
  try {
    await createKCert(kcert('follower'));
    await new Promise((r) => setTimeout(r, 1000));
    expect(await getOrUndefined(`${CERTS}/follower`)).toBeUndefined();
    expect((await rest.get<KCertificate>(`${KCERTS}/follower`)).status).toBeUndefined();
  } finally {
    leading = true;
  }
  ctl.resync();
  await waitCert('follower');
  await waitKCert('follower', 'status written', (k) => readyOf(k) !== undefined);
});
