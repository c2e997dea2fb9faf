// Pure parts of the Kubernetes fleet runtime: what counts as drift and what an apply tracks for it
// (kubernetes-drift.ts), pods as replicas (kubernetes-replicas.ts), problem text
// (kubernetes-problems.ts).
import type { V1Pod } from '@kubernetes/client-node';
import { RecordingClient, WATCHED, hasDrifted, projectOnto, trackedObjects } from './kubernetes-drift.ts';
import type { FleetObject } from './kubernetes-objects.ts';
import { podReplica } from './kubernetes-replicas.ts';
import {
  describeProblem,
  forbiddenMessage,
  namespaceNotFoundMessage,
  summarizeProblems,
} from './kubernetes-problems.ts';

const shape = {
  metadata: { name: 'kgw-gw-a', namespace: 'ns', labels: { 'app.kubernetes.io/managed-by': 'kgw' } },
  spec: {
    template: { spec: { containers: [{ name: 'envoy', image: 'envoy:1', args: ['-c', 'x'] }] } },
  },
};
/** What the API server returned from kgw's apply: kgw's fields plus defaults, status, metadata. */
const baseline = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'kgw-gw-a',
    namespace: 'ns',
    resourceVersion: '10',
    generation: 1,
    labels: { 'app.kubernetes.io/managed-by': 'kgw' },
    managedFields: [{ manager: 'kgw' }],
  },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          {
            name: 'envoy',
            image: 'envoy:1',
            args: ['-c', 'x'],
            terminationMessagePath: '/dev/termination-log',
          },
        ],
        dnsPolicy: 'ClusterFirst',
      },
    },
  },
  status: {},
};

function live(mutate: (o: typeof baseline) => void, rv = '11'): unknown {
  const o = structuredClone(baseline);
  o.metadata.resourceVersion = rv;
  mutate(o);
  return o;
}

describe('drift', () => {
  const t = { shape, baseline, known: new Set(['9', '10']) };

  test('projectOnto keeps only the rendered keys', () => {
    expect(projectOnto(baseline, shape)).toEqual(shape);
    expect(projectOnto({ a: [1, 2] }, { a: [0] })).toEqual({ a: [1, 2] }); // other length: whole
    expect(projectOnto({ a: 1 }, { a: 0, b: 0 })).toEqual({ a: 1, b: undefined });
  });

  test('status, defaults, foreign labels and annotations, other managers are not drift', () => {
    expect(
      hasDrifted(
        t,
        live((o) => {
          o.status = { readyReplicas: 1 };
          (o.metadata as Record<string, unknown>).annotations = { 'deployment.kubernetes.io/revision': '2' };
          o.metadata.labels = { ...o.metadata.labels, team: 'x' } as typeof o.metadata.labels;
          o.metadata.generation = 7;
          o.spec.replicas = 5; // an HPA scaled it: kgw does not render the field then
          o.spec.template.spec.dnsPolicy = 'Default';
        }),
      ),
    ).toBe(false);
  });

  test("a changed or removed field kgw renders is drift; kgw's own versions never are", () => {
    const image = live((o) => {
      const c = o.spec.template.spec.containers[0];
      if (c) c.image = 'other:2';
    });
    expect(hasDrifted(t, image)).toBe(true);
    expect(
      hasDrifted(
        t,
        live((o) => (o.metadata.labels = {} as typeof o.metadata.labels)),
      ),
    ).toBe(true);
    expect(
      hasDrifted(
        t,
        live((o) => {
          const c = o.spec.template.spec.containers[0];
          if (c) c.args = ['-c', 'x', '--extra'];
        }),
      ),
    ).toBe(true);
    // The state kgw read before its apply (rv 9) is stale, not drift.
    expect(hasDrifted(t, { ...(image as object), metadata: { resourceVersion: '9' } })).toBe(false);
  });
});

describe('trackedObjects', () => {
  const object = (apiVersion: string, kind: string, name: string): FleetObject =>
    ({
      apiVersion,
      kind,
      metadata: { name, namespace: 'ns', labels: {}, ownerReferences: [] },
      spec: { x: name },
    }) as unknown as FleetObject;
  /** A client whose PATCH answers carry resourceVersion 10 and GET answers 9. */
  const client = new RecordingClient({
    request: <T>(method: string, path: string) =>
      Promise.resolve({
        metadata: { resourceVersion: method === 'PATCH' ? '10' : '9' },
        path,
      } as T),
  });

  test('watched kinds that the apply wrote, by path, with what the API server answered', async () => {
    const deployment = object('apps/v1', 'Deployment', 'kgw-gw-a');
    const service = object('v1', 'Service', 'kgw-gw-a');
    const configMap = object('v1', 'ConfigMap', 'kgw-gw-a');
    const dPath = '/apis/apps/v1/namespaces/ns/deployments/kgw-gw-a';
    await client.request('GET', dPath);
    await client.request('PATCH', dPath);
    await client.request('PATCH', '/api/v1/namespaces/ns/configmaps/kgw-gw-a');
    // the Service was not written (its fleet was skipped): not tracked
    const tracked = trackedObjects([deployment, service, configMap], client);
    expect([...tracked.keys()]).toEqual([dPath]);
    expect(tracked.get(dPath)).toEqual({
      watched: WATCHED.findIndex((w) => w.kind === 'Deployment'),
      key: 'ns/kgw-gw-a',
      shape: { metadata: deployment.metadata, spec: { x: 'kgw-gw-a' } },
      baseline: { metadata: { resourceVersion: '10' }, path: dPath },
      known: new Set(['9', '10']),
    });
  });
});

