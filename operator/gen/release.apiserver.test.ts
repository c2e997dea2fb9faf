// deploy/kgw.yaml against a real kube-apiserver: every object passes server-side dry-run and then a
// real server-side apply (the Deployment gets no pods: there is no kubelet here), re-applying changes
// nothing, the webhook configuration intercepts what it should and fails closed / open as chosen,
// and the operator's ServiceAccount can make exactly the calls the operator makes — with its own
// token, through the operator's own REST client — and not much more.
// The apiserver runs with --enable-aggregator-routing, so it resolves webhook Services through their
// endpoints (there are none) instead of DNS: no request leaves the machine.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { installKnativeCRDs } from '../../test/env/crds.ts';
import { KubeHttpError, ResourceResolver, kubeRequest } from '../../test/env/kube-http.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { raceTimeout, waitUntil } from '../../test/env/proc.ts';
import {
  fleetLabels,
  withClientIPDefaults,
  withHttpDefaults,
  type FleetSpec,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { KubernetesFleetRuntime } from '../fleets/kubernetes.ts';
import { operatorXdsEndpoint } from '../fleets/kubernetes-objects.ts';
import { publishFleet } from '../fleets/publish.ts';
import type { FleetDef } from '../fleets/runtime.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import { KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { generateAll } from './generate.ts';
import {
  KNATIVE_SERVING_NAMESPACE,
  LEADER_LEASE_NAME,
  OPERATOR_NAME,
  OPERATOR_NAMESPACE,
  WEBHOOK_CERT_SECRET,
} from './operator-install.ts';
import { OPERATOR_RULES } from './rbac.ts';
import { RELEASE_MANIFEST_PATH } from './release.ts';
import { sampleKnativeGateway } from './sample.ts';
import { WEBHOOK_CONFIGURATION_NAME } from './webhooks.ts';

type Obj = KubernetesObject & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
};

const objects = parseAllDocuments(
  generateAll().find((f) => f.path === RELEASE_MANIFEST_PATH)?.content ?? '',
).map((d) => d.toJS() as Obj);
const log = newLogger('release-test');
const KINGRESS = '/apis/networking.internal.knative.dev/v1alpha1';

let cp: ControlPlane;
let kc: KubeConfig;
let resolver: ResourceResolver;

beforeAll(async () => {
  cp = await startControlPlane({ apiserverArgs: ['--enable-aggregator-routing=true'] });
  kc = cp.kubeConfig();
  resolver = new ResourceResolver(kc);
  await installKnativeCRDs(kc);
});
afterAll(async () => {
  await cp?.stop();
});

async function apply(o: Obj, dryRun: boolean): Promise<Obj> {
  const path = await resolver.objectPath(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
  const q = `fieldManager=kgw-release-test&force=true${dryRun ? '&dryRun=All' : ''}`;
  return (await kubeRequest(kc, 'PATCH', `${path}?${q}`, o, 'application/apply-patch+yaml')).json as Obj;
}

/** The apiserver's message for a create ('' if it succeeded). */
async function createError(path: string, body: unknown): Promise<string> {
  try {
    await kubeRequest(kc, 'POST', path, body);
    return '';
  } catch (err) {
    if (err instanceof KubeHttpError) return err.message;
    throw err;
  }
}

function kingress(name: string, namespace: string): object {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace,
      annotations: { 'networking.knative.dev/ingress.class': 'kgw.ingress.networking.knative.dev' },
    },
    spec: { rules: [{ hosts: ['a.example.com'], visibility: 'ExternalIP', http: { paths: [] } }] },
  };
}

