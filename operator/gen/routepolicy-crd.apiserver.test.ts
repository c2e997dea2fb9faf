// The generated RoutePolicy CRD against a real kube-apiserver: accepted (its CEL rules compile
// within the cost budget), defaults stored, and bad specs rejected with the messages of the TypeBox
// schema's CEL rules. The operator's ajv check (api/schema-check.ts) must agree with the API
// server on the schema, and the rules' TypeScript equals (api/schema-rules.ts) on the CEL rules.
// Needs the test parts from `bash test/env/setup.sh`.
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { createRejection, kubeRequest } from '../../test/env/kube-http.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { RoutePolicySpecSchema, type RoutePolicy } from '../api/routepolicy.ts';
import { schemaProblems } from '../api/schema-check.ts';
import { ruleProblems } from '../api/schema-rules.ts';
import { PATHS, generateAll } from './generate.ts';
import { kubeSchema } from './kube-schema.ts';
import type { Schema } from './schema.ts';
import { sampleRoutePolicy } from './routepolicy-sample.ts';

const BASE = '/apis/policy.kgw.dev/v1alpha1/namespaces/default/routepolicies';
const CIDR = 'must be an IPv4 or IPv6 CIDR such as 203.0.113.0/24';

function generated(path: string): { apiVersion: string; kind: string } {
  const f = generateAll().find((x) => x.path === path);
  if (f === undefined) throw new Error(`not generated: ${path}`);
  return parse(f.content) as { apiVersion: string; kind: string };
}

let n = 0;
function policy(spec: unknown): unknown {
  return {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name: `p${++n}` },
    spec,
  };
}

/** The API server's rejection message for creating `obj` ('' if it was accepted). */
const rejection = (kc: KubeConfig, obj: unknown): Promise<string> => createRejection(kc, BASE, obj);

const target = { targetRefs: [{ kind: 'Service', name: 'hello' }] };

/** What kgw says about `spec` without the API server: ajv on the schema, then the rules' TypeScript equals. */
function kgwProblems(spec: unknown): string[] {
  const copy = structuredClone(spec);
  const problems = schemaProblems(RoutePolicySpecSchema, copy, 'spec');
  return problems.length > 0 ? problems : ruleProblems(RoutePolicySpecSchema, copy, 'spec');
}
const keys = {
  keySources: [{ header: 'x-ca-key' }],
  credentialsFrom: [{ secretRef: { name: 'consumers' } }],
};
const users = { credentialsFrom: [{ secretRef: { name: 'users' } }] };

