// RoutePolicy against real Envoy and a real apiserver: the Higress key-auth scenario (401 without a
// key, 403 for a client not allowed, 200 with the caller named to the backend), on every host
// Knative gives a Service — external, tag, cluster-local and a DomainMapping — with Knative's probes
// still passing; IP rules (403); CORS; a missing Secret failing closed for its own hosts only; two
// policies on one feature (the older wins); status Accepted/Programmed with the hosts covered; HTTP
// basic auth (401 with WWW-Authenticate, the user named to the backend, failing closed).
import { httpRequest, type HttpResponse } from '../backends/client.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
  type KIngress,
} from '../../operator/api/kingress.ts';
import type { RoutePolicy, RoutePolicySpec } from '../../operator/api/routepolicy.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import {
  ensureNamespace,
  ingressPath,
  privateGateway,
  publicGateway,
  startEnv,
  startTestBackend,
  waitReady,
  waitRoutePolicy,
  type Env,
  type PolicyWant,
} from './harness.ts';

const NS = 'team-a';
const OTHER = 'team-b';
const HOST = `hello.${NS}.example.com`;
const TAG_HOST = `canary-hello.${NS}.example.com`;
const LOCAL_HOST = `hello.${NS}.svc.cluster.local`;
const DM_HOST = 'api.example.com';
const POLICIES = `/apis/policy.kgw.dev/v1alpha1/namespaces/${NS}/routepolicies`;
/** What Knative's prober (and kgw's) sends. */
const PROBE = { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'override' };

let env: Env;
let gw: { address: string; port: number };
let local: { address: string; port: number };

const to = (ns: string, svc: string) => ({
  splits: [{ serviceNamespace: ns, serviceName: svc, servicePort: 80, percent: 100 }],
});

/** A KIngress as Knative Serving writes it: class annotation and the Route / DomainMapping labels. */
async function knativeIngress(ns: string, name: string, labels: Record<string, string>, spec: IngressSpec) {
  await env.rest.request<KIngress>('POST', ingressPath(ns), {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: { name, namespace: ns, labels, annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS } },
    spec: { ...withDefaults(spec), httpOption: 'Enabled' },
  });
  return waitReady(env, name, ns);
}

async function createPolicy(name: string, spec: Partial<RoutePolicySpec>): Promise<void> {
  await env.rest.request('POST', POLICIES, {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name, namespace: NS },
    spec: { targetRefs: [{ kind: 'Service', name: 'hello' }], ...spec },
  });
}

async function deletePolicy(name: string): Promise<void> {
  await env.rest.request('DELETE', `${POLICIES}/${name}`);
}

