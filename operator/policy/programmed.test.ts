import { programmedVerdict, type ProgrammedView } from './programmed.ts';
import type { PolicyOutcome } from './resolve.ts';

const outcome: PolicyOutcome = {
  key: 'team-a/p',
  generation: 1,
  accepted: true,
  reason: 'Accepted',
  message: '',
  targets: [],
  hostCount: 2,
  ingressKeys: ['team-a/hello'],
  secrets: [],
  rateLimited: false,
};

function view(over: Partial<ProgrammedView> = {}): ProgrammedView {
  return {
    ingress: () => ({ print: 'P', gateway: 'default', held: false }),
    currentPrint: () => 'P',
    fleetsOf: () => ['kgw-system/default-external', 'kgw-system/default-local'],
    routeVersion: () => 'v9',
    ackedRouteVersions: (f) => (f.endsWith('external') ? ['v9', 'v9+0'] : ['v9']),
    ...over,
  };
}

test('every Envoy of every fleet acknowledged the current route configuration → Programmed', () => {
  expect(programmedVerdict(outcome, view())).toEqual({
    ok: true,
    reason: 'Programmed',
    message: 'acknowledged by all 3 Envoys of fleets kgw-system/default-external, kgw-system/default-local',
  });
});

test.each([
  ['a KIngress not served', { ingress: () => undefined }, 'KIngress team-a/hello is not served yet'],
  [
    'translated with an older attachment',
    { currentPrint: () => 'Q' },
    'KIngress team-a/hello is being configured with it',
  ],
  [
    'held after a NACK',
    { ingress: () => ({ print: 'P', gateway: 'default', held: true }) },
    'KIngress team-a/hello waits for its configuration to be accepted by Envoy',
  ],
  [
    'no Envoy connected',
    { ackedRouteVersions: () => [] },
    'no Envoy of fleet kgw-system/default-external is connected',
  ],
  [
    'one Envoy behind',
    { ackedRouteVersions: () => ['v9', 'v8', undefined] },
    '1 of 3 Envoys of fleet kgw-system/default-external acknowledged the configuration',
  ],
])('%s → Pending', (_what, over, message) => {
  expect(programmedVerdict(outcome, view(over as Partial<ProgrammedView>))).toEqual({
    ok: false,
    reason: 'Pending',
    message,
  });
});

test('a policy with rate limits says how each fleet counts them: PerReplica N-fold, SharedEvenly, Global', () => {
  const sharing: Record<string, { mode: 'PerReplica' | 'SharedEvenly' | 'Global'; service?: string }> = {
    'kgw-system/default-external': { mode: 'PerReplica' },
    'kgw-system/default-local': { mode: 'Global', service: 'kgw-system/ratelimit' },
  };
  const limited = { ...outcome, rateLimited: true };
  expect(programmedVerdict(limited, view({ rateLimitSharing: (f) => sharing[f] })).message).toBe(
    'acknowledged by all 3 Envoys of fleets kgw-system/default-external, kgw-system/default-local; ' +
      'rate limits: PerReplica on kgw-system/default-external (each of its 2 Envoys counts alone: up to 2x ' +
      'each limit); Global on kgw-system/default-local (counted by the rate-limit service kgw-system/ratelimit)',
  );
  sharing['kgw-system/default-external'] = { mode: 'SharedEvenly' };
  expect(programmedVerdict(limited, view({ rateLimitSharing: (f) => sharing[f] })).message).toContain(
    'SharedEvenly on kgw-system/default-external (each limit divided among its 2 Envoys)',
  );
  // without rate limits nothing is said about them
  expect(programmedVerdict(outcome, view({ rateLimitSharing: (f) => sharing[f] })).message).not.toContain(
    'rate limits',
  );
});
