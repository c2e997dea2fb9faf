import { INGRESS_CLASS_ANNOTATION } from '../api/kingress.ts';
import type { DomainClaimPolicy, KnativeGateway } from '../api/knativegateway.ts';
import {
  CLAIM_FOR_ANNOTATION,
  CONDITION_TYPE,
  REASON_ALLOWED,
  REASON_CLAIMED,
  REASON_POLICY,
  claimPlan,
  conditionsWith,
  conditionsWithout,
  gatewayForMapping,
  mappingVerdict,
  type ClaimPlanInput,
  type ClusterDomainClaim,
  type DomainMapping,
  type NamespaceObject,
} from './domain-claim-plan.ts';

function gateway(
  name: string,
  domainClaims: DomainClaimPolicy | undefined,
  extra: { ingressClass?: string; configure?: boolean; created?: string } = {},
): KnativeGateway {
  return {
    metadata: { name, creationTimestamp: extra.created ?? '2024-01-01T00:00:00Z' },
    spec: {
      fleets: [{ name: 'public', visibility: 'ExternalIP' }],
      ...(extra.ingressClass !== undefined ? { ingressClass: extra.ingressClass } : {}),
      ...(extra.configure !== undefined ? { knative: { configure: extra.configure } } : {}),
      ...(domainClaims !== undefined ? { domainClaims } : {}),
    },
  };
}

function dm(
  namespace: string,
  name: string,
  created = '2024-02-01T00:00:00Z',
  annotations?: Record<string, string>,
): DomainMapping {
  return {
    metadata: { namespace, name, creationTimestamp: created, ...(annotations ? { annotations } : {}) },
  };
}

function ns(name: string, labels: Record<string, string> = {}): NamespaceObject {
  return { metadata: { name, labels } };
}

function claim(name: string, namespace: string, kgw = false): ClusterDomainClaim {
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: '1',
      ...(kgw ? { labels: { 'app.kubernetes.io/managed-by': 'kgw' } } : {}),
    },
    spec: { namespace },
  };
}

const POLICY: DomainClaimPolicy = {
  autoCreate: true,
  rules: [
    { domains: ['a.example.com'], namespaceSelector: { matchLabels: { team: 'a' } } },
    { domains: ['shared.example.com'] },
  ],
};
const NAMESPACES = [ns('a', { team: 'a' }), ns('b', { team: 'b' })];

function input(p: Partial<ClaimPlanInput>): ClaimPlanInput {
  return {
    mappings: p.mappings ?? [],
    claims: p.claims ?? [],
    namespaces: p.namespaces ?? NAMESPACES,
    gateways: p.gateways ?? [gateway('gw', POLICY)],
  };
}

test('policy allows and denies by domain suffix and namespace labels', () => {
  const plan = claimPlan(
    input({
      mappings: [
        dm('a', 'app.a.example.com'),
        dm('b', 'x.a.example.com'),
        dm('b', 'other.org'),
        dm('b', 'b.shared.example.com'),
      ],
    }),
  );
  expect(plan.verdicts.get('a/app.a.example.com')).toMatchObject({ allowed: true, reason: REASON_ALLOWED });
  const denied = plan.verdicts.get('b/x.a.example.com');
  expect(denied).toMatchObject({ allowed: false, reason: REASON_POLICY });
  expect(denied?.message).toContain('team=a');
  expect(plan.verdicts.get('b/other.org')).toMatchObject({ allowed: false, reason: REASON_POLICY });
  expect(plan.verdicts.get('b/other.org')?.message).toContain('allowed suffixes');
  expect(plan.verdicts.get('b/b.shared.example.com')).toMatchObject({ allowed: true });
  // claims only for the allowed ones, with kgw's label and the mapping named
  expect(plan.create.map((c) => [c.metadata.name, c.spec?.namespace])).toEqual([
    ['app.a.example.com', 'a'],
    ['b.shared.example.com', 'b'],
  ]);
  expect(plan.create[0]?.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'kgw' });
  expect(plan.create[0]?.metadata.annotations).toEqual({ [CLAIM_FOR_ANNOTATION]: 'a/app.a.example.com' });
  expect(plan.delete).toEqual([]);
});

