// The generated RoutePolicy CRD against a real kube-apiserver: accepted (its CEL rules compile
// within the cost budget), defaults stored, and bad specs rejected with the messages of the TypeBox
// schema's CEL rules. The operator's ajv check (api/schema-check.ts) must agree with the API
// server on everything but CEL. Needs the test parts from `bash test/env/setup.sh`.
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { createRejection, kubeRequest } from '../../test/env/kube-http.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { RoutePolicySpecSchema, type RoutePolicy } from '../api/routepolicy.ts';
import { schemaProblems } from '../api/schema-check.ts';
import { PATHS, generateAll } from './generate.ts';
import { sampleRoutePolicy } from './routepolicy-sample.ts';

const BASE = '/apis/policy.kgw.dev/v1alpha1/namespaces/default/routepolicies';

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
const keys = {
  keySources: [{ header: 'x-ca-key' }],
  credentialsFrom: [{ secretRef: { name: 'consumers' } }],
};

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

  test.each([
    ['no feature', { ...target }, 'set at least one of apiKeyAuth, ipAccess, cors or rateLimit'],
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
    ['an empty ipAccess', { ...target, ipAccess: {} }, 'set at least one allow or deny range'],
    [
      'a range that is no CIDR',
      { ...target, ipAccess: { allow: ['198.51.100.7/33'] } },
      'must be an IPv4 or IPv6 CIDR such as 203.0.113.0/24',
    ],
    [
      'credentials with the origin *',
      { ...target, cors: { allowOrigins: ['*'], allowCredentials: true } },
      'allowCredentials cannot be used with the origin *: list the origins',
    ],
  ])('CEL: %s is rejected with its message', async (_what, spec, message) => {
    expect(await rejection(kc, policy(spec))).toContain(message);
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
