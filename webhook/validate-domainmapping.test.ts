import type { KnativeGateway } from '../operator/api/knativegateway.ts';
import { staticLookups, type ClusterDomainClaim, type StaticLookupsData } from './lookups.ts';
import { domainNameProblem, validateDomainMapping } from './validate-domainmapping.ts';

const gw = (spec: Record<string, unknown> = {}): KnativeGateway => ({
  metadata: { name: 'main' },
  spec: {
    fleets: [{ name: 'ext', visibility: 'ExternalIP' }],
    knative: { autocreateClusterDomainClaims: true },
    ...spec,
  },
});
const claim = (name: string, namespace: string): ClusterDomainClaim => ({
  metadata: { name },
  spec: { namespace },
});

function dm(
  name: string,
  spec: unknown = { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' } },
  meta: Record<string, unknown> = {},
) {
  return { metadata: { name, namespace: 'team-a', ...meta }, spec };
}
const L = (d: StaticLookupsData = {}) => staticLookups({ gateways: [gw()], claims: [], ...d });

describe('validateDomainMapping', () => {
  test('a good DomainMapping passes', () => {
    expect(validateDomainMapping(dm('app.example.com'), undefined, L())).toEqual({ allowed: true });
  });

  test('good variants: claimed by its own namespace, ref namespace equal, tls, deep names', () => {
    const l = L({ claims: [claim('app.example.com', 'team-a')] });
    const spec = {
      ref: { apiVersion: 'v1', kind: 'Service', name: 'hello', namespace: 'team-a' },
      tls: { secretName: 'app-cert' },
    };
    expect(validateDomainMapping(dm('app.example.com', spec), undefined, l)).toEqual({ allowed: true });
    expect(validateDomainMapping(dm('a.b.c.d.example.co'), undefined, L()).allowed).toBe(true);
  });

  const bad: [string, ReturnType<typeof dm>, string][] = [
    [
      'generateName',
      dm('', undefined, { generateName: 'app-' }),
      'metadata.generateName: not allowed: the name of a DomainMapping is its domain',
    ],
    [
      'single label',
      dm('localhost'),
      'metadata.name: "localhost" is not a fully qualified domain name: it needs at least two dot-separated labels',
    ],
    [
      'upper case',
      dm('App.example.com'),
      'metadata.name: "App.example.com" is not a fully qualified domain name: label "App" must be 1 to 63',
    ],
    ['wildcard', dm('*.example.com'), 'label "*" must be 1 to 63'],
    ['empty label', dm('app..example.com'), 'label "" must be 1 to 63'],
    ['too long', dm(`${'a.'.repeat(127)}com`), 'longer than 253 characters'],
    [
      'cluster-local',
      dm('hello.team-a.svc.cluster.local'),
      'metadata.name: "hello.team-a.svc.cluster.local" is under the cluster-local domain "cluster.local"; map a public domain',
    ],
    ['no ref', dm('app.example.com', {}), 'spec.ref: required'],
    ['no spec', dm('app.example.com', null), 'spec.ref: required'],
    [
      'ref without kind',
      dm('app.example.com', { ref: { apiVersion: 'v1', name: 'x' } }),
      'spec.ref.kind: required',
    ],
    [
      'ref without name',
      dm('app.example.com', { ref: { apiVersion: 'v1', kind: 'Service' } }),
      'spec.ref.name: required',
    ],
    [
      'ref without apiVersion',
      dm('app.example.com', { ref: { kind: 'Service', name: 'x' } }),
      'spec.ref.apiVersion: required',
    ],
    [
      'ref bad name',
      dm('app.example.com', { ref: { apiVersion: 'v1', kind: 'Service', name: 'Bad_Name' } }),
      'spec.ref.name: "Bad_Name" is not a valid object name',
    ],
    [
      'ref other namespace',
      dm('app.example.com', { ref: { apiVersion: 'v1', kind: 'Service', name: 'x', namespace: 'team-b' } }),
      `spec.ref.namespace: must be empty or the DomainMapping's namespace "team-a", got "team-b"`,
    ],
    [
      'tls without secretName',
      dm('app.example.com', { ref: { apiVersion: 'v1', kind: 'Service', name: 'x' }, tls: {} }),
      'spec.tls.secretName: required when spec.tls is set',
    ],
  ];
  test.each(bad)('%s is denied', (_n, obj, message) => {
    const v = validateDomainMapping(obj, undefined, L());
    expect(v.allowed).toBe(false);
    expect(v.message).toContain(message);
  });

  test('a gateway cluster domain is cluster-local too', () => {
    const l = L({ gateways: [gw({ clusterDomain: 'corp.internal' })] });
    expect(validateDomainMapping(dm('x.corp.internal'), undefined, l).message).toContain(
      'is under the cluster-local domain "corp.internal"',
    );
  });

  test('a domain claimed by another namespace is denied', () => {
    const v = validateDomainMapping(
      dm('app.example.com'),
      undefined,
      L({ claims: [claim('app.example.com', 'team-b')] }),
    );
    expect(v).toEqual({
      allowed: false,
      message:
        'metadata.name: domain app.example.com is claimed by namespace team-b (ClusterDomainClaim app.example.com)',
    });
  });

  test('claims unknown (Knative CRD absent): allowed', () => {
    expect(validateDomainMapping(dm('app.example.com'), undefined, L({ claims: undefined })).allowed).toBe(
      true,
    );
  });

  test('no claim and claims are not auto-created: allowed with a warning', () => {
    const v = validateDomainMapping(dm('app.example.com'), undefined, L({ gateways: [gw({ knative: {} })] }));
    expect(v.allowed).toBe(true);
    expect(v.warnings).toEqual([
      'metadata.name: no ClusterDomainClaim app.example.com exists and autocreate-cluster-domain-claims is off; the mapping is not served until an admin creates a claim for namespace team-a',
    ]);
  });

  test('the namespace policy is injected; default allows', () => {
    const policy = (domain: string, ns: string) =>
      domain.endsWith('.team-b.example.com') && ns !== 'team-b'
        ? 'only team-b maps *.team-b.example.com'
        : undefined;
    const l = L({ domainPolicy: policy });
    expect(validateDomainMapping(dm('x.team-b.example.com'), undefined, l)).toEqual({
      allowed: false,
      message:
        'metadata.name: domain x.team-b.example.com is not allowed in namespace team-a: only team-b maps *.team-b.example.com',
    });
    expect(validateDomainMapping(dm('x.team-a.example.com'), undefined, l).allowed).toBe(true);
  });

  test('domainNameProblem', () => {
    expect(domainNameProblem('a.b')).toBeUndefined();
    expect(domainNameProblem(`${'a'.repeat(64)}.com`)).toContain('must be 1 to 63');
  });
});
