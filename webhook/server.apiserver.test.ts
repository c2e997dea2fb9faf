// kgw's admission webhooks called by a real kube-apiserver over TLS: a ValidatingWebhookConfiguration
// with the webhooks of webhook/webhooks.ts, pointed at the server by URL, with the live
// lookups (reflectors) behind it. Each bad spec is rejected with its own message as a client sees
// it, good specs pass, dry-run creates leave nothing behind, and a certificate swap (new CA) is
// picked up without restarting the server. Needs the test parts from `bash test/env/setup.sh`.
import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { startControlPlane, type ControlPlane } from '../test/env/control-plane.ts';
import { installKnativeCRDs } from '../test/env/crds.ts';
import { applyManifests } from '../test/env/manifests.ts';
import { GATEWAY_API_VERSION, GATEWAY_KIND } from '../operator/api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS } from '../operator/api/kingress.ts';
import { knativeGatewayCrd } from '../operator/gen/knativegateway-crd.ts';
import { validatingWebhook } from '../operator/gen/webhooks.ts';
import { WEBHOOKS } from './webhooks.ts';
import { KubeRest } from '../operator/kube/rest.ts';
import { newLogger } from '../operator/log.ts';
import {
  createCa,
  issueCertificate,
  parseCertificate,
  type CertificateAuthority,
} from '../operator/pki/ca.ts';
import { writeCredentialDir } from '../operator/pki/xds-tls.ts';
import { liveLookups, type LiveLookups } from './lookups.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';

const log = newLogger('webhook-apiserver-test');
const CONFIG = 'kgw-validation-test';
const VWC_PATH = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${CONFIG}`;
const GATEWAYS = '/apis/operator.kgw.dev/v1alpha1/knativegateways';
const ingresses = (ns: string) => `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${ns}/ingresses`;
const mappings = (ns: string) => `/apis/serving.knative.dev/v1beta1/namespaces/${ns}/domainmappings`;
const CLAIMS = '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims';

let cp: ControlPlane;
let rest: KubeRest;
let lookups: LiveLookups;
let server: WebhookServer;
let certDir: string;
let ca: CertificateAuthority;

interface Answer {
  status: number;
  body: { message?: string; metadata?: { name?: string }; items?: unknown[] };
  warnings: string;
}

/** A raw API request as kubectl makes it (admin token), returning status, body and Warning headers. */
function api(method: string, path: string, body?: unknown): Promise<Answer> {
  const url = new URL(path, cp.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        method,
        hostname: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        ca: cp.caPem,
        headers: {
          Authorization: `Bearer ${cp.token}`,
          Accept: 'application/json',
          ...(payload
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const w = res.headers.warning;
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as Answer['body']) : {},
            warnings: Array.isArray(w) ? w.join('\n') : (w ?? ''),
          });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const create = (path: string, obj: unknown, dryRun = false) =>
  api('POST', dryRun ? `${path}?dryRun=All` : path, obj);

async function until(what: string, f: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const denied = (webhook: string, message: string) =>
  `admission webhook "${webhook}" denied the request: ${message}`;
const KING = 'kingress.validation.kgw.dev';
const DMW = 'domainmapping.validation.kgw.dev';
const GWW = 'knativegateway.validation.kgw.dev';

function gateway(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: GATEWAY_KIND,
    metadata: { name },
    spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], ...spec },
  };
}

function kingress(
  ns: string,
  name: string,
  host: string,
  o: { splitNs?: string; percent?: number; header?: string; tlsNs?: string } = {},
) {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { name, namespace: ns, annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS } },
    spec: {
      rules: [
        {
          hosts: [host],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                ...(o.header ? { headers: { [o.header]: { exact: 'x' } } } : {}),
                splits: [
                  {
                    serviceNamespace: o.splitNs ?? ns,
                    serviceName: 'hello',
                    servicePort: 80,
                    percent: o.percent ?? 100,
                  },
                ],
              },
            ],
          },
        },
      ],
      ...(o.tlsNs ? { tls: [{ hosts: [host], secretName: 'cert', secretNamespace: o.tlsNs }] } : {}),
    },
  };
}

function mapping(ns: string, name: string, ref: Record<string, unknown> = {}) {
  return {
    apiVersion: 'serving.knative.dev/v1beta1',
    kind: 'DomainMapping',
    metadata: { name, namespace: ns },
    spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello', ...ref } },
  };
}

async function serveCert(c: CertificateAuthority) {
  const leaf = await issueCertificate(c, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    usage: 'server',
    validityDays: 1,
  });
  await writeCredentialDir(certDir, { cert: leaf.certPem, key: leaf.keyPem, ca: c.certPem });
  return leaf;
}

async function registerWebhooks(caPem: string): Promise<void> {
  const webhooks = WEBHOOKS.map((w) => {
    const hook = validatingWebhook(w, { name: 'unused', namespace: 'kgw-system', port: 9443 });
    hook.clientConfig = {
      url: `https://localhost:${server.port}${w.path}`,
      caBundle: Buffer.from(caPem).toString('base64'),
    };
    return hook;
  });
  const r = await create('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: CONFIG },
    webhooks,
  });
  expect(r.status).toBe(201);
}

