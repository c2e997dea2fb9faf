import { newLogger } from '../log.ts';
import { EventRecorder } from './events.ts';
import type { KubeRest } from './rest.ts';

class FakeRest {
  readonly calls: { method: string; path: string; body: Record<string, unknown> }[] = [];
  fail = false;
  request<T>(method: string, path: string, body: Record<string, unknown>): Promise<T> {
    if (this.fail) return Promise.reject(new Error('500'));
    this.calls.push({ method, path, body });
    return Promise.resolve({} as T);
  }
}

const ing = {
  apiVersion: 'networking.internal.knative.dev/v1alpha1',
  kind: 'Ingress',
  metadata: { name: 'a', namespace: 'team', uid: 'u1' },
};
const gw = {
  apiVersion: 'operator.kgw.dev/v1alpha1',
  kind: 'KnativeGateway',
  metadata: { name: 'g', uid: 'u2' },
};

function recorder(rest: FakeRest, clock: { t: number }) {
  return new EventRecorder({ rest: rest as unknown as KubeRest, log: newLogger('test'), now: () => clock.t });
}

test('an event names its object; cluster-scoped objects report in default', async () => {
  const rest = new FakeRest();
  const r = recorder(rest, { t: 0 });
  r.record(ing, 'Warning', 'InvalidSpec', 'spec.rules[0].hosts: must be a list');
  r.record(gw, 'Normal', 'Ready', 'fleets ready: 2/2');
  await r.flushed();
  expect(rest.calls.map((c) => [c.method, c.path])).toEqual([
    ['POST', '/api/v1/namespaces/team/events'],
    ['POST', '/api/v1/namespaces/default/events'],
  ]);
  expect(rest.calls[0]?.body).toMatchObject({
    involvedObject: { kind: 'Ingress', name: 'a', namespace: 'team', uid: 'u1' },
    type: 'Warning',
    reason: 'InvalidSpec',
    message: 'spec.rules[0].hosts: must be a list',
    count: 1,
    source: { component: 'kgw-operator' },
  });
});

test('repeats are aggregated: one Event, its count patched at most every 10 s', async () => {
  const rest = new FakeRest();
  const clock = { t: 0 };
  const r = recorder(rest, clock);
  for (let i = 0; i < 5; i++) r.record(ing, 'Normal', 'Ready', 'served');
  await r.flushed();
  expect(rest.calls.map((c) => c.method)).toEqual(['POST']); // 4 repeats within 10 s: counted, not written
  clock.t = 11_000;
  r.record(ing, 'Normal', 'Ready', 'served');
  await r.flushed();
  expect(rest.calls.map((c) => c.method)).toEqual(['POST', 'PATCH']);
  expect(rest.calls[1]?.body).toMatchObject({ count: 6 });
  // another message is another event; after the dedup window the same one is new again
  r.record(ing, 'Warning', 'EnvoyRejected', 'x');
  clock.t = 11_000 + 600_001;
  r.record(ing, 'Normal', 'Ready', 'served');
  await r.flushed();
  expect(rest.calls.map((c) => c.method)).toEqual(['POST', 'PATCH', 'POST', 'POST']);
});

test('a failed write is dropped, never thrown', async () => {
  const rest = new FakeRest();
  rest.fail = true;
  const r = recorder(rest, { t: 0 });
  r.record(ing, 'Normal', 'Ready', 'served');
  await expect(r.flushed()).resolves.toBeUndefined();
});
