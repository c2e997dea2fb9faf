// The generated KnativeGateway CRD against a real kube-apiserver: the API server accepts it (CEL
// compiles within the cost budget), applies the schema defaults, and rejects bad specs with the
// messages in MESSAGES. Needs the test parts from `bash test/env/setup.sh`.
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { KubeHttpError, kubeRequest } from '../../test/env/kube-http.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import { MESSAGES, type KnativeGateway } from '../api/knativegateway.ts';
import { PATHS, generateAll } from './generate.ts';
import { sampleKnativeGateway } from './sample.ts';

const BASE = '/apis/operator.kgw.dev/v1alpha1/knativegateways';

function generated(path: string): unknown {
  const f = generateAll().find((x) => x.path === path);
  if (f === undefined) throw new Error(`not generated: ${path}`);
  return parse(f.content);
}

function gateway(name: string, spec: unknown): unknown {
  return { apiVersion: 'operator.kgw.dev/v1alpha1', kind: 'KnativeGateway', metadata: { name }, spec };
}

/** The API server's rejection message for creating `obj` ('' if it was accepted). */
async function rejection(kc: KubeConfig, obj: unknown): Promise<string> {
  try {
    await kubeRequest(kc, 'POST', BASE, obj);
    return '';
  } catch (err) {
    if (err instanceof KubeHttpError) return err.message;
    throw err;
  }
}

/** GET as a meta.k8s.io Table (what `kubectl get` prints). */
async function table(kc: KubeConfig, path: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('no server');
  const opts: RequestOptions = {
    method: 'GET',
    headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    agent: false,
  };
  await kc.applyToHTTPSOptions(opts);
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(new URL(path, server), opts, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve(data));
    });
    req.on('error', reject);
    req.end();
  });
  const t = JSON.parse(body) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
  return { columns: t.columnDefinitions.map((c) => c.name), rows: t.rows.map((r) => r.cells) };
}

describe('KnativeGateway CRD on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let kc: KubeConfig;

  beforeAll(async () => {
    cp = await startControlPlane();
    kc = cp.kubeConfig();
    // The CRD as generated in memory (not the file on disk), so this tests the current generator.
    await applyManifests(kc, [generated(PATHS.knativeGatewayCrd) as { apiVersion: string; kind: string }]);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  test('the sample is accepted and the schema defaults are stored', async () => {
    const res = await kubeRequest(kc, 'POST', BASE, sampleKnativeGateway());
    const stored = res.json as KnativeGateway;
    expect(stored.spec.clusterDomain).toBe('cluster.local');
    expect(stored.spec.fleets).toEqual([
      {
        name: 'external',
        visibility: 'ExternalIP',
        replicas: 1,
        service: { httpPort: 80, httpsPort: 443 },
        accessLog: false,
      },
      {
        name: 'local',
        visibility: 'ClusterLocal',
        replicas: 1,
        service: { httpPort: 80, httpsPort: 443 },
        accessLog: false,
      },
    ]);
  });

  test('a minimal gateway gets the spec-level defaults and no listener ports or replicas', async () => {
    const res = await kubeRequest(
      kc,
      'POST',
      BASE,
      gateway('minimal', { fleets: [{ name: 'a', visibility: 'ExternalIP' }] }),
    );
    const stored = res.json as KnativeGateway;
    expect(stored.spec).toEqual({
      ingressClass: 'kgw.ingress.networking.knative.dev',
      namespace: 'kgw-system',
      clusterDomain: 'cluster.local',
      fleets: [
        { name: 'a', visibility: 'ExternalIP', service: { httpPort: 80, httpsPort: 443 }, accessLog: false },
      ],
    });
  });

  test.each<[string, unknown, string]>([
    [
      'duplicate fleet names',
      {
        fleets: [
          { name: 'a', visibility: 'ExternalIP' },
          { name: 'a', visibility: 'ClusterLocal' },
        ],
      },
      `spec.fleets: Invalid value: "array": ${MESSAGES.uniqueFleetNames}`,
    ],
    [
      'equal listener ports',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', ports: { http: 9000, https: 9000 } }] },
      `spec.fleets[0].ports: Invalid value: "object": ${MESSAGES.listenerPortsDiffer}`,
    ],
    [
      'http equal to the visibility default https',
      { fleets: [{ name: 'a', visibility: 'ClusterLocal', ports: { http: 8444 } }] },
      `spec.fleets[0].ports: Invalid value: "object": ${MESSAGES.listenerPortsDiffer}`,
    ],
    [
      'equal Service ports',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', service: { httpsPort: 80 } }] },
      `spec.fleets[0].service: Invalid value: "object": ${MESSAGES.servicePortsDiffer}`,
    ],
    ['no fleets', { fleets: [] }, 'spec.fleets: Invalid value: 0'],
    [
      'bad visibility',
      { fleets: [{ name: 'a', visibility: 'Public' }] },
      'spec.fleets[0].visibility: Unsupported value: "Public"',
    ],
    [
      'privileged listener port',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', ports: { http: 80 } }] },
      'spec.fleets[0].ports.http: Invalid value: 80',
    ],
  ])('rejects %s', async (name, spec, expected) => {
    const msg = await rejection(kc, gateway(name.replace(/ /g, '-'), spec));
    expect(msg).toContain(expected);
  });

  test('accepts listener ports that only clash with the other visibility’s defaults', async () => {
    const spec = { fleets: [{ name: 'a', visibility: 'ClusterLocal', ports: { http: 8443, https: 8080 } }] };
    expect(await rejection(kc, gateway('cross-defaults', spec))).toBe('');
  });

  test('rejects a name longer than 63 characters', async () => {
    const msg = await rejection(
      kc,
      gateway('a'.repeat(64), { fleets: [{ name: 'a', visibility: 'ExternalIP' }] }),
    );
    expect(msg).toContain('metadata.name: Too long');
  });

  test('status subresource and printer columns', async () => {
    await kubeRequest(
      kc,
      'PATCH',
      `${BASE}/default/status`,
      {
        status: {
          readyFleets: '1/2',
          conditions: [{ type: 'Ready', status: 'False', reason: 'FleetsNotReady' }],
        },
      },
      'application/merge-patch+json',
    );
    const t = await table(kc, `${BASE}/default`);
    expect(t.columns).toEqual(['Name', 'Ready', 'Fleets', 'Class', 'Age']);
    expect(t.rows[0]?.slice(0, 4)).toEqual(['default', 'False', '1/2', 'kgw.ingress.networking.knative.dev']);
  });
});
