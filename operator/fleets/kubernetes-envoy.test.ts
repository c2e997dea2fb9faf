// The Envoy pod of the Kubernetes runtime, run the way the kubelet would run it, with real Envoy:
// the rendered bootstrap (from the ConfigMap) and the container's command line, inside a network
// namespace with the pod's own address, talking xDS over TCP to kgw's xDS server. Checks the
// readiness design (the probe endpoint stays closed until the configuration arrives, then answers
// 200), that the admin interface is on no TCP port (a route to 127.0.0.1:19000 through the public
// listener reaches nothing), and the preStop hook (health check failed, listeners draining but
// still open, spoken over the admin unix socket). The fleet has metrics on: the stats listener opens
// with the others and serves /stats/prometheus from the admin socket, and no other admin path.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestNetwork, type TestNetwork } from '../../test/env/netns.ts';
import { envoyBin } from '../../test/env/paths.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { ENVOY_ADMIN_SOCKET, ENVOY_READY_PORT, fleetXdsCluster } from '../api/knativegateway.ts';
import { TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE } from '../xds/protos.ts';
import { byName, httpListener, loadAssignment, staticCluster } from '../../test/support/xds-samples.ts';
import { XdsServer } from '../xds/server.ts';
import { renderGatewayObjects } from './kubernetes-objects.ts';
import { preStopCommand } from './envoy-pod.ts';
import { BOOTSTRAP_KEY, BOOTSTRAP_PATH, READY_PATH } from './fleet-names.ts';

const FLEET = fleetXdsCluster('g', 'a');
const METRICS_PORT = 9091;
const POD = 'kgw-g-a-5d8f7c9b4-x2x7q';

interface Answer {
  status: number;
  connection?: string;
  body: string;
  error?: string;
}

/**
 * One GET from the root namespace (like the kubelet's probe or a client) on a connection the
 * client wants to keep; errors are answers too.
 */
function httpGet(host: string, port: number, path: string): Promise<Answer> {
  return new Promise((resolve) => {
    const opts = {
      host,
      port,
      path,
      method: 'GET',
      agent: false,
      timeout: 3000,
      headers: { connection: 'keep-alive' },
    };
    const req = request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const a: Answer = { status: res.statusCode ?? 0, body };
        const connection = res.headers.connection;
        if (connection !== undefined) a.connection = connection;
        req.destroy();
        resolve(a);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: '', error: err.code ?? err.message }),
    );
    req.end();
  });
}

function exitOf(c: ChildProcess): Promise<number | null> {
  if (c.exitCode !== null) return Promise.resolve(c.exitCode);
  return new Promise((resolve) => c.once('exit', (code) => resolve(code)));
}

let network: TestNetwork;
let server: XdsServer;
let envoy: ChildProcess | undefined;
let dir: string;
let podIp: string;
let logPath: string;
/** The pod's admin socket, moved from the pod's /tmp into this test's directory. */
let adminSocket: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kgw-k8s-envoy-'));
  logPath = join(dir, 'envoy.log');
  network = await createTestNetwork();
  podIp = await network.allocateAddress();
  server = new XdsServer({ orderingTimeoutMs: 10_000 });
  const xdsPort = await server.listen(`${network.hostAddress}:0`);

  const gw = {
    metadata: { name: 'g', uid: 'uid-1' },
    spec: {
      fleets: [
        {
          name: 'a',
          visibility: 'ExternalIP' as const,
          envoy: { drainSeconds: 1 },
          metrics: { enabled: true, port: METRICS_PORT },
        },
      ],
    },
  };
  const [fo] = renderGatewayObjects(gw, { xds: { host: network.hostAddress, port: xdsPort } });
  const container = fo?.deployment.spec?.template.spec?.containers[0];
  const bootstrap = fo?.configMap.data?.[BOOTSTRAP_KEY];
  if (container?.args === undefined || container.command === undefined || bootstrap === undefined) {
    throw new Error('nothing rendered');
  }
  // The pod's /tmp is its own emptyDir; here the test directory stands in for it.
  adminSocket = join(dir, 'envoy-admin.sock');
  expect(bootstrap).toContain(ENVOY_ADMIN_SOCKET);
  const bootstrapFile = join(dir, 'envoy.json');
  writeFileSync(bootstrapFile, bootstrap.replaceAll(ENVOY_ADMIN_SOCKET, adminSocket));
  const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
  expect(preStop).toContain(ENVOY_ADMIN_SOCKET);
  writeFileSync(
    join(dir, 'prestop.json'),
    JSON.stringify(preStop.map((a) => (a === ENVOY_ADMIN_SOCKET ? adminSocket : a))),
  );
  // What the kubelet runs: the command and args, with $(POD_NAME) expanded and the ConfigMap mounted.
  const args = container.args.map((a) =>
    a === '$(POD_NAME)' ? POD : a === BOOTSTRAP_PATH ? bootstrapFile : a,
  );
  envoy = network.spawn(envoyBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  envoy.stdout?.pipe(log);
  envoy.stderr?.pipe(log);
});

