import { X509Certificate } from 'node:crypto';
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { DirectoryCertificateProvider } from '../xds/tls.ts';
import { createCa, parseCertificate, splitPemBundle } from './ca.ts';
import {
  CA_CERT_FILE,
  DATA_LINK,
  TLS_CERT_FILE,
  TLS_KEY_FILE,
  XdsTls,
  credentialVersion,
  fleetFromUris,
  fleetUri,
  fromSecretData,
  readCredentialDir,
  toSecretData,
  writeCredentialDir,
} from './xds-tls.ts';

const log = pino({ level: 'silent' });
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kgw-xds-tls-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('fleet identity', () => {
  it('round-trips a fleet through its URI SAN', () => {
    expect(fleetUri('gw/edge')).toBe('spiffe://kgw/fleet/gw/edge');
    expect(fleetFromUris([fleetUri('gw/edge')])).toBe('gw/edge');
    expect(fleetFromUris(['spiffe://other/x', fleetUri('a b/c')])).toBe('a b/c');
    expect(fleetFromUris([])).toBeUndefined();
    expect(fleetFromUris([fleetUri('a/b'), fleetUri('a/c')])).toBeUndefined(); // ambiguous
  });
});

describe('credential directories', () => {
  it('writes the Secret-mount layout and swaps all files with one rename', async () => {
    const d = path.join(dir, 'creds');
    await writeCredentialDir(d, { cert: 'C1', key: 'K1', ca: 'A1' });
    const v1 = await credentialVersion(d);
    expect(v1).toMatch(/^\.\./);
    for (const f of [TLS_CERT_FILE, TLS_KEY_FILE, CA_CERT_FILE]) {
      expect(lstatSync(path.join(d, f)).isSymbolicLink()).toBe(true);
      expect(readlinkSync(path.join(d, f))).toBe(`${DATA_LINK}/${f}`);
    }
    expect(statSync(path.join(d, TLS_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(await readCredentialDir(d)).toEqual({ cert: 'C1', key: 'K1', ca: 'A1' });

    await writeCredentialDir(d, { cert: 'C2', key: 'K2', ca: 'A2' });
    const v2 = await credentialVersion(d);
    expect(v2).not.toBe(v1);
    expect(readFileSync(path.join(d, TLS_CERT_FILE), 'utf8')).toBe('C2');
    expect(await readCredentialDir(d)).toEqual({ cert: 'C2', key: 'K2', ca: 'A2' });
    // Only the current version dir is left.
    expect(
      readdirSync(d)
        .filter((e) => e.startsWith('..'))
        .sort(),
    ).toEqual([v2, DATA_LINK].sort());
  });

  it('reads plain files too', async () => {
    writeFileSync(path.join(dir, TLS_CERT_FILE), 'c');
    writeFileSync(path.join(dir, TLS_KEY_FILE), 'k');
    writeFileSync(path.join(dir, CA_CERT_FILE), 'a');
    expect(await readCredentialDir(dir)).toEqual({ cert: 'c', key: 'k', ca: 'a' });
  });
});

describe('CA secret data', () => {
  it('round-trips and rejects a key that is not the CA key', async () => {
    const ca = await createCa({ commonName: 'ca', validityDays: 1 });
    const data = toSecretData(ca);
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'ca.key']);
    expect(fromSecretData(data)).toEqual(ca);
    const other = await createCa({ commonName: 'other', validityDays: 1 });
    expect(() => fromSecretData({ 'ca.crt': ca.certPem, 'ca.key': other.keyPem })).toThrow(/not the key/);
    expect(() => fromSecretData({ 'ca.crt': ca.certPem })).toThrow(/needs/);
  });
});

describe('XdsTls', () => {
  it('issues a server certificate and per-fleet client certificates from its CA', async () => {
    const tls = await XdsTls.create({ serverNames: ['xds.kgw.test', 'alt.kgw.test'], log });
    const caKey = new X509Certificate(tls.ca.certPem).publicKey;
    const server = new X509Certificate(tls.server().certPem);
    expect(server.verify(caKey)).toBe(true);
    expect(server.checkHost('alt.kgw.test')).toBe('alt.kgw.test');
    const client = await tls.client('gw/edge');
    expect(await tls.client('gw/edge')).toBe(client); // cached
    expect(new X509Certificate(client.certPem).verify(caKey)).toBe(true);
    expect(parseCertificate(client.certPem)).toMatchObject({
      subjectCommonName: 'gw/edge',
      uris: ['spiffe://kgw/fleet/gw/edge'],
    });
    expect(tls.fleets()).toEqual(['gw/edge']);
    expect(tls.needsRotation()).toBe(false);
  });

  it('uses a given CA (from a Secret)', async () => {
    const ca = await createCa({ commonName: 'persisted', validityDays: 30 });
    const tls = await XdsTls.create({ serverNames: ['x'], log }, fromSecretData(toSecretData(ca)));
    expect(tls.ca).toEqual(ca);
    expect(parseCertificate(tls.server().certPem).issuerCommonName).toBe('persisted');
  });

  it('rotate() re-issues every leaf and rewrites every directory', async () => {
    const tls = await XdsTls.create({ serverNames: ['x'], log });
    await tls.writeServerDir(path.join(dir, 'server'));
    await tls.writeClientDir('gw/a', path.join(dir, 'a'));
    const before = await readCredentialDir(path.join(dir, 'a'));
    const serverBefore = await readCredentialDir(path.join(dir, 'server'));
    await tls.rotate();
    const after = await readCredentialDir(path.join(dir, 'a'));
    expect(after.cert).not.toBe(before.cert);
    expect(after.key).not.toBe(before.key);
    expect(after.ca).toBe(before.ca);
    expect(after.cert).toBe((await tls.client('gw/a')).certPem);
    expect((await readCredentialDir(path.join(dir, 'server'))).cert).not.toBe(serverBefore.cert);
    tls.forgetDir(path.join(dir, 'a'));
    await tls.rotate();
    expect((await readCredentialDir(path.join(dir, 'a'))).cert).toBe(after.cert);
  });

  it('rotateCa() trusts old and new CA until the old leaves expire, then drops the old CA', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const tls = await XdsTls.create({ serverNames: ['x'], leafValidityDays: 10, now: () => now, log });
    await tls.writeClientDir('gw/a', path.join(dir, 'a'));
    const oldCa = tls.ca;
    await tls.rotateCa();
    expect(tls.ca).not.toEqual(oldCa);
    const bundle = splitPemBundle((await readCredentialDir(path.join(dir, 'a'))).ca);
    expect(bundle).toEqual([tls.ca.certPem, oldCa.certPem]);
    // Leaves stay until rotate(); then they come from the new CA.
    expect(parseCertificate((await tls.client('gw/a')).certPem).notAfter.getTime()).toBe(
      now.getTime() + 10 * 86_400_000,
    );
    await tls.rotate();
    const leaf = new X509Certificate((await tls.client('gw/a')).certPem);
    expect(leaf.verify(new X509Certificate(tls.ca.certPem).publicKey)).toBe(true);
    expect(splitPemBundle(tls.trustBundle())).toHaveLength(2);
    now = new Date(now.getTime() + 11 * 86_400_000); // the old CA's last leaf has expired
    expect(splitPemBundle(tls.trustBundle())).toEqual([tls.ca.certPem]);
    expect(tls.needsRotation()).toBe(true); // 11 of 10 days
  });
});

