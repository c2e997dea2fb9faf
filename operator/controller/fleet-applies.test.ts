// FleetApplies on its own, with a fake fleet runtime whose apply can fail and a recording fake of
// the Event recorder: a failed apply is retried by itself with backoff, a newer set asked for
// while one runs replaces it, applied fleets are published and announced, a follower does nothing.
import type { KnativeGateway } from '../api/knativegateway.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { EventRecorder } from '../kube/events.ts';
import { newLogger } from '../log.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { FleetApplies } from './fleet-applies.ts';
import { gatewayConfig } from './gateways.ts';

const BOUND = { timeoutMs: 5_000, intervalMs: 5 };
const log = newLogger('test');

const GW: KnativeGateway = {
  metadata: { name: 'g', uid: 'u-1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], knative: { configure: false } },
};
const FLEETS = gatewayConfig(GW as never, log)!.fleets;
const SERVED = new Map([['g', GW]]);

class FakeRuntime {
  readonly applied: string[][] = [];
  readonly published: string[] = [];
  /** Applies that fail before one succeeds. */
  fail = 0;
  apply(fleets: FleetDef[]): Promise<void> {
    this.applied.push(fleets.map((f) => f.key));
    if (this.fail > 0) {
      this.fail--;
      return Promise.reject(new Error('apply failed (injected)'));
    }
    return Promise.resolve();
  }
  publish(def: FleetDef): Promise<void> {
    this.published.push(def.key);
    return Promise.resolve();
  }
}

function setup(leading = true) {
  const runtime = new FakeRuntime();
  const events: string[] = [];
  let applied = 0;
  const f = new FleetApplies({
    runtime: runtime as unknown as FleetRuntime,
    log,
    events: {
      record: (obj: { metadata: { name: string } }, _t: string, reason: string, message: string) =>
        events.push(`${obj.metadata.name} ${reason}: ${message}`),
    } as unknown as EventRecorder,
    leading: () => leading,
    applied: () => applied++,
    retryMs: 5,
    maxRetryMs: 20,
  });
  return { runtime, events, f, applied: () => applied };
}

test('a failed apply is retried by itself until it succeeds; then published and announced', async () => {
  const { runtime, events, f, applied } = setup();
  runtime.fail = 2;
  f.apply(FLEETS, SERVED);
  await waitUntil('the announcement', () => Promise.resolve(events.length === 1), BOUND);
  expect(runtime.applied).toEqual([['g/ext'], ['g/ext'], ['g/ext']]);
  expect(runtime.published).toEqual(['g/ext']);
  expect(events).toEqual(['g FleetsApplied: fleets applied: ext']);
  expect(applied()).toBe(3); // told after each try, failed or not
  await f.stop();
});

test('a newer set asked for while an apply fails is the one retried', async () => {
  const { runtime, f } = setup();
  runtime.fail = 1;
  f.apply(FLEETS, SERVED); // runs and fails
  f.apply([], SERVED); // while it runs: goes next
  await waitUntil('the retry', () => Promise.resolve(runtime.applied.length === 2), BOUND);
  await new Promise((res) => setTimeout(res, 30));
  expect(runtime.applied).toEqual([['g/ext'], []]);
  await f.stop();
});

test('a follower neither applies nor publishes', async () => {
  const { runtime, f } = setup(false);
  f.apply(FLEETS, SERVED);
  await f.publish(FLEETS[0]!);
  await new Promise((res) => setTimeout(res, 20));
  expect([runtime.applied, runtime.published]).toEqual([[], []]);
  await f.stop();
});
