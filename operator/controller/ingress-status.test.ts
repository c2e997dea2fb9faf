// IngressStatusWriter on its own: a recording fake of the API server's status PATCH (failures
// injectable) and a local HTTP server standing in for an Envoy replica that answers the hash
// probe once it "has" a configuration.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KIngress } from '../api/kingress.ts';
import type { Replica } from '../fleets/runtime.ts';
import type { KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import type { IngressIR } from '../translate/ir.ts';
import { waitUntil } from '../../test/env/proc.ts';
import type { GatewayConfig } from './gateways.ts';
import { IngressStatusWriter, type IngressStatusOptions } from './ingress-status.ts';
import { STRICT_POLICY } from '../translate/external-names.ts';

const BOUND = { timeoutMs: 10_000, intervalMs: 10 };

/** The status PATCHes the writer sent, and a way to fail the next ones. */
class FakeRest {
  readonly patches: { path: string; reason: string | undefined; status: string | undefined }[] = [];
  failNext = 0;
  private rv = 1;
  request<T>(method: string, path: string, body: { status: KIngress['status'] }): Promise<T> {
    if (method !== 'PATCH') return Promise.reject(new Error(`unexpected ${method}`));
    if (this.failNext > 0) {
      this.failNext--;
      return Promise.reject(new Error('500 injected'));
    }
    const ready = body.status?.conditions?.find((c) => c.type === 'Ready');
    this.patches.push({ path, reason: ready?.reason, status: ready?.status });
    return Promise.resolve({ metadata: { resourceVersion: String(++this.rv) }, status: body.status } as T);
  }
}

/** An "Envoy replica": answers the probe with `hash` once set, 503 before. */
async function replica(): Promise<{ address: string; port: number; hash?: string; close(): Promise<void> }> {
  const r: { address: string; port: number; hash?: string; close(): Promise<void> } = {
    address: '127.0.0.1',
    port: 0,
    close: () => new Promise((res) => server.close(() => res())),
  };
  const server = http.createServer((_req, res) => {
    if (r.hash === undefined) res.writeHead(503).end();
    else res.writeHead(200, { 'K-Network-Hash': r.hash }).end();
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  r.port = (server.address() as AddressInfo).port;
  return r;
}

const ING: KIngress = {
  metadata: { name: 'a', namespace: 'n', generation: 1 },
  spec: {},
};

function ir(hash: string, generation = 1): IngressIR {
  return {
    key: 'n/a',
    hash,
    generation,
    external: { vhosts: [], tls: [] },
    local: { vhosts: [], tls: [] },
    clusters: [],
    secrets: [],
    services: [],
    probes: [{ visibility: 'ExternalIP', host: 'a.example.com', tls: false }],
  };
}

function gateway(port: number): GatewayConfig {
  return {
    name: 'g',
    ingressClass: 'c',
    clusterDomain: 'cluster.local',
    externalNames: STRICT_POLICY,
    fleets: [
      {
        key: 'g/ext',
        gateway: 'g',
        name: 'ext',
        visibility: 'ExternalIP',
        replicas: 1,
        ports: { http: port, https: port + 1 },
        service: { httpPort: 80, httpsPort: 443 },
        namespace: 'kgw-system',
        serviceName: 'kgw-g-ext',
        clientIP: { xffNumTrustedHops: 0, proxyProtocol: false },
      },
    ] as unknown as GatewayConfig['fleets'], // the writer reads only key, visibility, ports and clientIP
  };
}

let rest: FakeRest;
let env: Awaited<ReturnType<typeof replica>>;
let replicas: Replica[];
let writer: IngressStatusWriter;

beforeEach(async () => {
  rest = new FakeRest();
  env = await replica();
  replicas = [{ id: 'r0', address: env.address, ready: true }];
  writer = newWriter();
});

/** A writer on the fake API server and the replica, probing grace 50 ms; `more` adds options. */
function newWriter(more: Partial<IngressStatusOptions> = {}): IngressStatusWriter {
  return new IngressStatusWriter({
    rest: rest as unknown as KubeRest,
    log: newLogger('test'),
    ingress: () => ING,
    replicas: () => replicas,
    probingGraceMs: 50,
    ...more,
  });
}
afterEach(async () => {
  await writer.stop();
  await env.close();
});

const gw = () => gateway(env.port);

test('a problem is written at once', async () => {
  writer.report('n/a', { kind: 'problem', reason: 'ServiceNotFound', message: 'Service n/x does not exist' });
  await waitUntil('the write', () => Promise.resolve(rest.patches.length === 1), BOUND);
  expect(rest.patches[0]).toMatchObject({ status: 'False', reason: 'ServiceNotFound' });
});

test('served: Unknown while the replica lacks the config, Ready once it answers the hash', async () => {
  writer.report('n/a', { kind: 'served', ir: ir('h1'), gateway: gw() });
  await waitUntil('Unknown after the grace period', () => Promise.resolve(rest.patches.length === 1), BOUND);
  expect(rest.patches[0]).toMatchObject({ status: 'Unknown' });
  env.hash = 'h1';
  writer.poke('g');
  await waitUntil('Ready', () => Promise.resolve(rest.patches.at(-1)?.status === 'True'), BOUND);
});

test('a failed status write is retried until it lands', async () => {
  rest.failNext = 2;
  writer.report('n/a', { kind: 'problem', reason: 'InvalidSpec', message: 'bad' });
  await waitUntil('the third attempt', () => Promise.resolve(rest.patches.length === 1), BOUND);
  expect(rest.failNext).toBe(0);
});

test('an equal configuration reported again during the round keeps its verdict', async () => {
  // a gateway or Secret event re-translates the KIngress to an equal IR (a new object, same hash)
  writer.report('n/a', { kind: 'served', ir: ir('h2'), gateway: gw() });
  writer.report('n/a', { kind: 'served', ir: ir('h2'), gateway: gw() });
  env.hash = 'h2';
  writer.poke('g');
  await waitUntil('Ready', () => Promise.resolve(rest.patches.at(-1)?.status === 'True'), BOUND);
});

test('a newer configuration voids the old round: Ready only for the new hash', async () => {
  writer.report('n/a', { kind: 'served', ir: ir('old'), gateway: gw() });
  writer.report('n/a', { kind: 'served', ir: ir('new', 2), gateway: gw() });
  env.hash = 'old'; // the replica still serves the old config: not Ready
  writer.poke('g');
  await new Promise((r) => setTimeout(r, 200));
  expect(rest.patches.some((p) => p.status === 'True')).toBe(false);
  env.hash = 'new';
  writer.poke('g');
  await waitUntil(
    'Ready for the new hash',
    () => Promise.resolve(rest.patches.at(-1)?.status === 'True'),
    BOUND,
  );
});

test('without a ready replica nothing is probed: Unknown, then Ready after restartProbes and a report', async () => {
  replicas = [{ id: 'r0', address: env.address, ready: false }];
  writer.report('n/a', { kind: 'served', ir: ir('h3'), gateway: gw() });
  await waitUntil('Unknown', () => Promise.resolve(rest.patches.at(-1)?.status === 'Unknown'), BOUND);
  replicas = [{ id: 'r0', address: env.address, ready: true }];
  env.hash = 'h3';
  writer.restartProbes('g');
  writer.report('n/a', { kind: 'served', ir: ir('h3'), gateway: gw() });
  await waitUntil('Ready', () => Promise.resolve(rest.patches.at(-1)?.status === 'True'), BOUND);
});

test('forget: nothing more is written for the KIngress', async () => {
  writer.report('n/a', { kind: 'served', ir: ir('h4'), gateway: gw() });
  writer.forget('n/a');
  env.hash = 'h4';
  writer.poke('g');
  await new Promise((r) => setTimeout(r, 200));
  expect(rest.patches).toEqual([]);
});

test('a follower writes nothing', async () => {
  writer.setLeading(false);
  writer.report('n/a', { kind: 'problem', reason: 'InvalidSpec', message: 'bad' });
  await new Promise((r) => setTimeout(r, 100));
  expect(rest.patches).toEqual([]);
});

test('metrics: probe failures by reason, and one time-to-ready per generation from its first report', async () => {
  let now = 1000;
  const ready: number[] = [];
  const failures: string[] = [];
  const oks: string[] = [];
  let ing: KIngress = ING;
  await writer.stop();
  writer = newWriter({
    ingress: () => ing,
    clock: () => now,
    metrics: {
      readySeconds: (s) => ready.push(s),
      probed: (result) => (result === 'ok' ? oks.push(result) : failures.push(result)),
    },
  });
  writer.report('n/a', { kind: 'served', ir: ir('h1'), gateway: gw() });
  await waitUntil('a failed probe (503)', () => Promise.resolve(failures.includes('status')), BOUND);
  env.hash = 'older';
  writer.poke('g');
  await waitUntil(
    'a probe answered with an older hash',
    () => Promise.resolve(failures.includes('hash')),
    BOUND,
  );
  expect(ready).toEqual([]);
  now = 3500;
  env.hash = 'h1';
  writer.poke('g');
  await waitUntil('Ready', () => Promise.resolve(rest.patches.at(-1)?.status === 'True'), BOUND);
  await waitUntil('the measure', () => Promise.resolve(ready.length === 1), BOUND);
  expect(ready).toEqual([2.5]);
  expect(new Set(failures)).toEqual(new Set(['status', 'hash']));
  expect(oks.length).toBeGreaterThanOrEqual(1); // the answer that made it Ready is counted too
  // the same generation again (an equal IR after a Secret event): Ready already, nothing measured
  writer.report('n/a', { kind: 'served', ir: ir('h1'), gateway: gw() });
  // a new generation starts a new measure
  ing = { ...ING, metadata: { ...ING.metadata, generation: 2 } };
  now = 10_000;
  writer.report('n/a', { kind: 'served', ir: ir('h2', 2), gateway: gw() });
  now = 10_250;
  env.hash = 'h2';
  writer.poke('g');
  await waitUntil('the second measure', () => Promise.resolve(ready.length === 2), BOUND);
  expect(ready).toEqual([2.5, 0.25]);
});

test('a replica that became ready: only running rounds and KIngresses not Ready are probed again', async () => {
  await writer.stop();
  writer = newWriter({
    ingress: (k) => ({ ...ING, metadata: { ...ING.metadata, name: k.slice(2) } }),
  });
  env.hash = 'ha';
  writer.report('n/a', { kind: 'served', ir: { ...ir('ha'), key: 'n/a' }, gateway: gw() });
  await waitUntil('n/a Ready', () => Promise.resolve(writer.readyFor('n/a')), BOUND);
  // n/b's round keeps failing (the replica serves another hash); n/c was never reported
  writer.report('n/b', { kind: 'served', ir: { ...ir('hb'), key: 'n/b' }, gateway: gw() });
  expect(writer.replicaBecameReady('g', ['n/a', 'n/b', 'n/c']).sort()).toEqual(['n/b', 'n/c']);
  // n/b's round was cancelled: a report starts a new one, which answers once the replica has hb
  writer.report('n/b', { kind: 'served', ir: { ...ir('hb'), key: 'n/b' }, gateway: gw() });
  env.hash = 'hb';
  writer.poke('g');
  await waitUntil('n/b Ready', () => Promise.resolve(writer.readyFor('n/b')), BOUND);
  expect(writer.replicaBecameReady('g', ['n/a', 'n/b'])).toEqual([]);
});

test('the same configuration reported again after it was found served is not probed again', async () => {
  let probes = 0;
  await writer.stop();
  writer = newWriter({ metrics: { readySeconds: () => undefined, probed: () => probes++ } });
  env.hash = 'h5';
  writer.report('n/a', { kind: 'served', ir: ir('h5'), gateway: gw() });
  await waitUntil('Ready', () => Promise.resolve(rest.patches.at(-1)?.status === 'True'), BOUND);
  const after = probes;
  for (let i = 0; i < 5; i++) writer.report('n/a', { kind: 'served', ir: ir('h5'), gateway: gw() });
  await new Promise((r) => setTimeout(r, 200));
  expect(probes).toBe(after);
  // a new configuration is probed
  writer.report('n/a', { kind: 'served', ir: ir('h6'), gateway: gw() });
  await waitUntil('a probe of h6', () => Promise.resolve(probes > after), BOUND);
});
