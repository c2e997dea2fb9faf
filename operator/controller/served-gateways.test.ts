// ServedGateways: the outcome of resolveGateways (api/gateway-selection.ts, tested there) kept
// with each served gateway's config, and what the engine asks of it.
import type { KnativeGateway } from '../api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS, type KIngress } from '../api/kingress.ts';
import type { Replica } from '../fleets/runtime.ts';
import { newLogger } from '../log.ts';
import { gatewayConfig } from './gateways.ts';
import { ServedGateways } from './served-gateways.ts';

const log = newLogger('test', 'silent');
const gw = (name: string, created: string, ingressClass?: string): KnativeGateway => ({
  metadata: { name, creationTimestamp: created },
  spec: {
    ...(ingressClass ? { ingressClass } : {}),
    fleets: [{ name: 'ext', visibility: 'ExternalIP', replicas: 2 }],
    knative: { configure: false },
  },
});
const ing = (cls: string): KIngress => ({
  metadata: { name: 'i', namespace: 'ns', annotations: { [INGRESS_CLASS_ANNOTATION]: cls } },
  spec: {},
});

function setup() {
  const replicas = new Map<string, Replica[]>();
  const served = new ServedGateways({
    log,
    runtime: { replicas: (f) => replicas.get(f) ?? [] },
    gatewayConfig: (obj) => gatewayConfig(obj, log),
  });
  return { served, replicas };
}

test('the oldest gateway of a class is served, with its fleets; the other is told why not', () => {
  const { served } = setup();
  const { served: objects, fleets } = served.select([
    gw('new', '2026-02-01T00:00:00Z'),
    gw('old', '2026-01-01T00:00:00Z'),
    gw('other', '2026-03-01T00:00:00Z', 'other.class'),
  ]);
  expect([...objects.keys()].sort()).toEqual(['old', 'other']);
  expect(fleets.map((f) => f.key).sort()).toEqual(['old/ext', 'other/ext']);
  expect([...served.values()].map((g) => g.name).sort()).toEqual(['old', 'other']);
  expect(served.problemsOf('new')).toEqual([
    `ingress class ${KGW_INGRESS_CLASS} is already served by KnativeGateway old`,
  ]);
  expect(served.problemsOf('old')).toEqual([]);
  expect(served.gatewayFor(ing(KGW_INGRESS_CLASS))?.name).toBe('old');
  expect(served.gatewayFor(ing('other.class'))?.name).toBe('other');
  expect(served.gatewayFor(ing('nobody'))).toBeUndefined();
  expect(served.fleet('other/ext')?.replicas).toBe(2);
  expect(served.fleet('new/ext')).toBeUndefined();

  // the old one goes: the new one is served, its problem gone
  served.select([gw('new', '2026-02-01T00:00:00Z')]);
  expect(served.gatewayFor(ing(KGW_INGRESS_CLASS))?.name).toBe('new');
  expect(served.problemsOf('new')).toEqual([]);
});

test('fleet replicas and a replica that became ready', () => {
  const { served, replicas } = setup();
  served.select([gw('g', '2026-01-01T00:00:00Z')]);
  const r = (id: string, ready: boolean): Replica => ({ id, address: `198.18.0.${id}`, ready });
  replicas.set('g/ext', [r('1', true), r('2', false)]);
  expect(served.fleetReplicas()).toEqual([{ fleet: 'g/ext', desired: 2, ready: 1 }]);
  expect(served.replicaBecameReady('g/ext')).toBe(true); // first sight of replica 1
  expect(served.replicaBecameReady('g/ext')).toBe(false);
  replicas.set('g/ext', [r('1', true)]);
  expect(served.replicaBecameReady('g/ext')).toBe(false); // one went away: not news
  replicas.set('g/ext', [r('1', true), r('2', true)]);
  expect(served.replicaBecameReady('g/ext')).toBe(true);
});
