// The Kubernetes fleet objects against a real kube-apiserver: every rendered object passes the API
// server's validation, re-applying is a no-op, drift is put back, editing the gateway updates and
// removes objects (replicas → autoscaling without a drop to one replica, a removed fleet, a removed
// PDB, a new namespace), and objects kgw did not create are never touched. Needs the test parts
// from `bash test/env/setup.sh`.
import type { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import {
  GATEWAY_API_VERSION,
  GATEWAY_KIND,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  fleetServiceName,
  type FleetSpec,
  type KnativeGateway,
  type KnativeGatewaySpec,
} from '../api/knativegateway.ts';
import { knativeGatewayCrd } from '../gen/knativegateway-crd.ts';
import { fullSampleKnativeGateway } from '../gen/sample.ts';
import { ApiError, KubeRest } from '../kube/rest.ts';
import {
  FIELD_MANAGER,
  HANDOVER_FIELD_MANAGER,
  applyGatewayFleets,
  objectPath,
  type FleetApplyResult,
  type ObjectRef,
} from './kubernetes-apply.ts';
import { FLEET_KINDS, fleetObjectList, renderGatewayObjects } from './kubernetes-objects.ts';
import { operatorXdsEndpoint } from './fleet-names.ts';

const GATEWAYS = '/apis/operator.kgw.dev/v1alpha1/knativegateways';
const XDS = operatorXdsEndpoint();

interface Stored {
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: {
      manager: string;
      operation: string;
      fieldsV1?: { 'f:spec'?: Record<string, unknown> };
    }[];
  };
  spec?: Record<string, unknown> & { replicas?: number; type?: string; ports?: { nodePort?: number }[] };
  data?: Record<string, string>;
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
    ...['kgw-system', 'edge-2', 'shared'].map((name) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    })),
  ]);
});

afterAll(async () => {
  await cp?.stop();
});

/** Creates or replaces a gateway's spec; returns it as stored (with uid and defaults). */
async function putGateway(name: string, spec: KnativeGatewaySpec): Promise<KnativeGateway> {
  const body = { apiVersion: GATEWAY_API_VERSION, kind: GATEWAY_KIND, metadata: { name }, spec };
  return rest.request<KnativeGateway>('PATCH', `${GATEWAYS}/${name}`, body, 'application/apply-patch+yaml', {
    fieldManager: 'test-admin',
    force: true,
  });
}

async function reconcile(gw: KnativeGateway): Promise<FleetApplyResult> {
  return applyGatewayFleets(rest, gw, renderGatewayObjects(gw, { xds: XDS }));
}

