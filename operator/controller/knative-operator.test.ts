import {
  desiredConfigDomain,
  desiredConfigNetwork,
  type KnativeConfigMap,
} from '../api/knativegateway-knative.ts';
import type { KnativeGateway } from '../api/knativegateway.ts';
import { knativeServingManager, missingKeys, standDown, type LiveConfigMap } from './knative-operator.ts';

const NS = 'knative-serving';

function cm(
  name: string,
  data: Record<string, string>,
  owner?: { apiVersion: string; kind: string; name: string },
): LiveConfigMap {
  return { metadata: { name, namespace: NS, ...(owner ? { ownerReferences: [owner] } : {}) }, data };
}

describe('knativeServingManager', () => {
  test('a KnativeServing in the Knative namespace manages it (the first by name)', () => {
    const servings = [
      { metadata: { name: 'b', namespace: NS } },
      { metadata: { name: 'a', namespace: NS } },
      { metadata: { name: 'elsewhere', namespace: 'other' } },
    ];
    expect(knativeServingManager(NS, servings, [])).toBe(`${NS}/a`);
  });

  test('one in another namespace does not', () => {
    expect(
      knativeServingManager(NS, [{ metadata: { name: 'x', namespace: 'other' } }], [undefined]),
    ).toBeUndefined();
  });

  test("without a readable KnativeServing, the ConfigMaps' ownerReference to one tells", () => {
    const owned = cm(
      'config-network',
      {},
      { apiVersion: 'operator.knative.dev/v1beta1', kind: 'KnativeServing', name: 'knative-serving' },
    );
    expect(knativeServingManager(NS, [], [undefined, owned])).toBe(`${NS}/knative-serving`);
    // an owner of that kind from another group is not the Knative Operator
    const other = cm(
      'config-network',
      {},
      { apiVersion: 'example.com/v1', kind: 'KnativeServing', name: 'x' },
    );
    expect(knativeServingManager(NS, [], [other])).toBeUndefined();
    expect(knativeServingManager(NS, [], [cm('config-network', {}), undefined])).toBeUndefined();
  });
});

const gw: KnativeGateway = {
  metadata: { name: 'default' },
  spec: {
    fleets: [{ name: 'external', visibility: 'ExternalIP' }],
    domains: { default: 'example.com' },
  },
};
const network = desiredConfigNetwork(gw) as KnativeConfigMap;
const domain = desiredConfigDomain(gw) as KnativeConfigMap;

describe('missingKeys', () => {
  test("a key absent from config-network counts as Knative's default", () => {
    expect(
      missingKeys(network, cm('config-network', { 'ingress-class': 'kgw.ingress.networking.knative.dev' })),
    ).toBeUndefined();
    expect(missingKeys(network, undefined)).toEqual({
      'ingress-class': 'kgw.ingress.networking.knative.dev',
    });
    expect(
      missingKeys(
        network,
        cm('config-network', {
          'ingress-class': 'kgw.ingress.networking.knative.dev',
          'http-protocol': 'Redirected',
        }),
      ),
    ).toEqual({ 'http-protocol': 'Enabled' });
  });

  test('config-domain has no defaults, and other domains there are the KnativeServing’s business', () => {
    expect(missingKeys(domain, cm('config-domain', {}))).toEqual({ 'example.com': '' });
    expect(missingKeys(domain, cm('config-domain', { 'example.com': '', 'other.org': '' }))).toBeUndefined();
  });
});

describe('standDown', () => {
  test('False with the kubectl patch that sets what is missing in the KnativeServing', () => {
    const live = (n: string) =>
      n === 'config-network' ? cm(n, { 'ingress-class': 'istio.ingress.networking.knative.dev' }) : undefined;
    const r = standDown(`${NS}/knative-serving`, [network, domain], live);
    expect(r.status).toBe('False');
    expect(r.reason).toBe('ManagedByKnativeOperator');
    expect(r.message).toBe(
      'Knative Serving in knative-serving is managed by the Knative Operator (KnativeServing knative-serving/knative-serving), ' +
        "so kgw does not write config-network and config-domain. Set this gateway's keys in the KnativeServing: " +
        'kubectl patch knativeservings.operator.knative.dev knative-serving --namespace knative-serving --type merge --patch ' +
        `'{"spec":{"config":{"network":{"ingress-class":"kgw.ingress.networking.knative.dev"},"domain":{"example.com":""}}}}' ` +
        '(or set spec.knative.configure: false on this KnativeGateway)',
    );
  });

  test('True once the KnativeServing carries what the gateway needs', () => {
    const live = (n: string) =>
      n === 'config-network'
        ? cm(n, { 'ingress-class': 'kgw.ingress.networking.knative.dev' })
        : cm(n, { 'example.com': '' });
    expect(standDown(`${NS}/knative-serving`, [network, domain], live)).toEqual({
      status: 'True',
      reason: 'ManagedByKnativeOperator',
      message:
        'Knative Serving in knative-serving is managed by the Knative Operator (KnativeServing knative-serving/knative-serving), ' +
        'so kgw does not write config-network and config-domain; they already hold what this gateway needs',
    });
  });
});
