// Conformance `ingressclass`: KIngresses without kgw's class (annotations absent, empty, class
// `incorrect`, class "") are ignored entirely: no status, no finalizer, no resourceVersion bump.
// And a served KIngress whose class is changed to another implementation's stops being served.
import type { KIngress } from '../../operator/api/kingress.ts';
import { INGRESS_CLASS_ANNOTATION } from '../../operator/api/kingress.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import { createReady, rule, sleep, split, startBackends } from './conformance.ts';
import { httpRequest } from '../backends/client.ts';
import { getIngress, ingressPath, publicGateway, startEnv, TEST_NAMESPACE, type Env } from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('ingressclass', async () => {
  const name = 'ingressclass';
  await startBackends(env, [{ name }]);
  const cases: { name: string; annotations: Record<string, string> | undefined }[] = [
    { name: `${name}-nil`, annotations: undefined },
    { name: `${name}-empty`, annotations: {} },
    { name: `${name}-incorrect`, annotations: { [INGRESS_CLASS_ANNOTATION]: 'incorrect' } },
    { name: `${name}-blank`, annotations: { [INGRESS_CLASS_ANNOTATION]: '' } },
  ];
  const originals = new Map<string, KIngress>();
  for (const c of cases) {
    const host = `${c.name}.example.com`;
    const spec = withDefaults({ rules: [rule([host], [{ splits: [split(name)] }])] });
    spec.httpOption = 'Enabled';
    await env.rest.request('POST', ingressPath(TEST_NAMESPACE), {
      apiVersion: 'networking.internal.knative.dev/v1alpha1',
      kind: 'Ingress',
      metadata: {
        name: c.name,
        namespace: TEST_NAMESPACE,
        ...(c.annotations ? { annotations: c.annotations } : {}),
      },
      spec,
    });
    originals.set(c.name, await getIngress(env, c.name));
  }
  // A KIngress of kgw's class created afterwards becomes Ready: the operator is running and has
  // seen the unowned ones (it watches all KIngresses) by then.
  await createReady(env, `${name}-control`, {
    rules: [rule([`${name}-control.example.com`], [{ splits: [split(name)] }])],
  });
  await sleep(2000);
  for (const c of cases) {
    const now = await getIngress(env, c.name);
    expect(JSON.stringify(now)).toBe(JSON.stringify(originals.get(c.name)));
    expect(now.status).toBeUndefined();
    expect(now.metadata.finalizers).toBeUndefined();
  }
});

test('a KIngress whose class changes away from kgw is no longer served', async () => {
  // The annotation change leaves metadata.generation alone; kgw must still notice it.
  const name = 'class-switch';
  await startBackends(env, [{ name }]);
  const host = `${name}.example.com`;
  const ing = await createReady(env, name, { rules: [rule([host], [{ splits: [split(name)] }])] });
  const gw = await publicGateway(env, ing);
  expect((await httpRequest({ address: gw.address, port: gw.port, host })).status).toBe(200);
  await env.rest.request(
    'PATCH',
    ingressPath(TEST_NAMESPACE, name),
    { metadata: { annotations: { [INGRESS_CLASS_ANNOTATION]: 'istio.ingress.networking.knative.dev' } } },
    'application/merge-patch+json',
  );
  expect((await getIngress(env, name)).metadata.generation).toBe(ing.metadata.generation);
  let status = 200;
  for (let i = 0; i < 100 && status === 200; i++) {
    status = (await httpRequest({ address: gw.address, port: gw.port, host })).status;
    if (status === 200) await sleep(100);
  }
  expect(status).toBe(404);
});
