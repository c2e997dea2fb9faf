// The fleet applies of the served gateways, in the background (a slow API server or a Kubernetes
// apply never delays an xDS push). The runtime takes the whole set at once (the Kubernetes runtime
// retries each gateway's objects on its own), so they are a work queue of one key
// (kube/workqueue.ts): one apply at a time, the newest set replacing one still waiting, a failed
// apply retried with backoff (with the newest set by then). Each applied fleet is then published
// (runtimes that need it) and a FleetsApplied Event recorded per gateway. Only while leading.
import { GATEWAY_API_VERSION, GATEWAY_KIND, type KnativeGateway } from '../api/knativegateway.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { EventObject, EventRecorder } from '../kube/events.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../log.ts';

/** The one key of the queue. */
const FLEETS = 'fleets';

/** A KnativeGateway as the object of an Event. */
export function gatewayEventObject(gw: KnativeGateway): EventObject {
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: GATEWAY_KIND,
    metadata: { name: gw.metadata.name, ...(gw.metadata.uid !== undefined ? { uid: gw.metadata.uid } : {}) },
  };
}

export interface FleetAppliesOptions {
  runtime: FleetRuntime;
  log: Logger;
  events?: EventRecorder;
  /** Applies and publishes happen only while this is true. */
  leading(): boolean;
  /** Called after each apply, done or failed (the gateways' status reports its problems). */
  applied(): void;
  /** First retry delay of a failed apply (default 500 ms), doubling up to maxRetryMs (30 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

export class FleetApplies {
  private readonly o: FleetAppliesOptions;
  private readonly queue: WorkQueue;
  /** The newest fleets to apply (until applied). */
  private next: { fleets: FleetDef[]; served: ReadonlyMap<string, KnativeGateway> } | undefined;
  private closed = false;

  constructor(o: FleetAppliesOptions) {
    this.o = o;
    this.queue = new WorkQueue({
      name: 'fleet-apply',
      log: o.log,
      concurrency: 1,
      baseDelayMs: o.retryMs ?? 500,
      maxDelayMs: o.maxRetryMs ?? 30_000,
      process: () => this.applyNext(),
    });
  }

  /** Makes the fleets run as given (`served`: the gateways they come from, by name), in the background. */
  apply(fleets: FleetDef[], served: ReadonlyMap<string, KnativeGateway>): void {
    if (!this.o.leading() || this.closed) return;
    this.next = { fleets, served };
    this.queue.add(FLEETS);
  }

  /** Makes a fleet reachable under its Service name (runtimes that need it); failures are logged. */
  async publish(def: FleetDef): Promise<void> {
    if (!this.o.runtime.publish || !this.o.leading() || this.closed) return;
    try {
      await this.o.runtime.publish(def);
    } catch (err) {
      this.o.log.error({ err: String(err), fleet: def.key }, 'publishing fleet failed');
    }
  }

  /** Drops a waiting apply and its retry; resolves once the running one has finished. */
  async stop(): Promise<void> {
    this.closed = true;
    await this.queue.stop();
  }

  private async applyNext(): Promise<void> {
    const next = this.next;
    if (!next) return;
    if (!this.o.leading() || this.closed) {
      this.next = undefined; // a new leader applies its own
      return;
    }
    try {
      await this.o.runtime.apply(next.fleets, next.served);
    } catch (err) {
      this.o.applied();
      throw err; // retried with backoff
    }
    if (this.next === next) this.next = undefined;
    for (const f of next.fleets) await this.publish(f);
    for (const gw of next.served.values()) {
      const names = next.fleets.filter((f) => f.gateway === gw.metadata.name).map((f) => f.name);
      this.o.events?.record(
        gatewayEventObject(gw),
        'Normal',
        'FleetsApplied',
        `fleets applied: ${names.join(', ')}`,
      );
    }
    this.o.applied();
  }
}
