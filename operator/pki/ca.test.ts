import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  BACKDATE_MS,
  createCa,
  issueCertificate,
  needsRenewal,
  parseCertificate,
  splitPemBundle,
  subjectAltNames,
} from './ca.ts';

const DAY = 86_400_000;
const NOW = new Date('2030-01-01T00:00:00Z');

describe('createCa', () => {
  it('makes a self-signed CA certificate for signing certificates', async () => {
    const ca = await createCa({ commonName: 'kgw test CA', validityDays: 10, now: NOW });
    const c = new X509Certificate(ca.certPem);
    expect(c.ca).toBe(true);
    expect(c.subject).toBe('CN=kgw test CA');
    expect(c.issuer).toBe(c.subject);
    expect(c.verify(c.publicKey)).toBe(true);
    expect(c.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(c.publicKey.asymmetricKeyType).toBe('ec');
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const info = parseCertificate(ca.certPem);
    expect(info).toMatchObject({
      subjectCommonName: 'kgw test CA',
      issuerCommonName: 'kgw test CA',
      isCa: true,
    });
    expect(info.notBefore.getTime()).toBe(NOW.getTime() - BACKDATE_MS);
    expect(info.notAfter.getTime()).toBe(NOW.getTime() + 10 * DAY);
    const parsed = new x509.X509Certificate(ca.certPem);
    const bc = parsed.getExtension(x509.BasicConstraintsExtension);
    expect(bc).toMatchObject({ ca: true, critical: true });
    const ku = parsed.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect((ku?.usages ?? 0) & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
    expect((ku?.usages ?? 0) & x509.KeyUsageFlags.digitalSignature).toBeFalsy();
  });

  it('rejects a non-positive validity', async () => {
    await expect(createCa({ commonName: 'x', validityDays: 0 })).rejects.toThrow(/validityDays/);
  });
});

describe('issueCertificate', () => {
  it('issues server and client leaves that chain to the CA', async () => {
    const ca = await createCa({ commonName: 'kgw test CA', validityDays: 30, now: NOW });
    const caCert = new X509Certificate(ca.certPem);
    const server = await issueCertificate(ca, {
      commonName: 'xds.kgw.test',
      dnsNames: ['xds.kgw.test', 'kgw-operator.kgw-system.svc'],
      usage: 'server',
      validityDays: 7,
      now: NOW,
    });
    const client = await issueCertificate(ca, {
      commonName: 'gw/edge',
      uris: ['spiffe://kgw/fleet/gw/edge'],
      usage: 'client',
      validityDays: 7,
      now: NOW,
    });
    const s = new X509Certificate(server.certPem);
    const c = new X509Certificate(client.certPem);
    for (const leaf of [s, c]) {
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(leaf.checkIssued(caCert)).toBe(true);
      expect(leaf.ca).toBe(false);
    }
    for (const pem of [server.certPem, client.certPem]) {
      const p = new x509.X509Certificate(pem);
      expect(p.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
      expect(p.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    }
    expect(s.checkHost('kgw-operator.kgw-system.svc')).toBe('kgw-operator.kgw-system.svc');
    expect(s.checkHost('other.example')).toBeUndefined();
    expect(s.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(c.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth
    expect(parseCertificate(client.certPem)).toMatchObject({
      subjectCommonName: 'gw/edge',
      issuerCommonName: 'kgw test CA',
      uris: ['spiffe://kgw/fleet/gw/edge'],
      dnsNames: [],
      isCa: false,
    });
    expect(parseCertificate(server.certPem).dnsNames).toEqual([
      'xds.kgw.test',
      'kgw-operator.kgw-system.svc',
    ]);
    expect(parseCertificate(server.certPem).notAfter.getTime()).toBe(NOW.getTime() + 7 * DAY);
    // A leaf signed by another CA does not verify.
    const other = await createCa({ commonName: 'other', validityDays: 30, now: NOW });
    expect(s.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
  });

  it('ends a leaf with its CA', async () => {
    const ca = await createCa({ commonName: 'short', validityDays: 1, now: NOW });
    const leaf = await issueCertificate(ca, { commonName: 'x', usage: 'server', validityDays: 2, now: NOW });
    expect(parseCertificate(leaf.certPem).notAfter).toEqual(parseCertificate(ca.certPem).notAfter);
    await expect(
      issueCertificate(ca, {
        commonName: 'x',
        usage: 'server',
        validityDays: 1,
        now: new Date(NOW.getTime() + 2 * DAY),
      }),
    ).rejects.toThrow(/expired/);
  });

  it('gives every certificate a distinct positive serial', async () => {
    const ca = await createCa({ commonName: 'ca', validityDays: 30, now: NOW });
    const serials = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const leaf = await issueCertificate(ca, {
        commonName: 'x',
        usage: 'client',
        validityDays: 1,
        now: NOW,
      });
      serials.add(parseCertificate(leaf.certPem).serialNumber);
    }
    expect(serials.size).toBe(5);
  });
});

describe('needsRenewal', () => {
  it('is due after two thirds of the lifetime, and outside the validity window', async () => {
    const ca = await createCa({ commonName: 'ca', validityDays: 100, now: NOW });
    const leaf = await issueCertificate(ca, { commonName: 'x', usage: 'client', validityDays: 30, now: NOW });
    const { notBefore, notAfter } = parseCertificate(leaf.certPem);
    const life = notAfter.getTime() - notBefore.getTime();
    const at = (f: number): Date => new Date(notBefore.getTime() + f * life);
    expect(needsRenewal(leaf.certPem, at(0.5))).toBe(false);
    expect(needsRenewal(leaf.certPem, at(0.66))).toBe(false);
    expect(needsRenewal(leaf.certPem, at(0.67))).toBe(true);
    expect(needsRenewal(leaf.certPem, at(0.4), 0.3)).toBe(true);
    expect(needsRenewal(leaf.certPem, new Date(notBefore.getTime() - 1))).toBe(true);
    expect(needsRenewal(leaf.certPem, notAfter)).toBe(true);
  });
});

describe('helpers', () => {
  it('reads SANs of Node subjectaltname strings', () => {
    expect(subjectAltNames('DNS:a.example, URI:spiffe://kgw/fleet/g/f, DNS:b', 'DNS')).toEqual([
      'a.example',
      'b',
    ]);
    expect(subjectAltNames('DNS:a.example, URI:spiffe://kgw/fleet/g/f', 'URI')).toEqual([
      'spiffe://kgw/fleet/g/f',
    ]);
    expect(subjectAltNames('URI:"spiffe://x/a,b"', 'URI')).toEqual(['spiffe://x/a,b']);
    expect(subjectAltNames(undefined, 'URI')).toEqual([]);
  });

  it('splits a PEM bundle', async () => {
    const a = await createCa({ commonName: 'a', validityDays: 1 });
    const b = await createCa({ commonName: 'b', validityDays: 1 });
    expect(splitPemBundle(a.certPem + b.certPem)).toEqual([a.certPem, b.certPem]);
    expect(splitPemBundle('')).toEqual([]);
  });
});
