// A Kubernetes TLS Secret → Envoy SDS Secret (certificate chain and key inline).
import type { Secret } from '../api/core.ts';
import type { Json } from './types.ts';

export function renderSecret(name: string, secret: Secret): Json {
  const decode = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_string: decode('tls.crt') },
      private_key: { inline_string: decode('tls.key') },
    },
  };
}
