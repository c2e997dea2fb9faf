// The credentials of kgw's xDS channel (mutual TLS between the operator and its Envoy fleets):
// a CA kgw manages, the xDS server's certificate and one client certificate per fleet, written as
// credential directories and rotated without restarting anything.
//
// A credential directory has the layout of a mounted Kubernetes Secret (the kubelet's atomic
// writer): the files live in a hidden version dir, `..data` is a symlink to it, and `tls.crt`,
// `tls.key`, `ca.crt` are symlinks to `..data/<name>`. A new version is written to a fresh dir
// and `..data` is replaced with one rename, so all three files change at once: a reader that
// resolves `..data` first (readCredentialDir) never sees a new certificate with an old key, and
// Envoy's `watched_directory` on the directory sees the rename and reloads. The same Envoy
// config therefore works for a local replica (a dir written here) and for a pod (a Secret mount).
//
// Identity: a fleet's client certificate has CN `<gateway>/<fleet>` and the URI SAN
// `spiffe://kgw/fleet/<gateway>/<fleet>`; the xDS server serves a stream only the fleet its
// certificate names (fleetFromUris).
//
// Rotation: rotate() re-issues the server and every client leaf from the current CA and rewrites
// every directory written so far. rotateCa() makes a new CA the issuer and puts it in the trust
// bundle next to the old one, without touching the leaves; the old CA stays in the bundle until
// the last leaf it signed expires. Roll a CA in two steps: rotateCa() (every party learns to trust
// the new CA), wait until the directories have propagated, then rotate() (leaves from the new CA).
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import {
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, join } from 'node:path';
import { newLogger, type Logger } from '../log.ts';
import {
  createCa,
  issueCertificate,
  parseCertificate,
  needsRenewal,
  type CertificateAuthority,
  type IssuedCertificate,
} from './ca.ts';

export const TLS_CERT_FILE = 'tls.crt';
export const TLS_KEY_FILE = 'tls.key';
export const CA_CERT_FILE = 'ca.crt';
/** Secret keys of the persisted CA (toSecretData / fromSecretData). */
export const CA_SECRET_CERT_KEY = 'ca.crt';
export const CA_SECRET_KEY_KEY = 'ca.key';
/** The `..data` symlink of a credential directory. */
export const DATA_LINK = '..data';
/** URI SAN prefix of fleet client certificates; the fleet (`<gateway>/<fleet>`) follows. */
export const FLEET_URI_PREFIX = 'spiffe://kgw/fleet/';

/** The URI SAN naming a fleet (`<gateway>/<fleet>`, as in node.cluster). */
export function fleetUri(fleet: string): string {
  if (fleet === '') throw new Error('fleet must not be empty');
  return FLEET_URI_PREFIX + fleet.split('/').map(encodeURIComponent).join('/');
}

/** The fleet a certificate's URI SANs name, if exactly one fleet URI is among them. */
export function fleetFromUris(uris: readonly string[]): string | undefined {
  const fleets = uris
    .filter((u) => u.startsWith(FLEET_URI_PREFIX))
    .map((u) => u.slice(FLEET_URI_PREFIX.length).split('/').map(decodeURIComponent).join('/'));
  return fleets.length === 1 && fleets[0] !== '' ? fleets[0] : undefined;
}

/** The three files of a credential directory, as PEM strings. */
export interface Credentials {
  cert: string;
  key: string;
  ca: string;
}

/**
 * Writes a credential directory atomically (see the header): a new version dir, then one rename
 * of `..data`, then the per-file symlinks (created once), then the old version dirs are removed.
 * The key file is mode 0600.
 */