test('a domain claimed by another namespace is denied and names the owner; own claims are kept', () => {
  const plan = claimPlan(
    input({
      mappings: [dm('a', 'app.a.example.com'), dm('b', 'app.a.example.com', '2024-01-01T00:00:00Z')],
      claims: [claim('app.a.example.com', 'a', true)],
    }),
  );
  expect(plan.verdicts.get('b/app.a.example.com')).toEqual({
    allowed: false,
    reason: REASON_CLAIMED,
    message: 'domain app.a.example.com is claimed by namespace a (ClusterDomainClaim app.a.example.com)',
  });
  expect(plan.verdicts.get('a/app.a.example.com')?.allowed).toBe(true);
  expect(plan.create).toEqual([]);
  expect(plan.delete).toEqual([]);
});

test('the claim check comes before the policy; policy denial even with an own claim', () => {
  const plan = claimPlan(
    input({
      mappings: [dm('b', 'x.a.example.com'), dm('b', 'y.a.example.com')],
      claims: [claim('x.a.example.com', 'a'), claim('y.a.example.com', 'b')],
    }),
  );
  expect(plan.verdicts.get('b/x.a.example.com')?.reason).toBe(REASON_CLAIMED);
  expect(plan.verdicts.get('b/y.a.example.com')?.reason).toBe(REASON_POLICY);
});

test('autoCreate off: allowed verdict, no claim created', () => {
  const plan = claimPlan(
    input({
      mappings: [dm('a', 'app.a.example.com')],
      gateways: [gateway('gw', { ...POLICY, autoCreate: false })],
    }),
  );
  expect(plan.verdicts.get('a/app.a.example.com')?.allowed).toBe(true);
  expect(plan.create).toEqual([]);
});

test('no rules: any namespace may map any unclaimed domain', () => {
  const plan = claimPlan(
    input({ mappings: [dm('b', 'whatever.io')], gateways: [gateway('gw', { autoCreate: true })] }),
  );
  expect(plan.verdicts.get('b/whatever.io')?.allowed).toBe(true);
  expect(plan.create.map((c) => c.metadata.name)).toEqual(['whatever.io']);
});

test('only kgw-created claims are deleted, and only when no mapping of their namespace uses them', () => {
  const base = claim('dying.a.example.com', 'a', true);
  const dying = { ...base, metadata: { ...base.metadata, deletionTimestamp: '2024-03-01T00:00:00Z' } };
  const plan = claimPlan(
    input({
      mappings: [dm('a', 'used.a.example.com'), dm('b', 'moved.shared.example.com')],
      claims: [
        claim('used.a.example.com', 'a', true), // used: kept
        claim('gone.a.example.com', 'a', true), // unused, kgw's: deleted
        claim('moved.shared.example.com', 'a', true), // only namespace b maps it now: deleted
        claim('foreign.shared.example.com', 'a'), // unused but not kgw's: kept
        dying, // already being deleted: left alone
      ],
    }),
  );
  expect(plan.delete.map((c) => c.metadata.name)).toEqual(['gone.a.example.com', 'moved.shared.example.com']);
  // b's mapping is denied while a's claim exists (deleting it is what frees the domain)
  expect(plan.verdicts.get('b/moved.shared.example.com')?.reason).toBe(REASON_CLAIMED);
});

test('a mapping being deleted neither uses a claim nor gets a verdict or a claim', () => {
  const dying: DomainMapping = {
    metadata: { ...dm('a', 'app.a.example.com').metadata, deletionTimestamp: '2024-03-01T00:00:00Z' },
  };
  const plan = claimPlan(input({ mappings: [dying], claims: [claim('app.a.example.com', 'a', true)] }));
  expect(plan.verdicts.size).toBe(0);
  expect(plan.delete.map((c) => c.metadata.name)).toEqual(['app.a.example.com']);
  expect(claimPlan(input({ mappings: [dying] })).create).toEqual([]);
});

