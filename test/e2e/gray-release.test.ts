// Gray release by header and by cookie (the ALB scenario) against real Envoy: revisions -00001 at
// 100% and -00002 at 0%; requests with header `demo: test`, or cookie `demo=always` (alone, among
// other cookies, quoted or not), go to -00002; every other request follows the weights; Knative's
// tag header keeps routing to the tag; a rule to a revision the Route does not route to changes
// nothing (fails open) and is reported as a Warning Event. The same scenario with the rules in a
// RoutePolicy's spec.routing (a rule naming what the Route does not route to is reported on the
// policy's status), and the precedence: the policy replaces the annotation on its Route.
import { httpRequest } from '../backends/client.ts';
import type { RuntimeInfo } from '../backends/runtime.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
} from '../../operator/api/kingress.ts';
import type { RoutePolicy } from '../../operator/api/routepolicy.ts';
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

/** A Route's KIngress as Knative writes it (labels, tag-to-host), with the annotation's rules if given. */
async function kingress(
  name: string,
  rules: unknown[] | undefined,
  host = HOST,
  tagHost = TAG_HOST,
): Promise<void> {
  await env.rest.request('POST', ingressPath(TEST_NAMESPACE), {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: TEST_NAMESPACE,
      labels: { 'serving.knative.dev/route': name, 'serving.knative.dev/service': name },
      annotations: {
        [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS,
        ...(rules !== undefined ? { 'kgw.dev/routing-rules': JSON.stringify(rules) } : {}),
        'networking.internal.knative.dev/tag-to-host': JSON.stringify({ canary: [tagHost] }),
      },
    },
    spec: { ...spec(host, tagHost), httpOption: 'Enabled' },
  });
}

const POLICIES = `/apis/policy.kgw.dev/v1alpha1/namespaces/${TEST_NAMESPACE}/routepolicies`;

/** A RoutePolicy with `routing` on the Route `route`. */
async function routingPolicy(name: string, route: string, rules: unknown[]): Promise<void> {
  await env.rest.request('POST', POLICIES, {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name, namespace: TEST_NAMESPACE },
    spec: { targetRefs: [{ kind: 'Route', name: route }], routing: { rules } },
  });
}

/** Polls (bounded) until the policy's Accepted condition has `reason`; returns its message. */
async function accepted(name: string, reason: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  let last: RoutePolicy | undefined;
  while (Date.now() < deadline) {
    last = await env.rest.get<RoutePolicy>(`${POLICIES}/${name}`);
    const c = last.status?.conditions?.find((x) => x.type === 'Accepted');
    if (last.status?.observedGeneration === last.metadata.generation && c?.reason === reason)
      return c.message;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `RoutePolicy ${name}: Accepted reason ${reason} not reached: ${JSON.stringify(last?.status)}`,
  );
}

