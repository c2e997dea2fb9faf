// KnativeGateway end to end, with the local runtime: status (conditions, per-fleet figures),
// Knative's ConfigMaps written and their drift corrected, and two gateways with different ingress
// classes serving separately (each KIngress reaches only its own fleets).
import { INGRESS_CLASS_ANNOTATION, type KIngress } from '../../operator/api/kingress.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import { httpRequest } from '../backends/client.ts';
import { rule, runtimeGet, split, startBackends } from './conformance.ts';
import { applyManifests } from '../env/manifests.ts';
import {
  ensureNamespace,
  ingressPath,
  publicGateway,
  startEnv,
  TEST_NAMESPACE,
  waitReady,
  type Env,
  until,
} from './harness.ts';

const GATEWAYS = '/apis/operator.kgw.dev/v1alpha1/knativegateways';
const CONFIG_NETWORK = '/api/v1/namespaces/knative-serving/configmaps/config-network';
const CONFIG_DOMAIN = '/api/v1/namespaces/knative-serving/configmaps/config-domain';
const SECOND_CLASS = 'second.ingress.kgw.dev';

interface ConfigMap {
  data?: Record<string, string>;
}

const gateway = {
  apiVersion: 'operator.kgw.dev/v1alpha1',
  kind: 'KnativeGateway',
  metadata: { name: 'default' },
  spec: {
    fleets: [
      { name: 'external', visibility: 'ExternalIP', replicas: 2 },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
    ],
    domains: {
      default: 'apps.example.com',
      selectors: [{ domain: 'internal.example.com', selector: { app: 'private' } }],
    },
    knative: { httpProtocol: 'Enabled' },
  },
};

let env: Env;
beforeAll(async () => {
  env = await startEnv({ gateway });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

/** Polls (every 200 ms, at most `ms`) until `check` returns a value; throws with the last one. */
const getGateway = (name: string) => env.rest.get<KnativeGateway>(`${GATEWAYS}/${name}`);
const cond = (gw: KnativeGateway, type: string) => gw.status?.conditions?.find((c) => c.type === type);

test('without the Knative namespace the gateway reports KnativeConfigured False; once it exists kgw writes its keys and keeps the others', async () => {
  const first = await until('KnativeConfigured False', 30_000, async () => {
    const gw = await getGateway('default');
    const c = cond(gw, 'KnativeConfigured');
    return c?.status === 'False' && cond(gw, 'FleetsReady')?.status === 'True' ? gw : undefined;
  });
  expect(cond(first, 'KnativeConfigured')).toMatchObject({ reason: 'NamespaceNotFound' });
  expect(cond(first, 'KnativeConfigured')?.message).toContain('knative-serving');
  expect(cond(first, 'FleetsReady')?.status).toBe('True');
  expect(cond(first, 'Ready')).toMatchObject({ status: 'False', reason: 'NamespaceNotFound' });

  // Knative Serving is installed: its ConfigMaps carry another ingress class and keys of its own.
  await ensureNamespace(env.rest, 'knative-serving');
  await applyManifests(env.kc, [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'config-network', namespace: 'knative-serving' },
      data: {
        'ingress-class': 'kourier.ingress.networking.knative.dev',
        'tag-template': '{{.Tag}}-{{.Name}}',
      },
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'config-domain', namespace: 'knative-serving' },
      data: { 'example.com': '', _example: 'docs' },
    },
  ]);
  const network = await until('config-network written', 30_000, async () => {
    const cm = await env.rest.get<ConfigMap>(CONFIG_NETWORK);
    return cm.data?.['ingress-class'] === 'kgw.ingress.networking.knative.dev' ? cm : undefined;
  });
  expect(network.data).toEqual({
    'ingress-class': 'kgw.ingress.networking.knative.dev',
    'http-protocol': 'Enabled',
    'external-domain-tls': 'Disabled',
    'autocreate-cluster-domain-claims': 'false',
    'tag-template': '{{.Tag}}-{{.Name}}', // not kgw's: untouched
  });
  const domain = await until('config-domain written', 30_000, async () => {
    const cm = await env.rest.get<ConfigMap>(CONFIG_DOMAIN);
    return cm.data?.['apps.example.com'] === '' && !('example.com' in (cm.data ?? {})) ? cm : undefined;
  });
  expect(domain.data).toEqual({
    'apps.example.com': '',
    'internal.example.com': 'selector:\n  "app": "private"\n',
    _example: 'docs', // documentation key stays
  });
  const gw = await until('gateway Ready', 30_000, async () => {
    const g = await getGateway('default');
    return cond(g, 'Ready')?.status === 'True' ? g : undefined;
  });
  // 'DriftCorrected' when the test's own config-domain landed after kgw had created it.
  expect(cond(gw, 'KnativeConfigured')?.status).toBe('True');
  expect(['Configured', 'DriftCorrected']).toContain(cond(gw, 'KnativeConfigured')?.reason);
  expect(gw.status?.readyFleets).toBe('2/2');
  expect(gw.status?.observedGeneration).toBe(gw.metadata.generation);
  const external = gw.status?.fleets?.find((f) => f.name === 'external');
  expect(external).toMatchObject({
    visibility: 'ExternalIP',
    service: 'kgw-default-external.kgw-system.svc.cluster.local',
    replicas: 2,
    readyReplicas: 2,
    connectedProxies: 2,
  });
  expect(external?.configVersion).toMatch(/^[0-9a-f]{12}$/);
});