test('two namespaces map the same new domain: the older mapping wins, deterministically', () => {
  const older = dm('b', 'app.shared.example.com', '2024-01-01T00:00:00Z');
  const younger = dm('a', 'app.shared.example.com', '2024-01-02T00:00:00Z');
  for (const mappings of [
    [older, younger],
    [younger, older],
  ]) {
    const plan = claimPlan(input({ mappings }));
    expect(plan.create.map((c) => c.spec?.namespace)).toEqual(['b']);
    expect(plan.verdicts.get('b/app.shared.example.com')?.allowed).toBe(true);
    expect(plan.verdicts.get('a/app.shared.example.com')).toMatchObject({
      allowed: false,
      reason: REASON_CLAIMED,
    });
  }
  // same creation time: namespace then name decides
  const t = '2024-01-01T00:00:00Z';
  const plan = claimPlan(
    input({ mappings: [dm('b', 'x.shared.example.com', t), dm('a', 'x.shared.example.com', t)] }),
  );
  expect(plan.create.map((c) => c.spec?.namespace)).toEqual(['a']);
  // a policy-denied older mapping does not hold the domain
  const p2 = claimPlan(
    input({ mappings: [dm('b', 'q.a.example.com', '2024-01-01T00:00:00Z'), dm('a', 'q.a.example.com')] }),
  );
  expect(p2.create.map((c) => c.spec?.namespace)).toEqual(['a']);
  expect(p2.verdicts.get('b/q.a.example.com')?.reason).toBe(REASON_POLICY);
});

test('which gateway: the ingress-class annotation, else the one configuring Knative; none → left alone', () => {
  const gws = [
    gateway(
      'main',
      { autoCreate: false, rules: [{ domains: ['main.io'] }] },
      { created: '2024-01-01T00:00:00Z' },
    ),
    gateway('other', { autoCreate: true }, { ingressClass: 'other.class', configure: false }),
  ];
  expect(gatewayForMapping(undefined, gws)).toBe('main');
  expect(gatewayForMapping({ [INGRESS_CLASS_ANNOTATION]: 'other.class' }, gws)).toBe('other');
  expect(gatewayForMapping({ [INGRESS_CLASS_ANNOTATION]: 'istio.ingress.networking.knative.dev' }, gws)).toBe(
    undefined,
  );
  const plan = claimPlan(
    input({
      gateways: gws,
      mappings: [
        dm('b', 'x.org'),
        dm('b', 'y.org', undefined, { [INGRESS_CLASS_ANNOTATION]: 'other.class' }),
        dm('b', 'z.org', undefined, { [INGRESS_CLASS_ANNOTATION]: 'istio.ingress.networking.knative.dev' }),
      ],
    }),
  );
  expect(plan.verdicts.get('b/x.org')?.reason).toBe(REASON_POLICY);
  expect(plan.verdicts.get('b/y.org')?.allowed).toBe(true);
  expect(plan.verdicts.has('b/z.org')).toBe(false);
  expect(plan.create.map((c) => c.metadata.name)).toEqual(['y.org']);
  // no gateway at all: nothing
  const none = claimPlan(input({ gateways: [], mappings: [dm('b', 'x.org')] }));
  expect(none.verdicts.size + none.create.length + none.delete.length).toBe(0);
});

test('kgw’s condition is withdrawn from mappings no gateway answers for any more, and only from those', () => {
  const ours = { type: CONDITION_TYPE, status: 'True', reason: REASON_ALLOWED };
  const knative = { type: 'Ready', status: 'True' };
  const withCond = (m: DomainMapping, conditions = [knative, ours]): DomainMapping => ({
    ...m,
    status: { conditions },
  });
  const istio = { [INGRESS_CLASS_ANNOTATION]: 'istio.ingress.networking.knative.dev' };
  const mappings = [
    withCond(dm('a', 'app.shared.example.com')),
    withCond(dm('b', 'moved.shared.example.com', undefined, istio)), // class changed away from kgw
    withCond(dm('b', 'plain.shared.example.com', undefined, istio), [knative]), // never ours
    withCond({ metadata: { ...dm('b', 'gone.shared.example.com').metadata, deletionTimestamp: 't' } }),
  ];
  const plan = claimPlan(input({ mappings }));
  expect(plan.withdraw).toEqual(['b/moved.shared.example.com']);
  expect(plan.verdicts.has('a/app.shared.example.com')).toBe(true);
  // the gateway is deleted: every live mapping that carries the condition loses it
  expect(claimPlan(input({ mappings, gateways: [] })).withdraw.sort()).toEqual([
    'a/app.shared.example.com',
    'b/moved.shared.example.com',
  ]);
  // a namespace not seen yet keeps its condition (its gateway still answers; labels pending)
  expect(claimPlan(input({ mappings: [withCond(dm('new', 'n.shared.example.com'))] })).withdraw).toEqual([]);
  expect(conditionsWithout([knative, ours])).toEqual([knative]);
  expect(conditionsWithout([knative])).toBeUndefined();
  expect(conditionsWithout(undefined)).toBeUndefined();
});

