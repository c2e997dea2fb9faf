// Fleet metrics (KnativeGateway fleets[].metrics, issue 12): with metrics enabled each Envoy replica
// serves its Prometheus stats on metrics.port, and nothing else of its admin interface. Requests
// are written on a raw socket, so the paths reach Envoy byte for byte (no client normalizes `..`,
// `//` or `%2F`). Every request the listener must refuse is checked three ways: it is not answered
// 200, it never reached the admin cluster (its upstream_rq_total does not move), and afterwards the
// replica still lives, still passes its health check and still scrapes.
import http from 'node:http';
import net from 'node:net';
import { STATS_ADMIN_CLUSTER } from '../../operator/render/bootstrap.ts';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { sample } from '../../operator/fleets/prometheus-text.ts';
import type { SavedReplica } from '../../operator/fleets/local.ts';
import { fleetReplicas, restartOperator, sampleGateway, startEnv, type Env } from './harness.ts';

const PORT = 9091;
const gateway = {
  ...sampleGateway,
  spec: {
    fleets: [
      { name: 'external', visibility: 'ExternalIP', replicas: 2, metrics: { enabled: true, port: PORT } },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
    ],
  },
};

interface Raw {
  status: number;
  head: string;
  body: string;
}

/** A chunked body decoded; undefined until its last chunk arrived. */
function dechunk(body: string): string | undefined {
  let out = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(body.slice(at, eol), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size at ${at}`);
    if (size === 0) return out;
    if (body.length < eol + 2 + size + 2) return undefined;
    out += body.slice(eol + 2, eol + 2 + size);
    at = eol + 2 + size + 2;
  }
}

/** The answer once complete (Envoy delays closing its side by a second: do not wait for it). */
function parse(text: string, method: string): Raw | undefined {
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return undefined;
  const head = text.slice(0, split);
  const rest = text.slice(split + 4);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  if (method === 'HEAD') return { status, head, body: rest };
  if (/^transfer-encoding: chunked$/im.test(head)) {
    const body = dechunk(rest);
    return body === undefined ? undefined : { status, head, body };
  }
  const length = Number(/^content-length: (\d+)$/im.exec(head)?.[1] ?? NaN);
  return rest.length >= length ? { status, head, body: rest } : undefined;
}

/** One HTTP/1.1 request written as is; the status line, headers and body of the answer. */
function raw(address: string, method: string, path: string, port = PORT): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, address);
    const chunks: Buffer[] = [];
    const text = () => Buffer.concat(chunks).toString('latin1');
    s.setTimeout(5000, () => s.destroy(new Error(`${method} ${path}: timeout`)));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      const res = parse(text(), method);
      if (res) {
        s.destroy();
        resolve(res);
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`${method} ${path}: closed before a whole answer: ${text()}`)));
    s.write(`${method} ${path} HTTP/1.1\r\nHost: stats\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
}

function adminGet(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('admin timeout')));
    req.on('error', reject);
  });
}

