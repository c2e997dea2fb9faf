// The webhook server's certificate in a plain install (`certSource: 'self'`): kgw runs its own
// small CA for it.
//   - The CA and the serving certificate live in the Secret WEBHOOK_CERT_SECRET (operator
//     namespace; keys tls.crt, tls.key, ca.crt — the CA bundle — and ca.key), shared by every
//     operator replica. The first replica creates it (a lost create race re-reads the winner's); a
//     Secret of that name without kgw's label `app.kubernetes.io/managed-by: kgw` is never
//     written: when it holds a usable pair it is served as it is (an admin's or cert-manager's
//     certificate), otherwise it is an error naming it.
//   - The serving pair is written into the cert dir with the Secret-mount layout (`..data`,
//     atomic swap), which the webhook server watches. When the dir is read-only (the Deployment
//     mounts the same Secret there) the kubelet delivers it instead.
//   - `caBundle` of every webhook in the ValidatingWebhookConfiguration `kgw-validation` is set to
//     the CA bundle, only when that configuration carries kgw's label.
//   - Renewal: every checkIntervalMs (default 1 h) the serving certificate is re-issued at 2/3 of
//     its lifetime (default 1 year); the CA (default 10 years) at 2/3 of its own, with the old CA
//     kept in the bundle until it expires, so the apiserver trusts both while replicas catch up.
// `certSource: 'mounted'` (OLM, or cert-manager's Certificate mounted at the cert dir with the
// cainjector filling caBundle) does none of this: someone else owns the files and the caBundle.
import { decodeSecretData, encodeSecretData } from '../operator/api/core.ts';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../operator/api/knativegateway.ts';
import {
  OPERATOR_NAMESPACE,
  WEBHOOK_CERT_DIR,
  WEBHOOK_CERT_SECRET,
  WEBHOOK_SERVICE_NAME,
} from '../operator/api/install.ts';
import { WEBHOOK_CONFIGURATION_NAME } from './webhooks.ts';
import { createKgwSecret } from '../operator/kube/kgw-secret.ts';
import { ApiError, getIfExists, type KubeRest } from '../operator/kube/rest.ts';
import type { Logger } from '../operator/log.ts';
import {
  createCa,
  issueCertificate,
  needsRenewal,
  splitPemBundle,
  type CertificateAuthority,
} from '../operator/pki/ca.ts';
import { readCredentialDir, writeCredentialDir } from '../operator/pki/xds-tls.ts';

export type CertSource = 'self' | 'mounted';

/** `mounted` under OLM (it sets OPERATOR_CONDITION_NAME in the operator's pods), else `self`. */
export function detectCertSource(env: NodeJS.ProcessEnv = process.env): CertSource {
  return env.OPERATOR_CONDITION_NAME ? 'mounted' : 'self';
}

/** The DNS names the apiserver may use for the webhook Service. */
export function webhookDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export interface WebhookCertsOptions {
  certSource: CertSource;
  rest: Pick<KubeRest, 'request'>;
  log: Logger;
  /** Operator namespace (default OPERATOR_NAMESPACE). */
  namespace?: string;
  secretName?: string;
  serviceName?: string;
  certDir?: string;
  configurationName?: string;
  caValidityDays?: number;
  certValidityDays?: number;
  /** Renewal and caBundle check (default 1 h; 0 turns the periodic check off). */
  checkIntervalMs?: number;
  now?: () => Date;
}

