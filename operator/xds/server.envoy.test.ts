// The xDS server against a real Envoy (the pinned binary from test/env), over a unix socket, with
// both ADS flavours: initial config, route update, EDS-only update, make-before-break cluster
// replacement and a NACK of a config Envoy rejects. Listeners bind 127.0.0.1; endpoints are
// loopback addresses that never receive traffic.
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEnvoy, type EnvoyProcess } from '../../test/env/envoy.ts';
import { freePorts, waitUntil } from '../../test/env/proc.ts';
import { pollUntil } from '../../test/support/ads-client.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE } from './protos.ts';
import { byName, edsCluster, loadAssignment } from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import { adsBootstrap, rdsListener } from '../../test/support/ads-envoy.ts';
import type { AckEvent } from './types.ts';

const FLEET = 'gateway';

/** direct.example.com answers `body`; app.example.com routes to `cluster` (never called). */
function routes(body: string, cluster: string): Record<string, unknown> {
  return {
    name: 'http',
    virtual_hosts: [
      {
        name: 'direct',
        domains: ['direct.example.com'],
        routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: body } } }],
      },
      { name: 'app', domains: ['app.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
    ],
  };
}

function httpGet(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(
      { host: '127.0.0.1', port, path: '/', headers: { host }, timeout: 5000, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function clusterHosts(envoy: EnvoyProcess): Promise<Record<string, string[]>> {
  const r = await envoy.adminGet('/clusters?format=json');
  const parsed = JSON.parse(r.body) as {
    cluster_statuses?: {
      name: string;
      host_statuses?: { address: { socket_address?: { address: string } } }[];
    }[];
  };
  const out: Record<string, string[]> = {};
  for (const c of parsed.cluster_statuses ?? []) {
    out[c.name] = (c.host_statuses ?? []).map((h) => h.address.socket_address?.address ?? '');
  }
  return out;
}

let dir: string;
let server: XdsServer;
let envoy: EnvoyProcess | undefined;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kgw-xds-envoy-'));
  // A long ordering timeout: routes must be released by Envoy's own ACKs and EDS requests.
  server = new XdsServer({ orderingTimeoutMs: 60_000 });
});

afterEach(async () => {
  await envoy?.stop();
  envoy = undefined;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['GRPC', 'DELTA_GRPC'] as const)('with a real Envoy over %s', (apiType) => {
  it('configures Envoy, updates routes and endpoints, replaces a cluster make-before-break', async () => {
    const socket = path.join(dir, 'ads.sock');
    await server.listen(`unix:${socket}`);
    const [port = 0] = await freePorts(1);
    server.setSnapshot(FLEET, {
      [TYPE_CLUSTER]: byName([edsCluster('svc-a', '1s')]),
      [TYPE_ENDPOINT]: byName([loadAssignment('svc-a', '127.0.0.2')]),
      [TYPE_LISTENER]: byName([rdsListener(port)]),
      [TYPE_ROUTE]: byName([routes('one', 'svc-a')]),
    });
    server.markSynced();
    envoy = await startEnvoy({
      config: adsBootstrap(socket, apiType, 'envoy-1', FLEET),
      id: `xds-${apiType.toLowerCase()}`,
    });
    const e = envoy;
    const serves = (body: string): Promise<string> =>
      waitUntil(
        `Envoy to answer "${body}"`,
        async () => ((await httpGet(port, 'direct.example.com')) === `200 ${body}` ? body : false),
        {
          timeoutMs: 10_000,
        },
      );
    await serves('one');
    expect(server.connections(FLEET)).toHaveLength(1);
    expect(server.connections(FLEET)[0]?.mode).toBe(apiType === 'GRPC' ? 'sotw' : 'delta');

    // A route change.
    server.setSnapshot(FLEET, { [TYPE_ROUTE]: byName([routes('two', 'svc-a')]) });
    await serves('two');

    // An endpoint change sends load assignments only.
    const before = server.stats().bytesSent;
    server.setSnapshot(FLEET, { [TYPE_ENDPOINT]: byName([loadAssignment('svc-a', '127.0.0.3')]) });
    await waitUntil('the new endpoint', async () => (await clusterHosts(e))['svc-a']?.[0] === '127.0.0.3', {
      timeoutMs: 10_000,
    });
    const after = server.stats().bytesSent;
    for (const t of [TYPE_LISTENER, TYPE_ROUTE, TYPE_CLUSTER] as const) expect(after[t]).toBe(before[t]);
    expect(after[TYPE_ENDPOINT]).toBeGreaterThan(before[TYPE_ENDPOINT]);

    // Replace svc-a by svc-b: the routes switch once svc-b is warm, then svc-a goes away.
    server.setSnapshot(FLEET, {
      [TYPE_CLUSTER]: byName([edsCluster('svc-b', '1s')]),
      [TYPE_ENDPOINT]: byName([loadAssignment('svc-b', '127.0.0.4')]),
      [TYPE_ROUTE]: byName([routes('three', 'svc-b')]),
    });
    const routeVersion = server.snapshotVersion(FLEET, TYPE_ROUTE) ?? '';
    await server.waitForAck(FLEET, TYPE_ROUTE, routeVersion, 15_000); // well before the ordering timeout
    await serves('three');
    await waitUntil(
      'svc-a to be removed',
      async () => {
        const hosts = await clusterHosts(e);
        return hosts['svc-a'] === undefined && hosts['svc-b']?.[0] === '127.0.0.4';
      },
      { timeoutMs: 10_000 },
    );
  });

  it('reports what Envoy rejects and keeps serving the last good config', async () => {
    const socket = path.join(dir, 'ads.sock');
    await server.listen(`unix:${socket}`);
    const [port = 0] = await freePorts(1);
    const nacks: AckEvent[] = [];
    server.onNack((ev) => nacks.push(ev));
    server.setSnapshot(FLEET, {
      [TYPE_CLUSTER]: byName([edsCluster('svc-a', '1s')]),
      [TYPE_ENDPOINT]: byName([loadAssignment('svc-a', '127.0.0.2')]),
      [TYPE_LISTENER]: byName([rdsListener(port)]),
      [TYPE_ROUTE]: byName([routes('good', 'svc-a')]),
    });
    server.markSynced();
    envoy = await startEnvoy({
      config: adsBootstrap(socket, apiType, 'envoy-2', FLEET),
      id: `nack-${apiType.toLowerCase()}`,
    });

    // connect_timeout must be > 0 (a validation rule only Envoy checks).
    server.setSnapshot(FLEET, { [TYPE_CLUSTER]: byName([edsCluster('svc-a', '0s')]) });
    await pollUntil(() => nacks.length > 0, 10_000, 'a NACK');
    expect(nacks[0]).toMatchObject({ fleet: FLEET, nodeId: 'envoy-2', typeUrl: TYPE_CLUSTER });
    expect(nacks[0]?.error).toMatch(/connect_timeout|ConnectTimeout/i);
    expect(server.connections(FLEET)[0]?.lastNack?.typeUrl).toBe(TYPE_CLUSTER);
    expect(await httpGet(port, 'direct.example.com')).toBe('200 good');

    server.setSnapshot(FLEET, { [TYPE_CLUSTER]: byName([edsCluster('svc-a', '2s')]) });
    await server.waitForAck(FLEET, TYPE_CLUSTER, server.snapshotVersion(FLEET, TYPE_CLUSTER) ?? '', 10_000);
    expect(nacks).toHaveLength(1);
  });
});
