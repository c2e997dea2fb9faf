import { rateLimitServiceStatus } from './rate-limit-service-status.ts';

const svc = (acked: string | undefined, from: string, to: string, fleet = 'g/ext') => ({
  fleet,
  ...(acked !== undefined ? { acked } : {}),
  certificateNotBefore: from,
  certificateNotAfter: to,
});

test('counts the instances of the fleet only; a config version only when all ACKed the same', () => {
  const now = new Date('2026-12-05T00:00:00Z');
  const a = svc('v1', '2026-12-01T00:00:00Z', '2026-12-31T00:00:00Z');
  const b = svc('v2', '2026-12-02T00:00:00Z', '2027-01-01T00:00:00Z');
  const other = svc('v9', '2026-01-01T00:00:00Z', '2026-01-31T00:00:00Z', 'g/local');
  expect(rateLimitServiceStatus([a, b, other], 'g/ext', now)).toEqual({
    connected: 2,
    certificateNotAfter: '2026-12-31T00:00:00Z',
  });
  expect(rateLimitServiceStatus([a, { ...b, acked: 'v1' }], 'g/ext', now).configVersion).toBe('v1');
  expect(rateLimitServiceStatus([], 'g/ext', now)).toEqual({ connected: 0 });
});

test('a restart is needed once an instance is past two thirds of its certificate, as kgw renews it', () => {
  const c = svc('v1', '2026-12-01T00:00:00Z', '2026-12-31T00:00:00Z'); // renewal point Dec 21
  expect(
    rateLimitServiceStatus([c], 'g/ext', new Date('2026-12-20T23:59:00Z')).restartNeeded,
  ).toBeUndefined();
  expect(rateLimitServiceStatus([c], 'g/ext', new Date('2026-12-21T00:00:00Z')).restartNeeded).toBe(true);
  // without certificate data (plaintext xDS): nothing is claimed
  expect(rateLimitServiceStatus([{ fleet: 'g/ext' }], 'g/ext', new Date('2030-01-01T00:00:00Z'))).toEqual({
    connected: 1,
  });
});
