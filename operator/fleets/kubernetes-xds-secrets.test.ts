import type { KnativeGateway } from '../api/knativegateway.ts';
import { ApiError } from '../kube/rest.ts';
import { fleetXdsClientSecretName } from './fleet-names.ts';
import type { KubeClient } from './kubernetes-apply.ts';
import { applyXdsClientSecrets, xdsClientSecrets } from './kubernetes-xds-secrets.ts';

const gw: KnativeGateway = {
  metadata: { name: 'gw', uid: '11111111-2222-4333-8444-555555555555' },
  spec: { fleets: [] },
};
const tls = {
  material: {
    client: (fleet: string) => Promise.resolve({ certPem: `cert of ${fleet}`, keyPem: `key of ${fleet}` }),
    trustBundle: () => 'bundle',
  },
};
const b64 = (s: string): string => Buffer.from(s).toString('base64');

interface Call {
  method: string;
  path: string;
  body?: unknown;
  query?: unknown;
}

/** A client answering GETs from `existing` (404 otherwise) and failing PATCHes to `failing`. */
function fakeClient(existing: Record<string, unknown>, failing: Record<string, ApiError> = {}) {
  const calls: Call[] = [];
  const client: KubeClient = {
    request: <T>(method: string, path: string, body?: unknown, _ct?: string, query?: unknown) => {
      calls.push({ method, path, ...(body !== undefined ? { body, query } : {}) });
      if (method === 'GET') {
        const cur = existing[path];
        return cur === undefined
          ? Promise.reject(new ApiError(404, 'NotFound', 'not found', {}))
          : Promise.resolve(cur as T);
      }
      const err = failing[path];
      return err ? Promise.reject(err) : Promise.resolve(body as T);
    },
  };
  return { client, calls };
}

test('one TLS Secret per fleet, in its namespace, labelled and owned like the fleet objects', async () => {
  const [sec, other] = await xdsClientSecrets(tls, gw, [
    { fleet: 'edge', namespace: 'ns-a' },
    { fleet: 'inner', namespace: 'ns-b' },
  ]);
  expect(sec).toMatchObject({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name: fleetXdsClientSecretName('gw', 'edge'),
      namespace: 'ns-a',
      labels: { 'app.kubernetes.io/managed-by': 'kgw' },
      ownerReferences: [{ kind: 'KnativeGateway', name: 'gw', controller: true }],
    },
    data: { 'tls.crt': b64('cert of gw/edge'), 'tls.key': b64('key of gw/edge'), 'ca.crt': b64('bundle') },
  });
  expect(other).toMatchObject({
    metadata: { namespace: 'ns-b' },
    data: { 'tls.crt': b64('cert of gw/inner') },
  });
});

test('no Secrets without xDS TLS', async () => {
  expect(await xdsClientSecrets(undefined, gw, [{ fleet: 'edge', namespace: 'ns' }])).toEqual([]);
});

describe('applyXdsClientSecrets', () => {
  const secret = async (namespace: string) => {
    const [s] = await xdsClientSecrets(tls, gw, [{ fleet: 'edge', namespace }]);
    if (s === undefined) throw new Error('no Secret');
    return s;
  };
  const path = (ns: string) => `/api/v1/namespaces/${ns}/secrets/${fleetXdsClientSecretName('gw', 'edge')}`;

  test("a new or kgw's Secret is server-side applied with kgw's field manager", async () => {
    const { client, calls } = fakeClient({
      [path('b')]: { metadata: { labels: { 'app.kubernetes.io/managed-by': 'kgw' } } },
    });
    const secrets = [await secret('a'), await secret('b')];
    expect(await applyXdsClientSecrets(client, secrets)).toEqual([]);
    expect(calls.filter((c) => c.method === 'PATCH')).toEqual([
      { method: 'PATCH', path: path('a'), body: secrets[0], query: { fieldManager: 'kgw', force: true } },
      { method: 'PATCH', path: path('b'), body: secrets[1], query: { fieldManager: 'kgw', force: true } },
    ]);
  });

  test("a Secret that is not kgw's is left alone and reported; a failed apply is reported", async () => {
    const { client, calls } = fakeClient(
      { [path('mine')]: { metadata: { labels: { team: 'x' } } } },
      { [path('b')]: new ApiError(403, 'Forbidden', 'secrets is forbidden', {}) },
    );
    const problems = await applyXdsClientSecrets(client, [await secret('mine'), await secret('b')]);
    const name = fleetXdsClientSecretName('gw', 'edge');
    expect(problems).toEqual([
      {
        ref: { apiVersion: 'v1', kind: 'Secret', namespace: 'mine', name },
        reason: 'NotOwned',
        message:
          `Secret mine/${name} already exists and is not kgw's; kgw leaves it untouched ` +
          "and the fleet's Envoys cannot get their xDS client certificate",
      },
      {
        ref: { apiVersion: 'v1', kind: 'Secret', namespace: 'b', name },
        reason: 'ApplyFailed',
        message: 'secrets is forbidden',
        status: 403,
      },
    ]);
    expect(calls.some((c) => c.method === 'PATCH' && c.path === path('mine'))).toBe(false);
  });
});
