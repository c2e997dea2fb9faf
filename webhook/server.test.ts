// The webhook server without an apiserver: HTTPS transport, status codes for broken callers, fail
// closed on a throwing validator, certificate reloads (and a bad pair being ignored).
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { newLogger } from '../operator/log.ts';
import {
  createCa,
  issueCertificate,
  parseCertificate,
  type CertificateAuthority,
} from '../operator/pki/ca.ts';
import { writeCredentialDir } from '../operator/pki/xds-tls.ts';
import { staticLookups } from './lookups.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';

const log = newLogger('webhook-test');
let dir: string;
let ca: CertificateAuthority;
let server: WebhookServer;
let serving: { certPem: string; keyPem: string };

async function issue(c: CertificateAuthority) {
  return issueCertificate(c, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    usage: 'server',
    validityDays: 1,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kgw-webhook-'));
  ca = await createCa({ commonName: 'test CA', validityDays: 1 });
  serving = await issue(ca);
  await writeCredentialDir(dir, { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem });
  server = await startWebhookServer({
    port: 0,
    host: '127.0.0.1',
    certDir: dir,
    lookups: staticLookups({
      gateways: [
        { metadata: { name: 'main' }, spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }] } },
      ],
    }),
    log,
    certCheckIntervalMs: 200,
    validators: {
      'domainmapping.validation.kgw.dev': () => {
        throw new Error('boom');
      },
    },
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function post(
  path: string,
  body: string,
  caPem = ca.certPem,
  extra: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: server.port,
        servername: 'localhost',
        path,
        method: extra.method ?? 'POST',
        ca: caPem,
        agent: false, // a new connection (and handshake) per request
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          ...extra.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const kingressReview = (spec: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'uid-1',
      kind: { group: 'networking.internal.knative.dev', version: 'v1alpha1', kind: 'Ingress' },
      resource: { group: 'networking.internal.knative.dev', version: 'v1alpha1', resource: 'ingresses' },
      operation: 'CREATE',
      namespace: 'default',
      name: 'hello',
      // no namespace in the object's metadata: the server fills it in from the request
      object: {
        metadata: {
          name: 'hello',
          annotations: { 'networking.knative.dev/ingress.class': 'kgw.ingress.networking.knative.dev' },
        },
        spec,
      },
      ...extra,
    },
  });

const goodSpec = {
  rules: [
    {
      hosts: ['a.example.com'],
      http: { paths: [{ splits: [{ serviceNamespace: 'default', serviceName: 's', servicePort: 80 }] }] },
    },
  ],
};

/** The serial number of the certificate the server presents. */
function servedSerial(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port: server.port, servername: 'localhost', rejectUnauthorized: false },
      () => {
        const serial = s.getPeerCertificate().serialNumber;
        s.end();
        resolve(serial);
      },
    );
    s.on('error', reject);
  });
}

