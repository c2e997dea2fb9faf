import type { KnativeGateway, KnativeGatewaySpec } from './knativegateway.ts';
import { olderFirst, resolveGateways } from './gateway-selection.ts';

const gw = (
  name: string,
  created: string,
  spec: Partial<KnativeGatewaySpec> = {},
  extra: Partial<KnativeGateway['metadata']> = {},
): KnativeGateway => ({
  metadata: { name, creationTimestamp: created, ...extra },
  spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], ...spec },
});

test('oldest first by creation time, then by name in code-point order', () => {
  const list = [gw('b', 't2'), gw('Z', 't1'), gw('a', 't1')].sort(olderFirst).map((g) => g.metadata.name);
  expect(list).toEqual(['Z', 'a', 'b']);
});

test('a class goes to its oldest valid gateway; the others are told who holds it', () => {
  const s = resolveGateways([gw('new', '2026-02-01T00:00:00Z'), gw('old', '2026-01-01T00:00:00Z')]);
  expect(s.served.map((g) => g.metadata.name)).toEqual(['old']);
  expect(s.problems.get('new')).toEqual([
    'ingress class kgw.ingress.networking.knative.dev is already served by KnativeGateway old',
  ]);
});

test('invalid and deleting gateways are not served and hold no class', () => {
  const s = resolveGateways([
    gw('broken', '2026-01-01T00:00:00Z', { fleets: [] }),
    gw('leaving', '2026-01-02T00:00:00Z', {}, { deletionTimestamp: '2026-03-01T00:00:00Z' }),
    gw('next', '2026-01-03T00:00:00Z'),
  ]);
  expect(s.served.map((g) => g.metadata.name)).toEqual(['next']);
  expect(s.problems.get('broken')?.[0]).toContain('spec.fleets');
  expect(s.problems.has('leaving')).toBe(false);
});

test('Knative is configured by the oldest served gateway that wants to', () => {
  const s = resolveGateways([
    gw('a', 't1', { knative: { configure: false } }),
    gw('b', 't2', { ingressClass: 'b.example.com' }),
    gw('c', 't3', { ingressClass: 'c.example.com' }),
  ]);
  expect(s.knativeOwner?.metadata.name).toBe('b');
  expect([...s.byClass.keys()].sort()).toEqual([
    'b.example.com',
    'c.example.com',
    'kgw.ingress.networking.knative.dev',
  ]);
  expect(resolveGateways([gw('x', 't1', { knative: { configure: false } })]).knativeOwner).toBeUndefined();
});