/** Until the apiserver calls kgw's KnativeGateway webhook (a dry-run create of a duplicate class is denied). */
async function webhooksActive(): Promise<void> {
  await until('the webhooks to be called', async () => {
    const r = await create(GATEWAYS, gateway('probe-dup'), true);
    return r.status === 403 && (r.body.message ?? '').startsWith(denied(GWW, ''));
  });
}

beforeAll(async () => {
  cp = await startControlPlane();
  const kc = cp.kubeConfig();
  rest = new KubeRest(kc);
  await installKnativeCRDs(kc);
  await applyManifests(kc, [
    knativeGatewayCrd(),
    ...['team-a', 'team-b'].map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
  ]);
  certDir = mkdtempSync(join(tmpdir(), 'kgw-webhook-e2e-'));
  ca = await createCa({ commonName: 'webhook test CA', validityDays: 1 });
  await serveCert(ca);
  lookups = liveLookups({ rest, log });
  await lookups.start();
  server = await startWebhookServer({
    port: 0,
    host: '127.0.0.1',
    certDir,
    lookups,
    log,
    certCheckIntervalMs: 500,
  });
  // the gateway that makes kgw serve the default class exists before the webhooks
  expect((await create(GATEWAYS, gateway('main'))).status).toBe(201);
  await until('the gateway in the cache', () => lookups.gateways().length === 1);
  await registerWebhooks(ca.certPem);
  await webhooksActive();
}, 120_000);

