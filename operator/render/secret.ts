// A checked TLS certificate (translate/backend-data.ts) → Envoy SDS Secret (chain and key inline).
import type { CertificateIR } from '../translate/ir.ts';
import type { Json } from './types.ts';

export function renderSecret(name: string, cert: Extract<CertificateIR, { ok: true }>): Json {
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_string: cert.certificateChain },
      private_key: { inline_string: cert.privateKey },
    },
  };
}
