// RoutePolicy rate limits shared exactly across a fleet (KnativeGateway fleets[].policy
// .rateLimitSharing: Global): the public fleet's 2 Envoy replicas ask a real rate-limit service
// (envoyproxy/ratelimit, built by test/env/setup.sh) backed by a real Redis, both in a pod of the
// local network. kgw serves the service its limits over xDS (CONFIG_TYPE=GRPC_XDS_SOTW, node
// default/external, mutual TLS with the fleet's client certificate) and the Envoys reach it through
// the Service's EndpointSlice. Requests
// alternate between the replicas: a key limited to 4 per minute gets exactly 4 answers 200 from
// the fleet, then 429; another key has a bucket of its own; a host limited to 1 request per hour
// turns Ready and admits its first request (probes are never counted); with the service stopped,
// requests pass (fail open).
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { httpRequest } from '../backends/client.ts';
import type { Pod } from '../../operator/fleets/network.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { DEFAULT_LISTENER_PORTS } from '../../operator/api/knativegateway-constants.ts';
import type { RoutePolicy } from '../../operator/api/routepolicy.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import { OPERATOR_NAMESPACE } from '../../operator/api/install.ts';
import { operatorXdsEndpoint } from '../../operator/fleets/fleet-names.ts';
import { ratelimitBin, redisServerBin } from '../env/paths.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  fleetReplicas,
  sampleGateway,
  startEnv,
  startTestBackend,
  until,
  waitReady,
  type Env,
} from './harness.ts';

const FLEET = 'default/external';
const RLS_PORT = 8081;
const RLS_DEBUG_PORT = 6070;
const PORT = DEFAULT_LISTENER_PORTS.ExternalIP.http;
const HOST = 'quota.serving-tests.example.com';
const TIGHT_HOST = 'tight.serving-tests.example.com';
const POLICIES = `/apis/policy.kgw.dev/v1alpha1/namespaces/${TEST_NAMESPACE}/routepolicies`;
const gateway: KnativeGateway = {
  ...sampleGateway,
  spec: {
    ...sampleGateway.spec,
    fleets: [
      {
        name: 'external',
        visibility: 'ExternalIP',
        replicas: 2,
        policy: {
          rateLimitSharing: 'Global',
          // failureMode left out: Allow (fail open) by default. A generous timeout: the machine is
          // shared; a late answer would let a request through and break the exact counts.
          globalRateLimit: {
            service: { name: 'ratelimit', namespace: TEST_NAMESPACE, port: RLS_PORT },
            timeoutMs: 2000,
          },
        },
      },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
    ],
  },
};

