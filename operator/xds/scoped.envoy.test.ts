// Scoped routes against a real Envoy (the pinned binary from test/env) over delta ADS, with the
// connection manager, scopes and route-key filter that render/scoped.ts writes: Envoy subscribes
// to SRDS with no names; a request finds its exact host's scope; a change sends only that scope;
// the key is the listener and the Host whatever the client sends in the key headers; an
// upper-case Host is redirected to the lower-case one; other hosts go to the wildcard scope, and
// a wildcard vhost with policy filters is refused rather than served without them. Listeners bind
// 127.0.0.1; nothing is proxied (direct responses).
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEnvoy, type EnvoyProcess } from '../../test/env/envoy.ts';
import { freePorts, waitUntil } from '../../test/env/proc.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE, TYPE_SCOPED_ROUTE } from './protos.ts';
import {
  asScope,
  renderRouteKeyFilter,
  renderRouteKeyMutation,
  renderScopedRoutes,
  ROUTE_KEY_FILTER,
  ROUTE_KEY_HEADER,
  LISTENER_HEADER,
  wildcardScope,
} from '../render/scoped.ts';
import { TYPE_PREFIX, type Json } from '../render/types.ts';
import { byName } from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import { adsBootstrap, loopbackListener } from '../../test/support/ads-envoy.ts';

const FLEET = 'gateway';

/** A vhost answering `text` for `domain`. */
function vh(domain: string, text: string, extra: Json = {}): Json {
  return {
    name: `ns/${domain.split('.')[0]!.replace('*', 'star')}/${domain.replaceAll('.', '_')}`,
    domains: domain === '*' ? ['*'] : [domain, `${domain}:*`],
    routes: [
      {
        name: `ns/${text}`,
        match: { prefix: '/' },
        direct_response: { status: 200, body: { inline_string: text } },
      },
    ],
    ...extra,
  };
}

/** The plain listener as render/listener.ts writes it for a scoped fleet (fewer edge settings). */
function scopedListener(port: number): Json {
  const hcm = {
    scoped_routes: renderScopedRoutes(),
    early_header_mutation_extensions: renderRouteKeyMutation('http'),
    use_remote_address: true,
    // a trusted hop: Envoy keeps the client's X-Forwarded-Proto, as behind a load balancer
    xff_num_trusted_hops: 1,
  };
  return loopbackListener('http', port, hcm, [renderRouteKeyFilter()]);
}

function httpGet(port: number, host: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/p?q=1', headers: { host, ...headers }, timeout: 5000, agent: false },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => {
          const loc = res.headers.location;
          resolve(`${res.statusCode} ${b}${loc ? ` -> ${loc}` : ''}`);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end();
  });
}

const byScopeName = (list: Json[]) => new Map(list.map((s) => [String(s.name), s]));

let dir: string;
let server: XdsServer;
let envoy: EnvoyProcess | undefined;

