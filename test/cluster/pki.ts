// The test cluster's PKI, made in-process with @peculiar/x509 (no openssl): one CA (ECDSA P-256)
// that signs the kube-apiserver's serving certificate (IP and DNS SANs: the node address, the
// `kubernetes` Service IP, 127.0.0.1, kubernetes.default.svc…) and the client certificate the
// apiserver presents to the kubelet (O=system:masters). The CA also verifies clients at the
// kubelet and the apiserver, signs CSRs in the controller-manager and is the root CA pods get.
// operator/pki/ca.ts is kgw's own CA; it has no IP SANs or organisations, which these need.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface ClusterPki {
  ca: KeyPairPem;
  apiserver: KeyPairPem;
  kubeletClient: KeyPairPem;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

/** A CA and the two leaves; valid from 5 minutes ago for `days` days. */
export async function createClusterPki(opts: {
  ipAddresses: string[];
  dnsNames: string[];
  days?: number;
}): Promise<ClusterPki> {
  const now = Date.now();
  const notBefore = new Date(now - 5 * 60_000);
  const notAfter = new Date(now + (opts.days ?? 2) * DAY_MS);
  const caKeys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=kgw-test-cluster-ca',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const leaf = async (
    subject: string,
    usage: 'server' | 'client',
    names: x509.JsonGeneralName[],
  ): Promise<KeyPairPem> => {
    const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(
        [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ];
    if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: caCert.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      extensions,
    });
    return { certPem: `${cert.toString('pem')}\n`, keyPem: await keyPem(keys.privateKey) };
  };

  const [apiserver, kubeletClient] = await Promise.all([
    leaf('CN=kube-apiserver', 'server', [
      ...opts.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ...opts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ]),
    leaf('CN=kube-apiserver-kubelet-client, O=system:masters', 'client', []),
  ]);
  return {
    ca: { certPem: `${caCert.toString('pem')}\n`, keyPem: await keyPem(caKeys.privateKey) },
    apiserver,
    kubeletClient,
  };
}