describe('DirectoryCertificateProvider', () => {
  it('hands out the directory, applies consistent rewrites, keeps the last good material', async () => {
    const tls = await XdsTls.create({ serverNames: ['x'], log });
    const d = path.join(dir, 'server');
    await tls.writeServerDir(d);
    const provider = new DirectoryCertificateProvider(d, { refreshMs: 20, log });
    expect(await provider.reload()).toBe(true);
    const certs: string[] = [];
    const cas: string[] = [];
    provider.addIdentityCertificateListener((u) => certs.push(u?.certificate.toString() ?? ''));
    provider.addCaCertificateListener((u) => cas.push(u?.caCertificate.toString() ?? ''));
    await new Promise((r) => setTimeout(r, 0)); // listeners hear the current material async
    expect(certs).toEqual([tls.server().certPem]);
    expect(cas).toEqual([tls.trustBundle()]);

    // The periodic read picks up a rotation.
    await tls.rotate();
    const deadline = Date.now() + 5000;
    while (certs.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(certs).toEqual([expect.any(String), tls.server().certPem]);

    // A certificate that does not match its key is not applied.
    const other = await XdsTls.create({ serverNames: ['y'], log });
    await writeCredentialDir(d, {
      cert: other.server().certPem,
      key: tls.server().keyPem,
      ca: tls.trustBundle(),
    });
    expect(await provider.reload()).toBe(false);
    expect(certs).toHaveLength(2);
    provider.close();
  });

  it('fails the first load of an unusable directory', async () => {
    const provider = new DirectoryCertificateProvider(path.join(dir, 'missing'), { refreshMs: 1000, log });
    await expect(provider.reload()).rejects.toThrow();
  });
});