/** A process of the rate-limit pod; stop() ends it (SIGTERM, SIGKILL after 5 s). */
interface Proc {
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

function spawnIn(pod: Pod, cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const proc = pod.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  const keep = (d: Buffer): void => {
    // without statsd the service logs its stats every 10 s: not kept
    const lines = d
      .toString()
      .split('\n')
      .filter((l) => l !== '' && !l.includes('gostats'));
    if (lines.length > 0) out = `${out}${lines.join('\n')}\n`.slice(-20_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.once('exit', () => resolve());
  });
  return {
    proc,
    output: () => out,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

let env: Env;
let pod: Pod;
let redis: Proc | undefined;
let rls: Proc | undefined;

/** GET on the rate-limit service's debug port (its /rlconfig lists the limits it has loaded). */
async function rlsDebug(path: string): Promise<string | undefined> {
  const r = await httpRequest({
    address: pod.address,
    port: RLS_DEBUG_PORT,
    host: 'rls',
    path,
    timeoutMs: 2000,
  }).catch(() => undefined);
  return r?.status === 200 ? r.body : undefined;
}

/**
 * Starts Redis and the rate-limit service in the pod. The service connects to kgw's xDS socket over
 * mutual TLS with the fleet's client certificate (on Kubernetes: the fleet's `-xds-client` Secret
 * mounted into the service), here the credential directory of one of the fleet's replicas.
 */
function startRateLimitService(): void {
  redis = spawnIn(pod, redisServerBin(), [
    '--bind',
    '127.0.0.1',
    '--port',
    '6379',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  rls = rateLimitService(FLEET, 0);
}

/** A rate-limit service naming `nodeId`, with the external fleet's certificate; ports shifted by `shift`. */
function rateLimitService(nodeId: string, shift: number): Proc {
  const [replica] = fleetReplicas(env, FLEET);
  const creds = join(env.workDir, 'envoy', `${replica!.id}.xds-tls`, 'creds');
  return spawnIn(pod, ratelimitBin(), [], {
    USE_STATSD: 'false',
    LOG_LEVEL: 'info',
    REDIS_SOCKET_TYPE: 'tcp',
    REDIS_URL: '127.0.0.1:6379',
    HOST: pod.address,
    PORT: String(8080 + shift),
    GRPC_HOST: pod.address,
    GRPC_PORT: String(RLS_PORT + shift),
    DEBUG_HOST: pod.address,
    DEBUG_PORT: String(RLS_DEBUG_PORT + shift),
    CONFIG_TYPE: 'GRPC_XDS_SOTW',
    CONFIG_GRPC_XDS_NODE_ID: nodeId,
    CONFIG_GRPC_XDS_SERVER_URL: `unix://${join(env.workDir, 'xds.sock')}`,
    CONFIG_GRPC_XDS_SERVER_USE_TLS: 'true',
    CONFIG_GRPC_XDS_CLIENT_TLS_CERT: join(creds, 'tls.crt'),
    CONFIG_GRPC_XDS_CLIENT_TLS_KEY: join(creds, 'tls.key'),
    CONFIG_GRPC_XDS_SERVER_TLS_CACERT: join(creds, 'ca.crt'),
    CONFIG_GRPC_XDS_SERVER_TLS_SAN: operatorXdsEndpoint(OPERATOR_NAMESPACE).host,
    CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL: '1s',
    XDS_CLIENT_BACKOFF_INITIAL_INTERVAL: '1s',
    XDS_CLIENT_BACKOFF_MAX_INTERVAL: '2s',
  });
}

beforeAll(async () => {
  env = await startEnv({ gateway });
  // the rate-limit service and its Redis, in one pod: Redis on the pod's loopback
  pod = await env.network.addPod('ratelimit');
  await env.rest.request('POST', `/api/v1/namespaces/${TEST_NAMESPACE}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'ratelimit', namespace: TEST_NAMESPACE },
    spec: { ports: [{ name: 'grpc', port: RLS_PORT, targetPort: RLS_PORT }] },
  });
  await env.rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${TEST_NAMESPACE}/endpointslices`, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'ratelimit-1',
      namespace: TEST_NAMESPACE,
      labels: { 'kubernetes.io/service-name': 'ratelimit' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: RLS_PORT }],
    endpoints: [{ addresses: [pod.address], conditions: { ready: true } }],
  });
  await startTestBackend(env, { name: 'quota' });
  await createIngress(env, 'quota', ingressFor('quota', HOST), TEST_NAMESPACE, {
    'serving.knative.dev/route': 'quota',
    'serving.knative.dev/service': 'quota',
  });
  await waitReady(env, 'quota'); // the fleet's replicas run: their credentials exist
  startRateLimitService();
  await until('the rate-limit service connected to kgw', 30_000, () =>
    Promise.resolve(env.operator.xds.rateLimitServices(FLEET).length > 0 ? true : undefined),
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; the service's last output:\n${rls?.output().slice(-4000) ?? ''}`);
  });
  expect(env.operator.xds.refusedStreams()).toEqual([]);
}, 240_000);

afterAll(async () => {
  await rls?.stop();
  await redis?.stop();
  await pod?.destroy();
  await env?.stop();
});

function ingressFor(service: string, host: string) {
  return withDefaults({
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [
            {
              splits: [
                { serviceNamespace: TEST_NAMESPACE, serviceName: service, servicePort: 80, percent: 100 },
              ],
            },
          ],
        },
      },
    ],
  });
}

async function createPolicy(name: string, service: string, rateLimit: object): Promise<void> {
  await env.rest.request('POST', POLICIES, {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name, namespace: TEST_NAMESPACE },
    spec: { targetRefs: [{ kind: 'Service', name: service }], rateLimit },
  });
}

/** Until the policy is Programmed (every Envoy of its fleets ACKed) and the service has its limits. */
async function policyInForce(name: string): Promise<void> {
  await until(`RoutePolicy ${name} Programmed`, 30_000, async () => {
    const p = await env.rest.get<RoutePolicy>(`${POLICIES}/${name}`);
    const programmed = p.status?.conditions?.find((c) => c.type === 'Programmed');
    return p.status?.observedGeneration === p.metadata.generation && programmed?.status === 'True'
      ? true
      : undefined;
  });
  const domain = `kgw/${TEST_NAMESPACE}/${name}`;
  await until(`the rate-limit service loads ${domain}`, 60_000, async () =>
    (await rlsDebug('/rlconfig'))?.includes(domain) ? true : undefined,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; the service's last output:\n${rls?.output().slice(-4000) ?? ''}`);
  });
}

