// Domain squatting through KIngress (issue 8 item 6), with the real operator, apiserver and Envoy
// fleets. The gateway has Knative domains (default template: <name>.<namespace>.example.com):
// - namespace attacker creates a KIngress for victim's generated name app.victim.example.com
//   before victim does: attacker gets Ready=False HostNotAllowed (it was the older and won before),
//   victim's own KIngress is Ready and served;
// - a custom host claimed by a ClusterDomainClaim for victim is refused in attacker, and a claim
//   made later takes the host away from the KIngress already serving it (withdrawn, not kept as
//   its last good configuration);
// - a DomainConflict between namespaces does not name the other namespace's KIngress;
// - with claim rules on the gateway, a namespace that gains the label a rule asks for is judged
//   again at once.
import type { KIngress } from '../../operator/api/kingress.ts';
import { httpRequest } from '../backends/client.ts';
import { rule, split, type Gateway } from './conformance.ts';
import {
  createIngress,
  ensureNamespace,
  publicGateway,
  startEnv,
  startTestBackend,
  until,
  waitReady,
  waitReason,
  type Env,
} from './harness.ts';

const gateway = {
  apiVersion: 'operator.kgw.dev/v1alpha1',
  kind: 'KnativeGateway',
  metadata: { name: 'default' },
  spec: {
    fleets: [
      { name: 'external', visibility: 'ExternalIP', replicas: 1 },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
    ],
    domains: { default: 'example.com' },
  },
};
const GW = '/apis/operator.kgw.dev/v1alpha1/knativegateways/default';
const CLAIMS = '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims';
const NAMESPACES = ['attacker', 'victim', 'third'];

let env: Env;
let gw: Gateway;
beforeAll(async () => {
  env = await startEnv({ gateway });
  for (const ns of NAMESPACES) await ensureNamespace(env.rest, ns);
  // one backend per namespace, answering with its namespace as suffix
  for (const ns of NAMESPACES) await startTestBackend(env, { name: `web-${ns}`, suffix: ns, namespace: ns });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

/** A KIngress in `ns` for `hosts`, backed by that namespace's backend. */
function create(ns: string, name: string, hosts: string[]): Promise<KIngress> {
  return createIngress(
    env,
    name,
    { rules: [rule(hosts, [{ splits: [split(`web-${ns}`, { serviceNamespace: ns })] }])] },
    ns,
  );
}

const readyMessage = (ing: KIngress) =>
  ing.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';

/** Which namespace's backend answers `host` on the public fleet (undefined: 404). */
async function servedBy(host: string): Promise<string | undefined> {
  const res = await httpRequest({ address: gw.address, port: gw.port, host });
  if (res.status === 404) return undefined;
  expect(res.status).toBe(200);
  return res.json<{ host: { suffix: string } }>().host.suffix;
}

const untilTrue = (what: string, check: () => Promise<boolean>) =>
  until(what, 30_000, async () => (await check()) || undefined);

test("an older KIngress cannot take another namespace's generated name", async () => {
  const squat = await create('attacker', 'squat', ['app.victim.example.com']);
  expect(squat.metadata.namespace).toBe('attacker');
  const refused = await waitReason(env, 'squat', 'HostNotAllowed', 'attacker');
  const msg = readyMessage(refused);
  expect(msg).toContain("is a name Knative generates for another namespace's Routes");
  expect(msg).toContain('<name>.attacker.example.com');

  await create('victim', 'app', ['app.victim.example.com']);
  const app = await waitReady(env, 'app', 'victim');
  gw = await publicGateway(env, app);
  for (let i = 0; i < 10; i++) expect(await servedBy('app.victim.example.com')).toBe('victim');
  // still refused, and its own names are fine
  expect(readyMessage(await waitReason(env, 'squat', 'HostNotAllowed', 'attacker'))).toBe(msg);
  await create('attacker', 'own', ['app.attacker.example.com']);
  await waitReady(env, 'own', 'attacker');
  expect(await servedBy('app.attacker.example.com')).toBe('attacker');
}, 90_000);

test('a claimed custom host is refused in other namespaces; a later claim withdraws the squatter', async () => {
  await env.rest.request('POST', CLAIMS, {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'ClusterDomainClaim',
    metadata: { name: 'shop.example.net' },
    spec: { namespace: 'victim' },
  });
  await create('attacker', 'shop', ['shop.example.net']);
  const refused = await waitReason(env, 'shop', 'HostNotAllowed', 'attacker');
  expect(readyMessage(refused)).toContain('is claimed by another namespace');
  expect(readyMessage(refused)).not.toContain('victim');
  await create('victim', 'shop', ['shop.example.net']);
  await waitReady(env, 'shop', 'victim');
  expect(await servedBy('shop.example.net')).toBe('victim');

  // unclaimed: the attacker serves it, until the admin claims it for victim
  await create('attacker', 'late', ['late.example.net']);
  await waitReady(env, 'late', 'attacker');
  expect(await servedBy('late.example.net')).toBe('attacker');
  await env.rest.request('POST', CLAIMS, {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'ClusterDomainClaim',
    metadata: { name: 'late.example.net' },
    spec: { namespace: 'victim' },
  });
  await waitReason(env, 'late', 'HostNotAllowed', 'attacker');
  await untilTrue(
    'late.example.net withdrawn',
    async () => (await servedBy('late.example.net')) === undefined,
  );
  await create('victim', 'late', ['late.example.net']);
  await waitReady(env, 'late', 'victim');
  expect(await servedBy('late.example.net')).toBe('victim');
}, 90_000);

test("a DomainConflict between namespaces does not name the other namespace's KIngress", async () => {
  // creation times have one-second resolution: on a tie the key decides, and attacker/ sorts first
  await create('attacker', 'shared', ['shared.example.net']);
  await waitReady(env, 'shared', 'attacker');
  await create('third', 'shared-too', ['shared.example.net']);
  const lost = await waitReason(env, 'shared-too', 'DomainConflict', 'third');
  expect(readyMessage(lost)).toBe(
    'host shared.example.net is already served by a KIngress of another namespace',
  );
  expect(await servedBy('shared.example.net')).toBe('attacker');
}, 60_000);

test('claim rules: a namespace that gains the label a rule asks for is judged again', async () => {
  await env.rest.request(
    'PATCH',
    GW,
    {
      spec: {
        domainClaims: {
          rules: [
            { domains: ['example.net'] },
            { domains: ['example.org'], namespaceSelector: { matchLabels: { tenant: 'true' } } },
          ],
        },
      },
    },
    'application/merge-patch+json',
  );
  await create('third', 'tenant', ['www.example.org']);
  const refused = await waitReason(env, 'tenant', 'HostNotAllowed', 'third');
  expect(readyMessage(refused)).toContain('tenant=true');
  await env.rest.request(
    'PATCH',
    '/api/v1/namespaces/third',
    { metadata: { labels: { tenant: 'true' } } },
    'application/merge-patch+json',
  );
  await waitReady(env, 'tenant', 'third');
  expect(await servedBy('www.example.org')).toBe('third');
  // generated names need no rule
  expect(await servedBy('app.victim.example.com')).toBe('victim');
}, 90_000);