async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('webhook server', () => {
  test('allows a good KIngress, echoing the uid', async () => {
    const r = await post('/validate/kingress', kingressReview(goodSpec));
    expect(r).toEqual({
      status: 200,
      json: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: 'uid-1', allowed: true },
      },
    });
  });

  test('denies a bad one with 403 and the message; dry run gets the same answer', async () => {
    const bad = { ...goodSpec, httpOption: 'Nope' };
    for (const dryRun of [false, true]) {
      const r = await post('/validate/kingress', kingressReview(bad, { dryRun }));
      expect(r.json).toMatchObject({
        response: {
          uid: 'uid-1',
          allowed: false,
          status: { code: 403, message: 'spec.httpOption: must be "", Enabled or Redirected, got "Nope"' },
        },
      });
    }
  });

  test('the namespace comes from the request when the object lacks it', async () => {
    const spec = {
      rules: [
        {
          hosts: ['a.example.com'],
          http: { paths: [{ splits: [{ serviceNamespace: 'other', serviceName: 's', servicePort: 80 }] }] },
        },
      ],
    };
    const r = await post('/validate/kingress', kingressReview(spec));
    expect(JSON.stringify(r.json)).toContain(
      `must be the KIngress's namespace \\"default\\", got \\"other\\"`,
    );
  });

  test('a throwing validator fails closed', async () => {
    const body = kingressReview(goodSpec).replace('"ingresses"', '"domainmappings"');
    const r = await post('/validate/domainmapping', body);
    expect(r.json).toMatchObject({
      response: {
        uid: 'uid-1',
        allowed: false,
        status: { code: 403, message: 'kgw could not validate this object: boom' },
      },
    });
  });

  test('DELETE is allowed without validation', async () => {
    const r = await post('/validate/kingress', kingressReview({}, { operation: 'DELETE', object: null }));
    expect(r.json).toMatchObject({ response: { allowed: true } });
  });

  test('malformed requests: 400; unknown path: 404; too large: 413', async () => {
    expect((await post('/validate/kingress', '{not json')).status).toBe(400);
    const wrongKind = await post('/validate/kingress', JSON.stringify({ apiVersion: 'v1', kind: 'Pod' }));
    expect(wrongKind).toEqual({ status: 400, json: { error: 'kind must be AdmissionReview' } });
    expect(
      (
        await post(
          '/validate/kingress',
          JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
        )
      ).status,
    ).toBe(400);
    expect((await post('/nope', '{}')).status).toBe(404);
    const huge = JSON.stringify({ pad: 'x'.repeat(9 * 1024 * 1024) });
    expect((await post('/validate/kingress', huge)).status).toBe(413);
    // only POST; a query string (the apiserver adds ?timeout=10s) is not part of the path
    expect((await post('/validate/kingress', '', ca.certPem, { method: 'GET' })).status).toBe(404);
    const review = kingressReview(goodSpec);
    expect((await post('/validate/kingress?timeout=10s', review)).json).toMatchObject({
      response: { allowed: true },
    });
    // no body parser for compressed bodies; a body that is not typed JSON is not read as a review
    const gzip = await post('/validate/kingress', review, ca.certPem, {
      headers: { 'Content-Encoding': 'gzip' },
    });
    expect(gzip.status).toBe(415);
    const text = await post('/validate/kingress', review, ca.certPem, {
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(text.status).toBe(400);
  });

  test('a client that leaves mid-body disturbs nothing', async () => {
    await new Promise<void>((resolve, reject) => {
      const s = tls.connect(
        { host: '127.0.0.1', port: server.port, servername: 'localhost', ca: ca.certPem },
        () => {
          s.write(
            'POST /validate/kingress HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
              'Content-Length: 1000\r\n\r\n{"apiVersion":',
            () => {
              s.destroy();
              resolve();
            },
          );
        },
      );
      s.on('error', reject);
    });
    expect((await post('/validate/kingress', kingressReview(goodSpec))).json).toMatchObject({
      response: { allowed: true },
    });
  });

  test('a swapped certificate is served without a restart; a bad pair is ignored', async () => {
    const before = server.serialNumber;
    expect(await servedSerial()).toBe(before);
    const reloads = server.reloads;
    // a pair whose key does not match is logged and ignored
    const other = await issue(ca);
    await writeCredentialDir(dir, { cert: other.certPem, key: serving.keyPem, ca: ca.certPem });
    expect(await server.reload()).toBe(false);
    expect(server.serialNumber).toBe(before);
    // a good pair from a new CA
    const ca2 = await createCa({ commonName: 'test CA 2', validityDays: 1 });
    const next = await issue(ca2);
    await writeCredentialDir(dir, { cert: next.certPem, key: next.keyPem, ca: ca2.certPem });
    await until('the new certificate', () => server.reloads > reloads);
    const serial = parseCertificate(next.certPem).serialNumber;
    expect(server.serialNumber).toBe(serial);
    expect(await servedSerial()).toBe(serial);
    // clients trusting only the new CA get through; only the old CA: refused
    expect((await post('/validate/kingress', kingressReview(goodSpec), ca2.certPem)).status).toBe(200);
    await expect(post('/validate/kingress', kingressReview(goodSpec), ca.certPem)).rejects.toThrow();
  });

  test('plain files (no ..data) work too', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kgw-webhook-plain-'));
    try {
      const p = await issue(ca);
      await writeFile(join(d, 'tls.crt'), p.certPem);
      await writeFile(join(d, 'tls.key'), p.keyPem);
      const s = await startWebhookServer({
        port: 0,
        host: '127.0.0.1',
        certDir: d,
        lookups: staticLookups({}),
        log,
      });
      expect(s.serialNumber).toBe(parseCertificate(p.certPem).serialNumber);
      await s.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('start fails (bounded) when no certificate appears', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kgw-webhook-empty-'));
    try {
      await expect(
        startWebhookServer({ port: 0, certDir: d, lookups: staticLookups({}), log, certWaitMs: 300 }),
      ).rejects.toThrow(/not loadable after 300 ms/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