/** A spec breaking each CEL rule, and the rule's message. */
const CEL_REJECTIONS: [string, unknown, string][] = [
  [
    'no feature',
    { ...target },
    'set at least one of apiKeyAuth, basicAuth, ipAccess, cors, rateLimit or routing',
  ],
  [
    'a routing rule matching nothing',
    { ...target, routing: { rules: [{ to: { revision: 'hello-00002' } }] } },
    'give headers or cookies to match',
  ],
  [
    'a routing rule with 9 matches',
    {
      ...target,
      routing: {
        rules: [
          {
            headers: { a: '1', b: '2', c: '3', d: '4', e: '5' },
            cookies: { f: '1', g: '2', h: '3', i: '4' },
            to: { tag: 'canary' },
          },
        ],
      },
    },
    'at most 8 headers and cookies in one rule',
  ],
  [
    'a routing rule to both a revision and a tag',
    { ...target, routing: { rules: [{ headers: { a: 'b' }, to: { revision: 'r', tag: 't' } }] } },
    'set exactly one of revision, tag or default',
  ],
  [
    'a routing rule to default: false',
    { ...target, routing: { rules: [{ headers: { a: 'b' }, to: { default: false } }] } },
    'default can only be true',
  ],
  [
    'a routing rule matching an upper-case header name',
    { ...target, routing: { rules: [{ headers: { Demo: 'b' }, to: { tag: 't' } }] } },
    'header names must be lower-case HTTP tokens of at most 128 characters',
  ],
  [
    'a routing rule matching the host header',
    { ...target, routing: { rules: [{ headers: { host: 'b' }, to: { tag: 't' } }] } },
    'host, pseudo-headers (:…), k-network-… and knative-serving-… headers are reserved: they cannot be matched',
  ],
  [
    "a routing rule matching Knative's probe header",
    { ...target, routing: { rules: [{ headers: { 'k-network-probe': 'b' }, to: { tag: 't' } }] } },
    'host, pseudo-headers (:…), k-network-… and knative-serving-… headers are reserved: they cannot be matched',
  ],
  [
    'a routing rule with a cookie name that is no token',
    { ...target, routing: { rules: [{ cookies: { 'a;b': 'c' }, to: { tag: 't' } }] } },
    'cookie names must be HTTP tokens of at most 128 characters',
  ],
  [
    'a rate-limit key with both header and clientIP',
    {
      ...target,
      rateLimit: { rules: [{ name: 'a', key: { header: 'x', clientIP: {} }, requests: 1, per: 'Second' }] },
    },
    'set exactly one of header or clientIP',
  ],
  [
    'a rate-limit rule without key and without requests',
    {
      ...target,
      rateLimit: { rules: [{ name: 'a', limits: [{ value: 'v', requests: 1, per: 'Second' }] }] },
    },
    'limits need a key',
  ],
  [
    'a rule without a key, requests or limits',
    { ...target, rateLimit: { rules: [{ name: 'a' }] } },
    'a rule without a key needs requests and per',
  ],
  [
    'a rule with a key but neither requests nor limits',
    { ...target, rateLimit: { rules: [{ name: 'a', key: { header: 'x' } }] } },
    'set requests and per, or limits',
  ],
  [
    'requests without per',
    { ...target, rateLimit: { rules: [{ name: 'a', key: { header: 'x' }, requests: 1 }] } },
    'set requests and per together',
  ],
  [
    'a key source with both header and query',
    { ...target, apiKeyAuth: { ...keys, keySources: [{ header: 'x-k', query: 'k' }] } },
    'set exactly one of header or query',
  ],
  [
    'a key source with neither',
    { ...target, apiKeyAuth: { ...keys, keySources: [{}] } },
    'set exactly one of header or query',
  ],
  [
    "basic auth's user header as the API-key client header",
    { ...target, apiKeyAuth: { ...keys, forwardClientHeader: 'x-kgw-user' } },
    "x-kgw-user names basic auth's user: pick another header",
  ],
  ['an empty ipAccess', { ...target, ipAccess: {} }, 'set at least one allow or deny range'],
  ['a range that is no CIDR', { ...target, ipAccess: { allow: ['198.51.100.7/33'] } }, CIDR],
  [
    'credentials with the origin *',
    { ...target, cors: { allowOrigins: ['*'], allowCredentials: true } },
    'allowCredentials cannot be used with the origin *: list the origins',
  ],
  [
    'a range with a prefix longer than its address',
    { ...target, ipAccess: { deny: ['2001:db8::/129'] } },
    CIDR,
  ],
  ['an address without a prefix length', { ...target, ipAccess: { allow: ['198.51.100.7'] } }, CIDR],
  ['an IPv6 range with a zone', { ...target, ipAccess: { allow: ['fe80::1%eth0/64'] } }, CIDR],
  ['an IPv4 address with leading zeros', { ...target, ipAccess: { allow: ['010.0.0.0/8'] } }, CIDR],
  ['a host name', { ...target, ipAccess: { allow: ['example.com/8'] } }, CIDR],
  ['an IPv4-mapped IPv6 range', { ...target, ipAccess: { allow: ['::ffff:192.0.2.0/120'] } }, CIDR],
  [
    'an IPv4-mapped IPv6 range spelt in full',
    { ...target, ipAccess: { allow: ['0:0:0:0:0:FFFF:c000:0200/128'] } },
    CIDR,
  ],
  ['a prefix length with a leading zero', { ...target, ipAccess: { allow: ['10.0.0.0/08'] } }, CIDR],
];

