// GatewayReconciler on its own, with a fleet runtime whose apply can be held and a
// recording fake of the KnativeGateway status PATCH that can refuse chosen gateways (fleet-applies.test.ts: the
// applies' own retries). The gateways
// leave Knative's ConfigMaps alone (knative.configure: false), so nothing else is called.
import type { KnativeGateway } from '../api/knativegateway.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { TYPE_ROUTE } from '../xds/protos.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { GatewayReconciler } from './gateway-reconciler.ts';
import { gatewayConfig } from './gateways.ts';

const BOUND = { timeoutMs: 5_000, intervalMs: 5 };
const log = newLogger('test');

function gateway(name: string): KnativeGateway {
  return {
    metadata: { name, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], knative: { configure: false } },
  };
}
const GW = gateway('g');
const CONFIG = gatewayConfig(GW as never, log)!;
const H = gateway('h');
const CONFIGS = new Map([
  ['g', CONFIG],
  ['h', gatewayConfig(H as never, log)!],
]);

class FakeRuntime {
  readonly applied: string[][] = [];
  /** Resolves the apply in progress. */
  release: () => void = () => undefined;
  hold = false;
  apply(fleets: FleetDef[]): Promise<void> {
    this.applied.push(fleets.map((f) => f.key));
    if (!this.hold) return Promise.resolve();
    return new Promise((r) => (this.release = r));
  }
  replicas() {
    return [];
  }
  onChange() {}
  close() {
    return Promise.resolve();
  }
}

const NACK: Parameters<GatewayReconciler['recordNack']>[0] = {
  fleet: 'g/ext',
  typeUrl: TYPE_ROUTE,
  version: '1',
  error: 'rejected',
  nodeId: 'envoy-0',
};

const statusPath = (name: string) => `/apis/operator.kgw.dev/v1alpha1/knativegateways/${name}/status`;

class FakeRest {
  readonly writes: { path: string; body: unknown }[] = [];
  /** Every PATCH, refused or not. */
  readonly attempts: string[] = [];
  /** The next writes that fail (any gateway). */
  fail = 0;
  /** Gateways whose status writes fail until removed. */
  readonly refuse = new Set<string>();
  request<T>(method: string, path: string, body: unknown): Promise<T> {
    if (method !== 'PATCH') return Promise.reject(new Error(`unexpected ${method} ${path}`));
    this.attempts.push(path);
    if (this.fail > 0 || [...this.refuse].some((n) => path === statusPath(n))) {
      this.fail = Math.max(0, this.fail - 1);
      return Promise.reject(new Error('500 injected'));
    }
    this.writes.push({ path, body });
    return Promise.resolve({} as T);
  }
  attemptsOf(name: string): number {
    return this.attempts.filter((p) => p === statusPath(name)).length;
  }
}

function setup(opts: { gateways?: KnativeGateway[]; retryMs?: number } = {}) {
  const runtime = new FakeRuntime();
  const rest = new FakeRest();
  const gateways = opts.gateways ?? [GW];
  const r = new GatewayReconciler({
    rest: rest as unknown as KubeRest,
    log,
    runtime: runtime as unknown as FleetRuntime,
    connections: () => [],
    now: () => '2026-01-01T00:00:00Z',
    retryMs: opts.retryMs ?? 5,
    maxRetryMs: opts.retryMs ?? 20,
    view: {
      gateways: () => gateways,
      config: (name) => CONFIGS.get(name),
      problems: () => [],
      fleetProblems: () => [],
      staleness: () => undefined,
    },
  });
  return { runtime, rest, r };
}

test('fleet applies run one at a time; of several asked for meanwhile, only the newest runs', async () => {
  const { runtime, r } = setup();
  await r.start();
  runtime.hold = true;
  const served = new Map([['g', GW]]);
  r.applyFleets(CONFIG.fleets, served); // runs, held
  await waitUntil('the first apply', () => Promise.resolve(runtime.applied.length === 1), BOUND);
  r.applyFleets([], served);
  r.applyFleets(CONFIG.fleets.slice(0, 1), served); // replaces the one above
  runtime.hold = false;
  runtime.release();
  await waitUntil('the second apply', () => Promise.resolve(runtime.applied.length === 2), BOUND);
  await new Promise((res) => setTimeout(res, 20));
  expect(runtime.applied).toEqual([['g/ext'], ['g/ext']]);
  await r.stop();
});

test('status is written once per change, and a failed write is retried without waiting for a kick', async () => {
  const { rest, r } = setup();
  await r.start();
  rest.fail = 1;
  r.kick(); // fails, then is retried on its own
  await waitUntil('the write', () => Promise.resolve(rest.writes.length === 1), BOUND);
  expect(rest.writes[0]?.path).toBe(statusPath('g'));
  expect(rest.attemptsOf('g')).toBe(2);
  r.kick();
  await new Promise((res) => setTimeout(res, 20));
  expect(rest.writes).toHaveLength(1); // unchanged: not written again
  r.recordNack(NACK);
  await waitUntil('the NACK on the status', () => Promise.resolve(rest.writes.length === 2), BOUND);
  const body = rest.writes[1]?.body as { status: { fleets?: { lastNack?: unknown }[] } };
  expect(body.status.fleets?.[0]?.lastNack).toEqual({
    typeUrl: TYPE_ROUTE,
    version: '1',
    message: 'rejected',
    proxy: 'envoy-0',
    time: '2026-01-01T00:00:00Z',
  });
  await r.stop();
});

