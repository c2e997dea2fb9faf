// The admission webhook server: node:https, one POST path per webhook of webhooks.ts. The server
// is only transport: it reads the AdmissionReview (JSON, bounded), calls a pure validator with the
// cached lookups and encodes the answer.
//   - malformed reviews (not JSON, wrong kind/apiVersion, no uid) → HTTP 400, a body over the limit
//     → 413, a compressed body → 415, another path or method → 404: the apiserver then applies the
//     webhook's failure policy;
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
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
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
  /** JSON body limit in bytes (default 8 MiB: an object and its old version, each up to ~1.5 MB in etcd). */
  bodyLimit?: number;
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

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

type Body = { ok: true; value: unknown } | { ok: false; status: number; error: string };

/**
 * The request's JSON body, at most `limit` bytes. A body that is not JSON-typed reads as undefined
 * (the AdmissionReview check then names what is missing); a larger one is read to its end and
 * dropped, so the client gets its 413 instead of a reset connection.
 */
function readJson(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      req.resume();
      resolve({ ok: false, status: 415, error: `content-encoding ${encoding} is not supported` });
      return;
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    let size = 0;
    let tooLarge = declared > limit;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(c);
    });
    req.on('error', reject);
    // a client gone mid-body: settle, so nothing waits on it (its answer goes nowhere)
    req.on('close', () => {
      if (!req.complete) resolve({ ok: false, status: 400, error: 'request aborted' });
    });
    req.on('end', () => {
      if (tooLarge) return resolve({ ok: false, status: 413, error: 'body too large' });
      if (!/\bjson\b/i.test(req.headers['content-type'] ?? ''))
        return resolve({ ok: true, value: undefined });
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ ok: true, value: text === '' ? undefined : (JSON.parse(text) as unknown) });
      } catch {
        resolve({ ok: false, status: 400, error: 'body is not valid JSON' });
      }
    });
  });
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

  const limit = o.bodyLimit ?? 8 * 1024 * 1024;
  const routes = new Map<string, { name: string; validate: Validator }>();
  for (const w of WEBHOOKS) {
    const validate = validators[w.name];
    if (validate) routes.set(w.path, { name: w.name, validate });
  }

  /** The AdmissionReview answer for a review sent to `path` (webhook `name`); 400 for a malformed one. */
  const review = (
    path: string,
    name: string,
    validate: Validator,
    body: unknown,
  ): { status: number; body: unknown } => {
    const parsed = parseAdmissionReview(body);
    if ('error' in parsed) {
      log.warn({ path, err: parsed.error }, 'malformed AdmissionReview');
      return { status: 400, body: { error: parsed.error } };
    }
    const r = parsed.review.request as AdmissionRequest;
    const ctx = {
      webhook: name,
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
    const { apiVersion, kind } = parsed.review;
    return { status: 200, body: reviewResponse({ apiVersion, kind, request: r }, verdict) };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = req.method === 'POST' ? routes.get(path) : undefined;
    if (!route) {
      req.resume();
      return sendJson(res, 404, { error: 'not found' });
    }
    const body = await readJson(req, limit);
    if (!body.ok) {
      log.warn({ path, status: body.status, err: body.error }, 'bad webhook request');
      return sendJson(res, body.status, { error: body.error });
    }
    const answer = review(path, route.name, route.validate, body.value);
    sendJson(res, answer.status, answer.body);
  };

  const server = https.createServer(
    { cert: current.cert, key: current.key, minVersion: 'TLSv1.2' },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        log.error({ err, path: req.url }, 'webhook request failed');
        if (!res.headersSent) sendJson(res, 500, { error: 'error' });
        else res.destroy();
      });
    },
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
