// Webhook serving certificates from cert-manager (`--webhook-cert-source cert-manager`), for
// clusters that already run it: kgw applies a cert-manager Certificate `kgw-webhook` for the webhook
// Service's DNS names from the ClusterIssuer given, annotates its own ValidatingWebhookConfiguration
// with `cert-manager.io/inject-ca-from` so cert-manager's cainjector fills in caBundle, and copies
// the issued Secret (`kgw-webhook-tls`) into the serving-certificate directory whenever it changes,
// which the webhook server picks up without a restart (no Secret volume, so no kubelet delay).
// Objects without kgw's label are never changed.
import { decodeSecretData } from '../operator/api/core.ts';
import { LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../operator/api/knativegateway.ts';
import { OPERATOR_NAMESPACE, WEBHOOK_CERT_DIR, WEBHOOK_SERVICE_NAME } from '../operator/api/install.ts';
import { WEBHOOK_CONFIGURATION_NAME } from './webhooks.ts';
import { ApiError, getIfExists, type KubeRest } from '../operator/kube/rest.ts';
import { Reflector, type KubeObject } from '../operator/kube/reflector.ts';
import type { Logger } from '../operator/log.ts';
import { writeCredentialDir } from '../operator/pki/xds-tls.ts';
import { webhookDnsNames } from './certs.ts';

export const WEBHOOK_CERTIFICATE = 'kgw-webhook';
export const WEBHOOK_TLS_SECRET = 'kgw-webhook-tls';
export const INJECT_CA_ANNOTATION = 'cert-manager.io/inject-ca-from';

export interface CertManagerWebhookCertsOptions {
  rest: KubeRest;
  log: Logger;
  /** The cert-manager ClusterIssuer that signs the serving certificate. */
  issuer: string;
  namespace?: string;
  serviceName?: string;
  certDir?: string;
  configurationName?: string;
}

interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

/** The Certificate kgw applies (pure). */
export function webhookCertificate(
  issuer: string,
  namespace: string,
  service: string,
): Record<string, unknown> {
  return {
    apiVersion: 'cert-manager.io/v1',
    kind: 'Certificate',
    metadata: { name: WEBHOOK_CERTIFICATE, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY_KGW } },
    spec: {
      secretName: WEBHOOK_TLS_SECRET,
      dnsNames: webhookDnsNames(service, namespace),
      issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: issuer },
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    },
  };
}

export interface CertManagerWebhookCerts {
  /** Resolves once the issued certificate has been written to the cert dir. */
  readonly issued: Promise<void>;
  stop(): Promise<void>;
}

export async function startCertManagerWebhookCerts(
  o: CertManagerWebhookCertsOptions,
): Promise<CertManagerWebhookCerts> {
  const ns = o.namespace ?? OPERATOR_NAMESPACE;
  const certDir = o.certDir ?? WEBHOOK_CERT_DIR;
  const configName = o.configurationName ?? WEBHOOK_CONFIGURATION_NAME;
  const log = o.log;
  const cert = webhookCertificate(o.issuer, ns, o.serviceName ?? WEBHOOK_SERVICE_NAME);
  const certPath = `/apis/cert-manager.io/v1/namespaces/${ns}/certificates/${WEBHOOK_CERTIFICATE}`;
  const existing = await getIfExists<{ metadata?: { labels?: Record<string, string> } }>(o.rest, certPath);
  if (existing && existing.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
    log.warn(
      { namespace: ns, name: WEBHOOK_CERTIFICATE },
      "Certificate exists and is not kgw's; using it as it is",
    );
  } else {
    await o.rest.request('PATCH', certPath, cert, 'application/apply-patch+yaml', {
      fieldManager: 'kgw',
      force: true,
    });
  }

  // cainjector fills caBundle from the Certificate's CA.
  const cfgPath = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${configName}`;
  try {
    const cfg = await o.rest.request<{
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    }>('GET', cfgPath);
    const want = `${ns}/${WEBHOOK_CERTIFICATE}`;
    if (cfg.metadata?.labels?.[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
      log.info({ name: configName }, "ValidatingWebhookConfiguration is not kgw's; not annotated");
    } else if (cfg.metadata.annotations?.[INJECT_CA_ANNOTATION] !== want) {
      await o.rest.request(
        'PATCH',
        cfgPath,
        { metadata: { annotations: { [INJECT_CA_ANNOTATION]: want } } },
        'application/merge-patch+json',
      );
      log.info({ name: configName, from: want }, 'webhook configuration annotated for CA injection');
    }
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    log.info({ name: configName }, 'ValidatingWebhookConfiguration not found; not annotated');
  }

  // Copy the issued Secret into the cert dir whenever it changes.
  let resolveIssued: () => void = () => undefined;
  const issued = new Promise<void>((r) => (resolveIssued = r));
  const secrets = new Reflector<SecretObject>(o.rest, {
    path: `/api/v1/namespaces/${ns}/secrets`,
    fieldSelector: `metadata.name=${WEBHOOK_TLS_SECRET}`,
    log,
  });
  let written = '';
  let chain: Promise<void> = Promise.resolve();
  secrets.onEvent((e) => {
    if (e.type === 'delete') return;
    const d = decodeSecretData(e.obj.data);
    const material = { cert: d['tls.crt'] ?? '', key: d['tls.key'] ?? '', ca: d['ca.crt'] ?? '' };
    if (!material.cert || !material.key || `${material.cert}${material.key}${material.ca}` === written)
      return;
    written = `${material.cert}${material.key}${material.ca}`;
    chain = chain
      .then(async () => {
        await writeCredentialDir(certDir, material);
        log.info(
          { namespace: ns, name: WEBHOOK_TLS_SECRET, certDir },
          'webhook serving certificate from cert-manager written',
        );
        resolveIssued();
      })
      .catch((err: unknown) =>
        log.error({ err: String(err) }, 'writing the webhook serving certificate failed'),
      );
  });
  secrets.start();
  return {
    issued,
    async stop() {
      await secrets.stop();
      await chain;
    },
  };
}
