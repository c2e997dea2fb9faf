// A policy is Programmed on a scoped fleet once every Envoy acknowledged the scoped route
// configurations (where the hosts' route tables are); on a SotW fleet, the route configurations.
import { programmedVerdict } from '../policy/programmed.ts';
import type { PolicyOutcome } from '../policy/resolve.ts';
import { TYPE_ROUTE, TYPE_SCOPED_ROUTE, type TypeUrl } from '../xds/protos.ts';
import { routeAcks } from './route-acks.ts';

const outcome: PolicyOutcome = {
  key: 'team-a/p',
  generation: 1,
  accepted: true,
  reason: 'Accepted',
  message: '',
  targets: [],
  hostCount: 1,
  ingressKeys: ['team-a/hello'],
  secrets: [],
  rateLimited: false,
};

function verdict(versions: Partial<Record<TypeUrl, string>>, acked: Partial<Record<TypeUrl, string>>[]) {
  const acks = routeAcks(
    (_f, t) => versions[t],
    acked.map((a) => ({ fleet: 'g/external', acked: a })),
  );
  return programmedVerdict(outcome, {
    ingress: () => ({ print: 'P', gateway: 'g', held: false }),
    currentPrint: () => 'P',
    fleetsOf: () => ['g/external'],
    ...acks,
  });
}

test('scoped fleet: Programmed once every Envoy acknowledged the scoped route configurations', () => {
  const versions = { [TYPE_SCOPED_ROUTE]: 's2' };
  expect(verdict(versions, [{ [TYPE_SCOPED_ROUTE]: 's2' }, { [TYPE_SCOPED_ROUTE]: 's2' }]).reason).toBe(
    'Programmed',
  );
  expect(verdict(versions, [{ [TYPE_SCOPED_ROUTE]: 's2' }, { [TYPE_SCOPED_ROUTE]: 's1' }]).message).toBe(
    '1 of 2 Envoys of fleet g/external acknowledged the configuration',
  );
  // a route configuration version does not count on a scoped fleet
  expect(verdict(versions, [{ [TYPE_ROUTE]: 's2' }]).reason).toBe('Pending');
});

test('SotW fleet (no vhosts): the route configuration version, with its +subset suffix', () => {
  expect(verdict({ [TYPE_ROUTE]: 'r1' }, [{ [TYPE_ROUTE]: 'r1+0' }, { [TYPE_ROUTE]: 'r1' }]).reason).toBe(
    'Programmed',
  );
  expect(verdict({ [TYPE_ROUTE]: 'r2' }, [{ [TYPE_ROUTE]: 'r1' }]).reason).toBe('Pending');
});