describe('release manifest on a real kube-apiserver', () => {
  test('every object passes server-side dry-run', async () => {
    const clusterScoped = objects.filter((o) => o.metadata.namespace === undefined);
    for (const o of clusterScoped) await apply(o, true);
    // namespaced objects need their namespace to exist, even for a dry run
    const ns = objects.find((o) => o.kind === 'Namespace');
    if (ns === undefined) throw new Error('no Namespace');
    await apply(ns, false);
    for (const o of objects.filter((x) => x.metadata.namespace !== undefined)) await apply(o, true);
    // a dry run stores nothing
    await expect(
      kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${OPERATOR_NAMESPACE}/deployments/${OPERATOR_NAME}`),
    ).rejects.toThrow(/HTTP 404/);
  });

  test('server-side apply accepts every object, and re-applying changes nothing', async () => {
    const applied = await applyManifests(kc, objects, { fieldManager: 'kgw-release-test' });
    expect(applied.map((o) => `${o.kind ?? ''}/${o.metadata?.name ?? ''}`)).toEqual(
      // applyManifests puts Namespaces and CRDs first, then the rest in order
      [
        ...objects.filter((o) => o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition'),
        ...objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition'),
      ].map((o) => `${o.kind}/${o.metadata.name}`),
    );
    // Current versions (the apiserver itself updates the CRD's status after the first apply).
    const versions: (string | undefined)[] = [];
    for (const o of applied as Obj[]) {
      const path = await resolver.objectPath(o.apiVersion, o.kind, o.metadata.namespace, o.metadata.name);
      versions.push(((await kubeRequest(kc, 'GET', path)).json as Obj).metadata.resourceVersion);
    }
    const again = await applyManifests(kc, objects, { fieldManager: 'kgw-release-test' });
    expect(again.map((o) => o.metadata?.resourceVersion)).toEqual(versions);

    const dep = (
      await kubeRequest(
        kc,
        'GET',
        `/apis/apps/v1/namespaces/${OPERATOR_NAMESPACE}/deployments/${OPERATOR_NAME}`,
      )
    ).json as {
      spec: { template: { spec: { securityContext: unknown; containers: { securityContext: unknown }[] } } };
    };
    expect(dep.spec.template.spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(dep.spec.template.spec.containers[0]?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  test('the webhooks intercept KnativeGateways and KIngresses (fail closed) and DomainMappings (fail open)', async () => {
    // Nothing serves the webhooks here, so each call fails and its failure policy decides.
    expect(
      await createError('/apis/operator.kgw.dev/v1alpha1/knativegateways', sampleKnativeGateway()),
    ).toContain('failed calling webhook "knativegateway.validation.kgw.dev"');
    expect(
      await createError(`${KINGRESS}/namespaces/default/ingresses`, kingress('blocked', 'default')),
    ).toContain('failed calling webhook "kingress.validation.kgw.dev"');
    // kube-system is never intercepted
    expect(
      await createError(`${KINGRESS}/namespaces/kube-system/ingresses`, kingress('probe', 'kube-system')),
    ).toBe('');
    // DomainMappings: failurePolicy Ignore
    const dm = {
      apiVersion: 'serving.knative.dev/v1beta1',
      kind: 'DomainMapping',
      metadata: { name: 'app.example.com', namespace: 'default' },
      spec: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'app' } },
    };
    expect(await createError('/apis/serving.knative.dev/v1beta1/namespaces/default/domainmappings', dm)).toBe(
      '',
    );
  });

  describe('RBAC of the operator ServiceAccount', () => {
    let rest: KubeRest;

    beforeAll(async () => {
      const res = await kubeRequest(
        kc,
        'POST',
        `/api/v1/namespaces/${OPERATOR_NAMESPACE}/serviceaccounts/${OPERATOR_NAME}/token`,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
      );
      const token = (res.json as { status: { token: string } }).status.token;
      const sa = new KubeConfig();
      sa.loadFromOptions({
        clusters: [{ name: 'test', server: cp.server, caData: Buffer.from(cp.caPem).toString('base64') }],
        users: [{ name: 'operator', token }],
        contexts: [{ name: 'operator', cluster: 'test', user: 'operator' }],
        currentContext: 'operator',
      });
      rest = new KubeRest(sa);
    });

    async function allowed(attrs: Record<string, string>): Promise<boolean> {
      const res = await rest.request<{ status: { allowed: boolean } }>(
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: attrs },
        },
      );
      return res.status.allowed;
    }

    test("lists and watches everything the engine's reflectors follow", async () => {
      // The engine's reflector paths (operator/controller/engine.ts).
      const paths = {
        ingresses: `${KINGRESS}/ingresses`,
        services: '/api/v1/services',
        endpointslices: '/apis/discovery.k8s.io/v1/endpointslices',
        secrets: '/api/v1/secrets',
        knativegateways: '/apis/operator.kgw.dev/v1alpha1/knativegateways',
      };
      const reflectors = Object.fromEntries(
        Object.entries(paths).map(([k, path]) => [k, new Reflector<KubeObject>(rest, { path, log })]),
      );
      const synced = new Set<string>();
      try {
        for (const [k, r] of Object.entries(reflectors)) {
          void r.synced.then(() => synced.add(k));
          r.start();
        }
        // A forbidden list never syncs: the reflector retries with backoff until the bound.
        await waitUntil(
          'every reflector listed',
          () => Promise.resolve(synced.size === Object.keys(paths).length),
          {
            timeoutMs: 15_000,
          },
        );
        // watch: objects created afterwards arrive through the watch streams
        await kubeRequest(kc, 'POST', '/api/v1/namespaces/default/secrets', {
          metadata: { name: 'tls-after-sync' },
          stringData: { a: 'b' },
        });
        await kubeRequest(kc, 'POST', '/api/v1/namespaces/default/services', {
          metadata: { name: 'backend-after-sync' },
          spec: { ports: [{ port: 80 }] },
        });
        await kubeRequest(
          kc,
          'POST',
          `${KINGRESS}/namespaces/kube-system/ingresses`,
          kingress('after-sync', 'kube-system'),
        );
        const seen = (k: string, key: string) => reflectors[k]?.store.has(key) === true;
        await waitUntil(
          'watch events',
          () =>
            Promise.resolve(
              seen('secrets', 'default/tls-after-sync') &&
                seen('services', 'default/backend-after-sync') &&
                seen('ingresses', 'kube-system/after-sync'),
            ),
          { timeoutMs: 15_000 },
        );
        expect(await allowed({ group: 'operator.kgw.dev', resource: 'knativegateways', verb: 'watch' })).toBe(
          true,
        );
        expect(await allowed({ group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'watch' })).toBe(
          true,
        );
      } finally {
        for (const r of Object.values(reflectors)) await r.stop();
      }
    });

    test('publishes a fleet (namespace, Service, EndpointSlice) and writes KIngress status', async () => {
      const def: FleetDef = {
        key: 'rbac/ext',
        gateway: 'rbac',
        name: 'ext',
        visibility: 'ExternalIP',
        replicas: 1,
        ports: { http: 8080, https: 8443 },
        service: { httpPort: 80, httpsPort: 443 },
        namespace: 'kgw-rbac-fleets',
        serviceName: 'kgw-rbac-ext',
        accessLog: false,
        http: withHttpDefaults(undefined),
        clientIP: withClientIPDefaults(undefined),
        maxHeapMiB: 0,
      };
      // 198.18.0.0/15 is a benchmarking range; nothing is ever sent to it here.
      await publishFleet(rest, def, [{ id: 'r0', address: '198.18.200.10', ready: true }], log);
      await publishFleet(rest, def, [{ id: 'r0', address: '198.18.200.11', ready: true }], log); // update path
      const slice = (
        await kubeRequest(
          kc,
          'GET',
          `/apis/discovery.k8s.io/v1/namespaces/kgw-rbac-fleets/endpointslices/kgw-rbac-ext-kgw`,
        )
      ).json as { endpoints: { addresses: string[] }[] };
      expect(slice.endpoints.map((e) => e.addresses)).toEqual([['198.18.200.11']]);

      await rest.request(
        'PATCH',
        `${KINGRESS}/namespaces/kube-system/ingresses/probe/status`,
        { status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } },
        'application/merge-patch+json',
      );
    });

    test('runs the Kubernetes fleet runtime: applies, edits and prunes fleet objects, follows pods', async () => {
      // The KnativeGateway webhook fails closed and nothing serves it here: take it away while the
      // admin creates the gateway, then put it back.
      const whPath = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${WEBHOOK_CONFIGURATION_NAME}`;
      const saved = (await kubeRequest(kc, 'GET', whPath)).json as Obj & {
        metadata: {
          resourceVersion?: string;
          uid?: string;
          creationTimestamp?: string;
          managedFields?: unknown;
        };
      };
      const ns = 'kgw-rbac-k8s';
      const putGateway = async (fleets: FleetSpec[]): Promise<KnativeGateway> =>
        (
          await kubeRequest(
            kc,
            'PATCH',
            '/apis/operator.kgw.dev/v1alpha1/knativegateways/rbac-k8s?fieldManager=test-admin&force=true',
            {
              apiVersion: 'operator.kgw.dev/v1alpha1',
              kind: 'KnativeGateway',
              metadata: { name: 'rbac-k8s' },
              spec: { namespace: ns, fleets },
            },
            'application/apply-patch+yaml',
          )
        ).json as KnativeGateway;
      await kubeRequest(kc, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
      let gw: KnativeGateway;
      let edited: KnativeGateway;
      await kubeRequest(kc, 'DELETE', whPath);
      try {
        gw = await putGateway([
          {
            name: 'pub',
            visibility: 'ExternalIP',
            autoscaling: { minReplicas: 1, maxReplicas: 3 },
            podDisruptionBudget: { maxUnavailable: 1 },
          },
          { name: 'priv', visibility: 'ClusterLocal' },
        ]);
        edited = await putGateway([{ name: 'pub', visibility: 'ExternalIP', replicas: 2 }]);
      } finally {
        const {
          resourceVersion: _rv,
          uid: _uid,
          creationTimestamp: _ct,
          managedFields: _mf,
          ...meta
        } = saved.metadata;
        await kubeRequest(
          kc,
          'POST',
          '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
          {
            ...saved,
            metadata: meta,
          },
        );
      }
      const rt = new KubernetesFleetRuntime({ rest, log, xds: operatorXdsEndpoint() });
      try {
        // Pods, Deployments and Services: list and watch, cluster-wide.
        expect(await raceTimeout(rt.start(), 15_000)).toBe(true);
        // Creating every kind (incl. HPA and PDB) with a blockOwnerDeletion owner reference.
        await rt.apply([], new Map([['rbac-k8s', gw]]));
        expect(rt.problems('rbac-k8s')).toEqual([]);
        // Updating (and handing replicas over), listing and deleting what is no longer wanted.
        await rt.apply([], new Map([['rbac-k8s', edited]]));
        expect(rt.problems('rbac-k8s')).toEqual([]);
        const left = (await kubeRequest(kc, 'GET', `/apis/apps/v1/namespaces/${ns}/deployments`)).json as {
          items: Obj[];
        };
        expect(left.items.map((d) => d.metadata.name)).toEqual(['kgw-rbac-k8s-pub']);
        await kubeRequest(kc, 'POST', `/api/v1/namespaces/${ns}/pods`, {
          metadata: { name: 'pub-1', labels: fleetLabels('rbac-k8s', 'pub') },
          spec: {
            serviceAccountName: 'kgw-rbac-k8s-pub',
            automountServiceAccountToken: false,
            containers: [{ name: 'envoy', image: 'example.com/envoy:1' }],
          },
        });
        await waitUntil('pod seen', () => Promise.resolve(rt.replicas('rbac-k8s/pub').length === 1), {
          timeoutMs: 15_000,
        });
      } finally {
        await rt.close();
      }
    });

    test('every rule of the manifest is in effect for the ServiceAccount', async () => {
      const denied: string[] = [];
      for (const r of OPERATOR_RULES) {
        for (const group of r.apiGroups) {
          for (const res of r.resources) {
            const [resource = '', subresource] = res.split('/');
            for (const verb of r.verbs) {
              const attrs: Record<string, string> = { group, resource, verb };
              if (subresource !== undefined) attrs.subresource = subresource;
              if (r.scope === 'namespace') attrs.namespace = OPERATOR_NAMESPACE;
              if (r.resourceNames?.[0] !== undefined) attrs.name = r.resourceNames[0];
              if (!(await allowed(attrs))) denied.push(JSON.stringify(attrs));
            }
          }
        }
      }
      expect(denied).toEqual([]);
    });

    test.each<[string, Record<string, string>]>([
      ['create Secrets outside its namespace', { resource: 'secrets', verb: 'create', namespace: 'default' }],
      [
        'update other Secrets in its namespace',
        { resource: 'secrets', verb: 'update', namespace: OPERATOR_NAMESPACE, name: 'other' },
      ],
      [
        'delete Secrets',
        { resource: 'secrets', verb: 'delete', namespace: OPERATOR_NAMESPACE, name: WEBHOOK_CERT_SECRET },
      ],
      [
        'take over another Lease',
        {
          group: 'coordination.k8s.io',
          resource: 'leases',
          verb: 'update',
          namespace: OPERATOR_NAMESPACE,
          name: 'other',
        },
      ],
      [
        'create Leases elsewhere',
        { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: 'default' },
      ],
      ['change Pods', { resource: 'pods', verb: 'patch', namespace: 'default' }],
      ['delete Pods', { resource: 'pods', verb: 'delete', namespace: 'default' }],
      ['exec into Pods', { resource: 'pods', subresource: 'exec', verb: 'create', namespace: 'default' }],
      ['read Nodes', { resource: 'nodes', verb: 'get' }],
      ['delete Namespaces', { resource: 'namespaces', verb: 'delete', name: KNATIVE_SERVING_NAMESPACE }],
      [
        'change KIngress specs',
        {
          group: 'networking.internal.knative.dev',
          resource: 'ingresses',
          verb: 'update',
          namespace: 'default',
        },
      ],
      [
        'delete KIngresses',
        {
          group: 'networking.internal.knative.dev',
          resource: 'ingresses',
          verb: 'delete',
          namespace: 'default',
        },
      ],
      [
        'change KnativeGateway specs',
        { group: 'operator.kgw.dev', resource: 'knativegateways', verb: 'patch' },
      ],
      [
        'create CRDs',
        { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'create' },
      ],
      [
        'grant itself more',
        { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create' },
      ],
      [
        'patch other webhook configurations',
        {
          group: 'admissionregistration.k8s.io',
          resource: 'validatingwebhookconfigurations',
          verb: 'patch',
          name: 'other',
        },
      ],
      [
        'delete its own webhook configuration',
        {
          group: 'admissionregistration.k8s.io',
          resource: 'validatingwebhookconfigurations',
          verb: 'delete',
          name: WEBHOOK_CONFIGURATION_NAME,
        },
      ],
      [
        'delete its Lease',
        {
          group: 'coordination.k8s.io',
          resource: 'leases',
          verb: 'delete',
          namespace: OPERATOR_NAMESPACE,
          name: LEADER_LEASE_NAME,
        },
      ],
    ])('may not %s', async (_what, attrs) => {
      expect(await allowed(attrs)).toBe(false);
    });
  });
});
