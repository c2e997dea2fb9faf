// deploy/kgw.yaml against a real kube-apiserver: every object passes server-side dry-run and then a
// real server-side apply (the Deployment gets no pods: there is no kubelet here), re-applying changes
// nothing, the webhook configuration intercepts what it should and fails closed / open as chosen,
// and the operator's ServiceAccount can make exactly the calls the operator makes — with its own
// token, through the operator's own REST client — and not much more: fleets only where
// kgw-fleet-manager is bound (the operator namespace by the manifest, another one once an admin binds
// it: until then the gateway says FleetNamespaceForbidden with the command), Knative's two ConfigMaps
// by name in knative-serving only, no workload, ConfigMap or Namespace writes anywhere else.
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
import { KnativeConfigWriter } from '../controller/knative-config.ts';
import { KubernetesFleetRuntime, PREFLIGHT_RETRY_CAP_MS } from '../fleets/kubernetes.ts';
import { fleetXdsClientSecretName, operatorXdsEndpoint } from '../fleets/fleet-names.ts';
import { publishFleet } from '../fleets/publish.ts';
import type { FleetDef } from '../fleets/runtime.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import { ApiError, KubeRest } from '../kube/rest.ts';
import { XdsTls } from '../pki/xds-tls.ts';
import { newLogger } from '../log.ts';
import { generateAll } from './generate.ts';
import { KNATIVE_SERVING_NAMESPACE } from './operator-install.ts';
import { LEADER_LEASE_NAME, OPERATOR_NAME, OPERATOR_NAMESPACE, WEBHOOK_CERT_SECRET } from '../api/install.ts';
import { OPERATOR_RULES } from './rbac-rules.ts';
import { RELEASE_MANIFEST_PATH } from './release.ts';
import { sampleKnativeGateway } from './sample.ts';
import { WEBHOOK_CONFIGURATION_NAME } from '../../webhook/webhooks.ts';

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
  // Knative Serving's install makes its namespace; the manifest binds kgw-knative-config there.
  await kubeRequest(kc, 'POST', '/api/v1/namespaces', { metadata: { name: KNATIVE_SERVING_NAMESPACE } });
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

    test("writes KIngress status; may not do the local runtime's publishing (namespace, Service, EndpointSlice)", async () => {
      await rest.request(
        'PATCH',
        `${KINGRESS}/namespaces/kube-system/ingresses/probe/status`,
        { status: { conditions: [{ type: 'Ready', status: 'Unknown' }] } },
        'application/merge-patch+json',
      );
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
        metrics: { enabled: false, port: 9091 },
        rateLimitSharing: 'PerReplica',
      };
      // 198.18.0.0/15 is a benchmarking range; nothing is ever sent to it here.
      const refused = await publishFleet(
        rest,
        def,
        [{ id: 'r0', address: '198.18.200.10', ready: true }],
        log,
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toBe(403);
      await expect(kubeRequest(kc, 'GET', '/api/v1/namespaces/kgw-rbac-fleets')).rejects.toThrow(/HTTP 404/);
    });

    test('may not write a Deployment, a ServiceAccount or a ConfigMap in kube-system', async () => {
      const forbidden = async (path: string, body: object): Promise<number | undefined> => {
        try {
          await rest.request('POST', path, body);
          return undefined;
        } catch (err) {
          return err instanceof ApiError ? err.status : -1;
        }
      };
      expect(
        await forbidden('/apis/apps/v1/namespaces/kube-system/deployments', {
          metadata: { name: 'kgw-intruder' },
          spec: {
            selector: { matchLabels: { app: 'x' } },
            template: {
              metadata: { labels: { app: 'x' } },
              spec: { containers: [{ name: 'x', image: 'example.com/x:1' }] },
            },
          },
        }),
      ).toBe(403);
      expect(
        await forbidden('/api/v1/namespaces/kube-system/serviceaccounts', { metadata: { name: 'kgw-x' } }),
      ).toBe(403);
      expect(
        await forbidden('/api/v1/namespaces/kube-system/configmaps', {
          metadata: { name: 'kgw-x' },
          data: {},
        }),
      ).toBe(403);
      // server-side apply too (what kgw uses): patch and create are both checked
      await expect(
        rest.request(
          'PATCH',
          '/api/v1/namespaces/kube-system/configmaps/config-network',
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'config-network', namespace: 'kube-system' },
          },
          'application/apply-patch+yaml',
          { fieldManager: 'kgw', force: true },
        ),
      ).rejects.toThrow(/forbidden/);
    });

    describe('the Kubernetes fleet runtime with the operator token', () => {
      const whPath = `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${WEBHOOK_CONFIGURATION_NAME}`;
      const EDGE = 'kgw-rbac-edge';
      const MISSING = 'kgw-rbac-missing';
      let rt: KubernetesFleetRuntime;
      const gateways = new Map<string, KnativeGateway>();

      /** Creates or replaces a gateway as the admin would (the fail-closed webhook has nobody to call here). */
      async function putGateways(
        specs: Record<string, { namespace?: string; fleets: FleetSpec[] }>,
      ): Promise<void> {
        const saved = (await kubeRequest(kc, 'GET', whPath)).json as Obj & {
          metadata: {
            resourceVersion?: string;
            uid?: string;
            creationTimestamp?: string;
            managedFields?: unknown;
          };
        };
        await kubeRequest(kc, 'DELETE', whPath);
        try {
          for (const [name, spec] of Object.entries(specs)) {
            const gw = (
              await kubeRequest(
                kc,
                'PATCH',
                `/apis/operator.kgw.dev/v1alpha1/knativegateways/${name}?fieldManager=test-admin&force=true`,
                { apiVersion: 'operator.kgw.dev/v1alpha1', kind: 'KnativeGateway', metadata: { name }, spec },
                'application/apply-patch+yaml',
              )
            ).json as KnativeGateway;
            gateways.set(name, gw);
          }
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
      }

      async function names(kind: 'deployments' | 'secrets', ns: string): Promise<string[]> {
        const group = kind === 'deployments' ? '/apis/apps/v1' : '/api/v1';
        const list = (
          await kubeRequest(
            kc,
            'GET',
            `${group}/namespaces/${ns}/${kind}?labelSelector=app.kubernetes.io/managed-by%3Dkgw`,
          )
        ).json as { items: Obj[] };
        return list.items.map((d) => d.metadata.name).sort();
      }

      beforeAll(async () => {
        await kubeRequest(kc, 'POST', '/api/v1/namespaces', { metadata: { name: EDGE } });
        const material = await XdsTls.create({ serverNames: ['kgw-operator.kgw-system.svc'] });
        rt = new KubernetesFleetRuntime({
          rest,
          log,
          xds: operatorXdsEndpoint(),
          xdsTls: { material, serverName: 'kgw-operator.kgw-system.svc' },
          operatorNamespace: OPERATOR_NAMESPACE,
          serviceAccountName: OPERATOR_NAME,
          retryMs: 200,
        });
        // Pods, Deployments and Services: list and watch, cluster-wide.
        expect(await raceTimeout(rt.start(), 15_000)).toBe(true);
      });
      afterAll(async () => {
        await rt?.close();
      });

      test('applies, edits and prunes fleets in the operator namespace (bound by the manifest), follows pods', async () => {
        await putGateways({
          home: {
            fleets: [
              {
                name: 'pub',
                visibility: 'ExternalIP',
                autoscaling: { minReplicas: 1, maxReplicas: 3 },
                podDisruptionBudget: { maxUnavailable: 1 },
              },
              { name: 'priv', visibility: 'ClusterLocal' },
            ],
          },
        });
        // Creating every kind (incl. HPA, PDB and the xDS client Secret) with a blockOwnerDeletion owner reference.
        await rt.apply([], new Map([['home', gateways.get('home') as KnativeGateway]]));
        expect(rt.problems('home')).toEqual([]);
        expect(await names('deployments', OPERATOR_NAMESPACE)).toEqual(['kgw-home-priv', 'kgw-home-pub']);
        expect(await names('secrets', OPERATOR_NAMESPACE)).toEqual([
          fleetXdsClientSecretName('home', 'priv'),
          fleetXdsClientSecretName('home', 'pub'),
        ]);
        // Updating (and handing replicas over), listing and deleting what is no longer wanted.
        await putGateways({ home: { fleets: [{ name: 'pub', visibility: 'ExternalIP', replicas: 2 }] } });
        await rt.apply([], new Map([['home', gateways.get('home') as KnativeGateway]]));
        expect(rt.problems('home')).toEqual([]);
        expect(await names('deployments', OPERATOR_NAMESPACE)).toEqual(['kgw-home-pub']);
        await kubeRequest(kc, 'POST', `/api/v1/namespaces/${OPERATOR_NAMESPACE}/pods`, {
          metadata: { name: 'pub-1', labels: fleetLabels('home', 'pub') },
          spec: {
            serviceAccountName: 'kgw-home-pub',
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'envoy',
                image: 'example.com/envoy:1',
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              },
            ],
          },
        });
        await waitUntil('pod seen', () => Promise.resolve(rt.replicas('home/pub').length === 1), {
          timeoutMs: 15_000,
        });
      });

      test('in another namespace: forbidden and reported with the command until an admin binds the fleet role there', async () => {
        await putGateways({ edge: { namespace: EDGE, fleets: [{ name: 'pub', visibility: 'ExternalIP' }] } });
        const both = () => new Map([...gateways].filter(([n]) => n === 'home' || n === 'edge'));
        await rt.apply([], both());
        const command =
          `kubectl create rolebinding kgw-fleet-manager --namespace ${EDGE} --clusterrole kgw-fleet-manager ` +
          `--serviceaccount ${OPERATOR_NAMESPACE}:${OPERATOR_NAME}`;
        expect(rt.problems('edge')).toEqual([
          {
            reason: 'FleetNamespaceForbidden',
            message:
              `kgw may not manage fleet objects in namespace ${EDGE}: its ServiceAccount ` +
              `${OPERATOR_NAMESPACE}/${OPERATOR_NAME} is not bound to ClusterRole kgw-fleet-manager there. ` +
              `To allow it: ${command}`,
          },
        ]);
        expect(await names('deployments', EDGE)).toEqual([]); // nothing was even tried
        expect(rt.problems('home')).toEqual([]); // the other gateway is unaffected
        expect(await names('deployments', OPERATOR_NAMESPACE)).toEqual(['kgw-home-pub']);

        // The admin runs the command (the same RoleBinding, made through the API).
        await kubeRequest(kc, 'POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${EDGE}/rolebindings`, {
          metadata: { name: 'kgw-fleet-manager' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'kgw-fleet-manager' },
          subjects: [{ kind: 'ServiceAccount', name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE }],
        });
        // The runtime checks again by itself (no apply() call), within its retry cap.
        await waitUntil('edge applied', () => Promise.resolve(rt.problems('edge').length === 0), {
          timeoutMs: PREFLIGHT_RETRY_CAP_MS + 15_000,
        });
        expect(await names('deployments', EDGE)).toEqual(['kgw-edge-pub']);
        expect(await names('secrets', EDGE)).toEqual([fleetXdsClientSecretName('edge', 'pub')]);
      });

      test('a namespace that does not exist is reported, not created', async () => {
        await putGateways({
          lost: { namespace: MISSING, fleets: [{ name: 'pub', visibility: 'ExternalIP' }] },
        });
        await rt.apply([], new Map(gateways));
        expect(rt.problems('lost')).toEqual([
          {
            reason: 'NamespaceNotFound',
            message:
              `namespace ${MISSING} (spec.namespace) does not exist and kgw does not create namespaces: ` +
              `kubectl create namespace ${MISSING}, then let kgw manage fleets there: kubectl create rolebinding ` +
              `kgw-fleet-manager --namespace ${MISSING} --clusterrole kgw-fleet-manager --serviceaccount ` +
              `${OPERATOR_NAMESPACE}:${OPERATOR_NAME}`,
          },
        ]);
        await expect(kubeRequest(kc, 'GET', `/api/v1/namespaces/${MISSING}`)).rejects.toThrow(/HTTP 404/);
        expect(rt.problems('home')).toEqual([]);
      });
    });

    describe("Knative's ConfigMaps with the operator token", () => {
      const CM = `/api/v1/namespaces/${KNATIVE_SERVING_NAMESPACE}/configmaps`;
      const writers: KnativeConfigWriter[] = [];
      afterAll(async () => {
        for (const w of writers) await w.stop();
      });

      function writer(): KnativeConfigWriter {
        const w = new KnativeConfigWriter({
          rest,
          log,
          onChange: () => undefined,
          serviceAccount: { namespace: OPERATOR_NAMESPACE, name: OPERATOR_NAME },
        });
        writers.push(w);
        return w;
      }

      function gateway(name: string, knativeNamespace: string): KnativeGateway {
        return {
          metadata: { name, uid: `uid-${name}` },
          spec: {
            fleets: [{ name: 'pub', visibility: 'ExternalIP' }],
            domains: { default: 'apps.example.com' },
            knative: { namespace: knativeNamespace },
          },
        };
      }

      test('creates and corrects config-network and config-domain in knative-serving (by name), and nothing else', async () => {
        const w = writer();
        const gw = gateway('knative', KNATIVE_SERVING_NAMESPACE);
        // Neither ConfigMap exists: kgw's server-side apply creates both (create, restricted by name).
        const done = await waitUntil(
          'configured',
          async () => {
            const c = await w.reconcile(gw, 'knative');
            return c.reason === 'Configured' ? c : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        expect(done.status).toBe('True');
        const cm = async (name: string) =>
          ((await kubeRequest(kc, 'GET', `${CM}/${name}`)).json as { data?: Record<string, string> }).data ??
          {};
        expect((await cm('config-network'))['ingress-class']).toBe('kgw.ingress.networking.knative.dev');
        expect(await cm('config-domain')).toEqual({ 'apps.example.com': '' });
        // A foreign domain is removed (merge patch, by name).
        await kubeRequest(
          kc,
          'PATCH',
          `${CM}/config-domain`,
          { data: { 'other.example.com': '' } },
          'application/merge-patch+json',
        );
        await waitUntil(
          'foreign domain removed',
          async () => {
            await w.reconcile(gw, 'knative');
            return (await cm('config-domain'))['other.example.com'] === undefined ? true : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        // Any other ConfigMap there is out of reach.
        await expect(
          rest.request(
            'PATCH',
            `${CM}/config-features`,
            { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config-features' }, data: { a: 'b' } },
            'application/apply-patch+yaml',
            { fieldManager: 'kgw', force: true },
          ),
        ).rejects.toThrow(/forbidden/);
        await expect(rest.request('GET', CM)).rejects.toThrow(/forbidden/);
      });

      test('a Knative namespace without the binding is reported with the command, and nothing is written', async () => {
        await kubeRequest(kc, 'POST', '/api/v1/namespaces', { metadata: { name: 'knative-other' } });
        const w = writer();
        const gw = gateway('other', 'knative-other');
        const c = await waitUntil(
          'forbidden',
          async () => {
            const r = await w.reconcile(gw, 'other');
            return r.reason === 'KnativeNamespaceForbidden' ? r : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        expect(c.status).toBe('False');
        expect(c.message).toContain(
          'kubectl create rolebinding kgw-knative-config --namespace knative-other --clusterrole kgw-knative-config ' +
            `--serviceaccount ${OPERATOR_NAMESPACE}:${OPERATOR_NAME}`,
        );
        await expect(
          kubeRequest(kc, 'GET', '/api/v1/namespaces/knative-other/configmaps/config-network'),
        ).rejects.toThrow(/HTTP 404/);
      });
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
              if (r.scope === 'namespace' || r.scope === 'fleet') attrs.namespace = OPERATOR_NAMESPACE;
              if (r.scope === 'knative') attrs.namespace = KNATIVE_SERVING_NAMESPACE;
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
      ['create Namespaces', { resource: 'namespaces', verb: 'create' }],
      [
        'create Deployments in kube-system',
        { group: 'apps', resource: 'deployments', verb: 'create', namespace: 'kube-system' },
      ],
      [
        'patch Deployments in a namespace nobody bound',
        { group: 'apps', resource: 'deployments', verb: 'patch', namespace: 'default', name: 'x' },
      ],
      [
        'delete Deployments in kube-system',
        { group: 'apps', resource: 'deployments', verb: 'delete', namespace: 'kube-system', name: 'coredns' },
      ],
      [
        'create ServiceAccounts in default',
        { resource: 'serviceaccounts', verb: 'create', namespace: 'default' },
      ],
      [
        'patch ConfigMaps in kube-system',
        { resource: 'configmaps', verb: 'patch', namespace: 'kube-system', name: 'coredns' },
      ],
      ['list ConfigMaps cluster-wide', { resource: 'configmaps', verb: 'list' }],
      [
        'patch another ConfigMap in knative-serving',
        {
          resource: 'configmaps',
          verb: 'patch',
          namespace: KNATIVE_SERVING_NAMESPACE,
          name: 'config-features',
        },
      ],
      [
        'delete config-network',
        {
          resource: 'configmaps',
          verb: 'delete',
          namespace: KNATIVE_SERVING_NAMESPACE,
          name: 'config-network',
        },
      ],
      [
        'patch config-network outside the Knative namespace',
        { resource: 'configmaps', verb: 'patch', namespace: 'default', name: 'config-network' },
      ],
      ['create Services in default', { resource: 'services', verb: 'create', namespace: 'default' }],
      [
        'delete Services in default',
        { resource: 'services', verb: 'delete', namespace: 'default', name: 'x' },
      ],
      [
        'create EndpointSlices',
        { group: 'discovery.k8s.io', resource: 'endpointslices', verb: 'create', namespace: 'default' },
      ],
      [
        'patch Secrets outside its namespace',
        { resource: 'secrets', verb: 'patch', namespace: 'default', name: 'x' },
      ],
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