/** Polls until the gateway's FleetsReady is True (its Ready also needs Knative, absent here). */
async function fleetsReady(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let conditions: unknown;
  while (Date.now() < deadline) {
    const gw = await env.rest.get<KnativeGateway>('/apis/operator.kgw.dev/v1alpha1/knativegateways/default');
    conditions = gw.status?.conditions;
    if (gw.status?.conditions?.some((c) => c.type === 'FleetsReady' && c.status === 'True')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fleets not ready after ${timeoutMs} ms: ${JSON.stringify(conditions)}`);
}

const ADMIN_RQ = ['envoy_cluster_upstream_rq_total', { envoy_cluster_name: STATS_ADMIN_CLUSTER }] as const;

let env: Env;
let external: SavedReplica[];
let local: SavedReplica[];

beforeAll(async () => {
  env = await startEnv({ gateway });
  await fleetsReady();
  const saved = fleetReplicas(env);
  external = saved.filter((r) => r.fleet === 'default/external');
  local = saved.filter((r) => r.fleet === 'default/local');
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

test('each replica of a fleet with metrics serves Prometheus text on metrics.port', async () => {
  expect(external).toHaveLength(2);
  for (const r of external) {
    const res = await raw(r.address, 'GET', '/stats/prometheus');
    expect(res.status).toBe(200);
    expect(res.head.toLowerCase()).toContain('content-type: text/plain');
    expect(sample(res.body, 'envoy_server_live')).toBe(1);
    // the xDS connection is a cluster of the bootstrap: its counters are there from the start
    expect(
      sample(res.body, 'envoy_cluster_upstream_rq_total', { envoy_cluster_name: 'kgw-xds' }),
    ).toBeGreaterThan(0);
    expect(res.body).toMatch(/^# TYPE envoy_server_live gauge$/m);
    const used = await raw(r.address, 'GET', '/stats/prometheus?usedonly');
    expect(used.status).toBe(200);
    expect(used.body.length).toBeLessThan(res.body.length);
    const head = await raw(r.address, 'HEAD', '/stats/prometheus');
    expect([head.status, head.body]).toEqual([200, '']);
    const series = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    // figures for the record (issue 12): size of a scrape and number of series at idle
    console.log(
      `metrics ${r.id}: ${res.body.length} bytes, ${series(res.body)} series; ` +
        `?usedonly ${used.body.length} bytes, ${series(used.body)} series`,
    );
  }
});

// [method, path]: what must never be served (paths as sent on the wire)
const REFUSED: [string, string][] = [
  ['GET', '/config_dump'],
  ['GET', '/config_dump?include_eds'],
  ['GET', '/stats'],
  ['GET', '/stats?format=json'],
  ['GET', '/clusters'],
  ['GET', '/certs'],
  ['GET', '/listeners'],
  ['GET', '/server_info'],
  ['GET', '/ready'],
  ['GET', '/'],
  ['GET', '/quitquitquit'],
  ['POST', '/quitquitquit'],
  ['POST', '/healthcheck/fail'],
  ['POST', '/drain_listeners'],
  ['POST', '/logging?level=trace'],
  ['POST', '/reset_counters'],
  ['POST', '/stats/prometheus'],
  ['PUT', '/stats/prometheus'],
  ['DELETE', '/stats/prometheus'],
  ['OPTIONS', '/stats/prometheus'],
  ['GET', '/stats/prometheus/../config_dump'],
  ['POST', '/stats/prometheus/../quitquitquit'],
  ['GET', '/stats/prometheus/%2e%2e/config_dump'],
  ['GET', '//config_dump'],
  ['GET', '/stats/prometheus//../../config_dump'],
  ['GET', '/STATS/PROMETHEUS'],
  ['GET', '/Stats/Prometheus'],
  ['GET', '/stats/prometheus%2F..%2Fconfig_dump'],
  ['GET', '/stats/prometheus%2f..%2fconfig_dump'],
  ['GET', '/stats/prometheus%5C..%5Cconfig_dump'],
  ['GET', '/stats/prometheus/..%2Fconfig_dump'],
  ['GET', '/stats/prometheus\\..\\config_dump'],
  ['GET', '/stats/prometheus;/../config_dump'],
  ['GET', '/stats/prometheus%00'],
  ['GET', '/stats/prometheus#/../../config_dump'],
  ['GET', 'http://stats/config_dump'],
  ['GET', '*'],
  ['CONNECT', 'localhost:1'],
  // a prefix match would serve these
  ['GET', '/stats/prometheusX'],
  ['GET', '/stats/prometheus/'],
  ['GET', '/stats/prometheus/../../stats'],
  ['GET', '/stats/prometheus.json'],
];

test('no other admin path, no other method, no path trick reaches the admin interface', async () => {
  const r = external[0]!;
  const before = sample((await raw(r.address, 'GET', '/stats/prometheus')).body, ...ADMIN_RQ) ?? NaN;
  const answers: string[] = [];
  for (const [method, path] of REFUSED) {
    const res = await raw(r.address, method, path);
    answers.push(`${method} ${path} → ${res.status}`);
    // answered by the stats listener itself: 404 (no route), 405 (the stats path, another
    // method) or 400 (escaped slashes, invalid paths); never anything from the admin
    expect({ method, path, status: [400, 404, 405].includes(res.status) }).toEqual({
      method,
      path,
      status: true,
    });
    expect(res.body).not.toMatch(/envoy_|configs|"@type"|OK\n|LIVE/);
    // and it never went upstream (a proxied answer carries x-envoy-upstream-service-time)
    expect({ method, path, upstream: /^x-envoy-upstream-service-time:/im.test(res.head) }).toEqual({
      method,
      path,
      upstream: false,
    });
    if (res.status !== 400) expect({ method, path, body: res.body }).toEqual({ method, path, body: '' });
  }
  // The only request the admin cluster saw since `before` is the next scrape.
  const after = await raw(r.address, 'GET', '/stats/prometheus');
  expect(sample(after.body, ...ADMIN_RQ)).toBe(before + 1);
  // The replica is alive, healthy and serving: /quitquitquit and /healthcheck/fail did nothing.
  expect(() => process.kill(r.pid, 0)).not.toThrow();
  expect(await adminGet(r.adminSocket, '/ready')).toEqual({ status: 200, body: 'LIVE\n' });
  expect(sample(after.body, 'envoy_server_live')).toBe(1);
  expect(sample(after.body, 'envoy_server_state')).toBe(0);
  await fleetsReady(5_000);
  console.log(`metrics refused on ${r.id}:\n  ${answers.join('\n  ')}`);
});

test('a path that normalizes to /stats/prometheus is served (it is the same resource)', async () => {
  const r = external[1]!;
  for (const path of ['/./stats/prometheus', '/stats//prometheus', '/x/../stats/prometheus']) {
    const res = await raw(r.address, 'GET', path);
    expect({ path, status: res.status, live: sample(res.body, 'envoy_server_live') }).toEqual({
      path,
      status: 200,
      live: 1,
    });
  }
});

test('a fleet without metrics listens on no stats port', async () => {
  expect(local).toHaveLength(1);
  await expect(raw(local[0]!.address, 'GET', '/stats/prometheus')).rejects.toThrow(/ECONNREFUSED/);
});

/** Sets the local fleet's metrics port (on). */
async function setLocalMetricsPort(port: number): Promise<void> {
  const fleets = [gateway.spec.fleets[0], { ...gateway.spec.fleets[1], metrics: { enabled: true, port } }];
  await env.rest.request(
    'PATCH',
    '/apis/operator.kgw.dev/v1alpha1/knativegateways/default',
    { spec: { fleets } },
    'application/merge-patch+json',
  );
}

/** Waits for a local-fleet replica other than `old` that serves its stats on `port`. */
async function replacedLocal(old: SavedReplica, port: number): Promise<SavedReplica> {
  const deadline = Date.now() + 60_000;
  let last = '';
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const saved = fleetReplicas(env);
    const replaced = saved.find((r) => r.fleet === 'default/local' && r.pid !== old.pid);
    if (!replaced) continue;
    const answer = await raw(replaced.address, 'GET', '/stats/prometheus', port).catch((e: Error) => e);
    if (!(answer instanceof Error) && answer.status === 200) {
      expect(sample(answer.body, 'envoy_server_live')).toBe(1);
      expect(() => process.kill(old.pid, 0)).toThrow();
      return replaced;
    }
    last = answer instanceof Error ? answer.message : String(answer.status);
  }
  throw new Error(`no local replica serving stats on ${port}: ${last}`);
}

function externalPids(): number[] {
  const saved = fleetReplicas(env);
  return saved.filter((r) => r.fleet === 'default/external').map((r) => r.pid);
}

test('turning metrics on for a fleet replaces its replicas only; the new ones serve the stats', async () => {
  await setLocalMetricsPort(9200);
  local = [await replacedLocal(local[0]!, 9200)];
  // the other fleet's replicas were left alone
  expect(externalPids()).toEqual(external.map((r) => r.pid));
  await fleetsReady();
});

test('a change made while no operator runs reaches the adopted replicas', async () => {
  await restartOperator(env, () => setLocalMetricsPort(9201));
  local = [await replacedLocal(local[0]!, 9201)];
  expect(externalPids()).toEqual(external.map((r) => r.pid));
  await fleetsReady();
});