export interface WebhookCerts {
  readonly certSource: CertSource;
  /** The CA bundle (PEM) patched into the webhook configuration; undefined in mounted mode or for a foreign Secret without ca.crt. */
  readonly caBundle: string | undefined;
  /** Runs one check now (Secret, cert dir, caBundle). */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

interface SecretObject {
  metadata?: { resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

interface Material {
  cert: string;
  key: string;
  /** CA bundle, current CA first. */
  ca: string;
  caKey: string;
}

const KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt', caKey: 'ca.key' } as const;

function secretValues(m: Material): Record<string, string> {
  return Object.fromEntries(Object.entries(KEYS).map(([field, key]) => [key, m[field as keyof Material]]));
}

function usablePair(cert: string | undefined, key: string | undefined): boolean {
  if (!cert || !key) return false;
  try {
    const x = new X509Certificate(cert);
    return x.checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

export async function startWebhookCerts(o: WebhookCertsOptions): Promise<WebhookCerts> {
  const log = o.log;
  if (o.certSource === 'mounted') {
    log.info(
      { certDir: o.certDir ?? WEBHOOK_CERT_DIR },
      'webhook certificates are mounted by someone else (OLM / cert-manager)',
    );
    return { certSource: 'mounted', caBundle: undefined, sync: async () => {}, stop: async () => {} };
  }
  const namespace = o.namespace ?? OPERATOR_NAMESPACE;
  const secretName = o.secretName ?? WEBHOOK_CERT_SECRET;
  const service = o.serviceName ?? WEBHOOK_SERVICE_NAME;
  const certDir = o.certDir ?? WEBHOOK_CERT_DIR;
  const configName = o.configurationName ?? WEBHOOK_CONFIGURATION_NAME;
  const now = o.now ?? (() => new Date());
  const secretPath = `/api/v1/namespaces/${namespace}/secrets/${secretName}`;
  const ref = `Secret ${namespace}/${secretName}`;
  let caBundle: string | undefined;

  const issue = async (ca: CertificateAuthority) =>
    issueCertificate(ca, {
      commonName: `${service}.${namespace}.svc`,
      dnsNames: webhookDnsNames(service, namespace),
      usage: 'server',
      validityDays: o.certValidityDays ?? 365,
      now: now(),
    });
  const newCa = () =>
    createCa({ commonName: 'kgw webhook CA', validityDays: o.caValidityDays ?? 3650, now: now() });

  /** The material to serve: from the Secret, creating or renewing it when it is kgw's. */
  const secretMaterial = async (): Promise<{ cert: string; key: string; ca: string | undefined }> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await getIfExists<SecretObject>(o.rest, secretPath);
      if (existing === undefined) {
        const ca = await newCa();
        const leaf = await issue(ca);
        const m: Material = { cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem, caKey: ca.keyPem };
        if (!(await createKgwSecret(o.rest, namespace, secretName, secretValues(m)))) continue; // another replica won: read theirs
        log.info({ namespace, name: secretName }, 'webhook CA and serving certificate created');
        return m;
      }
      const d = decodeSecretData(existing.data);
      const ours = existing.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_KGW;
      if (!ours) {
        if (usablePair(d[KEYS.cert], d[KEYS.key])) {
          log.info(
            { namespace, name: secretName },
            "webhook certificate Secret is not kgw's: serving it as it is",
          );
          return { cert: d[KEYS.cert] ?? '', key: d[KEYS.key] ?? '', ca: d[KEYS.ca] || undefined };
        }
        throw new Error(
          `${ref} exists without the label ${LABEL_MANAGED_BY}=${MANAGED_BY_KGW} and holds no usable tls.crt/tls.key; ` +
            'kgw does not overwrite it: fix or delete it',
        );
      }
      const updated = await renewed(d);
      if (updated === undefined) return { cert: d[KEYS.cert] ?? '', key: d[KEYS.key] ?? '', ca: d[KEYS.ca] };
      try {
        await o.rest.request('PUT', secretPath, {
          ...existing,
          apiVersion: 'v1',
          kind: 'Secret',
          data: encodeSecretData(secretValues(updated)),
        });
        log.info({ namespace, name: secretName }, 'webhook serving certificate renewed');
        return updated;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) continue; // changed meanwhile: re-read
        throw err;
      }
    }
    throw new Error(`${ref}: could not create or update the webhook certificate (conflicts)`);
  };

  /** New material when the stored one is missing, broken or due; undefined when it is fine. */
  const renewed = async (d: Record<string, string>): Promise<Material | undefined> => {
    const t = now();
    const bundle = splitPemBundle(d[KEYS.ca] ?? '');
    let ca: CertificateAuthority | undefined;
    const first = bundle[0];
    const caKey = d[KEYS.caKey];
    if (first !== undefined && caKey !== undefined && usablePair(first, caKey) && !needsRenewal(first, t)) {
      ca = { certPem: first, keyPem: caKey };
    }
    let caChanged = false;
    if (ca === undefined) {
      ca = await newCa();
      caChanged = true;
    }
    const leafOk =
      !caChanged &&
      usablePair(d[KEYS.cert], d[KEYS.key]) &&
      !needsRenewal(d[KEYS.cert] ?? '', t) &&
      issuedBy(d[KEYS.cert] ?? '', ca.certPem);
    // the bundle: current CA first, then older CAs that have not expired
    const keep = bundle.filter((c) => c !== ca.certPem && new X509Certificate(c).validToDate > t);
    const nextBundle = [ca.certPem, ...keep].join('');
    if (leafOk && nextBundle === (d[KEYS.ca] ?? '')) return undefined;
    const leaf = leafOk ? { certPem: d[KEYS.cert] ?? '', keyPem: d[KEYS.key] ?? '' } : await issue(ca);
    return { cert: leaf.certPem, key: leaf.keyPem, ca: nextBundle, caKey: ca.keyPem };
  };

  const writeDir = async (m: { cert: string; key: string; ca: string | undefined }) => {
    const current = await readCredentialDir(certDir).catch(() => undefined);
    if (current && current.cert === m.cert && current.key === m.key && current.ca === (m.ca ?? '')) return;
    try {
      await writeCredentialDir(certDir, { cert: m.cert, key: m.key, ca: m.ca ?? '' });
      log.info({ certDir }, 'webhook serving certificate written');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
        log.info(
          { certDir, code },
          'certificate dir is read-only: the mounted Secret delivers the certificate',
        );
        return;
      }
      throw err;
    }
  };

