// Validation of a kubernetes.io/tls Secret before it is served over SDS: it must exist and carry a
// PEM certificate (tls.crt) and the matching private key (tls.key). Envoy would otherwise NACK the
// Secret and keep the listener that needs it warming. Used for KIngress TLS entries (translate)
// and for a fleet's default certificate (render).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { Secret } from '../api/core.ts';
import type { TranslateProblem } from './ir.ts';

function decodePem(data: string | undefined): string | undefined {
  return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
}

/** Why the Secret `key` (`<ns>/<name>`) cannot be served as a TLS certificate, if it cannot. */
export function tlsSecretProblem(key: string, secret: Secret | undefined): TranslateProblem | undefined {
  if (!secret) return { reason: 'SecretNotFound', message: `TLS Secret ${key} does not exist` };
  const crt = decodePem(secret.data?.['tls.crt']);
  const keyPem = decodePem(secret.data?.['tls.key']);
  if (!crt || !keyPem) {
    return { reason: 'SecretInvalid', message: `TLS Secret ${key} must have tls.crt and tls.key` };
  }
  let matches: boolean;
  try {
    matches = new X509Certificate(crt).checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return { reason: 'SecretInvalid', message: `TLS Secret ${key} is not a valid PEM certificate and key` };
  }
  if (!matches)
    return { reason: 'SecretInvalid', message: `TLS Secret ${key}: tls.key does not match tls.crt` };
  return undefined;
}
