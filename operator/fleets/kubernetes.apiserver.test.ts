// KubernetesFleetRuntime against a real kube-apiserver: applying a KnativeGateway creates its fleet
// objects (accepted by the API server's validation), editing it updates and prunes them, an object
// kgw did not create is left alone and reported without stopping other gateways, drift is put back
// without an apply() call, replicas follow Pods (created here and given a status through
// pods/status, since there is no kubelet), and an unchanged input writes nothing. Needs the test
// parts from `bash test/env/setup.sh`.
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { waitUntil } from '../../test/env/proc.ts';
import {
  GATEWAY_API_VERSION,
  GATEWAY_KIND,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  fleetLabels,
  fleetServiceName,
  type KnativeGateway,
  type KnativeGatewaySpec,
} from '../api/knativegateway.ts';
import { knativeGatewayCrd } from '../gen/knativegateway-crd.ts';
import { fullSampleKnativeGateway } from '../gen/sample.ts';
import { ApiError, KubeRest, type Query } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { objectPath } from './kubernetes-apply.ts';
import { FLEET_KINDS } from './kubernetes-objects.ts';
import { operatorXdsEndpoint } from './fleet-names.ts';
import { KubernetesFleetRuntime, type KubernetesRuntimeOptions } from './kubernetes.ts';
import type { Replica } from './runtime.ts';

const GATEWAYS = '/apis/operator.kgw.dev/v1alpha1/knativegateways';
const XDS = operatorXdsEndpoint();
const log = newLogger('kubernetes-runtime-test');
const WAIT = { timeoutMs: 20_000, intervalMs: 50 };

interface Stored {
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec?: Record<string, unknown>;
}

interface StoredDeployment extends Stored {
  spec: {
    replicas?: number;
    template: { spec: { containers: { image: string; args: string[] }[] } };
  };
}

/** KubeRest that records every request other than GET (the reflectors' lists and watches are GETs). */
class CountingRest extends KubeRest {
  readonly writes: string[] = [];
  override request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
    query?: Query,
    signal?: AbortSignal,
  ): Promise<T> {
    if (method !== 'GET') this.writes.push(`${method} ${path}`);
    return super.request<T>(method, path, body, contentType, query, signal);
  }
}

let cp: ControlPlane;
let kc: KubeConfig;
let rest: KubeRest;

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  rest = new KubeRest(kc);
  await applyManifests(kc, [
    knativeGatewayCrd(),
    ...['kgw-system', 'shared', 'drift', 'pods', 'quiet'].map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    })),
  ]);
});

afterAll(async () => {
  await cp?.stop();
});

const runtimes: KubernetesFleetRuntime[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
});

async function newRuntime(
  r: KubeRest = rest,
  opts: Partial<KubernetesRuntimeOptions> = {},
): Promise<KubernetesFleetRuntime> {
  const rt = new KubernetesFleetRuntime({ rest: r, log, xds: XDS, ...opts });
  runtimes.push(rt);
  await rt.start();
  return rt;
}

/** Creates or replaces a gateway's spec; returns it as stored (with uid). */
async function putGateway(name: string, spec: KnativeGatewaySpec): Promise<KnativeGateway> {
  const body = { apiVersion: GATEWAY_API_VERSION, kind: GATEWAY_KIND, metadata: { name }, spec };
  return rest.request<KnativeGateway>('PATCH', `${GATEWAYS}/${name}`, body, 'application/apply-patch+yaml', {
    fieldManager: 'test-admin',
    force: true,
  });
}

function applyAll(rt: KubernetesFleetRuntime, ...gws: KnativeGateway[]): Promise<void> {
  return rt.apply([], new Map(gws.map((g) => [g.metadata.name, g])));
}