describe('podReplica', () => {
  const pod = (status: V1Pod['status'], deleting = false): V1Pod => ({
    metadata: { name: 'p', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    status,
  });
  const ready = [{ type: 'Ready', status: 'True' }];

  test('ready needs Ready=True, an IP and no deletionTimestamp', () => {
    expect(podReplica(pod({ podIP: '198.19.0.1', conditions: ready }))).toEqual({
      id: 'p',
      address: '198.19.0.1',
      ready: true,
    });
    expect(podReplica(pod({ conditions: ready }))).toEqual({ id: 'p', address: '', ready: false });
    expect(
      podReplica(pod({ podIP: '198.19.0.1', conditions: [{ type: 'Ready', status: 'False' }] })).ready,
    ).toBe(false);
    expect(podReplica(pod({ podIP: '198.19.0.1', conditions: ready }, true)).ready).toBe(false);
    expect(podReplica(pod(undefined))).toEqual({ id: 'p', address: '', ready: false });
  });
});

test('describeProblem names the object for API failures and keeps NotOwned messages', () => {
  const ref = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ns', name: 'kgw-gw-a' };
  expect(describeProblem({ ref, reason: 'ApplyFailed', message: 'boom' })).toBe(
    'applying Deployment ns/kgw-gw-a failed: boom',
  );
  expect(describeProblem({ ref, reason: 'DeleteFailed', message: 'boom' })).toBe(
    'deleting Deployment ns/kgw-gw-a failed: boom',
  );
  expect(describeProblem({ ref, reason: 'NotOwned', message: 'Deployment ns/kgw-gw-a already exists' })).toBe(
    'Deployment ns/kgw-gw-a already exists',
  );
});

describe('fleet namespace problems', () => {
  const sa = { namespace: 'kgw-system', name: 'kgw-operator' };
  const cmd =
    'kubectl create rolebinding kgw-fleet-manager --namespace edge --clusterrole kgw-fleet-manager --serviceaccount kgw-system:kgw-operator';

  test('the messages carry the exact command that fixes them', () => {
    expect(forbiddenMessage('edge', sa)).toBe(
      'kgw may not manage fleet objects in namespace edge: its ServiceAccount kgw-system/kgw-operator is not ' +
        `bound to ClusterRole kgw-fleet-manager there. To allow it: ${cmd}`,
    );
    expect(namespaceNotFoundMessage('edge', sa)).toBe(
      'namespace edge (spec.namespace) does not exist and kgw does not create namespaces: ' +
        `kubectl create namespace edge, then let kgw manage fleets there: ${cmd}`,
    );
    // the operator's own namespace is bound by the install: only the namespace is missing
    expect(namespaceNotFoundMessage('kgw-system', sa)).toBe(
      'namespace kgw-system (spec.namespace) does not exist and kgw does not create namespaces: ' +
        'kubectl create namespace kgw-system',
    );
  });

  test('403s become one FleetNamespaceForbidden per namespace; other problems stay as they are', () => {
    const ref = (kind: string, namespace: string, name: string) => ({
      apiVersion: 'v1',
      kind,
      namespace,
      name,
    });
    const out = summarizeProblems(
      [
        {
          ref: ref('ServiceAccount', 'edge', 'kgw-gw-a'),
          reason: 'ApplyFailed',
          message: 'forbidden',
          status: 403,
        },
        {
          ref: ref('ConfigMap', 'edge', 'kgw-gw-a'),
          reason: 'ApplyFailed',
          message: 'forbidden',
          status: 403,
        },
        { ref: ref('ConfigMap', 'old', ''), reason: 'ListFailed', message: 'forbidden', status: 403 },
        {
          ref: ref('Service', 'edge', 'kgw-gw-b'),
          reason: 'NotOwned',
          message: 'Service edge/kgw-gw-b is not kgw',
        },
        {
          ref: ref('Service', 'edge', 'kgw-gw-c'),
          reason: 'ApplyFailed',
          message: 'etcd timeout',
          status: 500,
        },
      ],
      sa,
    );
    expect(out.map((p) => p.reason)).toEqual([
      'FleetNamespaceForbidden',
      'FleetNamespaceForbidden',
      'FleetObjectsNotApplied',
      'FleetObjectsNotApplied',
    ]);
    expect(out[0]?.message).toContain(
      'namespace edge (refused: ServiceAccount kgw-gw-a, ConfigMap kgw-gw-a)',
    );
    expect(out[0]?.message).toContain(cmd);
    expect(out[1]?.message).toContain('namespace old (refused: list ConfigMaps)');
    expect(out[3]?.message).toBe('applying Service edge/kgw-gw-c failed: etcd timeout');
  });
});
