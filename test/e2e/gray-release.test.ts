// Gray release by header and by cookie (the ALB scenario) against real Envoy: revisions -00001 at
// 100% and -00002 at 0%; requests with header `demo: test`, or cookie `demo=always` (alone, among
// other cookies, quoted or not), go to -00002; every other request follows the weights; Knative's
// tag header keeps routing to the tag; a rule to a revision the Route does not route to changes
// nothing (fails open) and is reported as a Warning Event.
import { httpRequest } from '../backends/client.ts';
import type { RuntimeInfo } from '../backends/runtime.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
} from '../../operator/api/kingress.ts';
import { withDefaults } from '../../operator/translate/defaults.ts';
import { split, startBackends } from './conformance.ts';
import { ingressPath, publicGateway, startEnv, TEST_NAMESPACE, waitReady, type Env } from './harness.ts';

let env: Env;
let gw: { address: string; port: number };
const HOST = 'hello.gray.example.com';
const TAG_HOST = 'canary-hello.gray.example.com';
const rev = (n: number) => `hello-0000${n}`;
const revSplit = (n: number, percent: number) =>
  split(rev(n), {
    percent,
    appendHeaders: { 'Knative-Serving-Revision': rev(n), 'Knative-Serving-Namespace': TEST_NAMESPACE },
  });

function spec(host = HOST, tagHost = TAG_HOST): IngressSpec {
  return withDefaults({
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [
            { headers: { 'Knative-Serving-Tag': { exact: 'canary' } }, splits: [revSplit(2, 100)] },
            { splits: [revSplit(1, 100), revSplit(2, 0)] },
          ],
        },
      },
      { hosts: [tagHost], visibility: 'ExternalIP', http: { paths: [{ splits: [revSplit(2, 100)] }] } },
    ],
  });
}

async function kingress(name: string, rules: unknown[], host = HOST, tagHost = TAG_HOST): Promise<void> {
  await env.rest.request('POST', ingressPath(TEST_NAMESPACE), {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: TEST_NAMESPACE,
      annotations: {
        [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS,
        'kgw.dev/routing-rules': JSON.stringify(rules),
        'networking.internal.knative.dev/tag-to-host': JSON.stringify({ canary: [tagHost] }),
      },
    },
    spec: { ...spec(host, tagHost), httpOption: 'Enabled' },
  });
}

/** Which revision answered (the runtime backend's suffix is its name). */
async function served(headers: Record<string, string> = {}, host = HOST): Promise<string> {
  const res = await httpRequest({ address: gw.address, port: gw.port, host, headers });
  if (res.status !== 200) throw new Error(`status ${res.status}: ${res.body.slice(0, 200)}`);
  return res.json<RuntimeInfo>().host.suffix;
}

beforeAll(async () => {
  env = await startEnv();
  await startBackends(env, [{ name: rev(1) }, { name: rev(2) }]);
  await kingress('hello', [
    { revision: rev(2), headers: { demo: 'test' } },
    { revision: rev(2), cookies: { demo: 'always' } },
  ]);
  gw = await publicGateway(env, await waitReady(env, 'hello'));
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('header demo: test → revision 2; without it (or with another value) → revision 1', async () => {
  expect(await served({ demo: 'test' })).toBe(rev(2));
  for (let i = 0; i < 20; i++) expect(await served()).toBe(rev(1));
  expect(await served({ demo: 'other' })).toBe(rev(1));
});

test('cookie demo=always alone, among other cookies, or quoted → revision 2; other cookies → revision 1', async () => {
  for (const cookie of ['demo=always', 'a=1; demo=always; b=2', 'demo="always"', 'session=x;demo=always'])
    expect([cookie, await served({ cookie })]).toEqual([cookie, rev(2)]);
  for (const cookie of ['demo=never', 'xdemo=always', 'demo=alwaysx', 'a=demo=always'])
    expect([cookie, await served({ cookie })]).toEqual([cookie, rev(1)]);
});

test('the backend is told its revision; the tag header and the tag host keep routing to the tag', async () => {
  const res = await httpRequest({
    address: gw.address,
    port: gw.port,
    host: HOST,
    headers: { demo: 'test' },
  });
  expect(res.json<RuntimeInfo>().request.headers['Knative-Serving-Revision']).toEqual([rev(2)]);
  expect(await served({ 'Knative-Serving-Tag': 'canary' })).toBe(rev(2));
  expect(await served({}, TAG_HOST)).toBe(rev(2));
});

test('a rule to a revision the Route does not route to fails open and is reported as an Event', async () => {
  await kingress(
    'other',
    [{ revision: 'stranger-00001', headers: { demo: 'test' } }],
    'other.gray.example.com',
    'canary-other.gray.example.com',
  );
  await waitReady(env, 'other');
  const deadline = Date.now() + 20_000;
  let messages: string[] = [];
  while (Date.now() < deadline) {
    const events = await env.rest.get<{
      items: { reason: string; message: string; involvedObject: { name: string } }[];
    }>(`/api/v1/namespaces/${TEST_NAMESPACE}/events`);
    messages = events.items
      .filter((e) => e.involvedObject.name === 'other' && e.reason === 'RoutingRulesIgnored')
      .map((e) => e.message);
    if (messages.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(messages).toEqual(['revision stranger-00001 is not routed by this Route']);
}, 60_000);
