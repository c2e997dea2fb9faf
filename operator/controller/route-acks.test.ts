// A policy is Programmed on a VHDS fleet only once every Envoy acknowledged the route
// configurations and the vhosts; on a SotW fleet the route configurations say it all.
import { programmedVerdict } from '../policy/programmed.ts';
import type { PolicyOutcome } from '../policy/resolve.ts';
import { TYPE_ROUTE, TYPE_VHOST, type TypeUrl } from '../xds/protos.ts';
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

test('VHDS fleet: Programmed once every Envoy acknowledged both the route configurations and the vhosts', () => {
  const versions = { [TYPE_ROUTE]: 'r1', [TYPE_VHOST]: 'v2' };
  expect(verdict(versions, [{ [TYPE_ROUTE]: 'r1', [TYPE_VHOST]: 'v2' }]).reason).toBe('Programmed');
  // the policy lives in a vhost: the route configuration alone is not enough
  expect(verdict(versions, [{ [TYPE_ROUTE]: 'r1', [TYPE_VHOST]: 'v1' }]).message).toBe(
    '0 of 1 Envoys of fleet g/external acknowledged the configuration',
  );
  expect(verdict(versions, [{ [TYPE_ROUTE]: 'r1' }]).reason).toBe('Pending');
  expect(verdict(versions, [{ [TYPE_VHOST]: 'v2' }]).reason).toBe('Pending');
});

test('SotW fleet (no vhosts): the route configuration version, with its +subset suffix', () => {
  expect(verdict({ [TYPE_ROUTE]: 'r1' }, [{ [TYPE_ROUTE]: 'r1+0' }, { [TYPE_ROUTE]: 'r1' }]).reason).toBe(
    'Programmed',
  );
  expect(verdict({ [TYPE_ROUTE]: 'r2' }, [{ [TYPE_ROUTE]: 'r1' }]).reason).toBe('Pending');
});
