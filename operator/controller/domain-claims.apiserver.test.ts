// The ClusterDomainClaim policy controller against a real kube-apiserver (no Knative controller
// runs there: DomainMappings are created directly). Namespace A (team=a) and B (team=b); the
// gateway lets team=a namespaces map *.a.example.com and anyone map *.shared.example.com, and
// creates claims. Checks the hijack case (B cannot take A's domain), policy denials, that claims
// kgw did not create are never deleted, that kgw's own claim goes with its mapping, that nothing
// is created with autoCreate off, that a non-leader writes nothing, and that a claim the API server
// keeps refusing holds up no other write. Needs the test parts from `bash test/env/setup.sh`.
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { testEnvDir } from '../../test/env/paths.ts';
import { waitUntil } from '../../test/env/proc.ts';
import {
  GATEWAY_API_VERSION,
  GATEWAY_KIND,
  type DomainClaimPolicy,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { knativeGatewayCrd } from '../gen/knativegateway-crd.ts';
import { ApiError, KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { DomainClaimController } from './domain-claims.ts';
import {
  CLAIMS_PATH,
  CLAIM_FOR_ANNOTATION,
  CONDITION_TYPE,
  type ClusterDomainClaim,
  type DomainMapping,
  type DomainMappingCondition,
} from './domain-claim-plan.ts';

const GATEWAYS = '/apis/operator.kgw.dev/v1alpha1/knativegateways';
const WAIT = { timeoutMs: 20_000, intervalMs: 50 };
const POLICY: DomainClaimPolicy = {
  autoCreate: true,
  rules: [
    { domains: ['a.example.com'], namespaceSelector: { matchLabels: { team: 'a' } } },
    { domains: ['shared.example.com'] },
  ],
};

let cp: ControlPlane;
let kc: KubeConfig;
let rest: KubeRest;
let gateway: KnativeGateway;
const log = newLogger('domain-claims-test');
const controllers: DomainClaimController[] = [];

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  rest = new KubeRest(kc);
  await applyManifests(kc, [
    join(testEnvDir, 'crds', 'knative'),
    knativeGatewayCrd(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', labels: { team: 'a' } } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b', labels: { team: 'b' } } },
  ]);
  // stored through the CRD (schema and defaults), then handed to the controller like the engine does
  gateway = await rest.request<KnativeGateway>(
    'PATCH',
    `${GATEWAYS}/edge`,
    {
      apiVersion: GATEWAY_API_VERSION,
      kind: GATEWAY_KIND,
      metadata: { name: 'edge' },
      spec: { fleets: [{ name: 'public', visibility: 'ExternalIP' }], domainClaims: POLICY },
    },
    'application/apply-patch+yaml',
    { fieldManager: 'test-admin', force: true },
  );
});

afterAll(async () => {
  await Promise.all(controllers.map((c) => c.stop()));
  rest?.close();
  await cp?.stop();
});

function controller(gateways: () => KnativeGateway[], leading: () => boolean): DomainClaimController {
  const c = new DomainClaimController({ rest, log, gateways, leading, resyncMs: 0 });
  controllers.push(c);
  c.start();
  return c;
}

const dmPath = (ns: string, name?: string) =>
  `/apis/serving.knative.dev/v1beta1/namespaces/${ns}/domainmappings${name !== undefined ? `/${name}` : ''}`;

async function createDM(ns: string, name: string): Promise<DomainMapping> {
  return rest.request<DomainMapping>('POST', dmPath(ns), {
    apiVersion: 'serving.knative.dev/v1beta1',
    kind: 'DomainMapping',
    metadata: { name, namespace: ns },
    spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' } },
  });
}

async function deleteDM(ns: string, name: string): Promise<void> {
  await rest.request('DELETE', dmPath(ns, name));
}

async function getDM(ns: string, name: string): Promise<DomainMapping> {
  return rest.get<DomainMapping>(dmPath(ns, name));
}

