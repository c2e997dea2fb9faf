// The admission webhook server: express over node:https, one POST route per webhook of
// webhooks.ts. Express is only transport: it decodes the AdmissionReview, calls a pure
// validator with the cached lookups and encodes the answer.
//   - malformed reviews (not JSON, wrong kind/apiVersion, no uid) → HTTP 400, a body over the limit
//     → 413: the apiserver then applies the webhook's failure policy;
//   - a validator that throws → allowed=false naming the error (fail closed), logged;
//   - nothing writes: dry-run requests get the same answer as real ones and cause nothing.
//
// Certificates come from a directory (tls.crt, tls.key; default WEBHOOK_CERT_DIR), either written
// by kgw (webhook/certs.ts), mounted from a Secret (kgw's own, cert-manager's) or mounted by OLM.
// The directory is watched (fs.watch on the directory — the kubelet swaps a `..data` symlink, so
// the files themselves never change in place — plus a periodic check as a fallback) and a changed
// pair is applied with server.setSecureContext: new handshakes get the new certificate, open
// connections are not dropped, nothing restarts. A pair that does not load (half written, key not
// matching) is logged and the previous one stays in use.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import express, { type NextFunction, type Request, type Response } from 'express';
import { WEBHOOK_CERT_DIR } from '../operator/api/install.ts';
import { WEBHOOKS } from './webhooks.ts';
import type { Logger } from '../operator/log.ts';
import {
  deny,
  parseAdmissionReview,
  reviewResponse,
  type AdmissionRequest,
  type Verdict,
} from './admission.ts';
import type { Lookups } from './lookups.ts';
import { validateDomainMapping } from './validate-domainmapping.ts';
import { validateKIngress } from './validate-kingress.ts';
import { validateKnativeGateway } from './validate-knativegateway.ts';
import { validateRoutingRules } from './validate-routing-rules.ts';

export const TLS_CERT_FILE = 'tls.crt';
export const TLS_KEY_FILE = 'tls.key';

/** A pure validator: the new object, the old one (UPDATE) and the lookups. */
export type Validator = (object: unknown, oldObject: unknown, lookups: Lookups) => Verdict;

/** kgw's validators by webhook name (webhooks.ts). */
export const VALIDATORS: Readonly<Record<string, Validator>> = {
  'kingress.validation.kgw.dev': validateKIngress,
  'domainmapping.validation.kgw.dev': validateDomainMapping,
  'knativegateway.validation.kgw.dev': validateKnativeGateway,
  'routing-rules.validation.kgw.dev': validateRoutingRules,
};

export interface WebhookServerOptions {
  /** 0 picks a free port (tests). */
  port: number;
  /** Listen address (default all interfaces). */
  host?: string;
  /** Directory with tls.crt and tls.key (default WEBHOOK_CERT_DIR). */
  certDir?: string;
  lookups: Lookups;
  log: Logger;
  /** Fallback check of the certificate files (default 10 s). */
  certCheckIntervalMs?: number;
  /** How long start waits for a loadable certificate pair in certDir (default 120 s). */
  certWaitMs?: number;
  /** JSON body limit (default 8mb: an object and its old version, each up to ~1.5 MB in etcd). */
  bodyLimit?: string;
  /** Override validators by webhook name (tests). */
  validators?: Readonly<Record<string, Validator>>;
}

export interface WebhookServer {
  /** The port listened on. */
  readonly port: number;
  /** How many times a changed certificate pair was applied since start. */
  readonly reloads: number;
  /** Serial number (hex) of the certificate being served. */
  readonly serialNumber: string;
  /** Re-reads the certificate directory now; true when a new pair was applied. */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

interface Pair {
  cert: string;
  key: string;
  serialNumber: string;
}

/** Reads tls.crt/tls.key through `..data` when present (one consistent version). */
async function readPair(dir: string): Promise<{ cert: string; key: string }> {
  const base = await realpath(join(dir, '..data')).catch(() => dir);
  const [cert, key] = await Promise.all([
    readFile(join(base, TLS_CERT_FILE), 'utf8'),
    readFile(join(base, TLS_KEY_FILE), 'utf8'),
  ]);
  return { cert, key };
}

/** Parses and checks a pair: a certificate, its private key, loadable by TLS. Throws otherwise. */
function checkPair(p: { cert: string; key: string }): Pair {
  const x = new X509Certificate(p.cert);
  if (!x.checkPrivateKey(createPrivateKey(p.key))) throw new Error('tls.key is not the key of tls.crt');
  createSecureContext({ cert: p.cert, key: p.key });
  return { ...p, serialNumber: x.serialNumber };
}

function objectMeta(o: unknown): Record<string, unknown> | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const m = (o as { metadata?: unknown }).metadata;
  return typeof m === 'object' && m !== null ? (m as Record<string, unknown>) : undefined;
}

/**
 * The object with the request's namespace (and name) filled in when its metadata lacks them, as
 * the validators judge namespaces. A copy: the request is not changed.
 */