test('one gateway’s failing status write is retried on its own; another gateway is written at once', async () => {
  const { rest, r } = setup({ gateways: [GW, H] });
  await r.start();
  rest.refuse.add('g');
  r.kick();
  await waitUntil('h written', () => Promise.resolve(rest.writes.length === 1), BOUND);
  expect(rest.writes[0]?.path).toBe(statusPath('h'));
  await waitUntil('g retried', () => Promise.resolve(rest.attemptsOf('g') >= 3), BOUND);
  rest.refuse.clear(); // the API server takes it now
  await waitUntil('g written', () => Promise.resolve(rest.writes.length === 2), BOUND);
  expect(rest.writes[1]?.path).toBe(statusPath('g'));
  expect(rest.attemptsOf('h')).toBe(1); // not written again with g's retries
  await r.stop();
});

test('a resync keeps a failing gateway’s backoff; a kick naming it retries it at once', async () => {
  const { rest, r } = setup({ gateways: [GW, H], retryMs: 60_000 });
  await r.start();
  rest.refuse.add('g');
  r.kick();
  await waitUntil(
    'both tried',
    () => Promise.resolve(rest.attemptsOf('g') === 1 && rest.writes.length === 1),
    BOUND,
  );
  for (let i = 0; i < 5; i++) r.kick(); // the engine's resync: g waits for its retry, a minute away
  await new Promise((res) => setTimeout(res, 20));
  expect(rest.attemptsOf('g')).toBe(1);
  rest.refuse.clear();
  r.recordNack(NACK); // about g: now
  await waitUntil('g written', () => Promise.resolve(rest.writes.length === 2), BOUND);
  expect(rest.writes[1]?.path).toBe(statusPath('g'));
  await r.stop();
});

test('a follower neither applies fleets nor writes', async () => {
  const { runtime, rest, r } = setup();
  r.setLeading(false);
  await r.start();
  r.applyFleets(CONFIG.fleets, new Map([['g', GW]]));
  r.kick();
  await new Promise((res) => setTimeout(res, 30));
  expect([runtime.applied, rest.writes]).toEqual([[], []]);
  await r.stop();
});

test("a Global fleet's rate-limit service: connected instances, the limits they ACKed, and a restart asked for once its certificate is past renewal", async () => {
  const global: KnativeGateway = {
    metadata: { name: 'rl', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      fleets: [
        {
          name: 'ext',
          visibility: 'ExternalIP',
          policy: {
            rateLimitSharing: 'Global',
            globalRateLimit: { service: { name: 'ratelimit', namespace: 'kgw-system', port: 8081 } },
          },
        },
      ],
      knative: { configure: false },
    },
  };
  const rest = new FakeRest();
  const events: [string, string, string][] = [];
  // issued Dec 1 for 30 days: past two thirds (Dec 21) on the clock below
  let services = [
    {
      fleet: 'rl/ext',
      acked: 'v7',
      certificateNotBefore: '2026-12-01T00:00:00.000Z',
      certificateNotAfter: '2026-12-31T00:00:00.000Z',
    },
  ];
  const r = new GatewayReconciler({
    rest: rest as unknown as KubeRest,
    log,
    runtime: new FakeRuntime() as unknown as FleetRuntime,
    connections: () => [],
    rateLimitServices: () => services,
    events: {
      record: (_o: unknown, type: string, reason: string, message: string) =>
        void events.push([type, reason, message]),
    } as unknown as EventRecorder,
    now: () => '2026-12-22T00:00:00Z',
    retryMs: 5,
    maxRetryMs: 20,
    view: {
      gateways: () => [global],
      config: () => gatewayConfig(global as never, log),
      problems: () => [],
      fleetProblems: () => [],
      staleness: () => undefined,
    },
  });
  await r.start();
  r.kick();
  await waitUntil('the status', () => Promise.resolve(rest.writes.length === 1), BOUND);
  const fleetOf = (i: number) =>
    (rest.writes[i]?.body as { status: { fleets: { rateLimitService?: unknown }[] } }).status.fleets[0];
  expect(fleetOf(0)?.rateLimitService).toEqual({
    connected: 1,
    configVersion: 'v7',
    certificateNotAfter: '2026-12-31T00:00:00.000Z',
    restartNeeded: true,
  });
  expect(events.filter(([, reason]) => reason === 'RateLimitServiceRestartNeeded')).toEqual([
    [
      'Warning',
      'RateLimitServiceRestartNeeded',
      'the rate-limit service of fleet ext still uses a client certificate that expires at 2026-12-31T00:00:00.000Z; kgw has renewed it in its Secret: restart the service to load it',
    ],
  ]);
  // restarted with the renewed certificate: no restart needed
  services = [
    {
      fleet: 'rl/ext',
      acked: 'v7',
      certificateNotBefore: '2026-12-21T00:00:00.000Z',
      certificateNotAfter: '2027-01-20T00:00:00.000Z',
    },
  ];
  r.kick();
  await waitUntil('the second status', () => Promise.resolve(rest.writes.length === 2), BOUND);
  expect(fleetOf(1)?.rateLimitService).toEqual({
    connected: 1,
    configVersion: 'v7',
    certificateNotAfter: '2027-01-20T00:00:00.000Z',
  });
  await r.stop();
});