async function get(
  ref: Omit<ObjectRef, 'apiVersion'> & { apiVersion?: string },
): Promise<Stored | undefined> {
  const k = FLEET_KINDS.find((x) => x.kind === ref.kind);
  if (k === undefined) throw new Error(`unknown kind ${ref.kind}`);
  try {
    return await rest.get<Stored>(objectPath({ ...ref, apiVersion: ref.apiVersion ?? k.apiVersion }));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** Names of the objects of `kind` carrying gateway `gw`'s labels, as `<namespace>/<name>`. */
async function labelled(kind: string, gw: string): Promise<string[]> {
  const k = FLEET_KINDS.find((x) => x.kind === kind);
  if (k === undefined) throw new Error(`unknown kind ${kind}`);
  const list = await rest.get<{ items: Stored[] }>(objectPath({ apiVersion: k.apiVersion, kind }), {
    labelSelector: `${LABEL_MANAGED_BY}=kgw,${LABEL_GATEWAY}=${gw}`,
  });
  return list.items.map((i) => `${i.metadata.namespace ?? ''}/${i.metadata.name}`).sort();
}

/** Field managers owning a Deployment's spec.replicas. */
function replicasOwners(dep: Stored | undefined): string[] {
  return (dep?.metadata.managedFields ?? [])
    .filter((m) => 'f:replicas' in (m.fieldsV1?.['f:spec'] ?? {}))
    .map((m) => m.manager);
}

function actions(r: FleetApplyResult): Record<string, string> {
  return Object.fromEntries(r.applied.map((a) => [`${a.ref.kind}/${a.ref.name}`, a.action]));
}

describe('Kubernetes fleet objects on a real kube-apiserver', () => {
  test('every object of the full sample is accepted; re-applying changes nothing; drift is put back', async () => {
    const sample = fullSampleKnativeGateway();
    const gw = await putGateway(sample.metadata.name, sample.spec);
    const rendered = renderGatewayObjects(gw, { xds: XDS });
    const first = await applyGatewayFleets(rest, gw, rendered);
    expect(first.problems).toEqual([]);
    expect(first.deleted).toEqual([]);
    const expected = rendered.flatMap(fleetObjectList).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(expected).toHaveLength(11);
    expect(actions(first)).toEqual(Object.fromEntries(expected.map((e) => [e, 'created'])));

    // What the API server stored is what kgw rendered (its defaults aside).
    const pub = rendered[0];
    if (pub === undefined) throw new Error('no fleet');
    const dep = await get({ kind: 'Deployment', namespace: 'kgw-system', name: pub.name });
    // Autoscaled: created at minReplicas (2, not the API server's default of 1), and the field is
    // not kgw's, so the HPA can own it.
    expect(dep?.spec?.replicas).toBe(2);
    expect(replicasOwners(dep)).toEqual([HANDOVER_FIELD_MANAGER]);
    const podSpec = (dep?.spec?.template as { spec: { containers: { securityContext: unknown }[] } }).spec;
    expect(podSpec.containers[0]?.securityContext).toEqual(
      pub.deployment.spec?.template.spec?.containers[0]?.securityContext,
    );
    const cm = await get({ kind: 'ConfigMap', namespace: 'kgw-system', name: pub.name });
    expect(cm?.data).toEqual(pub.configMap.data);
    const svc = await get({ kind: 'Service', namespace: 'kgw-system', name: pub.name });
    expect(svc?.spec?.type).toBe('LoadBalancer');
    expect(svc?.metadata.annotations).toEqual({ 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' });
    expect(
      svc?.metadata.managedFields?.some((m) => m.manager === FIELD_MANAGER && m.operation === 'Apply'),
    ).toBe(true);

    const again = await applyGatewayFleets(rest, gw, rendered);
    expect(again.problems).toEqual([]);
    expect(Object.values(actions(again))).toEqual(expected.map(() => 'unchanged'));

    // Someone edits a field kgw owns and adds one kgw does not set: kgw restores its field only.
    await rest.request(
      'PATCH',
      objectPath({ apiVersion: 'v1', kind: 'Service', namespace: 'kgw-system', name: pub.name }),
      {
        metadata: { annotations: { 'example.com/mine': 'yes' } },
        spec: { externalTrafficPolicy: 'Cluster' },
      },
      'application/merge-patch+json',
      { fieldManager: 'someone' },
    );
    const fixed = await applyGatewayFleets(rest, gw, rendered);
    expect(actions(fixed)[`Service/${pub.name}`]).toBe('updated');
    const after = await get({ kind: 'Service', namespace: 'kgw-system', name: pub.name });
    expect(after?.spec?.externalTrafficPolicy).toBe('Local');
    expect(after?.metadata.annotations?.['example.com/mine']).toBe('yes');
  });

  test('editing the gateway: replicas → autoscaling keeps the count, back again, PDB and fleet removed', async () => {
    const fleets: FleetSpec[] = [
      { name: 'web', visibility: 'ExternalIP', replicas: 3, podDisruptionBudget: { maxUnavailable: 1 } },
      { name: 'internal', visibility: 'ClusterLocal' },
    ];
    let gw = await putGateway('edit', { fleets });
    const web = fleetServiceName('edit', 'web');
    const internal = fleetServiceName('edit', 'internal');
    expect((await reconcile(gw)).problems).toEqual([]);
    expect((await get({ kind: 'Deployment', namespace: 'kgw-system', name: web }))?.spec?.replicas).toBe(3);
    expect(await get({ kind: 'PodDisruptionBudget', namespace: 'kgw-system', name: web })).toBeDefined();

    // replicas → autoscaling: an HPA appears, the Deployment keeps 3 replicas (no drop to the
    // default of 1 when kgw stops applying the field) and kgw no longer owns the field.
    gw = await putGateway('edit', {
      fleets: [
        { ...fleets[0], replicas: undefined, autoscaling: { minReplicas: 2, maxReplicas: 5 } } as FleetSpec,
        fleets[1] as FleetSpec,
      ],
    });
    const toHpa = await reconcile(gw);
    expect(toHpa.problems).toEqual([]);
    expect(actions(toHpa)[`HorizontalPodAutoscaler/${web}`]).toBe('created');
    const dep = await get({ kind: 'Deployment', namespace: 'kgw-system', name: web });
    expect(dep?.spec?.replicas).toBe(3);
    expect(replicasOwners(dep)).toEqual([HANDOVER_FIELD_MANAGER]);
    const hpa = await get({ kind: 'HorizontalPodAutoscaler', namespace: 'kgw-system', name: web });
    expect(hpa?.spec).toMatchObject({ minReplicas: 2, maxReplicas: 5 });

    // autoscaling → replicas 2, PDB and fleet `internal` removed.
    gw = await putGateway('edit', { fleets: [{ name: 'web', visibility: 'ExternalIP', replicas: 2 }] });
    const back = await reconcile(gw);
    expect(back.problems).toEqual([]);
    expect(back.deleted.map((r) => `${r.kind}/${r.name}`).sort()).toEqual(
      [
        `ConfigMap/${internal}`,
        `Deployment/${internal}`,
        `HorizontalPodAutoscaler/${web}`,
        `PodDisruptionBudget/${web}`,
        `Service/${internal}`,
        `ServiceAccount/${internal}`,
      ].sort(),
    );
    const fixedCount = await get({ kind: 'Deployment', namespace: 'kgw-system', name: web });
    expect(fixedCount?.spec?.replicas).toBe(2);
    expect(replicasOwners(fixedCount)).toContain(FIELD_MANAGER);
    for (const kind of ['HorizontalPodAutoscaler', 'PodDisruptionBudget']) {
      expect(await get({ kind, namespace: 'kgw-system', name: web })).toBeUndefined();
    }
    for (const k of FLEET_KINDS) {
      expect(await labelled(k.kind, 'edit')).toEqual(
        ['ServiceAccount', 'ConfigMap', 'Deployment', 'Service'].includes(k.kind)
          ? [`kgw-system/${web}`]
          : [],
      );
    }

    // LoadBalancer → ClusterIP: the API server drops the node ports itself.
    const lb = await get({ kind: 'Service', namespace: 'kgw-system', name: web });
    expect(lb?.spec?.ports?.[0]?.nodePort).toBeGreaterThan(0);
    gw = await putGateway('edit', {
      fleets: [{ name: 'web', visibility: 'ExternalIP', replicas: 2, service: { type: 'ClusterIP' } }],
    });
    expect((await reconcile(gw)).problems).toEqual([]);
    const cip = await get({ kind: 'Service', namespace: 'kgw-system', name: web });
    expect(cip?.spec?.type).toBe('ClusterIP');
    expect(cip?.spec?.ports?.[0]?.nodePort).toBeUndefined();

    // A new namespace: the objects move; the ones in the old namespace go.
    gw = await putGateway('edit', {
      namespace: 'edge-2',
      fleets: [{ name: 'web', visibility: 'ExternalIP' }],
    });
    const moved = await reconcile(gw);
    expect(moved.problems).toEqual([]);
    expect(moved.deleted.every((r) => r.namespace === 'kgw-system')).toBe(true);
    expect(moved.deleted).toHaveLength(4);
    expect(await labelled('Deployment', 'edit')).toEqual([`edge-2/${web}`]);
  });

  test('an object kgw did not create is left untouched and its fleet is skipped', async () => {
    const gw = await putGateway('taken', {
      namespace: 'shared',
      fleets: [
        { name: 'a', visibility: 'ExternalIP' },
        { name: 'b', visibility: 'ClusterLocal' },
      ],
    });
    const a = fleetServiceName('taken', 'a');
    const b = fleetServiceName('taken', 'b');
    // Someone's Service with fleet a's name, and a ConfigMap with fleet b's name that carries kgw's
    // labels but no owner reference (copied labels are not proof of ownership).
    const theirs = await rest.request<Stored>('POST', '/api/v1/namespaces/shared/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: a, labels: { app: 'theirs' } },
      spec: { type: 'ClusterIP', ports: [{ name: 'web', port: 8000 }], selector: { app: 'theirs' } },
    });
    const lookalike = await rest.request<Stored>('POST', '/api/v1/namespaces/shared/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: b,
        labels: { [LABEL_MANAGED_BY]: 'kgw', [LABEL_GATEWAY]: 'taken', [LABEL_FLEET]: 'b' },
      },
      data: { mine: 'yes' },
    });
    // And a leftover-looking ConfigMap of a fleet that is not in the spec, also without owner.
    const ghost = await rest.request<Stored>('POST', '/api/v1/namespaces/shared/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'kgw-taken-ghost',
        labels: { [LABEL_MANAGED_BY]: 'kgw', [LABEL_GATEWAY]: 'taken', [LABEL_FLEET]: 'ghost' },
      },
      data: { mine: 'yes' },
    });

    const res = await reconcile(gw);
    expect(res.skippedFleets.sort()).toEqual(['a', 'b']);
    expect(res.applied).toEqual([]);
    expect(res.deleted).toEqual([]);
    expect(res.problems.map((p) => [p.reason, p.fleet, `${p.ref.kind}/${p.ref.name}`])).toEqual([
      ['NotOwned', 'a', `Service/${a}`],
      ['NotOwned', 'b', `ConfigMap/${b}`],
    ]);
    expect(res.problems[0]?.message).toContain('has no app.kubernetes.io/managed-by=kgw label');
    expect(res.problems[1]?.message).toContain('has no ownerReference to KnativeGateway taken');

    // Untouched: same resourceVersion; and nothing else was created for the two fleets.
    expect((await get({ kind: 'Service', namespace: 'shared', name: a }))?.metadata.resourceVersion).toBe(
      theirs.metadata.resourceVersion,
    );
    expect((await get({ kind: 'ConfigMap', namespace: 'shared', name: b }))?.metadata.resourceVersion).toBe(
      lookalike.metadata.resourceVersion,
    );
    expect(
      (await get({ kind: 'ConfigMap', namespace: 'shared', name: 'kgw-taken-ghost' }))?.metadata.uid,
    ).toBe(ghost.metadata.uid);
    expect(await get({ kind: 'Deployment', namespace: 'shared', name: a })).toBeUndefined();
    expect(await get({ kind: 'Deployment', namespace: 'shared', name: b })).toBeUndefined();

    // Once their Service is gone, fleet a is applied; fleet b stays blocked.
    await rest.request('DELETE', `/api/v1/namespaces/shared/services/${a}`);
    const later = await reconcile(gw);
    expect(later.skippedFleets).toEqual(['b']);
    expect(new Set(later.applied.map((x) => x.fleet))).toEqual(new Set(['a']));
    expect(later.applied.every((x) => x.action === 'created')).toBe(true);
    expect((await get({ kind: 'ConfigMap', namespace: 'shared', name: 'kgw-taken-ghost' }))?.data).toEqual({
      mine: 'yes',
    });
  });

  test('an API server rejection is reported per object and the rest still applies', async () => {
    // An affinity the schema passes through but the Deployment validation refuses.
    const gw = await putGateway('bad-affinity', {
      fleets: [
        { name: 'a', visibility: 'ExternalIP', placement: { affinity: { nodeAffinity: { bogus: 1 } } } },
        { name: 'b', visibility: 'ClusterLocal' },
      ],
    });
    const res = await reconcile(gw);
    expect(res.problems.map((p) => [p.reason, p.fleet, p.ref.kind])).toEqual([
      ['ApplyFailed', 'a', 'Deployment'],
    ]);
    expect(res.problems[0]?.message).toMatch(/bogus/);
    expect(res.applied.filter((x) => x.fleet === 'b')).toHaveLength(4);
    expect(res.applied.filter((x) => x.fleet === 'a').map((x) => x.ref.kind)).toEqual([
      'ServiceAccount',
      'ConfigMap',
      'Service',
    ]);
  });
});
