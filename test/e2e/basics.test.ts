// Conformance `basics`: one ExternalIP rule, one split → 200 with the runtime JSON through the
// public fleet (real apiserver, real Envoy, real backend). `basics/http2`: a backend port named
// http2 with appProtocol kubernetes.io/h2c must be reached over h2c even for HTTP/1.1 clients.
import { httpRequest } from '../backends/client.ts';
import {
  createIngress,
  publicGateway,
  startEnv,
  startTestBackend,
  waitReady,
  TEST_NAMESPACE,
  type Env,
} from './harness.ts';

let env: Env;
beforeAll(async () => {
  env = await startEnv();
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('basics', async () => {
  await startTestBackend(env, { name: 'basics' });
  const host = 'basics.example.com';
  await createIngress(env, 'basics', {
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [{ splits: [{ serviceNamespace: TEST_NAMESPACE, serviceName: 'basics', servicePort: 80 }] }],
        },
      },
    ],
  });
  const ing = await waitReady(env, 'basics');
  expect(ing.status?.publicLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
    'kgw-default-external.kgw-system.svc.cluster.local',
  );
  expect(ing.status?.privateLoadBalancer?.ingress?.[0]?.domainInternal).toBe(
    'kgw-default-local.kgw-system.svc.cluster.local',
  );
  const gw = await publicGateway(env, ing);
  const res = await httpRequest({ address: gw.address, port: gw.port, host });
  expect(res.status).toBe(200);
  const body = res.json<{ request: { host: string; protoMajor: number }; host: { suffix: string } }>();
  expect(body.request.host).toBe(host);
  expect(body.host.suffix).toBe('basics');
  // An unknown host gets 404 from Envoy.
  const missing = await httpRequest({ address: gw.address, port: gw.port, host: 'nope.example.com' });
  expect(missing.status).toBe(404);
});

test('basics/http2', async () => {
  await startTestBackend(env, { name: 'basics-http2', portName: 'http2', appProtocol: 'kubernetes.io/h2c' });
  const host = 'basics-http2.example.com';
  await createIngress(env, 'basics-http2', {
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [
            { splits: [{ serviceNamespace: TEST_NAMESPACE, serviceName: 'basics-http2', servicePort: 80 }] },
          ],
        },
      },
    ],
  });
  const ing = await waitReady(env, 'basics-http2');
  const gw = await publicGateway(env, ing);
  const res = await httpRequest({ address: gw.address, port: gw.port, host });
  expect(res.status).toBe(200);
  expect(res.httpVersion).toBe('1.1');
  const body = res.json<{ request: { protoMajor: number }; host: { suffix: string } }>();
  expect(body.host.suffix).toBe('basics-http2');
  expect(body.request.protoMajor).toBe(2);
});
