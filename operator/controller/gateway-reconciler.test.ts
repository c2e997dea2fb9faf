// GatewayReconciler on its own, with a fleet runtime whose apply can be held and a recording fake
// of the KnativeGateway status PATCH. The gateway leaves Knative's ConfigMaps alone
// (knative.configure: false), so nothing else is called.
import type { KnativeGateway } from '../api/knativegateway.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { GatewayReconciler } from './gateway-reconciler.ts';
import { gatewayConfig } from './gateways.ts';

const BOUND = { timeoutMs: 5_000, intervalMs: 5 };
const log = newLogger('test');

const GW: KnativeGateway = {
  metadata: { name: 'g', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], knative: { configure: false } },
};
const CONFIG = gatewayConfig(GW as never, log)!;

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

class FakeRest {
  readonly writes: { path: string; body: unknown }[] = [];
  fail = 0;
  request<T>(method: string, path: string, body: unknown): Promise<T> {
    if (method !== 'PATCH') return Promise.reject(new Error(`unexpected ${method} ${path}`));
    if (this.fail > 0) {
      this.fail--;
      return Promise.reject(new Error('500 injected'));
    }
    this.writes.push({ path, body });
    return Promise.resolve({} as T);
  }
}

function setup() {
  const runtime = new FakeRuntime();
  const rest = new FakeRest();
  const r = new GatewayReconciler({
    rest: rest as unknown as KubeRest,
    log,
    runtime: runtime as unknown as FleetRuntime,
    connections: () => [],
    now: () => '2026-01-01T00:00:00Z',
    view: {
      gateways: () => [GW],
      config: (name) => (name === 'g' ? CONFIG : undefined),
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

test('status is written once per change, and again after a failed write', async () => {
  const { rest, r } = setup();
  await r.start();
  rest.fail = 1;
  r.kick();
  await new Promise((res) => setTimeout(res, 20));
  expect(rest.writes).toEqual([]); // failed
  r.kick(); // the next pass (the 2 s timer in the engine) writes it
  await waitUntil('the write', () => Promise.resolve(rest.writes.length === 1), BOUND);
  expect(rest.writes[0]?.path).toBe('/apis/operator.kgw.dev/v1alpha1/knativegateways/g/status');
  r.kick();
  await new Promise((res) => setTimeout(res, 20));
  expect(rest.writes).toHaveLength(1); // unchanged: not written again
  r.recordNack('g/ext', { message: 'rejected', typeUrl: 'x', version: '1' });
  await waitUntil('the NACK on the status', () => Promise.resolve(rest.writes.length === 2), BOUND);
  expect(JSON.stringify(rest.writes[1]?.body)).toContain('"lastNack"');
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