async function get<T = Stored>(kind: string, namespace: string, name: string): Promise<T | undefined> {
  const k = FLEET_KINDS.find((x) => x.kind === kind);
  if (k === undefined) throw new Error(`unknown kind ${kind}`);
  try {
    return await rest.get<T>(objectPath({ apiVersion: k.apiVersion, kind, namespace, name }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

function container(dep: StoredDeployment | undefined): { image: string; args: string[] } | undefined {
  return dep?.spec.template.spec.containers[0];
}

function logLevel(dep: StoredDeployment | undefined): string | undefined {
  const args = container(dep)?.args ?? [];
  return args[args.indexOf('--log-level') + 1];
}

describe('KubernetesFleetRuntime on a real kube-apiserver', () => {
  test('applying a gateway creates every fleet object, labelled and owned by the gateway', async () => {
    const rt = await newRuntime();
    const sample = fullSampleKnativeGateway();
    const gw = await putGateway(sample.metadata.name, sample.spec);
    await applyAll(rt, gw);
    expect(rt.problems('edge')).toEqual([]);
    for (const fleet of ['public', 'private']) {
      const name = fleetServiceName('edge', fleet);
      // Both fleets of the sample have a PodDisruptionBudget; only `public` autoscales.
      const kinds = ['ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget'];
      if (fleet === 'public') kinds.push('HorizontalPodAutoscaler');
      for (const kind of kinds) {
        const o = await get(kind, 'kgw-system', name);
        expect({ kind, labels: o?.metadata.labels }).toEqual({
          kind,
          labels: { [LABEL_MANAGED_BY]: 'kgw', [LABEL_GATEWAY]: 'edge', [LABEL_FLEET]: fleet },
        });
        expect(o?.metadata.ownerReferences).toEqual([
          expect.objectContaining({
            kind: GATEWAY_KIND,
            name: 'edge',
            uid: gw.metadata.uid,
            controller: true,
          }),
        ]);
      }
      if (fleet === 'private')
        expect(await get('HorizontalPodAutoscaler', 'kgw-system', name)).toBeUndefined();
    }
    const pub = await get<StoredDeployment>('Deployment', 'kgw-system', fleetServiceName('edge', 'public'));
    expect(pub?.spec.replicas).toBe(2); // autoscaled: starts at minReplicas
    expect(logLevel(pub)).toBe('info');
  });

  test('editing the gateway updates the objects; a removed fleet is pruned', async () => {
    const rt = await newRuntime();
    const web = fleetServiceName('edit', 'web');
    const internal = fleetServiceName('edit', 'internal');
    let gw = await putGateway('edit', {
      fleets: [
        { name: 'web', visibility: 'ExternalIP', replicas: 2, service: { type: 'ClusterIP' } },
        { name: 'internal', visibility: 'ClusterLocal' },
      ],
    });
    await applyAll(rt, gw);
    expect(rt.problems('edit')).toEqual([]);
    let dep = await get<StoredDeployment>('Deployment', 'kgw-system', web);
    expect(dep?.spec.replicas).toBe(2);
    expect(logLevel(dep)).toBe('warning');
    expect(await get('HorizontalPodAutoscaler', 'kgw-system', web)).toBeUndefined();

    // replicas 3, then autoscaling; a new Service port; Envoy log level debug.
    gw = await putGateway('edit', {
      fleets: [
        {
          name: 'web',
          visibility: 'ExternalIP',
          replicas: 3,
          service: { type: 'ClusterIP', httpPort: 8080 },
          envoy: { logLevel: 'debug' },
        },
        { name: 'internal', visibility: 'ClusterLocal' },
      ],
    });
    await applyAll(rt, gw);
    expect(rt.problems('edit')).toEqual([]);
    dep = await get<StoredDeployment>('Deployment', 'kgw-system', web);
    expect(dep?.spec.replicas).toBe(3);
    expect(logLevel(dep)).toBe('debug');
    const svc = await get<Stored & { spec: { ports: { name: string; port: number }[] } }>(
      'Service',
      'kgw-system',
      web,
    );
    expect(svc?.spec.ports.find((p) => p.name === 'http')?.port).toBe(8080);

    gw = await putGateway('edit', {
      fleets: [
        {
          name: 'web',
          visibility: 'ExternalIP',
          autoscaling: { minReplicas: 2, maxReplicas: 6 },
          service: { type: 'ClusterIP', httpPort: 8080 },
          envoy: { logLevel: 'debug' },
        },
      ],
    });
    await applyAll(rt, gw);
    expect(rt.problems('edit')).toEqual([]);
    const hpa = await get('HorizontalPodAutoscaler', 'kgw-system', web);
    expect(hpa?.spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
    // Handing the count to the HPA keeps the 3 replicas (no drop to the default of 1).
    expect((await get<StoredDeployment>('Deployment', 'kgw-system', web))?.spec.replicas).toBe(3);
    for (const kind of ['ServiceAccount', 'ConfigMap', 'Deployment', 'Service']) {
      expect({ kind, gone: (await get(kind, 'kgw-system', internal)) === undefined }).toEqual({
        kind,
        gone: true,
      });
    }
  });

  test('a foreign object is untouched and reported; another gateway in the same call is applied', async () => {
    const rt = await newRuntime(rest, { retryMs: 200 });
    const taken = fleetServiceName('taken', 'a');
    const theirs = await rest.request<Stored>('POST', '/apis/apps/v1/namespaces/shared/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: taken, labels: { app: 'theirs' } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'theirs' } },
        template: {
          metadata: { labels: { app: 'theirs' } },
          spec: { containers: [{ name: 'app', image: 'example.com/theirs:1' }] },
        },
      },
    });
    const a = await putGateway('taken', {
      namespace: 'shared',
      fleets: [{ name: 'a', visibility: 'ExternalIP' }],
    });
    const b = await putGateway('fine', {
      namespace: 'shared',
      fleets: [{ name: 'b', visibility: 'ExternalIP' }],
    });
    await applyAll(rt, a, b);

    expect((await get('Deployment', 'shared', taken))?.metadata.resourceVersion).toBe(
      theirs.metadata.resourceVersion,
    );
    expect(await get('Service', 'shared', taken)).toBeUndefined(); // the whole fleet is skipped
    const problems = rt.problems('taken');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.reason).toBe('FleetObjectsNotApplied');
    expect(problems[0]?.message).toContain(`Deployment shared/${taken} already exists`);
    expect(problems[0]?.message).toContain('kgw leaves it untouched');
    expect(rt.problems('fine')).toEqual([]);
    expect(await get('Deployment', 'shared', fleetServiceName('fine', 'b'))).toBeDefined();

    // Still reported (and still untouched) on the next apply().
    await applyAll(rt, a, b);
    expect(rt.problems('taken')).toEqual(problems);
    expect((await get('Deployment', 'shared', taken))?.metadata.resourceVersion).toBe(
      theirs.metadata.resourceVersion,
    );
    expect(rt.problems('unknown')).toEqual([]);

    // Once their Deployment is gone, the retry (backoff, no apply() call) creates kgw's fleet.
    await rest.request(
      'DELETE',
      objectPath({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shared', name: taken }),
    );
    const ours = await waitUntil(
      'fleet applied by the retry',
      async () => {
        const d = await get('Deployment', 'shared', taken);
        return d !== undefined && d.metadata.labels?.[LABEL_MANAGED_BY] === 'kgw' ? d : undefined;
      },
      WAIT,
    );
    expect(ours.metadata.ownerReferences?.[0]?.uid).toBe(a.metadata.uid);
    await waitUntil('problems cleared', () => Promise.resolve(rt.problems('taken').length === 0), WAIT);
  });

  test('drift: a changed image and a deleted Service are put back without an apply() call', async () => {
    const rt = await newRuntime();
    const gw = await putGateway('drifty', {
      namespace: 'drift',
      fleets: [{ name: 'x', visibility: 'ExternalIP' }],
    });
    await applyAll(rt, gw);
    expect(rt.problems('drifty')).toEqual([]);
    const name = fleetServiceName('drifty', 'x');
    const image = container(await get<StoredDeployment>('Deployment', 'drift', name))?.image;
    expect(image).toBeDefined();

    // Someone adds an annotation (not kgw's field) and changes the image (kgw's field).
    const depPath = objectPath({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'drift', name });
    await rest.request(
      'PATCH',
      depPath,
      { metadata: { annotations: { 'example.com/note': 'mine' } } },
      'application/merge-patch+json',
      { fieldManager: 'someone' },
    );
    await rest.request(
      'PATCH',
      depPath,
      [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example.com/other:1' }],
      'application/json-patch+json',
      { fieldManager: 'someone' },
    );
    expect(container(await get<StoredDeployment>('Deployment', 'drift', name))?.image).toBe(
      'example.com/other:1',
    );
    const fixed = await waitUntil(
      'image put back',
      async () => {
        const d = await get<StoredDeployment>('Deployment', 'drift', name);
        return container(d)?.image === image ? d : undefined;
      },
      WAIT,
    );
    expect(fixed.metadata.annotations?.['example.com/note']).toBe('mine');

    // Someone deletes the Service: it comes back, owned by the gateway.
    const svc = await get('Service', 'drift', name);
    await rest.request('DELETE', objectPath({ apiVersion: 'v1', kind: 'Service', namespace: 'drift', name }));
    const back = await waitUntil(
      'Service re-created',
      async () => {
        const s = await get('Service', 'drift', name);
        return s !== undefined && s.metadata.uid !== svc?.metadata.uid ? s : undefined;
      },
      WAIT,
    );
    expect(back.metadata.ownerReferences?.[0]?.uid).toBe(gw.metadata.uid);
    expect(rt.problems('drifty')).toEqual([]);
  });

  test('replicas and onChange follow the fleet pods', async () => {
    const rt = await newRuntime();
    const gw = await putGateway('pods', {
      namespace: 'pods',
      fleets: [
        { name: 'a', visibility: 'ExternalIP' },
        { name: 'b', visibility: 'ClusterLocal' },
      ],
    });
    await applyAll(rt, gw);
    expect(rt.problems('pods')).toEqual([]);
    const events: string[] = [];
    rt.onChange((k) => events.push(k));

    const podsPath = '/api/v1/namespaces/pods/pods';
    const createPod = (name: string, fleet: string) =>
      rest.request('POST', podsPath, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: fleetLabels('pods', fleet) },
        spec: {
          // A node name: deleting the pod is then graceful (deletionTimestamp first), as on a cluster.
          nodeName: 'node-1',
          serviceAccountName: fleetServiceName('pods', fleet),
          automountServiceAccountToken: false,
          containers: [{ name: 'envoy', image: 'example.com/envoy:1' }],
        },
      });
    const setStatus = (name: string, ip: string, ready: boolean) =>
      rest.request(
        'PATCH',
        `${podsPath}/${name}/status`,
        {
          status: {
            phase: 'Running',
            podIP: ip,
            podIPs: [{ ip }],
            conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
          },
        },
        'application/merge-patch+json',
      );
    const until = (what: string, key: string, want: Replica[]) =>
      waitUntil(what, () => Promise.resolve(JSON.stringify(rt.replicas(key)) === JSON.stringify(want)), WAIT);

    await createPod('a-1', 'a');
    await until('pending pod listed', 'pods/a', [{ id: 'a-1', address: '', ready: false }]);
    expect(events).toContain('pods/a');

    await setStatus('a-1', '198.19.244.11', true);
    await until('pod ready', 'pods/a', [{ id: 'a-1', address: '198.19.244.11', ready: true }]);

    // A pod of fleet b, and an unrelated update of a-1: fleet a's listeners are not called.
    events.length = 0;
    await rest.request(
      'PATCH',
      `${podsPath}/a-1`,
      { metadata: { annotations: { 'example.com/note': 'x' } } },
      'application/merge-patch+json',
    );
    await createPod('b-1', 'b');
    await setStatus('b-1', '198.19.244.21', true);
    await until('b ready', 'pods/b', [{ id: 'b-1', address: '198.19.244.21', ready: true }]);
    expect(events).not.toContain('pods/a');
    expect(events).toContain('pods/b');
    expect(rt.replicas('pods/a')).toEqual([{ id: 'a-1', address: '198.19.244.11', ready: true }]);

    // Not ready any more.
    events.length = 0;
    await setStatus('a-1', '198.19.244.11', false);
    await until('a not ready', 'pods/a', [{ id: 'a-1', address: '198.19.244.11', ready: false }]);
    expect(events).toEqual(['pods/a']);

    // Terminating (deletionTimestamp set, the kubelet would still be draining it): not ready.
    await setStatus('a-1', '198.19.244.11', true);
    await until('a ready again', 'pods/a', [{ id: 'a-1', address: '198.19.244.11', ready: true }]);
    await rest.request('DELETE', `${podsPath}/a-1`, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 30,
    });
    await until('a terminating', 'pods/a', [{ id: 'a-1', address: '198.19.244.11', ready: false }]);
    events.length = 0;
    await rest.request('DELETE', `${podsPath}/a-1`, {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      gracePeriodSeconds: 0,
    });
    await until('a gone', 'pods/a', []);
    expect(events).toEqual(['pods/a']);
    expect(rt.replicas('pods/b')).toEqual([{ id: 'b-1', address: '198.19.244.21', ready: true }]);
    expect(rt.replicas('pods/nope')).toEqual([]);
  });

  test('apply() with unchanged input writes nothing; a spec change always applies', async () => {
    const counting = new CountingRest(kc);
    const rt = await newRuntime(counting);
    const spec: KnativeGatewaySpec = {
      namespace: 'quiet',
      fleets: [
        { name: 'q', visibility: 'ExternalIP', replicas: 2, podDisruptionBudget: { maxUnavailable: 1 } },
      ],
    };
    const gw = await putGateway('quiet', spec);
    await applyAll(rt, gw);
    expect(rt.problems('quiet')).toEqual([]);
    const firstWrites = counting.writes.length;
    expect(firstWrites).toBeGreaterThanOrEqual(5);

    const name = fleetServiceName('quiet', 'q');
    const stored = await get('Deployment', 'quiet', name);
    await applyAll(rt, gw);
    // A status-only change of the gateway (new resourceVersion, same spec) writes nothing either.
    await applyAll(rt, {
      ...gw,
      metadata: { ...gw.metadata, resourceVersion: '999999' },
      status: { readyFleets: '0/1' },
    });
    expect(counting.writes.slice(firstWrites)).toEqual([]);
    // Nor does the apply's own watch traffic count as drift later: after the drift debounce (1 s)
    // has had time to fire, still no write.
    await new Promise((r) => setTimeout(r, 2500));
    expect(counting.writes.slice(firstWrites)).toEqual([]);
    expect((await get('Deployment', 'quiet', name))?.metadata.resourceVersion).toBe(
      stored?.metadata.resourceVersion,
    );

    const edited = await putGateway('quiet', {
      ...spec,
      fleets: [{ name: 'q', visibility: 'ExternalIP', replicas: 4 }],
    });
    await applyAll(rt, edited);
    expect(counting.writes.length).toBeGreaterThan(firstWrites);
    expect((await get<StoredDeployment>('Deployment', 'quiet', name))?.spec.replicas).toBe(4);
    expect(await get('PodDisruptionBudget', 'quiet', name)).toBeUndefined();
  });
});