  const patchCaBundle = async (bundle: string) => {
    const path = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${configName}`;
    const want = Buffer.from(bundle).toString('base64');
    for (let attempt = 0; attempt < 3; attempt++) {
      let cfg: {
        metadata?: { resourceVersion?: string; labels?: Record<string, string> };
        webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
      };
      try {
        cfg = await o.rest.request('GET', path);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          log.info({ name: configName }, 'ValidatingWebhookConfiguration not found; caBundle not set');
          return;
        }
        throw err;
      }
      if (cfg.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
        log.info({ name: configName }, "ValidatingWebhookConfiguration is not kgw's; caBundle left alone");
        return;
      }
      const ops: unknown[] = [];
      (cfg.webhooks ?? []).forEach((w, i) => {
        if (w.clientConfig?.caBundle !== want)
          ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want });
      });
      if (ops.length === 0) return;
      try {
        await o.rest.request(
          'PATCH',
          path,
          [{ op: 'test', path: '/metadata/resourceVersion', value: cfg.metadata?.resourceVersion }, ...ops],
          'application/json-patch+json',
        );
        log.info({ name: configName, webhooks: ops.length }, 'webhook caBundle set');
        return;
      } catch (err) {
        // the configuration changed between read and patch: read it again
        if (err instanceof ApiError && (err.status === 409 || err.status === 422)) continue;
        throw err;
      }
    }
    log.warn(
      { name: configName },
      'webhook caBundle not set: the configuration kept changing; retrying later',
    );
  };

  let running: Promise<void> | undefined;
  const sync = (): Promise<void> => {
    running ??= (async () => {
      try {
        const m = await secretMaterial();
        await writeDir(m);
        caBundle = m.ca;
        if (m.ca !== undefined) await patchCaBundle(m.ca);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  await sync();
  const every = o.checkIntervalMs ?? 3_600_000;
  const timer =
    every > 0
      ? setInterval(() => {
          sync().catch((err: unknown) => log.error({ err }, 'webhook certificate check failed'));
        }, every)
      : undefined;
  timer?.unref();
  return {
    certSource: 'self',
    get caBundle() {
      return caBundle;
    },
    sync,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}

/** Whether `certPem` was signed by `caPem` (issuer name and signature). */
function issuedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}