afterAll(async () => {
  envoy?.kill('SIGKILL');
  if (envoy) await exitOf(envoy);
  await server?.close();
  await network?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('ready only once the configuration arrived; the preStop hook drains', async () => {
  const why = () => `envoy log ${logPath}:\n${readFileSync(logPath, 'utf8').slice(-2000)}`;
  // Envoy connects to xDS; the server sends nothing until synced.
  await waitUntil(
    'Envoy to connect to the xDS server',
    () => (server.connections(FLEET).length === 1 ? Promise.resolve(true) : Promise.reject(new Error(why()))),
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  expect(server.connections(FLEET)[0]?.nodeId).toBe(POD);
  // Connected but unconfigured: the probe endpoint is not even open, nor the traffic ports.
  expect((await httpGet(podIp, ENVOY_READY_PORT, READY_PATH)).error).toBe('ECONNREFUSED');
  expect((await httpGet(podIp, 8080, '/')).error).toBe('ECONNREFUSED');
  expect((await httpGet(podIp, METRICS_PORT, '/stats/prometheus')).error).toBe('ECONNREFUSED');

  // `loopback-admin` is what a route to an ExternalName Service naming localhost:19000 became
  // before kgw refused such targets: the admin port of the Envoy itself (Contour CVE-2021-32783).
  const loopback = (port: number) => ({
    ...staticCluster(`loopback-${port}`, '127.0.0.1'),
    load_assignment: loadAssignment(`loopback-${port}`, '127.0.0.1', port),
  });
  server.setSnapshot(FLEET, {
    [TYPE_CLUSTER]: byName([staticCluster('unused', '198.19.0.1'), loopback(19000), loopback(9901)]),
    [TYPE_LISTENER]: byName([httpListener('http', 8080)]),
    [TYPE_ROUTE]: byName([
      {
        name: 'http',
        virtual_hosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: [
              {
                match: { prefix: '/admin-19000/' },
                route: { cluster: 'loopback-19000', prefix_rewrite: '/' },
              },
              { match: { prefix: '/admin-9901/' }, route: { cluster: 'loopback-9901', prefix_rewrite: '/' } },
              { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'hello' } } },
            ],
          },
        ],
      },
    ]),
  });
  server.markSynced();
  const ready = await waitUntil(
    'the readiness probe to pass',
    async () => {
      const a = await httpGet(podIp, ENVOY_READY_PORT, READY_PATH);
      if (a.status !== 200) throw new Error(`${JSON.stringify(a)}\n${why()}`);
      return a;
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  expect(ready.status).toBe(200);
  expect((await httpGet(podIp, ENVOY_READY_PORT, '/other')).status).toBe(404);
  const before = await httpGet(podIp, 8080, '/');
  // HTTP/1.1 keeps the connection: no Connection header.
  expect([before.status, before.body, before.connection]).toEqual([200, 'hello', undefined]);

  // No admin on any loopback port: through the public listener, /server_info and
  // /healthcheck/fail find no upstream (503), and nothing listens on the pod's address either.
  for (const port of [19000, 9901]) {
    const info = await httpGet(podIp, 8080, `/admin-${port}/server_info`);
    expect([info.status, info.body]).toEqual([503, expect.stringContaining('upstream connect error')]);
    expect((await httpGet(podIp, port, '/server_info')).error).toBe('ECONNREFUSED');
  }

  // The stats listener: Prometheus text from the admin socket, nothing else of the admin.
  const stats = await httpGet(podIp, METRICS_PORT, '/stats/prometheus');
  expect(stats.status).toBe(200);
  expect(stats.body).toMatch(/^envoy_server_live\{\} 1$/m);
  for (const path of ['/config_dump', '/server_info', '/stats', '/stats/prometheus/../config_dump']) {
    expect([path, (await httpGet(podIp, METRICS_PORT, path)).status]).toEqual([path, 404]);
  }

  // The preStop hook, as the kubelet runs it inside the pod (its network namespace).
  const command = JSON.parse(readFileSync(join(dir, 'prestop.json'), 'utf8')) as string[];
  const [cmd, ...cmdArgs] = command;
  if (cmd === undefined) throw new Error('no preStop command');
  const hook = network.spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  hook.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  hook.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  expect(await exitOf(hook)).toBe(0);
  expect(out).toContain('kgw preStop: POST /healthcheck/fail: HTTP/1.1 200 OK');
  expect(out).toContain('kgw preStop: POST /drain_listeners?graceful&skip_exit: HTTP/1.1 200 OK');

  // Not ready any more, but still serving, and telling every client to go away.
  expect((await httpGet(podIp, ENVOY_READY_PORT, READY_PATH)).status).toBe(503);
  const during = await httpGet(podIp, 8080, '/');
  expect([during.status, during.body, during.connection]).toEqual([200, 'hello', 'close']);
  // Draining replicas can still be scraped.
  expect((await httpGet(podIp, METRICS_PORT, '/stats/prometheus')).status).toBe(200);
  expect(envoy?.exitCode).toBeNull();
});

test('the preStop hook still waits when the admin socket cannot be reached', async () => {
  const [cmd, ...cmdArgs] = preStopCommand(1, join(dir, 'no-such-admin.sock'));
  if (cmd === undefined) throw new Error('no preStop command');
  const hook = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  hook.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  hook.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  expect(await exitOf(hook)).toBe(0);
  expect(out).toContain('No such file or directory');
  expect(out).not.toContain('kgw preStop: POST');
});
