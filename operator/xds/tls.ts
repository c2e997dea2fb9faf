// TLS material of the xDS server: a grpc-js certificate provider over a credential directory
// (tls.crt, tls.key, ca.crt; written atomically by pki/xds-tls.ts or mounted from a Secret) that
// re-reads it periodically and on demand, and hands grpc-js a new server key pair and trusted CA
// bundle only when they changed and are consistent (certificate matches key, CA parses). grpc-js
// then swaps the secure context of the listening server in place (setSecureContext): new
// handshakes use the new material, established connections and streams are untouched, nothing
// restarts. A directory that turns unreadable or inconsistent is logged and the last good
// material stays in use.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../log.ts';
import { splitPemBundle } from '../pki/ca.ts';
import { readCredentialDir, type Credentials } from '../pki/xds-tls.ts';

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/** Throws when the material is not a usable server identity plus CA bundle. */
export function checkCredentials(c: Credentials): void {
  const cert = new X509Certificate(c.cert);
  if (!cert.checkPrivateKey(createPrivateKey(c.key))) throw new Error('tls.key is not the key of tls.crt');
  const cas = splitPemBundle(c.ca);
  if (cas.length === 0) throw new Error('ca.crt holds no certificate');
  for (const pem of cas) new X509Certificate(pem);
}

/**
 * A grpc-js CertificateProvider for both the identity and the CA of a server. Pass the same
 * instance as both providers of createCertificateProviderServerCredentials (grpc-js 1.14.7 swaps
 * the two arguments internally; with one object that does not matter).
 */
export class DirectoryCertificateProvider implements grpc.experimental.CertificateProvider {
  readonly dir: string;
  readonly #refreshMs: number;
  readonly #log: Logger;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();
  #current: Credentials | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loading: Promise<boolean> | undefined;
  #reloads = 0;

  constructor(dir: string, opts: { refreshMs: number; log: Logger }) {
    this.dir = dir;
    this.#refreshMs = opts.refreshMs;
    this.#log = opts.log;
  }

  /** How many times new material was applied (the first load counts). */
  get reloads(): number {
    return this.#reloads;
  }

  /**
   * Re-reads the directory now; resolves true when new material was applied. Throws only when
   * nothing was ever loaded (the first load must succeed); later failures keep the last material.
   */
  reload(): Promise<boolean> {
    // One read at a time; a reload asked for during a read waits for it and reads again.
    const run = async (): Promise<boolean> => {
      let next: Credentials;
      try {
        next = await readCredentialDir(this.dir);
        checkCredentials(next);
      } catch (err) {
        if (this.#current === undefined) throw err;
        this.#log.warn({ err, dir: this.dir }, 'xDS TLS credentials unusable; keeping the previous ones');
        return false;
      }
      const cur = this.#current;
      if (cur !== undefined && cur.cert === next.cert && cur.key === next.key && cur.ca === next.ca)
        return false;
      this.#current = next;
      this.#reloads++;
      if (cur !== undefined) {
        this.#log.info({ dir: this.dir, reloads: this.#reloads }, 'xDS TLS credentials reloaded');
      }
      this.#emit();
      return true;
    };
    const p = (this.#loading ?? Promise.resolve(false)).catch(() => false).then(run);
    this.#loading = p;
    const settled = (): void => {
      if (this.#loading === p) this.#loading = undefined;
    };
    p.then(settled, settled);
    return p;
  }

  #emit(): void {
    const c = this.#current;
    if (c === undefined) return;
    for (const l of this.#identityListeners)
      l({ certificate: Buffer.from(c.cert), privateKey: Buffer.from(c.key) });
    for (const l of this.#caListeners) l({ caCertificate: Buffer.from(c.ca) });
  }

  /**
   * A new listener hears the current material on the next microtask, not synchronously: grpc-js
   * 1.14.7 registers its server's watcher only after adding the provider listeners, so a
   * synchronous answer would be lost and the server would drop every connection until the next
   * change ("unloaded credentials").
   */
  #replay(fn: () => void): void {
    queueMicrotask(fn);
  }

  #watch(): void {
    const listening = this.#caListeners.size + this.#identityListeners.size > 0;
    if (listening && this.#timer === undefined) {
      this.#timer = setInterval(() => void this.reload().catch(() => undefined), this.#refreshMs);
      this.#timer.unref();
    } else if (!listening && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    this.#replay(() => {
      const c = this.#current;
      if (c && this.#caListeners.has(listener)) listener({ caCertificate: Buffer.from(c.ca) });
    });
    this.#watch();
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
    this.#watch();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    this.#replay(() => {
      const c = this.#current;
      if (c && this.#identityListeners.has(listener)) {
        listener({ certificate: Buffer.from(c.cert), privateKey: Buffer.from(c.key) });
      }
    });
    this.#watch();
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
    this.#watch();
  }

  /** Stops the periodic re-read. */
  close(): void {
    this.#caListeners.clear();
    this.#identityListeners.clear();
    this.#watch();
  }
}
