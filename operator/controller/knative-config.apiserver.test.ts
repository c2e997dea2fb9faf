// kgw's Knative configuration next to the Knative Operator, against a real kube-apiserver (no
// Knative controller or Knative Operator runs there: the test plays both, editing config-network
// the way they would). Without the Knative Operator's CRD kgw configures Knative as it always did,
// and the 404 costs no warning; with a KnativeServing in knative-serving kgw writes nothing there
// (not even drift correction) and reports ManagedByKnativeOperator with what to set in the
// KnativeServing; once the admin set it, the condition turns True; once the KnativeServing is
// gone, kgw configures Knative again. Needs the test parts from `bash test/env/setup.sh`.
import type { KubeConfig } from '@kubernetes/client-node';
import { captureLog, type LogLine } from '../../test/env/capture-log.ts';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { installKnativeOperatorCRDs } from '../../test/env/crds.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { GATEWAY_API_VERSION, GATEWAY_KIND, type KnativeGateway } from '../api/knativegateway.ts';
import { knativeGatewayCrd } from '../gen/knativegateway-crd.ts';
import { KubeRest } from '../kube/rest.ts';
import type { KnativeObservation } from './gateway-status.ts';
import { KnativeConfigWriter } from './knative-config.ts';

const NS = 'knative-serving';
const CONFIG_NETWORK = `/api/v1/namespaces/${NS}/configmaps/config-network`;
const SERVINGS = `/apis/operator.knative.dev/v1beta1/namespaces/${NS}/knativeservings`;
const KGW_CLASS = 'kgw.ingress.networking.knative.dev';
const ISTIO_CLASS = 'istio.ingress.networking.knative.dev';
// The KnativeServing watch may be backing off after the 404s from before its CRD existed (≤ 30 s).
const WAIT = { timeoutMs: 45_000, intervalMs: 100 };

let cp: ControlPlane;
let kc: KubeConfig;
let rest: KubeRest;
let gateway: KnativeGateway;
let writer: KnativeConfigWriter;
let logs: LogLine[];

beforeAll(async () => {
  cp = await startControlPlane();
  kc = cp.kubeConfig();
  rest = new KubeRest(kc);
  await applyManifests(kc, [
    knativeGatewayCrd(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
    // as Knative Serving's release manifest leaves it
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'config-network', namespace: NS },
      data: { _example: 'documentation only' },
    },
  ]);
  gateway = await rest.request<KnativeGateway>(
    'PATCH',
    '/apis/operator.kgw.dev/v1alpha1/knativegateways/edge',
    {
      apiVersion: GATEWAY_API_VERSION,
      kind: GATEWAY_KIND,
      metadata: { name: 'edge' },
      spec: { fleets: [{ name: 'public', visibility: 'ExternalIP' }] },
    },
    'application/apply-patch+yaml',
    { fieldManager: 'test-admin', force: true },
  );
  const captured = captureLog();
  logs = captured.lines;
  writer = new KnativeConfigWriter({ rest, log: captured.log, onChange: () => undefined });
});

afterAll(async () => {
  await writer?.stop();
  rest?.close();
  await cp?.stop();
});

/** Reconciles (as the engine's status pass does) until `done` holds for the condition. */
function reconcileUntil(what: string, done: (c: KnativeObservation) => boolean): Promise<KnativeObservation> {
  return waitUntil(
    what,
    async () => {
      const c = await writer.reconcile(gateway, gateway.metadata.name);
      return done(c) ? c : undefined;
    },
    WAIT,
  );
}

async function ingressClass(): Promise<string | undefined> {
  return (await rest.request<{ data?: Record<string, string> }>('GET', CONFIG_NETWORK)).data?.[
    'ingress-class'
  ];
}

/** Plays Knative Serving's operator (or an admin): sets ingress-class with its own field manager. */
async function setIngressClass(value: string): Promise<void> {
  await rest.request(
    'PATCH',
    CONFIG_NETWORK,
    { data: { 'ingress-class': value } },
    'application/merge-patch+json',
    {
      fieldManager: 'knative-operator',
    },
  );
}

test("without the Knative Operator's CRD kgw configures Knative, and the missing API costs no warning", async () => {
  const c = await reconcileUntil('Configured', (x) => x.reason === 'Configured');
  expect(c.status).toBe('True');
  expect(await ingressClass()).toBe(KGW_CLASS);
  const warnings = logs.filter((l) => l.level >= 40).map((l) => l.msg);
  expect(warnings).toEqual([]);
  // the KnativeServing watch did try, and was told 404, quietly
  expect(
    logs.some((l) => l.msg === 'watch failed, retrying' && String(l.path).includes('knativeservings')),
  ).toBe(true);
});

test('with a KnativeServing in the Knative namespace kgw writes nothing there and says what to set in it', async () => {
  await installKnativeOperatorCRDs(kc);
  await rest.request('POST', SERVINGS, {
    apiVersion: 'operator.knative.dev/v1beta1',
    kind: 'KnativeServing',
    metadata: { name: 'knative-serving', namespace: NS },
    spec: {},
  });
  const down = await reconcileUntil(
    'ManagedByKnativeOperator',
    (x) => x.reason === 'ManagedByKnativeOperator',
  );
  // config-network still holds kgw's earlier value, so nothing is missing yet
  expect(down.status).toBe('True');

  // The Knative Operator re-applies its own idea of config-network: kgw leaves it.
  await setIngressClass(ISTIO_CLASS);
  const asked = await reconcileUntil('False', (x) => x.status === 'False');
  expect(asked.reason).toBe('ManagedByKnativeOperator');
  expect(asked.message).toContain('KnativeServing knative-serving/knative-serving');
  expect(asked.message).toContain(
    `kubectl patch knativeservings.operator.knative.dev knative-serving --namespace ${NS} --type merge ` +
      `--patch '{"spec":{"config":{"network":{"ingress-class":"${KGW_CLASS}"}}}}'`,
  );
  for (let i = 0; i < 10; i++) {
    await writer.reconcile(gateway, gateway.metadata.name);
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(await ingressClass()).toBe(ISTIO_CLASS);
  const cm = await rest.request<{ metadata: { managedFields?: { manager?: string; time?: string }[] } }>(
    'GET',
    CONFIG_NETWORK,
  );
  const byKnative = cm.metadata.managedFields?.find((f) => f.manager === 'knative-operator');
  expect(byKnative).toBeDefined();

  // The admin follows the message; the Knative Operator applies it: True, still hands off.
  await setIngressClass(KGW_CLASS);
  const ok = await reconcileUntil('True', (x) => x.status === 'True');
  expect(ok.reason).toBe('ManagedByKnativeOperator');
  expect(ok.message).toContain('already hold what this gateway needs');
});

test('once the KnativeServing is gone kgw configures Knative again', async () => {
  await setIngressClass(ISTIO_CLASS);
  await rest.request('DELETE', `${SERVINGS}/knative-serving`);
  const c = await reconcileUntil(
    'configured again',
    (x) => x.reason === 'Configured' || x.reason === 'DriftCorrected',
  );
  expect(c.status).toBe('True');
  await waitUntil(
    'config-network written',
    async () => ((await ingressClass()) === KGW_CLASS ? true : undefined),
    WAIT,
  );
});