test('a namespace not seen yet gets no verdict and no claim (unless claimed by another)', () => {
  const plan = claimPlan(
    input({
      mappings: [dm('new', 'n.shared.example.com'), dm('new', 'c.shared.example.com')],
      claims: [claim('c.shared.example.com', 'a')],
    }),
  );
  expect(plan.verdicts.has('new/n.shared.example.com')).toBe(false);
  expect(plan.verdicts.get('new/c.shared.example.com')?.reason).toBe(REASON_CLAIMED);
  expect(plan.create).toEqual([]);
});

test('admission: same rules, the admitted mapping is the newest unless stored', () => {
  const i = input({
    mappings: [dm('a', 'app.shared.example.com', '2024-01-05T00:00:00Z')],
    claims: [claim('c.a.example.com', 'a')],
  });
  expect(mappingVerdict(i, 'c.a.example.com', 'b', undefined)).toEqual({
    allowed: false,
    message: 'domain c.a.example.com is claimed by namespace a (ClusterDomainClaim c.a.example.com)',
  });
  expect(mappingVerdict(i, 'c.a.example.com', 'a', undefined)).toEqual({ allowed: true });
  expect(mappingVerdict(i, 'x.a.example.com', 'b', undefined).allowed).toBe(false);
  expect(mappingVerdict(i, 'x.a.example.com', 'b', undefined).message).toContain('team=a');
  // a's older mapping holds the domain (its claim is on the way): b is refused
  expect(mappingVerdict(i, 'app.shared.example.com', 'b', undefined).allowed).toBe(false);
  // ... but not for a gateway that does not create claims
  const off = { ...i, gateways: [gateway('gw', { ...POLICY, autoCreate: false })] };
  expect(mappingVerdict(off, 'app.shared.example.com', 'b', undefined).allowed).toBe(true);
  // an update of a's own mapping is allowed
  expect(mappingVerdict(i, 'app.shared.example.com', 'a', undefined).allowed).toBe(true);
  // another ingress class: not kgw's business
  expect(
    mappingVerdict(i, 'x.a.example.com', 'b', {
      [INGRESS_CLASS_ANNOTATION]: 'istio.ingress.networking.knative.dev',
    }),
  ).toEqual({ allowed: true });
  // a namespace not seen yet is judged with no labels
  expect(mappingVerdict(i, 'x.a.example.com', 'fresh', undefined).allowed).toBe(false);
  expect(mappingVerdict(i, 'x.shared.example.com', 'fresh', undefined).allowed).toBe(true);
});

test('the condition: set or replaced, other conditions kept, unchanged → undefined', () => {
  const knative = [
    { type: 'Ready', status: 'False', reason: 'DomainAlreadyClaimed' },
    { type: 'DomainClaimed', status: 'False' },
  ];
  const denied = { allowed: false, reason: REASON_CLAIMED, message: 'claimed by a' };
  const c1 = conditionsWith(knative, denied, 't1');
  expect(c1).toEqual([
    ...knative,
    {
      type: CONDITION_TYPE,
      status: 'False',
      reason: REASON_CLAIMED,
      message: 'claimed by a',
      lastTransitionTime: 't1',
    },
  ]);
  expect(conditionsWith(c1, denied, 't2')).toBeUndefined();
  // same status, another reason: lastTransitionTime kept
  const c2 = conditionsWith(c1, { ...denied, reason: REASON_POLICY, message: 'policy' }, 't3');
  expect(c2?.[2]).toMatchObject({ reason: REASON_POLICY, lastTransitionTime: 't1' });
  expect(c2?.slice(0, 2)).toEqual(knative);
  const c3 = conditionsWith(c2, { allowed: true, reason: REASON_ALLOWED, message: 'ok' }, 't4');
  expect(c3?.[2]).toMatchObject({ status: 'True', lastTransitionTime: 't4' });
  expect(conditionsWith(undefined, denied, 't')?.length).toBe(1);
});