function withRequestMeta(o: unknown, req: AdmissionRequest): unknown {
  const meta = objectMeta(o);
  if (meta === undefined) return o;
  const fill: Record<string, unknown> = {};
  if (meta.namespace === undefined && req.namespace) fill.namespace = req.namespace;
  if ((meta.name === undefined || meta.name === '') && req.name) fill.name = req.name;
  if (Object.keys(fill).length === 0) return o;
  return { ...(o as Record<string, unknown>), metadata: { ...meta, ...fill } };
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const log = o.log;
  const certDir = o.certDir ?? WEBHOOK_CERT_DIR;
  const validators = { ...VALIDATORS, ...(o.validators ?? {}) };

  // first pair: wait (bounded) until the directory holds one that loads
  const waitMs = o.certWaitMs ?? 120_000;
  const t0 = Date.now();
  let current: Pair | undefined;
  let lastErr = '';
  for (let i = 0; current === undefined; i++) {
    try {
      current = checkPair(await readPair(certDir));
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
      if (Date.now() - t0 >= waitMs) {
        throw new Error(`webhook certificate in ${certDir} not loadable after ${waitMs} ms: ${lastErr}`);
      }
      if (i === 0) log.info({ certDir, err: lastErr }, 'waiting for the webhook serving certificate');
      await new Promise((r) => setTimeout(r, Math.min(500, waitMs)));
    }
  }

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: o.bodyLimit ?? '8mb' }));
  for (const w of WEBHOOKS) {
    const validate = validators[w.name];
    if (!validate) continue;
    app.post(w.path, (req: Request, res: Response) => {
      const parsed = parseAdmissionReview(req.body);
      if ('error' in parsed) {
        log.warn({ path: w.path, err: parsed.error }, 'malformed AdmissionReview');
        res.status(400).json({ error: parsed.error });
        return;
      }
      const review = parsed.review;
      const r = review.request as AdmissionRequest;
      const ctx = {
        webhook: w.name,
        uid: r.uid,
        operation: r.operation,
        kind: r.kind.kind,
        namespace: r.namespace,
        name: r.name,
        dryRun: r.dryRun === true,
      };
      let verdict: Verdict;
      if (r.operation !== 'CREATE' && r.operation !== 'UPDATE') verdict = { allowed: true };
      else {
        try {
          verdict = validate(withRequestMeta(r.object, r), r.oldObject ?? undefined, o.lookups);
        } catch (err) {
          log.error({ ...ctx, err }, 'validator failed; denying');
          verdict = deny(
            `kgw could not validate this object: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      if (!verdict.allowed) log.info({ ...ctx, message: verdict.message }, 'admission denied');
      else log.debug({ ...ctx, warnings: verdict.warnings }, 'admission allowed');
      res
        .status(200)
        .json(reviewResponse({ apiVersion: review.apiVersion, kind: review.kind, request: r }, verdict));
    });
  }
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  // express needs the four-argument signature to treat this as the error handler
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
    const status = e.status ?? e.statusCode ?? 500;
    const message =
      e.type === 'entity.parse.failed'
        ? 'body is not valid JSON'
        : e.type === 'entity.too.large'
          ? 'body too large'
          : (e.message ?? 'error');
    if (status >= 500) log.error({ err, path: req.path }, 'webhook request failed');
    else log.warn({ path: req.path, status, err: message }, 'bad webhook request');
    res.status(status).json({ error: message });
  });

  const server = https.createServer(
    { cert: current.cert, key: current.key, minVersion: 'TLSv1.2' },
    // express's app is a request listener
    app as unknown as (req: unknown, res: unknown) => void,
  );
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'webhook server error'));
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: o.host, certDir, serialNumber: current.serialNumber }, 'webhook server listening');

  let reloads = 0;
  let closed = false;
  let checking: Promise<boolean> | undefined;
  const reload = (): Promise<boolean> => {
    // one check at a time; a request during a check waits for it
    checking ??= (async () => {
      try {
        let next: Pair;
        try {
          const raw = await readPair(certDir);
          if (current && raw.cert === current.cert && raw.key === current.key) return false;
          next = checkPair(raw);
        } catch (err) {
          log.warn(
            { certDir, err: err instanceof Error ? err.message : String(err) },
            'webhook certificate not loadable; keeping the current one',
          );
          return false;
        }
        if (closed) return false;
        server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
        const old = current?.serialNumber;
        current = next;
        reloads++;
        log.info({ certDir, serialNumber: next.serialNumber, previous: old }, 'webhook certificate reloaded');
        return true;
      } finally {
        checking = undefined;
      }
    })();
    return checking;
  };

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const startWatch = () => {
    if (watcher || closed) return;
    try {
      watcher = watch(certDir, () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload(), 100);
      });
      watcher.on('error', (err) => {
        log.warn({ certDir, err: String(err) }, 'certificate directory watch failed; polling');
        watcher?.close();
        watcher = undefined;
      });
    } catch (err) {
      log.warn({ certDir, err: String(err) }, 'cannot watch the certificate directory; polling');
    }
  };
  startWatch();
  const interval = setInterval(() => {
    startWatch();
    void reload();
  }, o.certCheckIntervalMs ?? 10_000);
  interval.unref();

  return {
    port,
    get reloads() {
      return reloads;
    },
    get serialNumber() {
      return current?.serialNumber ?? '';
    },
    reload,
    async close() {
      closed = true;
      clearInterval(interval);
      clearTimeout(debounce);
      watcher?.close();
      watcher = undefined;
      await checking;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