/** Polls (bounded) until a request with `headers` to `host` is served by `revision` (config is asynchronous). */
async function servedBy(revision: string, headers: Record<string, string>, host: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = '';
  while (Date.now() < deadline) {
    last = await served(headers, host).catch((e: Error) => e.message);
    if (last === revision) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${host} ${JSON.stringify(headers)}: wanted ${revision}, last ${last}`);
}

/** The messages of the RoutingRulesIgnored Events of a KIngress, once there is one (bounded). */
async function ignoredEvents(name: string): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  let messages: string[] = [];
  while (Date.now() < deadline) {
    const events = await env.rest.get<{
      items: { reason: string; message: string; involvedObject: { name: string } }[];
    }>(`/api/v1/namespaces/${TEST_NAMESPACE}/events`);
    messages = events.items
      .filter((e) => e.involvedObject.name === name && e.reason === 'RoutingRulesIgnored')
      .map((e) => e.message);
    if (messages.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return messages;
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
  expect(await ignoredEvents('other')).toEqual(['revision stranger-00001 is not routed by this Route']);
}, 60_000);

test('changing only the annotation of a served KIngress (no new generation, as Knative copies it) routes by the new rules', async () => {
  const h = 'other.gray.example.com';
  expect(await served({ demo: 'test' }, h)).toBe(rev(1)); // its rule names a stranger
  await env.rest.request(
    'PATCH',
    `${ingressPath(TEST_NAMESPACE)}/other`,
    {
      metadata: {
        annotations: {
          'kgw.dev/routing-rules': JSON.stringify([{ revision: rev(2), headers: { demo: 'test' } }]),
        },
      },
    },
    'application/merge-patch+json',
  );
  await servedBy(rev(2), { demo: 'test' }, h);
}, 60_000);

describe('the same rules from a RoutePolicy (spec.routing)', () => {
  const host = 'polgray.gray.example.com';
  const tagHost = 'canary-polgray.gray.example.com';

  test('header demo: test or cookie demo=always → revision 2, others follow the weights, the tag header still works; default: true first wins', async () => {
    await kingress('polgray', undefined, host, tagHost);
    await waitReady(env, 'polgray');
    expect(await served({ demo: 'test' }, host)).toBe(rev(1)); // no rules yet
    await routingPolicy('polgray', 'polgray', [
      { cookies: { demo: 'never' }, to: { default: true } }, // first: these follow the weights
      { headers: { demo: 'test' }, to: { revision: rev(2) } },
      { cookies: { demo: 'always' }, to: { revision: rev(2) } },
    ]);
    expect(await accepted('polgray', 'Accepted')).toBe('in force on 2 hosts');
    await servedBy(rev(2), { demo: 'test' }, host);
    for (let i = 0; i < 20; i++) expect(await served({}, host)).toBe(rev(1));
    expect(await served({ demo: 'other' }, host)).toBe(rev(1));
    for (const cookie of ['demo=always', 'a=1; demo=always; b=2', 'demo="always"'])
      expect([cookie, await served({ cookie }, host)]).toEqual([cookie, rev(2)]);
    for (const cookie of ['demo=never', 'xdemo=always', 'a=demo=always'])
      expect([cookie, await served({ cookie }, host)]).toEqual([cookie, rev(1)]);
    expect(await served({ 'Knative-Serving-Tag': 'canary' }, host)).toBe(rev(2));
    expect(await served({}, tagHost)).toBe(rev(2));
    for (let i = 0; i < 5; i++)
      expect(await served({ demo: 'test', cookie: 'demo=never' }, host)).toBe(rev(1));
  }, 90_000);

  test('a rule to a revision the Route does not route to is reported on the policy and ignored; the others work', async () => {
    const h = 'stray.gray.example.com';
    await kingress('stray', undefined, h, 'canary-stray.gray.example.com');
    await waitReady(env, 'stray');
    await routingPolicy('stray', 'stray', [
      { headers: { demo: 'x' }, to: { revision: 'stranger-00001' } },
      { headers: { demo: 'test' }, to: { tag: 'canary' } },
    ]);
    expect(await accepted('stray', 'RevisionNotRouted')).toBe(
      'spec.routing.rules[0]: revision stranger-00001 is not routed by Route stray; the rule is ignored',
    );
    await servedBy(rev(2), { demo: 'test' }, h);
    expect(await served({ demo: 'x' }, h)).toBe(rev(1));
  }, 90_000);

  test('precedence: the policy replaces the annotation on its Route (an Event says so); without the policy the annotation is back', async () => {
    const h = 'both.gray.example.com';
    await kingress(
      'both',
      [{ revision: rev(2), headers: { demo: 'test' } }],
      h,
      'canary-both.gray.example.com',
    );
    await waitReady(env, 'both');
    await servedBy(rev(2), { demo: 'test' }, h);
    await routingPolicy('both', 'both', [{ headers: { demo: 'policy' }, to: { revision: rev(2) } }]);
    expect(await accepted('both', 'Accepted')).toBe(
      'in force on 2 hosts; routing replaces the kgw.dev/routing-rules annotation of Route both',
    );
    await servedBy(rev(2), { demo: 'policy' }, h);
    expect(await served({ demo: 'test' }, h)).toBe(rev(1));
    expect(await ignoredEvents('both')).toEqual([
      `kgw.dev/routing-rules is ignored on ${h}: RoutePolicy ${TEST_NAMESPACE}/both sets routing there`,
    ]);
    await env.rest.request('DELETE', `${POLICIES}/both`);
    await servedBy(rev(2), { demo: 'test' }, h);
    expect(await served({ demo: 'policy' }, h)).toBe(rev(1));
  }, 90_000);
});
