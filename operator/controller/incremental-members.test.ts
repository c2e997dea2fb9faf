// The fleet-members assignment of SharedEvenly fleets (rate limits shared across the fleet's
// Envoys): sent with the first flush (empty), again whenever the ready replicas change, and kept
// among the endpoints when other endpoints change; never for PerReplica fleets.
import { join } from 'node:path';
import { FLEET_MEMBERS_CLUSTER } from '../render/bootstrap.ts';
import { caseLookups, goldenDir, goldenFleets, loadCase } from '../../test/support/golden-cases.ts';
import { translateIngress } from '../translate/ingress.ts';
import { IncrementalGateway } from './incremental.ts';

const objs = loadCase(join(goldenDir, 'basics.yaml'));
const lookups = caseLookups(objs);
const shared = { ...goldenFleets.external!, rateLimitSharing: 'SharedEvenly' as const };
const fleets = [
  { key: 'shared', opts: shared },
  { key: 'per-replica', opts: goldenFleets.external! },
];

function members(endpoints: ReadonlyMap<string, object> | undefined): string[] | undefined {
  const cla = endpoints?.get(FLEET_MEMBERS_CLUSTER) as
    | { endpoints?: { lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] }
    | undefined;
  if (!cla) return undefined;
  return (cla.endpoints ?? []).flatMap((l) =>
    l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address),
  );
}

test('SharedEvenly fleets get the ready replicas as the fleet-members assignment', () => {
  const gw = new IncrementalGateway(fleets, lookups);
  let out = gw.flush().fleets;
  expect(members(out.get('shared')?.endpoints)).toEqual([]);
  expect(members(out.get('per-replica')?.endpoints)).toBeUndefined();

  gw.setFleetMembers('shared', ['198.18.0.12', '198.18.0.11', '198.18.0.11']);
  gw.setFleetMembers('per-replica', ['198.18.0.21']);
  out = gw.flush().fleets;
  expect([...out.keys()]).toEqual(['shared']);
  expect(Object.keys(out.get('shared')!)).toEqual(['endpoints']);
  expect(members(out.get('shared')?.endpoints)).toEqual(['198.18.0.11', '198.18.0.12']);
  const port = (out.get('shared')?.endpoints?.get(FLEET_MEMBERS_CLUSTER) as { endpoints: object[] })
    .endpoints;
  expect(JSON.stringify(port)).toContain(`"port_value":${shared.httpPort}`);

  // the same replicas again: nothing to send
  gw.setFleetMembers('shared', ['198.18.0.11', '198.18.0.12']);
  expect(gw.flush().fleets.size).toBe(0);

  // KIngress endpoints come: the assignment stays among them
  for (const ing of objs.ingresses) {
    const r = translateIngress(ing, lookups);
    if (r.ok) gw.set(r.ir, ing.metadata.creationTimestamp ?? '');
  }
  out = gw.flush().fleets;
  const endpoints = out.get('shared')?.endpoints;
  expect(endpoints?.size).toBeGreaterThan(1);
  expect(members(endpoints)).toEqual(['198.18.0.11', '198.18.0.12']);
  expect(members(out.get('per-replica')?.endpoints)).toBeUndefined();
  // the assembler's own map is left as it was
  expect(gw.resources('shared')?.endpoints.has(FLEET_MEMBERS_CLUSTER)).toBe(false);

  // a replica goes
  gw.setFleetMembers('shared', ['198.18.0.12']);
  out = gw.flush().fleets;
  expect(members(out.get('shared')?.endpoints)).toEqual(['198.18.0.12']);
  expect(out.get('shared')?.endpoints?.size).toBe(endpoints?.size);
});
