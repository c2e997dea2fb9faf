import type { KubeObject, ReflectorEvent } from '../operator/kube/reflector.ts';
import type { KubeRest } from '../operator/kube/rest.ts';
import { newLogger } from '../operator/log.ts';
import { liveLookups, type SharedCache } from './lookups.ts';

const CLS = 'kgw.ingress.networking.knative.dev';
const kingress = (name: string, host: string): KubeObject =>
  ({
    metadata: { name, namespace: 'ns', annotations: { 'networking.knative.dev/ingress.class': CLS } },
    spec: { rules: [{ hosts: [host], visibility: 'ExternalIP' }] },
  }) as unknown as KubeObject;

function cache(initial: KubeObject[]): SharedCache & { emit(e: ReflectorEvent<KubeObject>): void } {
  const store = new Map(initial.map((o) => [`ns/${o.metadata.name}`, o]));
  const handlers: ((e: ReflectorEvent<KubeObject>) => void)[] = [];
  return {
    store,
    synced: Promise.resolve(),
    onEvent: (h) => void handlers.push(h),
    emit(e) {
      if (e.type === 'delete') store.delete(`ns/${e.obj.metadata.name}`);
      else store.set(`ns/${e.obj.metadata.name}`, e.obj);
      for (const h of handlers) h(e);
    },
  };
}

test('shared caches: objects already there are indexed, later events followed', () => {
  const a = kingress('a', 'a.example.com');
  const ingresses = cache([a]);
  const gateways = cache([]);
  const lookups = liveLookups({
    rest: {} as KubeRest, // not used: no reflector of its own is started in this test
    log: newLogger('test', 'silent'),
    shared: { ingresses, gateways },
  });
  expect(lookups.kingressesByHost(CLS, 'a.example.com').map((k) => k.metadata.name)).toEqual(['a']);
  const moved = kingress('a', 'b.example.com');
  ingresses.emit({ type: 'upsert', obj: moved, old: a });
  expect(lookups.kingressesByHost(CLS, 'a.example.com')).toEqual([]);
  expect(lookups.kingressesByHost(CLS, 'b.example.com').map((k) => k.metadata.name)).toEqual(['a']);
  ingresses.emit({ type: 'delete', obj: moved });
  expect(lookups.kingressesByHost(CLS, 'b.example.com')).toEqual([]);
  expect(lookups.gateways()).toEqual([]);
});
