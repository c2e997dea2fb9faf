import { startControlPlane } from './control-plane.ts';
import { installKnativeCRDs } from './crds.ts';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
const cp = await startControlPlane({ apiserverArgs: (process.env.XARGS ?? '').split(' ').filter(Boolean) });
try {
  const kc = cp.kubeConfig();
  let t = Date.now();
  await installKnativeCRDs(kc);
  console.log('crds', Date.now() - t); t = Date.now();
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'x' } } });
  console.log('ns', Date.now() - t); t = Date.now();
  const co = kc.makeApiClient(CustomObjectsApi);
  await co.listNamespacedCustomObject({ group: 'networking.internal.knative.dev', version: 'v1alpha1', namespace: 'x', plural: 'ingresses' });
  console.log('list', Date.now() - t); t = Date.now();
  await co.listNamespacedCustomObject({ group: 'networking.internal.knative.dev', version: 'v1alpha1', namespace: 'x', plural: 'certificates' });
  console.log('list certs', Date.now() - t); t = Date.now();
  await co.createNamespacedCustomObject({ group: 'networking.internal.knative.dev', version: 'v1alpha1', namespace: 'x', plural: 'ingresses', body: { apiVersion: 'networking.internal.knative.dev/v1alpha1', kind: 'Ingress', metadata: { name: 'a' }, spec: {} } });
  console.log('create', Date.now() - t); t = Date.now();
  await co.createNamespacedCustomObject({ group: 'networking.internal.knative.dev', version: 'v1alpha1', namespace: 'x', plural: 'ingresses', body: { apiVersion: 'networking.internal.knative.dev/v1alpha1', kind: 'Ingress', metadata: { name: 'b' }, spec: {} } });
  console.log('create2', Date.now() - t); t = Date.now();
} finally {
  const t = Date.now();
  await cp.stop();
  console.log('stop', Date.now() - t);
}