export async function writeCredentialDir(dir: string, creds: Credentials): Promise<void> {
  await mkdir(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${randomBytes(4).toString('hex')}`;
  const version = join(dir, stamp);
  await mkdir(version, { mode: 0o755 });
  await writeFile(join(version, TLS_CERT_FILE), creds.cert, { mode: 0o644 });
  await writeFile(join(version, TLS_KEY_FILE), creds.key, { mode: 0o600 });
  await writeFile(join(version, CA_CERT_FILE), creds.ca, { mode: 0o644 });
  const tmpLink = join(dir, `${DATA_LINK}_tmp`);
  await rm(tmpLink, { force: true });
  await symlink(stamp, tmpLink);
  await rename(tmpLink, join(dir, DATA_LINK));
  for (const name of [TLS_CERT_FILE, TLS_KEY_FILE, CA_CERT_FILE]) {
    const target = join(DATA_LINK, name);
    const p = join(dir, name);
    const current = await readlink(p).catch(() => undefined);
    if (current === target) continue;
    const tmp = `${p}.tmp`;
    await rm(tmp, { force: true });
    await symlink(target, tmp);
    await rename(tmp, p);
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..') && entry !== stamp && entry !== DATA_LINK) {
      const st = await lstat(join(dir, entry)).catch(() => undefined);
      if (st?.isDirectory() === true) await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Reads a credential directory consistently: through the target of `..data` when there is one
 * (so all three files come from one version), else the plain files.
 */
export async function readCredentialDir(dir: string): Promise<Credentials> {
  const base = await realpath(join(dir, DATA_LINK)).catch(() => dir);
  const [cert, key, ca] = await Promise.all(
    [TLS_CERT_FILE, TLS_KEY_FILE, CA_CERT_FILE].map((f) => readFile(join(base, f), 'utf8')),
  );
  return { cert: cert ?? '', key: key ?? '', ca: ca ?? '' };
}

/** The persisted CA as Secret string data (`stringData`; decode a read Secret's base64 `data` first). */
export function toSecretData(ca: CertificateAuthority): Record<string, string> {
  return { [CA_SECRET_CERT_KEY]: ca.certPem, [CA_SECRET_KEY_KEY]: ca.keyPem };
}

/** The CA from Secret string data; throws when a key is missing, not a CA, or not its key. */
export function fromSecretData(data: Record<string, string | undefined>): CertificateAuthority {
  const certPem = data[CA_SECRET_CERT_KEY];
  const keyPem = data[CA_SECRET_KEY_KEY];
  if (certPem === undefined || keyPem === undefined) {
    throw new Error(`CA secret data needs ${CA_SECRET_CERT_KEY} and ${CA_SECRET_KEY_KEY}`);
  }
  const cert = new X509Certificate(certPem);
  if (!cert.ca) throw new Error(`${CA_SECRET_CERT_KEY} is not a CA certificate`);
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
    throw new Error(`${CA_SECRET_KEY_KEY} is not the key of ${CA_SECRET_CERT_KEY}`);
  }
  return { certPem, keyPem };
}

export interface XdsTlsOptions {
  /** DNS names of the xDS server certificate (what Envoy sends as SNI and checks); the first is its CN. */
  serverNames: string[];
  /** Default 365. */
  caValidityDays?: number;
  /** Server and client leaves; default 30. */
  leafValidityDays?: number;
  caCommonName?: string;
  /** Clock (tests). */
  now?: () => Date;
  log?: Logger;
}

interface TrustedCa {
  ca: CertificateAuthority;
  /** Kept in the bundle until then (the last leaf it signed expires); undefined: the current CA. */
  until?: Date;
}

export class XdsTls {
  readonly #opts: Required<Omit<XdsTlsOptions, 'log'>>;
  readonly #log: Logger;
  /** Newest first; [0] is the issuing CA. */
  #cas: TrustedCa[];
  #server: IssuedCertificate;
  readonly #clients = new Map<string, IssuedCertificate>();
  readonly #serverDirs = new Set<string>();
  readonly #clientDirs = new Map<string, Set<string>>();

  private constructor(
    opts: Required<Omit<XdsTlsOptions, 'log'>>,
    log: Logger,
    ca: CertificateAuthority,
    server: IssuedCertificate,
  ) {
    this.#opts = opts;
    this.#log = log;
    this.#cas = [{ ca }];
    this.#server = server;
  }

  /** New material: `ca` (e.g. fromSecretData) or a new CA, and a server certificate. */
  static async create(options: XdsTlsOptions, ca?: CertificateAuthority): Promise<XdsTls> {
    if (options.serverNames.length === 0) throw new Error('serverNames must name the xDS server');
    const opts = {
      serverNames: [...options.serverNames],
      caValidityDays: options.caValidityDays ?? 365,
      leafValidityDays: options.leafValidityDays ?? 30,
      caCommonName: options.caCommonName ?? 'kgw xDS CA',
      now: options.now ?? (() => new Date()),
    };
    const theCa =
      ca ??
      (await createCa({ commonName: opts.caCommonName, validityDays: opts.caValidityDays, now: opts.now() }));
    const server = await XdsTls.#issueServer(opts, theCa);
    return new XdsTls(opts, options.log ?? newLogger('xds-tls'), theCa, server);
  }

  static #issueServer(
    opts: Required<Omit<XdsTlsOptions, 'log'>>,
    ca: CertificateAuthority,
  ): Promise<IssuedCertificate> {
    return issueCertificate(ca, {
      commonName: opts.serverNames[0] ?? '',
      dnsNames: opts.serverNames,
      usage: 'server',
      validityDays: opts.leafValidityDays,
      now: opts.now(),
    });
  }

  #issueClient(fleet: string): Promise<IssuedCertificate> {
    return issueCertificate(this.ca, {
      commonName: fleet,
      uris: [fleetUri(fleet)],
      usage: 'client',
      validityDays: this.#opts.leafValidityDays,
      now: this.#opts.now(),
    });
  }

  /** The issuing CA (persist it with toSecretData). */
  get ca(): CertificateAuthority {
    const first = this.#cas[0];
    if (first === undefined) throw new Error('no CA');
    return first.ca;
  }

  /** PEM bundle of every trusted CA: the current one, and older ones until their leaves expire. */
  trustBundle(): string {
    const now = this.#opts.now();
    this.#cas = this.#cas.filter((t) => t.until === undefined || t.until > now);
    return this.#cas.map((t) => t.ca.certPem).join('');
  }

  server(): IssuedCertificate {
    return this.#server;
  }

  /** The fleet's client certificate, issued on first use. */
  async client(fleet: string): Promise<IssuedCertificate> {
    let c = this.#clients.get(fleet);
    if (c === undefined) {
      c = await this.#issueClient(fleet);
      this.#clients.set(fleet, c);
      this.#log.info(
        { fleet, notAfter: parseCertificate(c.certPem).notAfter },
        'xDS client certificate issued',
      );
    }
    return c;
  }

  /** Fleets that have a client certificate. */
  fleets(): string[] {
    return [...this.#clients.keys()];
  }

  /** Writes the server credentials (tls.crt, tls.key, ca.crt = trust bundle); rotations rewrite it. */
  async writeServerDir(dir: string): Promise<void> {
    this.#serverDirs.add(dir);
    await writeCredentialDir(dir, {
      cert: this.#server.certPem,
      key: this.#server.keyPem,
      ca: this.trustBundle(),
    });
  }

  /** Writes a fleet's client credentials into `dir`; rotations rewrite it. */
  async writeClientDir(fleet: string, dir: string): Promise<void> {
    const c = await this.client(fleet);
    let dirs = this.#clientDirs.get(fleet);
    if (dirs === undefined) {
      dirs = new Set();
      this.#clientDirs.set(fleet, dirs);
    }
    dirs.add(dir);
    await writeCredentialDir(dir, { cert: c.certPem, key: c.keyPem, ca: this.trustBundle() });
  }

  /** Stops rewriting `dir` (its replica is gone); does not delete it. */
  forgetDir(dir: string): void {
    this.#serverDirs.delete(dir);
    for (const dirs of this.#clientDirs.values()) dirs.delete(dir);
  }

  /** True when the server or a client leaf is past `fraction` of its lifetime (see needsRenewal). */
  needsRotation(fraction = 2 / 3): boolean {
    const now = this.#opts.now();
    return [this.#server, ...this.#clients.values()].some((c) => needsRenewal(c.certPem, now, fraction));
  }

  /** New server and client leaves from the current CA; every written directory is rewritten. */
  async rotate(): Promise<void> {
    this.#server = await XdsTls.#issueServer(this.#opts, this.ca);
    for (const fleet of this.#clients.keys()) this.#clients.set(fleet, await this.#issueClient(fleet));
    await this.#rewrite();
    this.#log.info(
      { fleets: this.#clients.size, notAfter: parseCertificate(this.#server.certPem).notAfter },
      'xDS leaf certificates rotated',
    );
  }

  /**
   * A new issuing CA (`ca` or a fresh one). Leaves stay as they are; the old CA stays trusted until
   * the last leaf it signed expires. Every written directory is rewritten with the new bundle.
   */
  async rotateCa(ca?: CertificateAuthority): Promise<void> {
    const next =
      ca ??
      (await createCa({
        commonName: this.#opts.caCommonName,
        validityDays: this.#opts.caValidityDays,
        now: this.#opts.now(),
      }));
    const leaves = [this.#server, ...this.#clients.values()];
    const until = new Date(Math.max(...leaves.map((l) => parseCertificate(l.certPem).notAfter.getTime())));
    const current = this.#cas[0];
    if (current !== undefined) current.until = until;
    this.#cas.unshift({ ca: next });
    await this.#rewrite();
    this.#log.info({ previousCaTrustedUntil: until, cas: this.#cas.length }, 'xDS CA rotated');
  }

  async #rewrite(): Promise<void> {
    const ca = this.trustBundle();
    for (const dir of this.#serverDirs) {
      await writeCredentialDir(dir, { cert: this.#server.certPem, key: this.#server.keyPem, ca });
    }
    for (const [fleet, dirs] of this.#clientDirs) {
      const c = this.#clients.get(fleet);
      if (c === undefined) continue;
      for (const dir of dirs) await writeCredentialDir(dir, { cert: c.certPem, key: c.keyPem, ca });
    }
  }
}

/** The version dir name `..data` points at (tests, logs). */
export async function credentialVersion(dir: string): Promise<string | undefined> {
  const target = await readlink(join(dir, DATA_LINK)).catch(() => undefined);
  return target === undefined ? undefined : basename(target);
}
