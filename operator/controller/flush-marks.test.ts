// FlushMarks with a real DependencyIndex: which watch event marks what for the next flush, and
// when the flush is woken.
import type { KIngress } from '../api/kingress.ts';
import type { KubeObject, ReflectorEvent } from '../kube/reflector.ts';
import { DependencyIndex } from './dependencies.ts';
import { FlushMarks } from './flush-marks.ts';

type Ing = KIngress & KubeObject;

function ingress(generation: number, extra: { cls?: string; ready?: 'True' | 'False' } = {}): Ing {
  return {
    metadata: {
      name: 'hello',
      namespace: 'ns',
      generation,
      ...(extra.cls !== undefined
        ? { annotations: { 'networking.knative.dev/ingress.class': extra.cls } }
        : {}),
    },
    spec: {},
    ...(extra.ready !== undefined
      ? { status: { conditions: [{ type: 'Ready', status: extra.ready }] } }
      : {}),
  };
}

function setup(served = new Set<string>()) {
  const deps = new DependencyIndex(() => undefined);
  let wakes = 0;
  const marks = new FlushMarks({ deps, served: (k) => served.has(k), wake: () => wakes++ });
  marks.gateways = false;
  return { deps, marks, wakes: () => wakes };
}

const upsert = (old: Ing | undefined, obj: Ing): ReflectorEvent<Ing> => ({ type: 'upsert', obj, old });

test('a KIngress is translated again unless it is served and only its status changed', () => {
  const { marks, wakes } = setup(new Set(['ns/hello']));
  // same generation and class, served: a status change goes to the status writer
  expect(marks.ingressEvent(upsert(ingress(1), ingress(1, { ready: 'True' })))).toBe(false);
  expect([...marks.statuses]).toEqual(['ns/hello']);
  marks.statuses.clear();
  // the same status again (e.g. kgw's own write seen twice): nothing
  expect(marks.ingressEvent(upsert(ingress(1, { ready: 'True' }), ingress(1, { ready: 'True' })))).toBe(
    false,
  );
  expect([marks.statuses.size, marks.ingresses.size]).toEqual([0, 0]);
  // a new generation, a changed class (no new generation), a delete: translated again
  expect(marks.ingressEvent(upsert(ingress(1), ingress(2)))).toBe(true);
  expect(marks.ingressEvent(upsert(ingress(1), ingress(1, { cls: 'other' })))).toBe(true);
  expect(marks.ingressEvent({ type: 'delete', obj: ingress(1) })).toBe(true);
  // the routing annotations change no generation either (Knative copies them from the Service)
  const annotated = (a: Record<string, string>): Ing => {
    const i = ingress(1);
    i.metadata.annotations = a;
    return i;
  };
  expect(marks.ingressEvent(upsert(ingress(1), annotated({ 'kgw.dev/routing-rules': '[]' })))).toBe(true);
  expect(
    marks.ingressEvent(
      upsert(
        annotated({ 'networking.internal.knative.dev/tag-to-host': '{}' }),
        annotated({ 'networking.internal.knative.dev/tag-to-host': '{"a":"b"}' }),
      ),
    ),
  ).toBe(true);
  expect(marks.ingressEvent(upsert(annotated({ other: 'x' }), annotated({ other: 'y' })))).toBe(false);
  expect([...marks.ingresses]).toEqual(['ns/hello']);
  expect(wakes()).toBe(8);
});

test('a KIngress not served yet is translated even when only its status changed', () => {
  const { marks } = setup();
  expect(marks.ingressEvent(upsert(ingress(1), ingress(1, { ready: 'False' })))).toBe(true);
  expect([...marks.ingresses]).toEqual(['ns/hello']);
});

test('a KnativeGateway selects the gateways again unless only its status changed', () => {
  const { marks, wakes } = setup();
  const gw = (generation: number, labels?: Record<string, string>): KubeObject => ({
    metadata: { name: 'g', generation, ...(labels ? { labels } : {}) },
  });
  marks.gatewayEvent({ type: 'upsert', obj: gw(1), old: gw(1) });
  expect([marks.gateways, wakes()]).toEqual([false, 0]);
  marks.gatewayEvent({ type: 'upsert', obj: gw(1, { tier: 'x' }), old: gw(1) });
  expect([marks.gateways, wakes()]).toEqual([true, 1]);
  marks.gateways = false;
  marks.gatewayEvent({ type: 'upsert', obj: gw(2), old: gw(1) });
  marks.gatewayEvent({ type: 'delete', obj: gw(2) });
  expect([marks.gateways, wakes()]).toEqual([true, 3]);
});

test('Services, Secrets, endpoints and refs mark their readers', () => {
  const { deps, marks, wakes } = setup();
  deps.set('ns/a', ['svc:ns/backend', 'secret:ns/tls']);
  deps.set('ns/b', ['host:shop.example.com']);
  marks.serviceChanged({ metadata: { name: 'backend', namespace: 'ns' } });
  expect([...marks.ingresses]).toEqual(['ns/a']);
  marks.ingresses.clear();
  marks.serviceChanged({ metadata: { name: 'other', namespace: 'ns' } }); // no readers: woken still
  expect([marks.ingresses.size, wakes()]).toEqual([0, 2]);

  marks.secretChanged('ns/tls', false); // read by a KIngress: its data is re-rendered
  marks.secretChanged('ns/fallback', true); // a gateway's default certificate
  marks.secretChanged('ns/unread', false);
  expect([...marks.secrets]).toEqual(['ns/tls', 'ns/fallback']);
  expect([...marks.ingresses]).toEqual(['ns/a']);
  marks.ingresses.clear();

  marks.endpointsChanged('ns/backend', ['ns/waiting']);
  expect([[...marks.endpoints], [...marks.ingresses]]).toEqual([['ns/backend'], ['ns/waiting']]);
  marks.ingresses.clear();

  const before = wakes();
  marks.invalidate(['host:nobody.example.com']); // no readers: not woken
  expect(wakes()).toBe(before);
  marks.invalidate(['host:shop.example.com']);
  expect([[...marks.ingresses], wakes()]).toEqual([['ns/b'], before + 1]);
});

test('draining yields the keys marked meanwhile too', () => {
  const { marks } = setup();
  marks.translate('a');
  const seen: string[] = [];
  for (const k of marks.drainIngresses()) {
    seen.push(k);
    if (k === 'a') marks.ingresses.add('b');
  }
  expect(seen).toEqual(['a', 'b']);
  expect(marks.ingresses.size).toBe(0);
});
