// VHDS against a real Envoy (the pinned binary from test/env) over delta ADS: route configurations
// that name `vhds` get their virtual hosts as separate resources, pushed without being asked for
// by name (Envoy subscribes with no names); each lands in the route configuration its name
// starts with; a change sends only the vhosts it touches; a removed vhost is gone. Listeners bind
// 127.0.0.1; nothing is proxied (direct responses).
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEnvoy, type EnvoyProcess } from '../../test/env/envoy.ts';
import { freePorts, waitUntil } from '../../test/env/proc.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE, TYPE_VHOST } from './protos.ts';
import { vhdsName, vhdsRouteConfig } from '../render/vhds.ts';
import { byName } from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import { adsBootstrap, rdsListener } from '../../test/support/ads-envoy.ts';

const FLEET = 'gateway';

/** A vhost answering `text` for `domain`, named for VHDS (render/vhds.ts). */
function vh(routeConfig: string, domain: string, text: string) {
  return {
    name: vhdsName(routeConfig, `ns/${domain.split('.')[0]}/${domain.replaceAll('.', '_')}`),
    domains: [domain, `${domain}:*`],
    routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: text } } }],
  };
}

function httpGet(port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const req = get(
      { host: '127.0.0.1', port, path: '/', headers: { host }, timeout: 5000, agent: false },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => resolve(`${res.statusCode} ${b}`));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error ${e.message}`));
  });
}

const byVhdsName = (list: { name: string }[]) => new Map(list.map((v) => [v.name, v]));

let dir: string;
let server: XdsServer;
let envoy: EnvoyProcess | undefined;

afterEach(async () => {
  await envoy?.stop();
  envoy = undefined;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('VHDS over delta ADS: vhosts per route configuration, a change sends only its vhost, removal', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kgw-vhds-'));
  server = new XdsServer({ orderingTimeoutMs: 10_000 });
  const socket = path.join(dir, 'ads.sock');
  await server.listen(`unix:${socket}`);
  const [port = 0, port2 = 0] = await freePorts(2);
  const vhosts = [
    vh('http', 'a.example.com', 'a1'),
    vh('http', 'b.example.com', 'b1'),
    vh('https', 'a.example.com', 'a-on-https'),
  ];
  server.setSnapshot(FLEET, {
    [TYPE_CLUSTER]: new Map(),
    [TYPE_ENDPOINT]: new Map(),
    [TYPE_LISTENER]: byName([rdsListener(port, 'http'), rdsListener(port2, 'https')]),
    [TYPE_ROUTE]: byName([vhdsRouteConfig('http'), vhdsRouteConfig('https')]),
    [TYPE_VHOST]: byVhdsName(vhosts),
  });
  server.markSynced();
  envoy = await startEnvoy({ config: adsBootstrap(socket, 'DELTA_GRPC', 'envoy-1', FLEET), id: 'vhds' });
  const answers = (p: number, host: string, want: string) =>
    waitUntil(`${host} on port ${p} to answer "${want}"`, async () => (await httpGet(p, host)) === want, {
      timeoutMs: 10_000,
    });
  await answers(port, 'a.example.com', '200 a1');
  await answers(port, 'b.example.com', '200 b1');
  // each vhost serves only in the route configuration its name starts with
  await answers(port2, 'a.example.com', '200 a-on-https');
  expect(await httpGet(port2, 'b.example.com')).toBe('404 ');
  // domains match as in a route table: case-insensitive, with a port
  expect(await httpGet(port, 'B.Example.COM:8080')).toBe('200 b1');
  expect(server.connections(FLEET)[0]?.mode).toBe('delta');

  // One vhost changes: VHDS sends about that vhost alone; listeners and route configurations nothing.
  const before = server.stats().bytesSent;
  const changed = vh('http', 'b.example.com', 'b2');
  server.setSnapshot(FLEET, { [TYPE_VHOST]: byVhdsName([vhosts[0]!, changed, vhosts[2]!]) });
  await answers(port, 'b.example.com', '200 b2');
  const after = server.stats().bytesSent;
  expect(after[TYPE_LISTENER]).toBe(before[TYPE_LISTENER]);
  expect(after[TYPE_ROUTE]).toBe(before[TYPE_ROUTE]);
  const sent = after[TYPE_VHOST] - before[TYPE_VHOST];
  expect(sent).toBeGreaterThan(JSON.stringify(changed).length / 2);
  expect(sent).toBeLessThan(2 * JSON.stringify(changed).length + 200);
  expect(await httpGet(port, 'a.example.com')).toBe('200 a1');

  // A route configuration that comes later (a new HTTPS listener) gets its vhosts: they go only
  // once Envoy has the route configuration (before, it would drop them).
  const [port3 = 0] = await freePorts(1);
  const late = vh('late', 'a.example.com', 'a-on-late');
  server.setSnapshot(FLEET, {
    [TYPE_LISTENER]: byName([
      rdsListener(port, 'http'),
      rdsListener(port2, 'https'),
      rdsListener(port3, 'late'),
    ]),
    [TYPE_ROUTE]: byName([vhdsRouteConfig('http'), vhdsRouteConfig('https'), vhdsRouteConfig('late')]),
    [TYPE_VHOST]: byVhdsName([vhosts[0]!, changed, vhosts[2]!, late]),
  });
  await answers(port3, 'a.example.com', '200 a-on-late');

  // A vhost that leaves the snapshot is removed from Envoy's route configuration.
  server.setSnapshot(FLEET, { [TYPE_VHOST]: byVhdsName([changed, vhosts[2]!]) });
  await answers(port, 'a.example.com', '404 ');
  expect(await httpGet(port, 'b.example.com')).toBe('200 b2');
  expect(await httpGet(port2, 'a.example.com')).toBe('200 a-on-https');
}, 60_000);