afterEach(async () => {
  await envoy?.stop();
  envoy = undefined;
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('scoped routes over delta ADS: host scopes, O(change) updates, the route key, upper case and wildcards', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kgw-scoped-'));
  server = new XdsServer({ orderingTimeoutMs: 10_000 });
  const socket = path.join(dir, 'ads.sock');
  await server.listen(`unix:${socket}`);
  const [port = 0] = await freePorts(1);
  const a = asScope('http', vh('a.example.com', 'a1'));
  const b = asScope('http', vh('b.example.com', 'b1'));
  // the same host on the TLS listener: never chosen for a plain-HTTP request
  const bTls = asScope('https', vh('b.example.com', 'b-on-https'));
  const guarded = vh('*.guarded.example.com', 'guarded', {
    typed_per_filter_config: {
      [ROUTE_KEY_FILTER]: { '@type': `${TYPE_PREFIX}envoy.config.route.v3.FilterConfig`, disabled: true },
    },
  });
  const wild = wildcardScope('http', [vh('*.apps.example.com', 'apps'), vh('*', 'any'), guarded])!;
  server.setSnapshot(FLEET, {
    [TYPE_CLUSTER]: new Map(),
    [TYPE_ENDPOINT]: new Map(),
    [TYPE_LISTENER]: byName([scopedListener(port)]),
    [TYPE_ROUTE]: new Map(),
    [TYPE_SCOPED_ROUTE]: byScopeName([a, b, bTls, wild]),
  });
  server.markSynced();
  envoy = await startEnvoy({ config: adsBootstrap(socket, 'DELTA_GRPC', 'envoy-1', FLEET), id: 'scoped' });
  const answers = (host: string, want: string) =>
    waitUntil(`${host} to answer "${want}"`, async () => (await httpGet(port, host)) === want, {
      timeoutMs: 10_000,
    });
  await answers('a.example.com', '200 a1');
  expect(await httpGet(port, 'b.example.com:8080')).toBe('200 b1');
  expect(server.connections(FLEET)[0]?.mode).toBe('delta');

  // The key is Envoy's: the client's key headers choose nothing, X-Forwarded-Proto neither.
  expect(await httpGet(port, 'b.example.com', { [ROUTE_KEY_HEADER]: 'a.example.com' })).toBe('200 b1');
  expect(await httpGet(port, 'b.example.com', { [LISTENER_HEADER]: 'https' })).toBe('200 b1');
  expect(await httpGet(port, 'b.example.com', { 'x-forwarded-proto': 'https' })).toBe('200 b1');
  expect(await httpGet(port, 'nowhere.example.net', { [ROUTE_KEY_HEADER]: 'a.example.com' })).toBe('200 any');

  // Upper case: a redirect to the lower-case host (with port, path and query), never served as is.
  expect(await httpGet(port, 'B.Example.COM:8080')).toBe('308  -> http://b.example.com:8080/p?q=1');
  // the scheme as a (trusted) load balancer says, http or https only
  expect(await httpGet(port, 'B.example.com', { 'x-forwarded-proto': 'https' })).toBe(
    '308  -> https://b.example.com/p?q=1',
  );
  expect(await httpGet(port, 'B.example.com', { 'x-forwarded-proto': 'javascript' })).toBe(
    '308  -> http://b.example.com/p?q=1',
  );
  // Wildcard hosts: Envoy's domain matching among the wildcard scope's vhosts.
  expect(await httpGet(port, 'x.apps.example.com')).toBe('200 apps');
  expect(await httpGet(port, 'nowhere.example.net')).toBe('200 any');
  // A wildcard vhost with policy filters: refused, since its filters would not run.
  expect(await httpGet(port, 'x.guarded.example.com')).toMatch(/^403 kgw: the policy of this wildcard host/);

  // One scope changes: SRDS sends about that scope alone; listeners nothing.
  const before = server.stats().bytesSent;
  const b2 = asScope('http', vh('b.example.com', 'b2'));
  server.setSnapshot(FLEET, { [TYPE_SCOPED_ROUTE]: byScopeName([a, b2, bTls, wild]) });
  await answers('b.example.com', '200 b2');
  const after = server.stats().bytesSent;
  expect(after[TYPE_LISTENER]).toBe(before[TYPE_LISTENER]);
  const sent = after[TYPE_SCOPED_ROUTE] - before[TYPE_SCOPED_ROUTE];
  expect(sent).toBeGreaterThan(JSON.stringify(b2).length / 3);
  expect(sent).toBeLessThan(2 * JSON.stringify(b2).length + 200);
  expect(await httpGet(port, 'a.example.com')).toBe('200 a1');

  // A scope that leaves the snapshot is gone: its host falls to the wildcard scope.
  server.setSnapshot(FLEET, { [TYPE_SCOPED_ROUTE]: byScopeName([b2, bTls, wild]) });
  await answers('a.example.com', '200 any');
  expect(await httpGet(port, 'b.example.com')).toBe('200 b2');
  // and without a wildcard scope, an unknown host finds no route
  server.setSnapshot(FLEET, { [TYPE_SCOPED_ROUTE]: byScopeName([b2]) });
  await answers('a.example.com', '404 ');
}, 60_000);
