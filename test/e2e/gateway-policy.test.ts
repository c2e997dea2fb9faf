// The admin's part of RoutePolicy semantics (KnativeGateway spec.policy) against real Envoy and a
// real apiserver. The gateway sets, under example.com: a default rate limit per client address (3 per
// hour), a ceiling of 2 per minute for RoutePolicy buckets, and a domain rule refusing the tests'
// network (198.18.0.0/15, where the client address Envoy sees lies) on locked.example.com.
// - a host without a RoutePolicy gets the default: 3 × 200, then 429;
// - a RoutePolicy's own rate limit replaces the default, lowered to the ceiling (100 per minute →
//   2 per minute: 2 × 200, then 429) and its status says so;
// - a RoutePolicy allowing the client cannot lift the domain rule (403), and the KIngress still turns
//   Ready (probes are exempt); removing the rule from the gateway lets the host answer again;
// - a host under no domain of the policy is not limited.
import { httpRequest, type HttpResponse } from '../backends/client.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import type { RoutePolicy, RoutePolicySpec } from '../../operator/api/routepolicy.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import {
  TEST_NAMESPACE as NS,
  createIngress,
  publicGateway,
  sampleGateway,
  startEnv,
  startTestBackend,
  waitReady,
  waitRoutePolicy,
  type Env,
} from './harness.ts';

const OPEN = `open.${NS}.example.com`;
const CAPPED = `capped.${NS}.example.com`;
const LOCKED = 'locked.example.com';
const FREE = `free.${NS}.example.org`;
const POLICIES = `/apis/policy.kgw.dev/v1alpha1/namespaces/${NS}/routepolicies`;
const GW = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';

const policy: NonNullable<KnativeGateway['spec']['policy']> = {
  defaults: {
    domains: ['example.com'],
    rateLimit: { rules: [{ name: 'per-client', key: { clientIP: {} }, requests: 3, per: 'Hour' }] },
  },
  ceilings: { rateLimit: { requests: 2, per: 'Minute' } },
  // every address the tests use is in 198.18.0.0/15, the client's too
  domainRules: [{ name: 'no-test-net', domains: [LOCKED], ipAccess: { deny: ['198.18.0.0/15'] } }],
};
// one external replica: the counts are those of one Envoy
const gateway: KnativeGateway = {
  ...sampleGateway,
  spec: {
    ...sampleGateway.spec,
    fleets: sampleGateway.spec.fleets.map((f) => ({ ...f, replicas: 1 })),
    policy,
  },
};

let env: Env;
let gw: { address: string; port: number };

const route = (name: string, host: string) =>
  createIngress(
    env,
    name,
    withDefaults({
      rules: [
        {
          hosts: [host],
          visibility: 'ExternalIP',
          http: {
            paths: [
              { splits: [{ serviceNamespace: NS, serviceName: 'backend', servicePort: 80, percent: 100 }] },
            ],
          },
        },
      ],
    }),
    NS,
    { 'serving.knative.dev/route': name, 'serving.knative.dev/service': name },
  );

async function createPolicy(name: string, target: string, spec: Partial<RoutePolicySpec>): Promise<void> {
  await env.rest.request('POST', POLICIES, {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name, namespace: NS },
    spec: { targetRefs: [{ kind: 'Route', name: target }], ...spec },
  });
}

const get = (host: string) => httpRequest({ address: gw.address, port: gw.port, host, path: '/' });

/** Polls (bounded) until a request answers `status` (configuration reaches Envoy asynchronously). */
async function until(status: number, host: string, timeoutMs = 20_000): Promise<HttpResponse> {
  const deadline = Date.now() + timeoutMs;
  let last: HttpResponse | undefined;
  while (Date.now() < deadline) {
    last = await get(host);
    if (last.status === status) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${host}: wanted ${status}, last ${last?.status}: ${last?.body.slice(0, 200)}`);
}

/** Polls (bounded) until the policy is Accepted and Programmed at its generation. */
const programmed = (name: string): Promise<RoutePolicy> =>
  waitRoutePolicy(env, NS, name, { Accepted: 'True', Programmed: 'True' });

beforeAll(async () => {
  env = await startEnv({ gateway });
  await startTestBackend(env, { name: 'backend' });
  await route('open', OPEN);
  gw = await publicGateway(env, await waitReady(env, 'open', NS));
}, 240_000);

afterAll(async () => {
  await env?.stop();
});

test('a host without a RoutePolicy gets the default rate limit: 3 answered, then 429', async () => {
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await get(OPEN)).status);
  expect(codes).toEqual([200, 200, 200, 429, 429]);
});

test("a RoutePolicy's rate limit replaces the default, lowered to the gateway's ceiling; its status says so", async () => {
  await route('capped', CAPPED);
  await waitReady(env, 'capped', NS);
  await createPolicy('capped', 'capped', {
    rateLimit: { rules: [{ name: 'whole', requests: 100, per: 'Minute' }] },
  });
  const p = await programmed('capped');
  expect(p.status?.conditions?.find((c) => c.type === 'Accepted')?.message).toContain(
    "rateLimit over KnativeGateway default's ceiling of 2 per Minute: rule whole: 100 per Minute lowered to 2 per Minute",
  );
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) codes.push((await get(CAPPED)).status);
  expect(codes).toEqual([200, 200, 429, 429]);
}, 60_000);

test('a domain rule holds whatever a RoutePolicy allows; the KIngress is Ready; removing the rule lifts it', async () => {
  await route('locked', LOCKED);
  await waitReady(env, 'locked', NS); // the probes are exempt
  // the address Envoy sees the tests' requests from
  await createPolicy('locked', 'locked', { ipAccess: { allow: [`${env.network.gateway}/32`] } });
  await programmed('locked');
  expect((await get(LOCKED)).status).toBe(403);
  const g = await env.rest.get<KnativeGateway>(GW);
  await env.rest.request(
    'PATCH',
    GW,
    { spec: { policy: { ...g.spec.policy, domainRules: null } } },
    'application/merge-patch+json',
  );
  await until(200, LOCKED);
}, 60_000);

test('a host under no domain of the policy is not limited', async () => {
  await route('free', FREE);
  await waitReady(env, 'free', NS);
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push((await get(FREE)).status);
  expect(codes).toEqual([200, 200, 200, 200, 200, 200]);
}, 60_000);