afterAll(async () => {
  await server?.close();
  await lookups?.stop();
  rest?.close();
  await cp?.stop();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

describe('KnativeGateway', () => {
  test('another gateway with the same ingress class is rejected, naming the holder', async () => {
    const r = await create(GATEWAYS, gateway('second', { knative: { configure: false } }));
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(
      denied(
        GWW,
        'spec.ingressClass: ingress class "kgw.ingress.networking.knative.dev" is already served by KnativeGateway "main"; set a different spec.ingressClass',
      ),
    );
  });

  test('a gateway with its own class passes, with warnings for dubious settings', async () => {
    const r = await create(
      GATEWAYS,
      gateway('edge-b', {
        ingressClass: 'b.ingress.example.com',
        tls: { externalIssuer: { name: 'letsencrypt' } },
      }),
    );
    expect(r.status).toBe(201);
    expect(r.warnings).toContain(
      'spec.knative.configure: KnativeGateway \\"main\\" already configures Knative',
    );
    expect(r.warnings).toContain(
      'spec.tls.externalIssuer.name: ClusterIssuer \\"letsencrypt\\" cannot be checked: cert-manager (cert-manager.io/v1 ClusterIssuer) is not installed',
    );
  });
});

describe('KIngress', () => {
  const bad: [string, ReturnType<typeof kingress>, string][] = [
    [
      'serviceNamespace of another namespace',
      kingress('team-a', 'k1', 'k1.example.com', { splitNs: 'team-b' }),
      `spec.rules[0].http.paths[0].splits[0].serviceNamespace: must be the KIngress's namespace "team-a", got "team-b"`,
    ],
    [
      'percentages not totalling 100',
      kingress('team-a', 'k2', 'k2.example.com', { percent: 60 }),
      'spec.rules[0].http.paths[0].splits: traffic split percentages must total to 100, got 60',
    ],
    [
      'an invalid header name',
      kingress('team-a', 'k3', 'k3.example.com', { header: 'bad header' }),
      'spec.rules[0].http.paths[0].headers: header name "bad header" is not a valid HTTP header name',
    ],
    [
      'an invalid host',
      kingress('team-a', 'k4', 'UPPER.example.com'),
      'spec.rules[0].hosts[0]: host "UPPER.example.com" is not a valid DNS name',
    ],
    [
      'a TLS Secret in another namespace',
      kingress('team-a', 'k5', 'k5.example.com', { tlsNs: 'kube-system' }),
      `spec.tls[0].secretNamespace: must be the KIngress's namespace "team-a", got "kube-system" (kgw reads certificate Secrets only from the KIngress's own namespace)`,
    ],
  ];
  test.each(bad)('%s is rejected', async (_n, obj, message) => {
    const r = await create(ingresses('team-a'), obj);
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(denied(KING, message));
  });

  test('a good KIngress passes; the same host in another KIngress is rejected; updating the first passes', async () => {
    const first = await create(ingresses('team-a'), kingress('team-a', 'first', 'shared.example.com'));
    expect(first.status).toBe(201);
    await until(
      'the KIngress in the cache',
      () => lookups.kingressesByHost(KGW_INGRESS_CLASS, 'shared.example.com').length === 1,
    );
    const second = await create(ingresses('team-b'), kingress('team-b', 'second', 'shared.example.com'));
    expect(second.status).toBe(403);
    expect(second.body.message).toBe(
      denied(
        KING,
        'spec.rules[0].hosts[0]: host "shared.example.com" (ExternalIP) is already served by a KIngress of another namespace of ingress class kgw.ingress.networking.knative.dev',
      ),
    );
    const stored = await rest.get<Record<string, unknown>>(`${ingresses('team-a')}/first`);
    const upd = await api('PUT', `${ingresses('team-a')}/first`, {
      ...stored,
      spec: { ...(stored.spec as object), httpOption: 'Enabled' },
    });
    expect(upd.status).toBe(200);
  });

  test('KIngresses of other classes are not judged', async () => {
    const obj = kingress('team-a', 'istio', 'istio.example.com', { percent: 10 });
    obj.metadata.annotations[INGRESS_CLASS_ANNOTATION] = 'istio.ingress.networking.knative.dev';
    expect((await create(ingresses('team-a'), obj)).status).toBe(201);
  });
});

describe('DomainMapping', () => {
  beforeAll(async () => {
    const r = await create(CLAIMS, {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'ClusterDomainClaim',
      metadata: { name: 'taken.example.com' },
      spec: { namespace: 'team-b' },
    });
    expect(r.status).toBe(201);
    await until('the claim in the cache', () => {
      const c = lookups.clusterDomainClaim('taken.example.com');
      return c !== undefined && c !== 'unavailable';
    });
  });

  const bad: [string, ReturnType<typeof mapping>, string][] = [
    [
      'a domain claimed by another namespace',
      mapping('team-a', 'taken.example.com'),
      'metadata.name: domain taken.example.com is claimed by namespace team-b (ClusterDomainClaim taken.example.com)',
    ],
    [
      'a cluster-local domain',
      mapping('team-a', 'hello.team-a.svc.cluster.local'),
      'metadata.name: "hello.team-a.svc.cluster.local" is under the cluster-local domain "cluster.local"; map a public domain',
    ],
    [
      'a single-label name',
      mapping('team-a', 'intranet'),
      'metadata.name: "intranet" is not a fully qualified domain name: it needs at least two dot-separated labels',
    ],
    [
      'a ref to another namespace',
      mapping('team-a', 'ref.example.com', { namespace: 'team-b' }),
      `spec.ref.namespace: must be empty or the DomainMapping's namespace "team-a", got "team-b"`,
    ],
    ['a ref without kind', mapping('team-a', 'kind.example.com', { kind: '' }), 'spec.ref.kind: required'],
  ];
  test.each(bad)('%s is rejected', async (_n, obj, message) => {
    const r = await create(mappings('team-a'), obj);
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(denied(DMW, message));
  });

  test('good mappings pass: an unclaimed domain, and a domain claimed by the own namespace', async () => {
    expect((await create(mappings('team-a'), mapping('team-a', 'free.example.com'))).status).toBe(201);
    expect((await create(mappings('team-b'), mapping('team-b', 'taken.example.com'))).status).toBe(201);
  });
});

describe('Knative Service: the kgw.dev/routing-rules annotation', () => {
  const RRW = 'routing-rules.validation.kgw.dev';
  const traffic = [
    { revisionName: 'hello-00001', percent: 100 },
    { revisionName: 'hello-00002', percent: 0, tag: 'canary' },
  ];
  const object = (kind: 'Service' | 'Route', name: string, rules?: unknown) => ({
    apiVersion: 'serving.knative.dev/v1',
    kind,
    metadata: {
      name,
      namespace: 'team-a',
      ...(rules !== undefined ? { annotations: { 'kgw.dev/routing-rules': JSON.stringify(rules) } } : {}),
    },
    spec: { traffic },
  });
  const services = '/apis/serving.knative.dev/v1/namespaces/team-a/services';
  const routes = '/apis/serving.knative.dev/v1/namespaces/team-a/routes';
  const good = [
    { revision: 'hello-00002', headers: { demo: 'test' } },
    { tag: 'canary', cookies: { demo: 'always' } },
  ];

  /** A configuration of the routing-rules webhook alone, pointed at a closed port (kgw down). */
  async function downHook(name: string, failurePolicy: 'Fail' | 'Ignore'): Promise<void> {
    const w = WEBHOOKS.find((x) => x.name === RRW)!;
    const hook = validatingWebhook(
      { ...w, failurePolicy },
      { name: 'unused', namespace: 'kgw-system', port: 9443 },
    );
    hook.clientConfig = {
      url: 'https://127.0.0.1:1/down',
      caBundle: Buffer.from(ca.certPem).toString('base64'),
    };
    const r = await create('/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [hook],
    });
    expect(r.status).toBe(201);
  }

  beforeAll(async () => {
    // minimal serving.knative.dev/v1 Service and Route CRDs (schema-preserving, like test/env/crds)
    await applyManifests(
      cp.kubeConfig(),
      (['Service', 'Route'] as const).map((kind) => ({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${kind.toLowerCase()}s.serving.knative.dev` },
        spec: {
          group: 'serving.knative.dev',
          scope: 'Namespaced',
          names: {
            kind,
            plural: `${kind.toLowerCase()}s`,
            singular: kind.toLowerCase(),
            listKind: `${kind}List`,
          },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            },
          ],
        },
      })),
    );
  });

  test.each<[string, unknown, string]>([
    ['not JSON', '[{', 'kgw.dev/routing-rules is not JSON: '],
    [
      'a reserved header',
      [{ tag: 'canary', headers: { host: 'x' } }],
      'kgw.dev/routing-rules[0].headers: host is reserved',
    ],
    [
      '17 rules',
      Array.from({ length: 17 }, () => ({ tag: 'canary', headers: { a: 'b' } })),
      'kgw.dev/routing-rules: at most 16 rules',
    ],
    [
      'a tag not among spec.traffic',
      [{ tag: 'beta', headers: { a: 'b' } }],
      "kgw.dev/routing-rules[0]: tag beta is not among spec.traffic's tags (canary)",
    ],
  ])('a Service with %s is rejected with its message', async (_n, rules, message) => {
    const obj = object('Service', 'bad', rules);
    if (typeof rules === 'string') obj.metadata.annotations = { 'kgw.dev/routing-rules': rules };
    const r = await create(services, obj);
    expect(r.status).toBe(403);
    expect(r.body.message?.startsWith(denied(RRW, message))).toBe(true);
  });

  test('a bad revision is rejected; good annotations and none pass; Routes (written by Knative) are not judged', async () => {
    const r = await create(
      services,
      object('Service', 'bad', [{ revision: 'hello-00009', headers: { a: 'b' } }]),
    );
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(
      denied(
        RRW,
        "kgw.dev/routing-rules[0]: revision hello-00009 is not among spec.traffic's revisions (hello-00001, hello-00002)",
      ),
    );
    expect(
      (await create(routes, object('Route', 'bad', [{ tag: 'beta', headers: { a: 'b' } }]))).status,
    ).toBe(201);
    expect((await create(services, object('Service', 'good', good))).status).toBe(201);
    expect((await create(services, object('Service', 'plain'))).status).toBe(201);
    // an update that makes the annotation bad is refused (one that leaves it as it was is not:
    // validate-routing-rules.test.ts)
    const stored = (await api('GET', `${services}/good`)).body as ReturnType<typeof object>;
    stored.metadata.annotations = {
      'kgw.dev/routing-rules': JSON.stringify([{ tag: 'beta', headers: { a: 'b' } }]),
    };
    expect((await api('PUT', `${services}/good`, stored)).status).toBe(403);
  });

  test('with kgw down: Services without the annotation never call kgw (matchConditions), and Ignore admits the others', async () => {
    // Fail, to see who is called: only the annotated Service waits for kgw
    await downHook('kgw-routing-down-fail', 'Fail');
    await until('the down webhook to be called', async () => {
      const r = await create(services, object('Service', 'probe', good), true);
      return r.status === 500 && (r.body.message ?? '').includes(`failed calling webhook "${RRW}"`);
    });
    expect((await create(services, object('Service', 'plain-2'))).status).toBe(201);
    await api(
      'DELETE',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kgw-routing-down-fail',
    );
    // the generated failure policy, Ignore: an annotated Service is admitted while kgw is down
    await downHook('kgw-routing-down', 'Ignore');
    await until('the Fail configuration to be gone', async () => {
      const r = await create(services, object('Service', 'probe', good), true);
      return r.status === 201;
    });
    expect((await create(services, object('Service', 'annotated-while-down', good))).status).toBe(201);
    await api(
      'DELETE',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/kgw-routing-down',
    );
  });
});

describe('dry run', () => {
  test('good objects are admitted and nothing is stored or written', async () => {
    const claimsBefore = (await api('GET', CLAIMS)).body.items?.length;
    const dm = await create(mappings('team-a'), mapping('team-a', 'dry.example.com'), true);
    expect(dm.status).toBe(201);
    const ing = await create(ingresses('team-a'), kingress('team-a', 'dry', 'dry.example.com'), true);
    expect(ing.status).toBe(201);
    const gw = await create(
      GATEWAYS,
      gateway('dry', { ingressClass: 'dry.example.com', knative: { configure: false } }),
      true,
    );
    expect(gw.status).toBe(201);
    expect((await api('GET', `${mappings('team-a')}/dry.example.com`)).status).toBe(404);
    expect((await api('GET', `${ingresses('team-a')}/dry`)).status).toBe(404);
    expect((await api('GET', `${GATEWAYS}/dry`)).status).toBe(404);
    expect((await api('GET', `${CLAIMS}/dry.example.com`)).status).toBe(404);
    expect((await api('GET', CLAIMS)).body.items?.length).toBe(claimsBefore);
  });

  test('bad objects get the same answer as without dry run', async () => {
    const r = await create(mappings('team-a'), mapping('team-a', 'taken.example.com'), true);
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(
      denied(
        DMW,
        'metadata.name: domain taken.example.com is claimed by namespace team-b (ClusterDomainClaim taken.example.com)',
      ),
    );
  });
});

describe('certificate rotation', () => {
  /** The serial number of the certificate the server presents to a new connection. */
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

  test('a new certificate from a new CA is served without a restart and the apiserver keeps calling', async () => {
    const port = server.port;
    const reloads = server.reloads;
    const ca2 = await createCa({ commonName: 'webhook test CA 2', validityDays: 1 });
    const leaf = await serveCert(ca2);
    const serial = parseCertificate(leaf.certPem).serialNumber;
    await until('the server to load the new certificate', () => server.reloads > reloads);
    expect(await servedSerial()).toBe(serial);
    // the apiserver trusts the new CA once caBundle says so
    const cfg = await rest.get<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(VWC_PATH);
    for (const w of cfg.webhooks) w.clientConfig.caBundle = Buffer.from(ca2.certPem).toString('base64');
    expect((await api('PUT', VWC_PATH, cfg)).status).toBe(200);
    await webhooksActive();
    const r = await create(
      ingresses('team-a'),
      kingress('team-a', 'after', 'after.example.com', { percent: 50 }),
    );
    expect(r.body.message).toBe(
      denied(KING, 'spec.rules[0].http.paths[0].splits: traffic split percentages must total to 100, got 50'),
    );
    expect((await create(ingresses('team-a'), kingress('team-a', 'after', 'after.example.com'))).status).toBe(
      201,
    );
    expect(server.port).toBe(port);
    expect(server.serialNumber).toBe(serial);
  });
});