async function getClaim(name: string): Promise<ClusterDomainClaim | undefined> {
  try {
    return await rest.get<ClusterDomainClaim>(`${CLAIMS_PATH}/${name}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

async function claimNames(): Promise<string[]> {
  const list = await rest.get<{ items: ClusterDomainClaim[] }>(CLAIMS_PATH);
  return list.items.map((c) => `${c.metadata.name}=${c.spec?.namespace ?? ''}`).sort();
}

function policyCondition(dm: DomainMapping): DomainMappingCondition | undefined {
  return dm.status?.conditions?.find((c) => c.type === CONDITION_TYPE);
}

/** Waits for the DomainMapping's DomainClaimPolicy condition to have `reason`; returns it. */
async function waitForCondition(ns: string, name: string, reason: string): Promise<DomainMappingCondition> {
  return waitUntil(
    `${ns}/${name} ${CONDITION_TYPE} ${reason}`,
    async () => {
      const c = policyCondition(await getDM(ns, name));
      return c?.reason === reason ? c : undefined;
    },
    WAIT,
  );
}

/** Waits until `c` has seen `check` hold in its caches and completed a whole pass after that. */
async function settle(c: DomainClaimController, what: string, check: () => boolean): Promise<void> {
  await waitUntil(what, () => Promise.resolve(check()), WAIT);
  const p0 = c.stats.passes;
  c.kick();
  await waitUntil(`${what}: a pass after it`, () => Promise.resolve(c.stats.passes > p0), WAIT);
}

describe('a leading controller', () => {
  let policy: DomainClaimPolicy = POLICY;
  let gatewayPresent = true;
  let ctl: DomainClaimController;

  beforeAll(async () => {
    // a claim nobody at kgw made: A owns pre.shared.example.com
    await rest.request('POST', CLAIMS_PATH, {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'ClusterDomainClaim',
      metadata: { name: 'pre.shared.example.com' },
      spec: { namespace: 'a' },
    });
    ctl = controller(
      () => (gatewayPresent ? [{ ...gateway, spec: { ...gateway.spec, domainClaims: policy } }] : []),
      () => true,
    );
    await ctl.synced;
  });

  afterAll(async () => {
    await ctl.stop();
  });

  test('a mapping in A gets a claim for A and an Allowed condition', async () => {
    await createDM('a', 'app.a.example.com');
    const claim = await waitUntil('claim app.a.example.com', () => getClaim('app.a.example.com'), WAIT);
    expect(claim.spec).toEqual({ namespace: 'a' });
    expect(claim.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'kgw' });
    expect(claim.metadata.annotations).toMatchObject({ [CLAIM_FOR_ANNOTATION]: 'a/app.a.example.com' });
    const cond = await waitForCondition('a', 'app.a.example.com', 'Allowed');
    expect(cond.status).toBe('True');
  });

  test('hijack: B cannot map the domain A claimed, and the claim stays A’s', async () => {
    const before = await getClaim('app.a.example.com');
    await createDM('b', 'app.a.example.com');
    const cond = await waitForCondition('b', 'app.a.example.com', 'DomainClaimedByOtherNamespace');
    expect(cond.status).toBe('False');
    expect(cond.message).toContain('namespace a');
    expect(ctl.decide('app.a.example.com', 'b', undefined)).toMatchObject({ allowed: false });
    const after = await getClaim('app.a.example.com');
    expect(after?.spec).toEqual({ namespace: 'a' });
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
  });

  test('B may not map a domain the policy reserves for team=a', async () => {
    await createDM('b', 'x.a.example.com');
    const cond = await waitForCondition('b', 'x.a.example.com', 'DomainClaimPolicyDenied');
    expect(cond.status).toBe('False');
    expect(cond.message).toContain('team=a');
    expect(await getClaim('x.a.example.com')).toBeUndefined();
    expect(ctl.decide('y.a.example.com', 'b', undefined)).toMatchObject({ allowed: false });
    expect(ctl.decide('y.a.example.com', 'a', undefined)).toEqual({ allowed: true });
  });

  test('the status write keeps the conditions Knative owns', async () => {
    const dm = await getDM('b', 'x.a.example.com');
    const knative = { type: 'Ready', status: 'False', reason: 'DomainAlreadyClaimed', message: 'by knative' };
    await rest.request(
      'PATCH',
      `${dmPath('b', 'x.a.example.com')}/status`,
      { status: { conditions: [knative, ...(dm.status?.conditions ?? [])] } },
      'application/merge-patch+json',
    );
    // a policy change the controller must report, with Knative's condition left as it is
    policy = { ...POLICY, rules: [...(POLICY.rules ?? []), { domains: ['x.a.example.com'] }] };
    ctl.kick();
    await waitForCondition('b', 'x.a.example.com', 'Allowed');
    const conds = (await getDM('b', 'x.a.example.com')).status?.conditions ?? [];
    expect(conds.find((c) => c.type === 'Ready')).toEqual(knative);
    expect(conds.map((c) => c.type).sort()).toEqual([CONDITION_TYPE, 'Ready']);
    policy = POLICY;
    ctl.kick();
    await waitForCondition('b', 'x.a.example.com', 'DomainClaimPolicyDenied');
    // the claim made while it was allowed is b's (kgw's, in use): it stays
    expect((await getClaim('x.a.example.com'))?.spec).toEqual({ namespace: 'b' });
    await deleteDM('b', 'x.a.example.com');
    await waitUntil(
      'claim x.a.example.com deleted',
      async () => (await getClaim('x.a.example.com')) === undefined,
      WAIT,
    );
  });

  test('a foreign claim is respected and never deleted, even when no mapping uses it', async () => {
    await createDM('a', 'pre.shared.example.com');
    await createDM('b', 'pre.shared.example.com');
    await waitForCondition('a', 'pre.shared.example.com', 'Allowed');
    const cond = await waitForCondition('b', 'pre.shared.example.com', 'DomainClaimedByOtherNamespace');
    expect(cond.message).toContain('namespace a');
    const before = await getClaim('pre.shared.example.com');
    expect(before?.metadata.labels).toBeUndefined();
    await deleteDM('a', 'pre.shared.example.com');
    await deleteDM('b', 'pre.shared.example.com');
    await settle(ctl, 'mappings of pre.shared.example.com gone', () =>
      [...ctl.plan().verdicts.keys()].every((k) => !k.endsWith('/pre.shared.example.com')),
    );
    const after = await getClaim('pre.shared.example.com');
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.spec).toEqual({ namespace: 'a' });
  });

  test('deleting A’s mapping deletes kgw’s claim; B’s mapping is then judged by the policy', async () => {
    await deleteDM('a', 'app.a.example.com');
    await waitUntil(
      'claim app.a.example.com deleted',
      async () => (await getClaim('app.a.example.com')) === undefined,
      WAIT,
    );
    // B (team=b) may not map under a.example.com: no claim for it either
    await waitForCondition('b', 'app.a.example.com', 'DomainClaimPolicyDenied');
    expect(await getClaim('app.a.example.com')).toBeUndefined();
    await deleteDM('b', 'app.a.example.com');
  });

  test('when the gateway goes away its condition is removed from the mapping; Knative’s stay', async () => {
    await createDM('b', 'gw.shared.example.com');
    await waitForCondition('b', 'gw.shared.example.com', 'Allowed');
    const knative = { type: 'Ready', status: 'True', reason: 'Ready', message: 'by knative' };
    const dm = await getDM('b', 'gw.shared.example.com');
    await rest.request(
      'PATCH',
      `${dmPath('b', 'gw.shared.example.com')}/status`,
      { status: { conditions: [knative, ...(dm.status?.conditions ?? [])] } },
      'application/merge-patch+json',
    );
    gatewayPresent = false;
    ctl.kick();
    try {
      const conds = await waitUntil(
        'b/gw.shared.example.com without kgw’s condition',
        async () => {
          const c = (await getDM('b', 'gw.shared.example.com')).status?.conditions ?? [];
          return c.some((x) => x.type === CONDITION_TYPE) ? undefined : c;
        },
        WAIT,
      );
      expect(conds).toEqual([knative]);
      // the claim kgw made stays while its mapping uses it
      expect((await getClaim('gw.shared.example.com'))?.spec).toEqual({ namespace: 'b' });
    } finally {
      gatewayPresent = true;
      ctl.kick();
    }
    await waitForCondition('b', 'gw.shared.example.com', 'Allowed');
    await deleteDM('b', 'gw.shared.example.com');
  });

  test('with autoCreate off an allowed mapping gets its verdict but no claim', async () => {
    policy = { ...POLICY, autoCreate: false };
    ctl.kick();
    await createDM('b', 'off.shared.example.com');
    await waitForCondition('b', 'off.shared.example.com', 'Allowed');
    await settle(ctl, 'mapping seen', () => ctl.plan().verdicts.has('b/off.shared.example.com'));
    expect(await getClaim('off.shared.example.com')).toBeUndefined();
    await deleteDM('b', 'off.shared.example.com');
    policy = POLICY;
  });
});

test('a controller that is not leading writes nothing; once leading it does', async () => {
  let leading = false;
  await createDM('a', 'lead.shared.example.com');
  await createDM('b', 'nope.a.example.com');
  const claimsBefore = await claimNames();
  const rvs = async () =>
    Promise.all([getDM('a', 'lead.shared.example.com'), getDM('b', 'nope.a.example.com')]).then((l) =>
      l.map((d) => d.metadata.resourceVersion),
    );
  const rvsBefore = await rvs();
  const follower = controller(
    () => [gateway],
    () => leading,
  );
  await follower.synced;
  await settle(follower, 'plan wants a claim and two verdicts', () => {
    const p = follower.plan();
    return p.create.length === 1 && p.verdicts.size >= 2;
  });
  expect(follower.stats.writes).toBe(0);
  expect(await claimNames()).toEqual(claimsBefore);
  expect(await rvs()).toEqual(rvsBefore);

  leading = true;
  follower.kick();
  await waitForCondition('a', 'lead.shared.example.com', 'Allowed');
  await waitForCondition('b', 'nope.a.example.com', 'DomainClaimPolicyDenied');
  expect((await getClaim('lead.shared.example.com'))?.spec).toEqual({ namespace: 'a' });
  await follower.stop();
});

test('KIngress host rule: claim and namespace views, and the refs a change concerns', async () => {
  const told: string[][] = [];
  const c = new DomainClaimController({
    rest,
    log,
    gateways: () => [gateway],
    leading: () => false,
    resyncMs: 0,
    invalidate: (refs) => told.push(refs),
  });
  controllers.push(c);
  c.start();
  const owners = c.hostOwners();
  await owners.synced;
  expect(owners.namespaceLabels('a')).toMatchObject({ team: 'a' });
  expect(owners.namespaceLabels('nowhere')).toBeUndefined();
  const heard = (refs: string[]) => told.some((t) => refs.every((r) => t.includes(r)));
  const until = (what: string, check: () => boolean) => waitUntil(what, () => Promise.resolve(check()), WAIT);

  const claim = await rest.request<ClusterDomainClaim>('POST', CLAIMS_PATH, {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'ClusterDomainClaim',
    metadata: { name: 'shop.hosts.example.com' },
    spec: { namespace: 'a' },
  });
  const refs = [
    'host:shop.hosts.example.com',
    'host:*.hosts.example.com',
    'host:*.example.com',
    'host:*.com',
  ];
  await until('claim heard', () => heard(refs));
  expect(owners.claimOwner('shop.hosts.example.com')).toBe('a');
  expect([...owners.claimsUnder('hosts.example.com')]).toEqual([
    { domain: 'shop.hosts.example.com', namespace: 'a' },
  ]);

  // a label change of a namespace concerns its KIngresses; an annotation does not
  told.length = 0;
  await rest.request(
    'PATCH',
    '/api/v1/namespaces/b',
    { metadata: { annotations: { note: 'x' } } },
    'application/merge-patch+json',
  );
  await rest.request(
    'PATCH',
    '/api/v1/namespaces/b',
    { metadata: { labels: { tier: 'gold' } } },
    'application/merge-patch+json',
  );
  await until('label change heard', () => heard(['ns:b']));
  expect(told.filter((t) => t.includes('ns:b'))).toHaveLength(1);
  expect(owners.namespaceLabels('b')).toMatchObject({ team: 'b', tier: 'gold' });

  // the claim changing hands and going away are heard too
  told.length = 0;
  await rest.request(
    'PATCH',
    `${CLAIMS_PATH}/${claim.metadata.name}`,
    { spec: { namespace: 'b' } },
    'application/merge-patch+json',
  );
  await until('new owner heard', () => heard(refs) && owners.claimOwner('shop.hosts.example.com') === 'b');
  told.length = 0;
  await rest.request('DELETE', `${CLAIMS_PATH}/${claim.metadata.name}`);
  await until(
    'deletion heard',
    () => heard(refs) && owners.claimOwner('shop.hosts.example.com') === undefined,
  );
  await c.stop();
});

/** Refuses (500) to create the claims named in `refuse`; everything else reaches the API server. */
class RefusingRest extends KubeRest {
  readonly refuse = new Set<string>();
  refused = 0;
  override request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
    ...more: [Parameters<KubeRest['request']>[4]?, AbortSignal?, string?]
  ): Promise<T> {
    const name = (body as { metadata?: { name?: string } } | undefined)?.metadata?.name;
    if (method === 'POST' && path === CLAIMS_PATH && name !== undefined && this.refuse.has(name)) {
      this.refused++;
      return Promise.reject(new ApiError(500, 'InternalError', 'refused by the test', {}));
    }
    return super.request<T>(method, path, body, contentType, ...more);
  }
}

test('a claim the API server keeps refusing holds up no other write', async () => {
  const refusing = new RefusingRest(kc);
  refusing.refuse.add('stuck.shared.example.com');
  // its retry is a minute away: the other writes must not wait for it
  const c = new DomainClaimController({
    rest: refusing,
    log,
    gateways: () => [gateway],
    leading: () => true,
    resyncMs: 0,
    retryMs: 60_000,
    maxRetryMs: 60_000,
  });
  controllers.push(c);
  c.start();
  await c.synced;
  try {
    await createDM('a', 'stuck.shared.example.com');
    await waitUntil('the refused creation', () => Promise.resolve(refusing.refused >= 1), WAIT);
    await createDM('a', 'free.shared.example.com');
    const free = await waitUntil(
      'claim free.shared.example.com',
      () => getClaim('free.shared.example.com'),
      WAIT,
    );
    expect(free.spec).toEqual({ namespace: 'a' });
    await waitForCondition('a', 'free.shared.example.com', 'Allowed');
    // the refused one got its verdict too, and waits for its own retry
    await waitForCondition('a', 'stuck.shared.example.com', 'Allowed');
    expect(refusing.refused).toBe(1);
    expect(await getClaim('stuck.shared.example.com')).toBeUndefined();
  } finally {
    await c.stop();
    refusing.close();
  }
  await deleteDM('a', 'stuck.shared.example.com');
  await deleteDM('a', 'free.shared.example.com');
});