async function secret(name: string, data: Record<string, string>): Promise<void> {
  await env.rest.request('POST', `/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NS },
    stringData: data,
  });
}

/** Polls (bounded) until the policy's conditions match. */
const waitPolicy = (name: string, want: PolicyWant, timeoutMs?: number): Promise<RoutePolicy> =>
  waitRoutePolicy(env, NS, name, want, timeoutMs);

/** Polls (bounded) until a request answers `status` (configuration reaches Envoy asynchronously). */
async function until(
  status: number,
  req: () => Promise<HttpResponse>,
  timeoutMs = 20_000,
): Promise<HttpResponse> {
  const deadline = Date.now() + timeoutMs;
  let last: HttpResponse | undefined;
  while (Date.now() < deadline) {
    last = await req();
    if (last.status === status) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`wanted ${status}, last ${last?.status}: ${last?.body.slice(0, 200)}`);
}

const get = (host: string, headers: Record<string, string> = {}, path = '/', at = gw) =>
  httpRequest({ address: at.address, port: at.port, host, path, headers });

beforeAll(async () => {
  env = await startEnv();
  await ensureNamespace(env.rest, NS);
  await ensureNamespace(env.rest, OTHER);
  await startTestBackend(env, { name: 'hello', namespace: NS });
  await startTestBackend(env, { name: 'hello', namespace: OTHER });
  const routeLabels = { 'serving.knative.dev/route': 'hello', 'serving.knative.dev/service': 'hello' };
  const ing = await knativeIngress(NS, 'hello', routeLabels, {
    rules: [
      { hosts: [HOST], visibility: 'ExternalIP', http: { paths: [to(NS, 'hello')] } },
      { hosts: [TAG_HOST], visibility: 'ExternalIP', http: { paths: [to(NS, 'hello')] } },
      {
        hosts: [`hello.${NS}`, `hello.${NS}.svc`, LOCAL_HOST],
        visibility: 'ClusterLocal',
        http: { paths: [to(NS, 'hello')] },
      },
    ],
  });
  await knativeIngress(OTHER, 'hello', routeLabels, {
    rules: [
      {
        hosts: [`hello.${OTHER}.example.com`],
        visibility: 'ExternalIP',
        http: { paths: [to(OTHER, 'hello')] },
      },
    ],
  });
  await env.rest.request('POST', `/apis/serving.knative.dev/v1beta1/namespaces/${NS}/domainmappings`, {
    apiVersion: 'serving.knative.dev/v1beta1',
    kind: 'DomainMapping',
    metadata: { name: DM_HOST, namespace: NS },
    spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' } },
  });
  await knativeIngress(
    NS,
    DM_HOST,
    { 'serving.knative.dev/domainMappingUID': 'uid-1', 'serving.knative.dev/domainMappingNamespace': NS },
    { rules: [{ hosts: [DM_HOST], visibility: 'ExternalIP', http: { paths: [to(NS, 'hello')] } }] },
  );
  gw = await publicGateway(env, ing);
  local = await privateGateway(env, ing);
  await secret('consumers', { consumer1: 'key-one', consumer2: 'key-two' });
}, 240_000);

afterAll(async () => {
  await env?.stop();
});

/** Every test starts without policies (also after a failed one). */
afterEach(async () => {
  await env.rest.request('DELETE', POLICIES);
  await until(200, () => get(HOST));
}, 30_000);

describe('API-key auth (Higress key-auth)', () => {
  beforeEach(async () => {
    await createPolicy('keys', {
      apiKeyAuth: {
        keySources: [{ header: 'x-ca-key' }, { query: 'apikey' }],
        credentialsFrom: [{ secretRef: { name: 'consumers' } }],
        allowedClients: ['consumer2'],
      },
    });
    await waitPolicy('keys', { Accepted: 'True', Programmed: 'True' });
  }, 60_000);

  test('no key → 401; consumer1 → 403; consumer2 → 200, and the backend is told who called', async () => {
    expect((await get(HOST)).status).toBe(401);
    expect((await get(HOST, { 'x-ca-key': 'key-one' })).status).toBe(403);
    expect((await get(HOST, { 'x-ca-key': 'wrong' })).status).toBe(401);
    const ok = await get(HOST, { 'x-ca-key': 'key-two', 'x-kgw-consumer': 'forged' });
    expect(ok.status).toBe(200);
    const info = ok.json<{ request: { headers: Record<string, string[]> } }>();
    expect(info.request.headers['X-Kgw-Consumer']).toEqual(['consumer2']);
    expect((await get(HOST, {}, '/?apikey=key-two')).status).toBe(200);
  });

  test('every host of the Service is covered: the tag host, the cluster-local host and the DomainMapping', async () => {
    expect((await get(TAG_HOST)).status).toBe(401);
    expect((await get(DM_HOST)).status).toBe(401);
    expect((await get(LOCAL_HOST, {}, '/', local)).status).toBe(401);
    expect((await get(LOCAL_HOST, { 'x-ca-key': 'key-two' }, '/', local)).status).toBe(200);
    // another namespace's Service of the same name is not
    expect((await get(`hello.${OTHER}.example.com`)).status).toBe(200);
  });

  test("Knative's probes still pass (the KIngresses stay Ready) and the status lists the hosts", async () => {
    const probe = await get(HOST, PROBE);
    expect(probe.status).toBe(200);
    // the probe route is no way around auth: K-Network-Hash alone takes the guarded route
    expect((await get(HOST, { 'K-Network-Hash': 'override' })).status).toBe(401);
    const p = await waitPolicy('keys', { Accepted: 'True', Programmed: 'True' });
    expect(p.status?.hostCount).toBe(6);
    expect(p.status?.targets).toEqual([
      {
        kind: 'Service',
        name: 'hello',
        hosts: [DM_HOST, TAG_HOST, `hello.${NS}`, HOST, `hello.${NS}.svc`, LOCAL_HOST].sort(),
      },
    ]);
    expect(p.status?.conditions?.find((c) => c.type === 'Programmed')?.message).toMatch(
      /^acknowledged by all 3 Envoys of fleets /,
    );
  });
});

describe('a credentials Secret that is missing fails closed, for its own hosts only', () => {
  test('401 everywhere on the target, SecretNotFound; the Secret appears → the keys work', async () => {
    await createPolicy('late', {
      apiKeyAuth: {
        keySources: [{ header: 'x-ca-key' }],
        credentialsFrom: [{ secretRef: { name: 'late-keys' } }],
      },
    });
    const p = await waitPolicy('late', { Accepted: 'False', reason: 'SecretNotFound' });
    expect(p.status?.conditions?.find((c) => c.type === 'Accepted')?.message).toBe(
      `Secret ${NS}/late-keys not found; its hosts refuse every request until it is fixed`,
    );
    await until(401, () => get(HOST, { 'x-ca-key': 'anything' }));
    expect((await get(`hello.${OTHER}.example.com`)).status).toBe(200);
    await secret('late-keys', { app: 'late-key' });
    await waitPolicy('late', { Accepted: 'True' });
    await until(200, () => get(HOST, { 'x-ca-key': 'late-key' }));
    await deletePolicy('late');
    await until(200, () => get(HOST));
  }, 90_000);
});

describe('IP access (403)', () => {
  test('a denied client range gets 403; an allow list without the client too; with it, 200', async () => {
    const client = env.network.gateway; // the address Envoy sees the tests' requests from
    await createPolicy('ips', { ipAccess: { deny: [`${client}/32`] } });
    const denied = await until(403, () => get(HOST));
    expect(denied.body).toContain('RBAC: access denied');
    expect((await get(HOST, PROBE)).status).toBe(200);
    await env.rest.request(
      'PATCH',
      `${POLICIES}/ips`,
      { spec: { ipAccess: { deny: null, allow: ['203.0.113.0/24'] } } },
      'application/merge-patch+json',
    );
    await waitPolicy('ips', { Accepted: 'True', Programmed: 'True' });
    expect((await get(HOST)).status).toBe(403);
    await env.rest.request(
      'PATCH',
      `${POLICIES}/ips`,
      {
        spec: {
          ipAccess: { allow: ['203.0.113.0/24', `${client.split('.').slice(0, 2).join('.')}.0.0/15`] },
        },
      },
      'application/merge-patch+json',
    );
    await until(200, () => get(HOST));
    await deletePolicy('ips');
  }, 90_000);
});

describe('CORS', () => {
  test('a preflight from an allowed origin is answered; another origin gets no CORS headers', async () => {
    await createPolicy('cors', {
      cors: {
        allowOrigins: ['https://app.example.com', 'https://*.example.org'],
        allowMethods: ['GET', 'POST'],
        allowHeaders: ['content-type', 'x-ca-key'],
        maxAgeSeconds: 600,
      },
    });
    await waitPolicy('cors', { Accepted: 'True', Programmed: 'True' });
    const preflight = (origin: string) =>
      httpRequest({
        address: gw.address,
        port: gw.port,
        host: HOST,
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const ok = await preflight('https://app.example.com');
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(ok.headers['access-control-allow-methods']).toBe('GET,POST');
    expect(ok.headers['access-control-max-age']).toBe('600');
    expect((await preflight('https://x.example.org')).headers['access-control-allow-origin']).toBe(
      'https://x.example.org',
    );
    const other = await get(HOST, { origin: 'https://evil.example.net' });
    expect(other.status).toBe(200);
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    await deletePolicy('cors');
  }, 60_000);
});

describe('rate limits (Higress key-rate-limit)', () => {
  test('x-ca-key 123456: 2 per minute, then 429 with x-ratelimit headers; another key its own bucket; a listed key its own limit', async () => {
    await createPolicy('limits', {
      rateLimit: {
        rules: [
          {
            name: 'per-key',
            key: { header: 'x-ca-key' },
            requests: 3,
            per: 'Minute',
            limits: [
              { value: '123456', requests: 2, per: 'Minute' },
              { value: 'vip', requests: 5, per: 'Minute' },
            ],
          },
        ],
      },
    });
    await waitPolicy('limits', { Accepted: 'True', Programmed: 'True' });
    const key = (k: string) => get(HOST, { 'x-ca-key': k });
    const first = await key('123456');
    expect(first.status).toBe(200);
    expect(first.headers['x-ratelimit-limit']).toBe('2');
    expect(first.headers['x-ratelimit-remaining']).toBe('1');
    expect((await key('123456')).status).toBe(200);
    const over = await key('123456');
    expect(over.status).toBe(429);
    expect(over.body).toContain('local_rate_limited');
    expect(over.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(over.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    // any other value: a bucket of 3 of its own
    const other = [];
    for (let i = 0; i < 4; i++) other.push((await key('654321')).status);
    expect(other).toEqual([200, 200, 200, 429]);
    // a listed value: its own limit, also when larger than the others'
    const vip = [];
    for (let i = 0; i < 6; i++) vip.push((await key('vip')).status);
    expect(vip).toEqual([200, 200, 200, 200, 200, 429]);
    // requests without the header are not limited by the rule; probes are never counted
    for (let i = 0; i < 5; i++) expect((await get(HOST)).status).toBe(200);
    expect((await get(HOST, { ...PROBE, 'x-ca-key': '123456' })).status).toBe(200);
  }, 60_000);
});

describe('two policies on one feature', () => {
  test('the older wins; the newer reports Conflicted naming it, and takes over when the older goes', async () => {
    await createPolicy('first', { cors: { allowOrigins: ['https://one.example.com'] } });
    await waitPolicy('first', { Accepted: 'True' });
    await new Promise((r) => setTimeout(r, 1100)); // creation timestamps have second precision
    await createPolicy('second', { cors: { allowOrigins: ['https://two.example.com'] } });
    const p = await waitPolicy('second', { Accepted: 'False', reason: 'Conflicted' });
    expect(p.status?.conditions?.find((c) => c.type === 'Accepted')?.message).toContain(
      `is set by the older RoutePolicy ${NS}/first`,
    );
    await deletePolicy('first');
    await waitPolicy('second', { Accepted: 'True', Programmed: 'True' });
    const res = await get(HOST, { origin: 'https://two.example.com' });
    expect(res.headers['access-control-allow-origin']).toBe('https://two.example.com');
    await deletePolicy('second');
  }, 60_000);
});

describe('basic auth', () => {
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });
  const seenUser = (r: HttpResponse) =>
    r.json<{ request: { headers: Record<string, string[]> } }>().request.headers['X-Kgw-User'];

  beforeAll(async () => {
    await secret('users', { alice: 'alice-secret', bob: 'bob: spaces, and ünïcode' });
  });

  test('no or wrong credentials → 401 with the realm; right → 200, the backend sees the user (a forged one replaced)', async () => {
    await createPolicy('basic', {
      basicAuth: { credentialsFrom: [{ secretRef: { name: 'users' } }], realm: 'team-a hello' },
    });
    await waitPolicy('basic', { Accepted: 'True', Programmed: 'True' });
    const none = await get(HOST);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Basic realm="team-a hello"');
    expect((await get(HOST, basic('alice', 'wrong'))).status).toBe(401);
    expect((await get(HOST, basic('mallory', 'alice-secret'))).status).toBe(401);
    expect((await get(HOST, { authorization: 'Bearer alice-secret' })).status).toBe(401);
    const ok = await get(HOST, { ...basic('alice', 'alice-secret'), 'x-kgw-user': 'mallory' });
    expect(ok.status).toBe(200);
    expect(seenUser(ok)).toEqual(['alice']);
    // a password with a colon, spaces and UTF-8 (RFC 7617: the user ends at the first colon)
    const bob = await get(HOST, basic('bob', 'bob: spaces, and ünïcode'));
    expect(bob.status).toBe(200);
    expect(seenUser(bob)).toEqual(['bob']);
    // a forged user without credentials is no way in
    expect((await get(HOST, { 'x-kgw-user': 'alice' })).status).toBe(401);
  }, 60_000);

  test("every host of the Service is covered; Knative's probes still pass and the KIngresses stay Ready", async () => {
    await createPolicy('basic', { basicAuth: { credentialsFrom: [{ secretRef: { name: 'users' } }] } });
    await waitPolicy('basic', { Accepted: 'True', Programmed: 'True' });
    for (const [host, at] of [
      [TAG_HOST, gw],
      [DM_HOST, gw],
      [LOCAL_HOST, local],
    ] as const) {
      const denied = await get(host, {}, '/', at);
      expect(denied.status).toBe(401);
      // without a realm, Envoy's default: the request's URL
      expect(denied.headers['www-authenticate']).toBe(`Basic realm="http://${host}/"`);
      expect((await get(host, basic('alice', 'alice-secret'), '/', at)).status).toBe(200);
    }
    expect((await get(`hello.${OTHER}.example.com`)).status).toBe(200);
    expect((await get(HOST, PROBE)).status).toBe(200);
    expect((await get(HOST, { 'K-Network-Hash': 'override' })).status).toBe(401);
    await waitReady(env, 'hello', NS);
    await waitReady(env, DM_HOST, NS);
  }, 60_000);

  test('a missing Secret fails closed (401, SecretNotFound) for its own hosts only; the Secret appears → it works', async () => {
    const otherPolicies = `/apis/policy.kgw.dev/v1alpha1/namespaces/${OTHER}/routepolicies`;
    await env.rest.request('POST', `/api/v1/namespaces/${OTHER}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'users', namespace: OTHER },
      stringData: { carol: 'carol-secret' },
    });
    await env.rest.request('POST', otherPolicies, {
      apiVersion: 'policy.kgw.dev/v1alpha1',
      kind: 'RoutePolicy',
      metadata: { name: 'basic', namespace: OTHER },
      spec: {
        targetRefs: [{ kind: 'Service', name: 'hello' }],
        basicAuth: { credentialsFrom: [{ secretRef: { name: 'users' } }] },
      },
    });
    try {
      await createPolicy('late', { basicAuth: { credentialsFrom: [{ secretRef: { name: 'late-users' } }] } });
      const p = await waitPolicy('late', { Accepted: 'False', reason: 'SecretNotFound' });
      expect(p.status?.conditions?.find((c) => c.type === 'Accepted')?.message).toBe(
        `basicAuth: Secret ${NS}/late-users not found; its hosts refuse every request until it is fixed`,
      );
      await until(401, () => get(HOST, basic('alice', 'alice-secret')));
      expect((await get(DM_HOST, basic('alice', 'alice-secret'))).status).toBe(401);
      expect((await get(HOST, PROBE)).status).toBe(200);
      // the other namespace's policy and users are untouched
      const carol = await until(200, () => get(`hello.${OTHER}.example.com`, basic('carol', 'carol-secret')));
      expect(seenUser(carol)).toEqual(['carol']);
      expect((await get(`hello.${OTHER}.example.com`)).status).toBe(401);
      await secret('late-users', { dave: 'dave-secret' });
      await waitPolicy('late', { Accepted: 'True' });
      await until(200, () => get(HOST, basic('dave', 'dave-secret')));
      expect((await get(HOST, basic('alice', 'alice-secret'))).status).toBe(401);
    } finally {
      await env.rest.request('DELETE', `${otherPolicies}/basic`);
    }
    await until(200, () => get(`hello.${OTHER}.example.com`));
  }, 90_000);
});
