import type { KIngress } from '../api/kingress.ts';
import { desiredStatus, isReady } from './conditions.ts';

const ing = (namespace: string): KIngress => ({
  metadata: { name: 'thief', namespace, generation: 2 },
  spec: {},
});
const NOW = '2026-01-01T00:00:00Z';

describe('DomainConflict', () => {
  const ready = (namespace: string, owner: string) =>
    desiredStatus(ing(namespace), { kind: 'conflict', host: 'app.example.com', owner }, NOW).conditions?.find(
      (c) => c.type === 'Ready',
    );

  test('an owner in the same namespace is named', () => {
    expect(ready('team', 'team/app')).toMatchObject({
      status: 'False',
      reason: 'DomainConflict',
      message: 'host app.example.com is already served by KIngress team/app',
    });
  });

  test("another namespace's KIngress is not named", () => {
    const c = ready('attacker', 'victim/app');
    expect(c).toMatchObject({
      status: 'False',
      reason: 'DomainConflict',
      message: 'host app.example.com is already served by a KIngress of another namespace',
    });
    expect(c?.message).not.toContain('victim');
    // a namespace whose name is a prefix of the owner's is another namespace
    expect(ready('team', 'team-b/app')?.message).toBe(
      'host app.example.com is already served by a KIngress of another namespace',
    );
  });
});

test('HostNotAllowed is a problem: Ready, LoadBalancerReady and NetworkConfigured False', () => {
  const s = desiredStatus(ing('attacker'), { kind: 'problem', reason: 'HostNotAllowed', message: 'm' }, NOW);
  expect(s.observedGeneration).toBe(2);
  expect(s.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
    ['LoadBalancerReady', 'False', 'HostNotAllowed'],
    ['NetworkConfigured', 'False', 'HostNotAllowed'],
    ['Ready', 'False', 'HostNotAllowed'],
  ]);
});

test('Ready is reported for the generation that was probed, not a newer one still on its way', () => {
  const ing = {
    metadata: { name: 'a', namespace: 'n', generation: 3 },
    spec: {},
  } as unknown as Parameters<typeof desiredStatus>[0];
  const s = desiredStatus(ing, { kind: 'ready', public: [], private: [], generation: 2 }, 't');
  expect(s.observedGeneration).toBe(2);
  expect(isReady({ ...ing, status: s })).toBe(false);
  expect(
    desiredStatus(ing, { kind: 'ready', public: [], private: [], generation: 3 }, 't').observedGeneration,
  ).toBe(3);
});