const corrections = (gw: KnativeGateway): number =>
  Number(/drift corrected (\d+) time/.exec(cond(gw, 'KnativeConfigured')?.message ?? '')?.[1] ?? 0);

test('drift in config-network and config-domain is corrected and reported', async () => {
  const before = corrections(await getGateway('default'));
  await env.rest.request(
    'PATCH',
    CONFIG_NETWORK,
    { data: { 'ingress-class': 'istio.ingress.networking.knative.dev' } },
    'application/merge-patch+json',
  );
  await env.rest.request(
    'PATCH',
    CONFIG_DOMAIN,
    { data: { 'rogue.example.net': '' } },
    'application/merge-patch+json',
  );
  await until('config-network corrected', 30_000, async () => {
    const cm = await env.rest.get<ConfigMap>(CONFIG_NETWORK);
    return cm.data?.['ingress-class'] === 'kgw.ingress.networking.knative.dev' ? cm : undefined;
  });
  await until('config-domain corrected', 30_000, async () => {
    const cm = await env.rest.get<ConfigMap>(CONFIG_DOMAIN);
    return !('rogue.example.net' in (cm.data ?? {})) ? cm : undefined;
  });
  const gw = await until('drift reported', 30_000, async () => {
    const g = await getGateway('default');
    const c = cond(g, 'KnativeConfigured');
    return c?.reason === 'DriftCorrected' && corrections(g) > before ? g : undefined;
  });
  const message = cond(gw, 'KnativeConfigured')?.message ?? '';
  expect(cond(gw, 'KnativeConfigured')?.status).toBe('True');
  expect(message).toMatch(/rogue\.example\.net \(foreign key removed\)|ingress-class \(was "istio/);
});

test('two gateways with different ingress classes serve separately', async () => {
  await applyManifests(env.kc, [
    {
      apiVersion: 'operator.kgw.dev/v1alpha1',
      kind: 'KnativeGateway',
      metadata: { name: 'second' },
      spec: {
        ingressClass: SECOND_CLASS,
        fleets: [{ name: 'external', visibility: 'ExternalIP', replicas: 1 }],
        knative: { configure: false },
      },
    },
  ]);
  const second = await until('second gateway Ready', 60_000, async () => {
    const g = await getGateway('second');
    return cond(g, 'Ready')?.status === 'True' ? g : undefined;
  });
  expect(cond(second, 'KnativeConfigured')).toMatchObject({ status: 'True', reason: 'NotManaged' });
  expect(second.status?.fleets?.map((f) => f.service)).toEqual([
    'kgw-second-external.kgw-system.svc.cluster.local',
  ]);

  await startBackends(env, [{ name: 'gw-one' }, { name: 'gw-two' }]);
  const create = async (name: string, cls: string): Promise<KIngress> => {
    const spec = withDefaults({ rules: [rule([`${name}.example.com`], [{ splits: [split(name)] }])] });
    spec.httpOption = 'Enabled';
    await env.rest.request('POST', ingressPath(TEST_NAMESPACE), {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: { name, namespace: TEST_NAMESPACE, annotations: { [INGRESS_CLASS_ANNOTATION]: cls } },
      spec,
    });
    return waitReady(env, name);
  };
  const one = await create('gw-one', 'kgw.ingress.networking.knative.dev');
  const two = await create('gw-two', SECOND_CLASS);
  expect(one.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
    'kgw-default-external.kgw-system.svc.cluster.local',
  );
  expect(two.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
    'kgw-second-external.kgw-system.svc.cluster.local',
  );
  const gwOne = await publicGateway(env, one);
  const gwTwo = await publicGateway(env, two);
  expect(gwOne.address).not.toBe(gwTwo.address);
  // Each host answers through its own gateway's Envoys only.
  expect((await runtimeGet(gwOne, 'gw-one.example.com')).request.host).toBe('gw-one.example.com');
  expect((await runtimeGet(gwTwo, 'gw-two.example.com')).request.host).toBe('gw-two.example.com');
  expect((await httpRequest({ ...gwOne, host: 'gw-two.example.com' })).status).toBe(404);
  expect((await httpRequest({ ...gwTwo, host: 'gw-one.example.com' })).status).toBe(404);

  // A third gateway claiming a served class is refused on its status and changes nothing.
  await applyManifests(env.kc, [
    {
      apiVersion: 'operator.kgw.dev/v1alpha1',
      kind: 'KnativeGateway',
      metadata: { name: 'third' },
      spec: {
        ingressClass: SECOND_CLASS,
        fleets: [{ name: 'external', visibility: 'ExternalIP', replicas: 1 }],
        knative: { configure: false },
      },
    },
  ]);
  const third = await until('third gateway refused', 30_000, async () => {
    const g = await getGateway('third');
    return cond(g, 'Ready')?.status === 'False' ? g : undefined;
  });
  expect(cond(third, 'Ready')).toMatchObject({ reason: 'IngressClassTaken' });
  expect(cond(third, 'Ready')?.message).toContain('already served by KnativeGateway second');
  expect((await runtimeGet(gwTwo, 'gw-two.example.com')).request.host).toBe('gw-two.example.com');
});