/** The statuses of `n` requests to `host`, alternating between the fleet's replicas. */
async function statuses(host: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const replicas = fleetReplicas(env, FLEET);
  expect(replicas.length).toBe(2);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = replicas[i % replicas.length]!;
    out.push((await httpRequest({ address: r.address, port: PORT, host, path: '/', headers })).status);
  }
  return out;
}

/**
 * The service counts in clock windows (a minute limit restarts at :00): a test of a minute limit
 * starts early enough in a minute to finish inside it.
 */
async function awayFromMinuteEnd(): Promise<void> {
  const s = new Date().getSeconds();
  if (s >= 40) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
}

test("the KnativeGateway's status shows the fleet's rate-limit service and its client certificate", async () => {
  // (no RoutePolicy yet: no limits sent, so no configVersion)
  type Status = { fleets?: { name: string; rateLimitService?: Record<string, unknown> }[] };
  const seen = await until('status.fleets[external].rateLimitService', 30_000, async () => {
    const g = await env.rest.get<{ status?: Status }>(
      '/apis/operator.kgw.dev/v1alpha1/knativegateways/default',
    );
    const s = g.status?.fleets?.find((f) => f.name === 'external')?.rateLimitService;
    return s?.connected === 1 && s.certificateNotAfter !== undefined ? s : undefined;
  });
  // kgw's fleet client certificate (30 days), freshly issued: no restart needed
  const left = Date.parse(String(seen.certificateNotAfter)) - Date.now();
  expect(left).toBeGreaterThan(20 * 86_400_000);
  expect(seen.restartNeeded).toBeUndefined();
  // the cluster-local fleet is PerReplica: no rate-limit service in its status
  const g = await env.rest.get<{ status?: Status }>(
    '/apis/operator.kgw.dev/v1alpha1/knativegateways/default',
  );
  expect(g.status?.fleets?.find((f) => f.name === 'local')?.rateLimitService).toBeUndefined();
}, 60_000);