describe('RoutePolicy CRD on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let kc: KubeConfig;

  beforeAll(async () => {
    cp = await startControlPlane();
    kc = cp.kubeConfig();
    await applyManifests(kc, [generated(PATHS.routePolicyCrd)]);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  test('the sample is accepted; the target group and hideCredentials are defaulted', async () => {
    const res = await kubeRequest(kc, 'POST', BASE, sampleRoutePolicy());
    const stored = res.json as RoutePolicy;
    expect(stored.spec.targetRefs).toEqual([
      { group: 'serving.knative.dev', kind: 'Service', name: 'hello' },
    ]);
    expect(stored.spec.apiKeyAuth?.hideCredentials).toBe(false);
    expect(schemaProblems(RoutePolicySpecSchema, stored.spec, 'spec')).toEqual([]);
  });

  test.each(CEL_REJECTIONS)(
    'CEL: %s is rejected with its message, by the API server and by kgw',
    async (_what, spec, message) => {
      expect(await rejection(kc, policy(spec))).toContain(message);
      expect(kgwProblems(spec).join('\n')).toContain(message);
    },
  );

  test('every CEL rule of the schema has a rejection case above', () => {
    const messages = new Set<string>();
    const walk = (n: Schema): void => {
      for (const r of n['x-kubernetes-validations'] ?? []) messages.add(r.message);
      for (const v of Object.values(n.properties ?? {})) walk(v);
      if (n.items !== undefined) walk(n.items);
    };
    walk(kubeSchema(RoutePolicySpecSchema));
    expect(messages.size).toBeGreaterThan(8);
    const untested = [...messages].filter((m) => !CEL_REJECTIONS.some(([, , message]) => message === m));
    expect(untested).toEqual([]);
  });

  // Specs at the edge of each CEL rule that both the API server and kgw accept: a TypeScript
  // equal that refuses too much fails here.
  test.each<[string, unknown]>([
    ['a key source with a query only', { ...target, apiKeyAuth: { ...keys, keySources: [{ query: 'k' }] } }],
    [
      'IPv4 and IPv6 ranges, a host address and the whole space, deny only',
      {
        ...target,
        ipAccess: { deny: ['203.0.113.0/24', '198.51.100.7/32', '0.0.0.0/0', '2001:db8::/32', '::/0'] },
      },
    ],
    [
      'host bits set, IPv6 in full, with IPv4 inside, in upper case, and ::ffff:1 (not IPv4-mapped)',
      {
        ...target,
        ipAccess: {
          allow: ['198.51.100.7/24', '1:2:3:4:5:6:7:8/64', '::1.2.3.4/128', '2001:DB8::/32', '::ffff:1/128'],
        },
      },
    ],
    ['an empty allow list beside a deny range', { ...target, ipAccess: { allow: [], deny: ['10.0.0.0/8'] } }],
    [
      'credentials with listed origins',
      { ...target, cors: { allowOrigins: ['https://a.example.com'], allowCredentials: true } },
    ],
    [
      'the origin * without credentials',
      { ...target, cors: { allowOrigins: ['*'], allowCredentials: false } },
    ],
    [
      'a rule counting per client address',
      { ...target, rateLimit: { rules: [{ name: 'a', key: { clientIP: {} }, requests: 1, per: 'Second' }] } },
    ],
    [
      'a rule with limits of its own only',
      {
        ...target,
        rateLimit: {
          rules: [{ name: 'a', key: { header: 'x' }, limits: [{ value: 'v', requests: 1, per: 'Day' }] }],
        },
      },
    ],
    [
      'routing rules to a revision, a tag and the default split, 8 matches in one rule',
      {
        ...target,
        routing: {
          rules: [
            { headers: { demo: 'test', 'x-user-group': 'beta' }, to: { revision: 'hello-00002' } },
            { cookies: { demo: 'never' }, to: { default: true } },
            {
              headers: { a: '1', b: '2', c: '3', d: '4' },
              cookies: { Session: 'x', f: 'v?1', g: '3', h: '4' },
              to: { tag: 'canary' },
            },
          ],
        },
      },
    ],
    ['basic auth alone, without a realm', { ...target, basicAuth: users }],
    [
      'basic auth and API keys, the client header another x-kgw-… name',
      { ...target, basicAuth: users, apiKeyAuth: { ...keys, forwardClientHeader: 'x-kgw-user-id' } },
    ],
    [
      'basic auth with a realm of printable ASCII (64 characters, spaces, quotes other than ")',
      {
        ...target,
        basicAuth: {
          ...users,
          realm: "Team A's API ~ <admin> [v1] {x} #!$%&()*+,-./:;=?@^_`|" + 'x'.repeat(10),
        },
      },
    ],
    [
      'a rule without a key, for the whole host',
      { ...target, rateLimit: { rules: [{ name: 'a', requests: 5, per: 'Minute' }] } },
    ],
  ])('accepted by the API server and by kgw: %s', async (_what, spec) => {
    expect(await rejection(kc, policy(spec))).toBe('');
    expect(kgwProblems(spec)).toEqual([]);
  });

  test.each([
    [
      'a target kind kgw does not know',
      { targetRefs: [{ kind: 'Deployment', name: 'x' }], cors: { allowOrigins: ['*'] } },
    ],
    [
      'a target in another group',
      { targetRefs: [{ group: 'apps', kind: 'Service', name: 'x' }], cors: { allowOrigins: ['*'] } },
    ],
    ['no targets', { targetRefs: [], cors: { allowOrigins: ['*'] } }],
    ['an upper-case header name', { ...target, apiKeyAuth: { ...keys, keySources: [{ header: 'X-Key' }] } }],
    ['an origin with a path', { ...target, cors: { allowOrigins: ['https://a.example.com/x'] } }],
    ['a negative max age', { ...target, cors: { allowOrigins: ['*'], maxAgeSeconds: -1 } }],
    [
      '17 routing rules',
      {
        ...target,
        routing: { rules: Array.from({ length: 17 }, () => ({ headers: { a: 'b' }, to: { tag: 't' } })) },
      },
    ],
    [
      'a cookie value with a space',
      { ...target, routing: { rules: [{ cookies: { a: 'b c' }, to: { tag: 't' } }] } },
    ],
    [
      'a header value with a line break',
      { ...target, routing: { rules: [{ headers: { a: 'b\nc' }, to: { tag: 't' } }] } },
    ],
    ['a routing rule without to', { ...target, routing: { rules: [{ headers: { a: 'b' } }] } }],
    ['basic auth without credentialsFrom', { ...target, basicAuth: { realm: 'r' } }],
    ['basic auth with no Secret', { ...target, basicAuth: { credentialsFrom: [] } }],
    ['a realm with a double quote', { ...target, basicAuth: { ...users, realm: 'a"b' } }],
    ['a realm with a backslash', { ...target, basicAuth: { ...users, realm: 'a\\b' } }],
    ['a realm with a line break', { ...target, basicAuth: { ...users, realm: 'a\nb' } }],
    ['a realm with non-ASCII', { ...target, basicAuth: { ...users, realm: 'caf\u00e9' } }],
    ['an empty realm', { ...target, basicAuth: { ...users, realm: '' } }],
    ['a realm of 65 characters', { ...target, basicAuth: { ...users, realm: 'x'.repeat(65) } }],
  ])('schema: %s is rejected by the API server and by the operator check', async (_what, spec) => {
    expect(await rejection(kc, policy(spec))).not.toBe('');
    expect(schemaProblems(RoutePolicySpecSchema, structuredClone(spec), 'spec')).not.toEqual([]);
  });

  test('two targetRefs naming the same object are refused (list map keys)', async () => {
    const dup = {
      targetRefs: [
        { kind: 'Service', name: 'a' },
        { group: 'serving.knative.dev', kind: 'Service', name: 'a' },
      ],
      cors: { allowOrigins: ['*'] },
    };
    expect(await rejection(kc, policy(dup))).toMatch(/Duplicate value/);
  });

  test('kubectl get shows Accepted, Programmed, Targets, Hosts and Age', () => {
    const crd = generated(PATHS.routePolicyCrd) as unknown as {
      spec: { versions: { additionalPrinterColumns: { name: string }[] }[] };
    };
    expect(crd.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Accepted',
      'Programmed',
      'Targets',
      'Hosts',
      'Age',
    ]);
  });
});
