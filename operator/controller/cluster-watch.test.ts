// ClusterWatch's stores keep every KIngress, Service and EndpointSlice of the cluster: without
// metadata.managedFields (nobody reads it there; ~a third of a KIngress's JSON), with everything
// else the translation and status code read. A fake KubeRest answers each list with one object and
// holds each watch open until the reflector stops.
import { ClusterWatch } from './cluster-watch.ts';
import type { KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';

const managedFields = [
  {
    manager: 'controller',
    operation: 'Update',
    apiVersion: 'v1',
    fieldsType: 'FieldsV1',
    fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {} } }, 'f:spec': { 'f:rules': {} } },
  },
];

const objects: Record<string, object> = {
  '/apis/networking.internal.knative.dev/v1alpha1/ingresses': {
    metadata: {
      name: 'hello',
      namespace: 'default',
      resourceVersion: '7',
      generation: 2,
      annotations: { 'networking.knative.dev/ingress.class': 'kgw.ingress.networking.knative.dev' },
      labels: { 'serving.knative.dev/route': 'hello' },
      managedFields,
    },
    spec: { rules: [{ hosts: ['hello.example.com'] }] },
    status: { observedGeneration: 2 },
  },
  '/api/v1/services': {
    metadata: { name: 'hello', namespace: 'default', resourceVersion: '8', managedFields },
    spec: { ports: [{ name: 'http', port: 80 }] },
  },
  '/apis/discovery.k8s.io/v1/endpointslices': {
    metadata: {
      name: 'hello-1',
      namespace: 'default',
      resourceVersion: '9',
      labels: { 'kubernetes.io/service-name': 'hello' },
      managedFields,
    },
    endpoints: [{ addresses: ['10.0.0.1'] }],
  },
};

function fakeRest(): KubeRest {
  return {
    get: (path: string) =>
      Promise.resolve({
        metadata: { resourceVersion: '10' },
        items: objects[path] ? [structuredClone(objects[path])] : [],
      }),
    watch: (_path: string, _q: unknown, _on: unknown, signal: AbortSignal) =>
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
  } as unknown as KubeRest;
}

describe('ClusterWatch stores', () => {
  it('keep KIngresses, Services and EndpointSlices without managedFields, everything else as listed', async () => {
    const cw = new ClusterWatch({
      rest: fakeRest(),
      log: newLogger('test', 'silent'),
      onSecret: () => {},
      onEndpoints: () => {},
    });
    cw.start();
    try {
      await cw.synced();
      const stored = [
        cw.ingresses.store.get('default/hello'),
        cw.services.store.get('default/hello'),
        cw.slices.store.get('default/hello-1'),
      ];
      const listed = Object.values(objects) as { metadata: object }[];
      for (const [i, obj] of stored.entries()) {
        expect(obj?.metadata).not.toHaveProperty('managedFields');
        const { managedFields: _, ...metadata } = listed[i]!.metadata as { managedFields: unknown };
        expect(obj).toEqual({ ...listed[i], metadata });
      }
      expect(cw.lookups.endpointSlices('default', 'hello')).toHaveLength(1);
    } finally {
      await cw.stop();
    }
  });
});