test('a key limited to 4 per minute: the fleet of 2 replicas answers exactly 4 times 200, then 429; another key has its own bucket', async () => {
  await createPolicy('quota', 'quota', {
    rules: [
      {
        name: 'per-key',
        key: { header: 'x-ca-key' },
        requests: 2,
        per: 'Minute',
        limits: [{ value: 'alice', requests: 4, per: 'Minute' }],
      },
    ],
  });
  await policyInForce('quota');
  await awayFromMinuteEnd();
  // PerReplica would admit 4 per replica (8), SharedEvenly about 2 per replica: only the service
  // counting for both gives exactly 4
  expect(await statuses(HOST, 7, { 'x-ca-key': 'alice' })).toEqual([200, 200, 200, 200, 429, 429, 429]);
  // refused by the ratelimit filter (the service's answer), not by local_ratelimit
  const [replica] = fleetReplicas(env, FLEET);
  const refused = await httpRequest({
    address: replica!.address,
    port: PORT,
    host: HOST,
    path: '/',
    headers: { 'x-ca-key': 'alice' },
  });
  expect([refused.status, refused.headers['x-envoy-ratelimited'], refused.body]).toEqual([429, 'true', '']);
  // the service's counts as x-ratelimit-* headers (IETF draft 03; the limit with its quota policy,
  // 4 per 60 s window)
  expect([refused.headers['x-ratelimit-limit'], refused.headers['x-ratelimit-remaining']]).toEqual([
    '4, 4;w=60',
    '0',
  ]);
  expect(Number(refused.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
  // bob is not listed: each other value has a bucket of 2 of its own, untouched by alice's
  const bob = await httpRequest({
    address: replica!.address,
    port: PORT,
    host: HOST,
    path: '/',
    headers: { 'x-ca-key': 'bob' },
  });
  expect([bob.status, bob.headers['x-ratelimit-limit'], bob.headers['x-ratelimit-remaining']]).toEqual([
    200,
    '2, 2;w=60',
    '1',
  ]);
  expect(await statuses(HOST, 2, { 'x-ca-key': 'bob' })).toEqual([200, 429]);
  // a request without the key is not limited by a keyed rule
  expect(await statuses(HOST, 3)).toEqual([200, 200, 200]);
}, 150_000);

test('probe routes are never counted: a host limited to 1 request per hour turns Ready and still admits its first request', async () => {
  await startTestBackend(env, { name: 'tight' });
  // The policy first: kgw's probes of the KIngress (every replica) take the probe routes while the
  // limit is in force. Were they counted, they would spend the hour's one request (measured: with
  // the probe routes not exempt, the first request answers 429).

  // responseHeaders Off: the Global fleet's ratelimit filter adds x-ratelimit-* for every host; this
  // host's header_mutation removes them again
  await createPolicy('tight', 'tight', {
    rules: [{ name: 'host', requests: 1, per: 'Hour' }],
    responseHeaders: 'Off',
  });
  await createIngress(env, 'tight', ingressFor('tight', TIGHT_HOST), TEST_NAMESPACE, {
    'serving.knative.dev/route': 'tight',
    'serving.knative.dev/service': 'tight',
  });
  await waitReady(env, 'tight');
  await policyInForce('tight');
  const [replica] = fleetReplicas(env, FLEET);
  const first = await httpRequest({ address: replica!.address, port: PORT, host: TIGHT_HOST, path: '/' });
  expect([first.status, Object.keys(first.headers).filter((h) => h.startsWith('x-ratelimit-'))]).toEqual([
    200,
    [],
  ]);
  const over = await statuses(TIGHT_HOST, 2);
  expect(over).toEqual([429, 429]);
}, 150_000);

test("a rate-limit service asking for another fleet's limits than its certificate names is refused", async () => {
  const impostor = rateLimitService('default/local', 10);
  try {
    const refused = await until('the stream refused', 30_000, () =>
      Promise.resolve(env.operator.xds.refusedStreams().find((r) => r.requestedFleet === 'default/local')),
    );
    expect(refused).toMatchObject({ certificateFleet: FLEET, nodeId: 'default/local' });
    expect(env.operator.xds.rateLimitServices('default/local')).toEqual([]);
  } finally {
    await impostor.stop();
  }
}, 60_000);

test('the rate-limit service down: requests pass (failureMode Allow, the default)', async () => {
  expect(await statuses(TIGHT_HOST, 1)).toEqual([429]); // its hour is still spent
  await rls?.stop();
  await redis?.stop();
  // the quotas are spent, but nobody can say so: every request goes through
  expect(await statuses(TIGHT_HOST, 4)).toEqual([200, 200, 200, 200]);
  expect(await statuses(HOST, 6, { 'x-ca-key': 'alice' })).toEqual([200, 200, 200, 200, 200, 200]);
}, 60_000);

test('switching the fleet to PerReplica: the same Envoys (no restart) count on their own', async () => {
  const replicas = fleetReplicas(env, FLEET);
  const before = replicas.map((r) => r.pid);
  await env.rest.request(
    'PATCH',
    '/apis/operator.kgw.dev/v1alpha1/knativegateways/default',
    {
      spec: {
        fleets: [
          { name: 'external', visibility: 'ExternalIP', replicas: 2 },
          { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
        ],
      },
    },
    'application/merge-patch+json',
  );
  // The service is down (previous test): while an Envoy still has the ratelimit filter, alice
  // passes without end; once its local_ratelimit counts, her 4 are soon spent there.
  for (const r of replicas) {
    await until(`${r.id} counts locally`, 30_000, async () => {
      const res = await httpRequest({
        address: r.address,
        port: PORT,
        host: HOST,
        path: '/',
        headers: { 'x-ca-key': 'alice' },
      });
      return res.status === 429 ? true : undefined;
    });
  }
  expect(fleetReplicas(env, FLEET).map((r) => r.pid)).toEqual(before);
  // each other value: 2 per hour now (no refill during the test), counted by each replica alone, so
  // the fleet admits 4 where Global admitted 2 (bob, above)
  const generation = (await env.rest.get<RoutePolicy>(`${POLICIES}/quota`)).metadata.generation ?? 0;
  await env.rest.request(
    'PATCH',
    `${POLICIES}/quota`,
    {
      spec: {
        rateLimit: { rules: [{ name: 'per-key', key: { header: 'x-ca-key' }, requests: 2, per: 'Hour' }] },
      },
    },
    'application/merge-patch+json',
  );
  await until('RoutePolicy quota Programmed again', 30_000, async () => {
    const p = await env.rest.get<RoutePolicy>(`${POLICIES}/quota`);
    const programmed = p.status?.conditions?.find((c) => c.type === 'Programmed');
    return (p.metadata.generation ?? 0) > generation &&
      p.status?.observedGeneration === p.metadata.generation &&
      programmed?.status === 'True'
      ? true
      : undefined;
  });
  expect(await statuses(HOST, 6, { 'x-ca-key': 'carol' })).toEqual([200, 200, 200, 200, 429, 429]);
}, 90_000);
