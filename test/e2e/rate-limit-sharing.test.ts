// RoutePolicy rate limits shared across a fleet (KnativeGateway fleets[].policy.rateLimitSharing):
// the public fleet (2 replicas) is SharedEvenly, the cluster-local fleet (2 replicas, which also
// serves ExternalIP hosts) PerReplica. A host limited to 4 requests per hour: each SharedEvenly
// replica admits 2 (the fleet 4), each PerReplica replica 4 (the fleet 8). Requests go to each
// replica's own address; the Envoys learn the fleet's members from kgw-fleet-members (EDS).
// Switching the fleet back to PerReplica replaces its replicas (the bootstrap changes).
import http from 'node:http';
import { httpRequest } from '../backends/client.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { DEFAULT_LISTENER_PORTS } from '../../operator/api/knativegateway-constants.ts';
import type { RoutePolicy } from '../../operator/api/routepolicy.ts';
import { FLEET_MEMBERS_CLUSTER } from '../../operator/render/bootstrap.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import {
  TEST_NAMESPACE,
  createIngress,
  fleetReplicas,
  sampleGateway,
  startEnv,
  startTestBackend,
  waitReady,
  type Env,
} from './harness.ts';

const HOST = 'limited.serving-tests.example.com';
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
        policy: { rateLimitSharing: 'SharedEvenly' },
      },
      { name: 'local', visibility: 'ClusterLocal', replicas: 2 },
    ],
  },
};
const GW = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';
const SHARED = 'default/external';
const PER_REPLICA = 'default/local';

let env: Env;
beforeAll(async () => {
  env = await startEnv({ gateway });
  await startTestBackend(env, { name: 'limited' });
  await createIngress(
    env,
    'limited',
    withDefaults({
      rules: [
        {
          hosts: [HOST],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                splits: [
                  { serviceNamespace: TEST_NAMESPACE, serviceName: 'limited', servicePort: 80, percent: 100 },
                ],
              },
            ],
          },
        },
      ],
    }),
    TEST_NAMESPACE,
    { 'serving.knative.dev/route': 'limited', 'serving.knative.dev/service': 'limited' },
  );
  await waitReady(env, 'limited');
}, 240_000);
afterAll(async () => {
  await env?.stop();
});

function adminGet(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('admin timeout')));
    req.on('error', reject);
  });
}

/** The hosts of the fleet-members cluster one Envoy knows (its admin /clusters). */
async function members(adminSocket: string): Promise<string[]> {
  const lines = (await adminGet(adminSocket, '/clusters')).split('\n');
  const hosts = lines
    .filter((l) => l.startsWith(`${FLEET_MEMBERS_CLUSTER}::`) && l.includes('::cx_active::'))
    .map((l) => l.split('::')[1] ?? '');
  return hosts.sort();
}

async function statuses(address: string, port: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await httpRequest({ address, port, host: HOST, path: '/' })).status);
  return out;
}

/** Polls (bounded) until `check` gives a value. */
async function poll<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('SharedEvenly: each of 2 replicas admits 2 of a limit of 4 (the fleet 4); PerReplica: each 4 (the fleet 8)', async () => {
  // the runtime records replicas as it starts them; the KIngress can be Ready before the last one
  const [shared, perReplica] = await poll('2 replicas of each fleet recorded', () => {
    try {
      const s = fleetReplicas(env, SHARED);
      const p = fleetReplicas(env, PER_REPLICA);
      return Promise.resolve(s.length === 2 && p.length === 2 ? [s, p] : undefined);
    } catch {
      return Promise.resolve(undefined); // replicas.json not written yet
    }
  });
  // every SharedEvenly Envoy counts both replicas as members; PerReplica Envoys have no such cluster.
  // A replica is recorded when it is started, before its Envoy has opened its admin socket (CI once
  // saw ENOENT here): until it answers, it has not been asked.
  const membersOf = (r: { adminSocket: string }) => members(r.adminSocket).catch(() => undefined);
  const want = shared.map((r) => `${r.address}:${DEFAULT_LISTENER_PORTS.ExternalIP.http}`).sort();
  for (const r of shared) {
    await poll(`${r.id} knows both members`, async () =>
      JSON.stringify(await membersOf(r)) === JSON.stringify(want) ? true : undefined,
    );
  }
  for (const r of perReplica)
    expect(await poll(`${r.id} answers on its admin socket`, () => membersOf(r))).toEqual([]);

  await env.rest.request('POST', POLICIES, {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name: 'whole-host', namespace: TEST_NAMESPACE },
    spec: {
      targetRefs: [{ kind: 'Service', name: 'limited' }],
      rateLimit: { rules: [{ name: 'host', requests: 4, per: 'Hour' }] },
    },
  });
  await poll('RoutePolicy Programmed', async () => {
    const p = await env.rest.get<RoutePolicy>(`${POLICIES}/whole-host`);
    const programmed = p.status?.conditions?.find((c) => c.type === 'Programmed');
    return p.status?.observedGeneration === p.metadata.generation && programmed?.status === 'True'
      ? true
      : undefined;
  });

  const statuses = async (address: string, port: number, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++)
      out.push((await httpRequest({ address, port, host: HOST, path: '/' })).status);
    return out;
  };
  for (const r of shared) {
    expect(await statuses(r.address, DEFAULT_LISTENER_PORTS.ExternalIP.http, 3)).toEqual([200, 200, 429]);
  }
  for (const r of perReplica) {
    expect(await statuses(r.address, DEFAULT_LISTENER_PORTS.ClusterLocal.http, 5)).toEqual([
      200, 200, 200, 200, 429,
    ]);
  }
}, 120_000);

test('switching the fleet back to PerReplica replaces its replicas with ones without the fleet-members cluster', async () => {
  const before = fleetReplicas(env, SHARED).map((r) => r.pid); // ids are reused, processes are not
  await env.rest.request(
    'PATCH',
    GW,
    {
      spec: {
        fleets: [
          { name: 'external', visibility: 'ExternalIP', replicas: 2 },
          { name: 'local', visibility: 'ClusterLocal', replicas: 2 },
        ],
      },
    },
    'application/merge-patch+json',
  );
  const fresh = await poll(
    'new replicas',
    () => {
      const now = fleetReplicas(env, SHARED);
      return Promise.resolve(now.length === 2 && now.every((r) => !before.includes(r.pid)) ? now : undefined);
    },
    60_000,
  );
  for (const r of fresh) {
    // a new Envoy: full buckets of its own, the whole limit
    const got = await poll(`${r.id} serves the limited host`, async () => {
      // until it listens and has its routes: refused, or 404
      const first = await httpRequest({
        address: r.address,
        port: DEFAULT_LISTENER_PORTS.ExternalIP.http,
        host: HOST,
        path: '/',
        timeoutMs: 2000,
      }).catch(() => undefined);
      return first?.status === 200 ? [200] : undefined;
    });
    got.push(...(await statuses(r.address, DEFAULT_LISTENER_PORTS.ExternalIP.http, 4)));
    expect(got).toEqual([200, 200, 200, 200, 429]);
    expect(await members(r.adminSocket)).toEqual([]);
  }
}, 120_000);
