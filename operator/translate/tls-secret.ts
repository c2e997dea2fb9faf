// Validation of a kubernetes.io/tls Secret before it is served over SDS: it must exist and carry a
// PEM certificate (tls.crt) and the matching private key (tls.key). Envoy would otherwise NACK the
// Secret and keep the listener that needs it warming. Used for KIngress TLS entries (translate)
// and, through backend-data.ts, for what render serves (a fleet's default certificate included).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Secret } from '../api/core.ts';
import type { CertificateIR, TranslateProblem } from './ir.ts';

function decodePem(data: string | undefined): string | undefined {
  return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
}

/** The Secret `key` (`<ns>/<name>`) as a certificate and key, or why it cannot be served. */
export function tlsCertificate(key: string, secret: Secret | undefined): CertificateIR {
  const problem = (reason: string, message: string): CertificateIR => ({
    ok: false,
    problem: { reason, message },
  });
  if (!secret) return problem('SecretNotFound', `TLS Secret ${key} does not exist`);
  const certificateChain = decodePem(secret.data?.['tls.crt']);
  const privateKey = decodePem(secret.data?.['tls.key']);
  if (!certificateChain || !privateKey) {
    return problem('SecretInvalid', `TLS Secret ${key} must have tls.crt and tls.key`);
  }
  let matches: boolean;
  try {
    matches = new X509Certificate(certificateChain).checkPrivateKey(createPrivateKey(privateKey));
  } catch {
    return problem('SecretInvalid', `TLS Secret ${key} is not a valid PEM certificate and key`);
  }
  if (!matches) return problem('SecretInvalid', `TLS Secret ${key}: tls.key does not match tls.crt`);
  return { ok: true, certificateChain, privateKey };
}

/** Why the Secret `key` (`<ns>/<name>`) cannot be served as a TLS certificate, if it cannot. */
export function tlsSecretProblem(key: string, secret: Secret | undefined): TranslateProblem | undefined {
  const c = tlsCertificate(key, secret);
  return c.ok ? undefined : c.problem;
}
