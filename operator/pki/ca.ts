// A small certificate authority in pure TypeScript (@peculiar/x509 over WebCrypto): ECDSA P-256
// keys, a self-signed CA certificate (basicConstraints CA, keyUsage keyCertSign + cRLSign) and
// leaves for TLS servers and clients (basicConstraints not CA, keyUsage digitalSignature, one EKU,
// DNS and URI SANs, subject and authority key ids). Everything is PEM: certificates as
// `CERTIFICATE`, private keys as PKCS#8 `PRIVATE KEY`. Validity starts BACKDATE_MS before `now`,
// so a peer whose clock is a little behind accepts a certificate issued a moment ago.
// @peculiar/x509 resolves its internals with tsyringe, which needs the Reflect metadata polyfill
// loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';

// Node's WebCrypto is the standard one; the library's `Crypto` type differs only in typings.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Certificates are valid from this long before their `now`. */
export const BACKDATE_MS = 5 * 60_000;

/** A CA: its certificate and PKCS#8 private key, both PEM. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

/** An issued leaf: its certificate and PKCS#8 private key, both PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

export interface CreateCaOptions {
  commonName: string;
  validityDays: number;
  now?: Date;
}

export interface IssueOptions {
  commonName: string;
  /** DNS subject alternative names (servers: the names clients connect to / send as SNI). */
  dnsNames?: string[];
  /** URI subject alternative names (e.g. a SPIFFE id). */
  uris?: string[];
  /** Extended key usage: TLS server (serverAuth) or TLS client (clientAuth). */
  usage: 'server' | 'client';
  validityDays: number;
  now?: Date;
}

export interface CertificateInfo {
  subjectCommonName: string | undefined;
  issuerCommonName: string | undefined;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  uris: string[];
  isCa: boolean;
  serialNumber: string;
  /** SHA-256 fingerprint, `AB:CD:…`. */
  fingerprint256: string;
}

function window(now: Date | undefined, validityDays: number): { notBefore: Date; notAfter: Date } {
  if (!(validityDays > 0)) throw new Error(`validityDays must be > 0, got ${validityDays}`);
  const t = (now ?? new Date()).getTime();
  return { notBefore: new Date(t - BACKDATE_MS), notAfter: new Date(t + validityDays * DAY_MS) };
}

/** A positive 128-bit serial number, hex. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

/** `CN=<value>` with the characters RFC 4514 escapes escaped. */
function cnName(commonName: string): string {
  if (commonName === '') throw new Error('commonName must not be empty');
  return `CN=${commonName.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])|( )$/g, '\\$1$2')}`;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY')}\n`;
}

function certPem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
}

/** A new self-signed CA (ECDSA P-256, SHA-256). */
export async function createCa(opts: CreateCaOptions): Promise<CertificateAuthority> {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: cnName(opts.commonName),
    ...window(opts.now, opts.validityDays),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: certPem(cert), keyPem: await keyPem(keys.privateKey) };
}

/** A leaf certificate signed by `ca`, with a fresh key; its validity ends no later than the CA's. */
export async function issueCertificate(
  ca: CertificateAuthority,
  opts: IssueOptions,
): Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const w = window(opts.now, opts.validityDays);
  const notBefore = w.notBefore;
  // A leaf never outlives its CA: it ends with the CA (rotate the CA before that).
  const notAfter = w.notAfter > caCert.notAfter ? caCert.notAfter : w.notAfter;
  if (notAfter <= notBefore) throw new Error(`${opts.commonName}: the CA has expired`);
  const keys = await newKeys();
  const names: x509.JsonGeneralName[] = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [opts.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: cnName(opts.commonName),
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: await importSigningKey(ca.keyPem),
    signingAlgorithm: ALG,
    extensions,
  });
  return { certPem: certPem(cert), keyPem: await keyPem(keys.privateKey) };
}

/** The CN of a Node `subject`/`issuer` string (`CN=a\nO=b`). */
function commonNameOf(dn: string): string | undefined {
  for (const line of dn.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/**
 * The entries of a Node `subjectaltname` string (`DNS:a, URI:spiffe://x`) of one kind. Values
 * with a comma or quote are JSON-quoted by Node; those are decoded.
 */
export function subjectAltNames(san: string | undefined, kind: 'DNS' | 'URI'): string[] {
  if (san === undefined || san === '') return [];
  const out: string[] = [];
  const re = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(san); m !== null; m = re.exec(san)) {
    const value = m[2] ?? '';
    if (m[1] === kind) out.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return out;
}

/** The first PEM certificate of `pem`, parsed. */
export function parseCertificate(pem: string): CertificateInfo {
  const c = new X509Certificate(pem);
  return {
    subjectCommonName: commonNameOf(c.subject),
    issuerCommonName: commonNameOf(c.issuer),
    notBefore: c.validFromDate,
    notAfter: c.validToDate,
    dnsNames: subjectAltNames(c.subjectAltName, 'DNS'),
    uris: subjectAltNames(c.subjectAltName, 'URI'),
    isCa: c.ca,
    serialNumber: c.serialNumber,
    fingerprint256: c.fingerprint256,
  };
}

/**
 * True once `fraction` of the certificate's lifetime (notBefore → notAfter) has passed at `now`,
 * or when it is not valid yet or any more.
 */
export function needsRenewal(pem: string, now: Date, fraction = 2 / 3): boolean {
  const { notBefore, notAfter } = parseCertificate(pem);
  const t = now.getTime();
  if (t < notBefore.getTime() || t >= notAfter.getTime()) return true;
  return t >= notBefore.getTime() + fraction * (notAfter.getTime() - notBefore.getTime());
}

/** Splits a PEM bundle into its certificates (each with its BEGIN/END lines and a newline). */
export function splitPemBundle(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map(
    (m) => `${m[0]}\n`,
  );
}
