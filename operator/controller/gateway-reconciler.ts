// The KnativeGateway side of the operator, beside the KIngress pipeline: applies the served
// gateways' fleets through the fleet runtime (off the xDS flush: a slow API server or a Kubernetes
// apply never delays a push), keeps Knative Serving's ConfigMaps and each gateway's default
// certificate in place, and writes KnativeGateway status. Reconciles are coalesced (one runs,
// one more may wait) and run every 2 s besides events, so a failed write is retried by the next.
import {
  GATEWAY_API_VERSION,
  GATEWAY_KIND,
  type FleetNack,
  type KnativeGateway,
  type KnativeGatewayStatus,
} from '../api/knativegateway.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Logger } from '../log.ts';
import type { FleetProblem } from '../render/fleet.ts';
import type { ProxyInfo } from '../xds/types.ts';
import { canonicalJson, shortDigest } from './canonical.ts';
import { DefaultCertificates } from './default-certificate.ts';
import { TrafficSampler, type TrafficSamplerOptions } from './fleet-traffic.ts';
import { gatewayStatus, type FleetObservation } from './gateway-status.ts';
import type { GatewayConfig } from './gateways.ts';
import { KnativeConfigWriter, knativeOwner } from './knative-config.ts';

const GATEWAY_PATH = '/apis/operator.kgw.dev/v1alpha1/knativegateways';

function eventObject(gw: KnativeGateway) {
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: GATEWAY_KIND,
    metadata: { name: gw.metadata.name, ...(gw.metadata.uid !== undefined ? { uid: gw.metadata.uid } : {}) },
  };
}

/** What the reconciler reads from the pipeline. */
export interface GatewayView {
  /** Every KnativeGateway object as cached. */
  gateways(): KnativeGateway[];
  /** The configuration of a served gateway. */
  config(name: string): GatewayConfig | undefined;
  /** Why a gateway is not served (invalid spec, ingress class taken). */
  problems(name: string): string[];
  /** Problems of a gateway's fleets' own configuration (the default certificate), by fleet. */
  fleetProblems(name: string): Iterable<[string, FleetProblem[]]>;
  /** Set while the operator's watches have been failing too long (Engine.staleness()). */
  staleness(): { message: string } | undefined;
}

export interface GatewayReconcilerOptions {
  rest: KubeRest;
  log: Logger;
  runtime: FleetRuntime;
  view: GatewayView;
  /** Connected Envoys (for the per-fleet status). */
  connections(): ProxyInfo[];
  now?: () => string;
  /** Records Ready transitions, fleet applies and drift corrections as Events on the gateway. */
  events?: EventRecorder;
  /**
   * Reads the request counters of fleets with metrics enabled into their status (fleet-traffic.ts);
   * no traffic figures without it.
   */
  traffic?: Pick<TrafficSamplerOptions, 'scrape' | 'windowMs'>;
}

export class GatewayReconciler {
  private readonly o: GatewayReconcilerOptions;
  private readonly knative: KnativeConfigWriter;
  private readonly certificates: DefaultCertificates;
  /** Gateway name → canonical JSON of the status last written. */
  private readonly written = new Map<string, string>();
  /** Fleet key → the last configuration its Envoys rejected. */
  private readonly lastNack = new Map<string, FleetNack>();
  private work: Promise<void> = Promise.resolve();
  private queued = false;
  private applying: Promise<void> = Promise.resolve();
  /** The newest fleets to apply, waiting for the apply in progress. */
  private nextApply: { fleets: FleetDef[]; served: ReadonlyMap<string, KnativeGateway> } | undefined;
  private leading = true;
  private started = false;
  private closed = false;
  private readonly traffic: TrafficSampler | undefined;
  private trafficTimer: NodeJS.Timeout | undefined;

  constructor(o: GatewayReconcilerOptions) {
    this.o = o;
    this.traffic = o.traffic ? new TrafficSampler({ ...o.traffic, log: o.log }) : undefined;
    this.knative = new KnativeConfigWriter({
      rest: o.rest,
      log: o.log,
      onChange: () => this.kick(),
      ...(o.now ? { now: o.now } : {}),
    });
    this.certificates = new DefaultCertificates(o.rest);
  }

  async start(): Promise<void> {
    await this.knative.start();
    this.started = true;
    this.scheduleTraffic();
  }

  /** The next traffic sample, one window from now (samples never overlap). */
  private scheduleTraffic(): void {
    const sampler = this.traffic;
    if (!sampler || this.closed) return;
    this.trafficTimer = setTimeout(() => {
      void this.sampleTraffic(sampler).finally(() => this.scheduleTraffic());
    }, sampler.windowMs);
    this.trafficTimer.unref();
  }

  private async sampleTraffic(sampler: TrafficSampler): Promise<void> {
    if (!this.leading || this.closed) return;
    const view = this.o.view;
    const fleets = view
      .gateways()
      .flatMap((gw) =>
        (view.config(gw.metadata.name)?.fleets ?? [])
          .filter((f) => f.metrics.enabled)
          .map((f) => ({ key: f.key, port: f.metrics.port, replicas: this.o.runtime.replicas(f.key) })),
      );
    try {
      if (await sampler.sample(fleets)) this.kick();
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'traffic sample failed');
    }
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.trafficTimer);
    await this.knative.stop();
    await this.applying.catch(() => undefined);
    await this.work.catch(() => undefined);
  }

  /** Leading replicas apply fleets and write; a new leader rewrites every status. */
  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) this.written.clear();
  }

  /** Envoy rejected a version: reported on the fleet's status. */
  recordNack(fleet: string, nack: FleetNack): void {
    this.lastNack.set(fleet, nack);
    this.kick();
  }

  /**
   * Makes the fleets run as given, in the background: applies are serialized and a newer set
   * replaces one still waiting. Each applied fleet is published (local runtime), then statuses
   * are recomputed.
   */
  applyFleets(fleets: FleetDef[], served: ReadonlyMap<string, KnativeGateway>): void {
    if (!this.leading || this.closed) return;
    const pending = this.nextApply !== undefined;
    this.nextApply = { fleets, served };
    if (pending) return;
    this.applying = this.applying.then(async () => {
      const next = this.nextApply;
      this.nextApply = undefined;
      if (!next || !this.leading || this.closed) return;
      try {
        await this.o.runtime.apply(next.fleets, next.served);
        for (const f of next.fleets) await this.publish(f);
        for (const gw of next.served.values()) {
          const names = next.fleets.filter((f) => f.gateway === gw.metadata.name).map((f) => f.name);
          this.o.events?.record(
            eventObject(gw),
            'Normal',
            'FleetsApplied',
            `fleets applied: ${names.join(', ')}`,
          );
        }
      } catch (err) {
        this.o.log.error({ err: String(err) }, 'applying fleets failed');
      }
      this.kick();
    });
  }

  /** Makes a fleet reachable under its Service name (runtimes that need it). */
  async publish(def: FleetDef): Promise<void> {
    if (!this.o.runtime.publish || !this.leading || this.closed) return;
    try {
      await this.o.runtime.publish(def);
    } catch (err) {
      this.o.log.error({ err: String(err), fleet: def.key }, 'publishing fleet failed');
    }
  }

  /** Queues a reconcile (Knative ConfigMaps, default certificates, status); coalesces. */
  kick(): void {
    if (!this.started || !this.leading || this.closed || this.queued) return;
    this.queued = true;
    this.work = this.work
      .then(() => {
        this.queued = false;
        return this.reconcile();
      })
      .catch((err: unknown) => {
        this.o.log.error({ err: String(err) }, 'KnativeGateway reconcile failed');
      });
  }

  /** Events: Ready turned True, or False with another reason; Knative's ConfigMaps put back. */
  private recordTransition(
    gw: KnativeGateway,
    status: KnativeGatewayStatus,
    drift: string | undefined,
  ): void {
    const events = this.o.events;
    if (!events) return;
    const ready = (s: KnativeGatewayStatus | undefined) => s?.conditions?.find((c) => c.type === 'Ready');
    const before = ready(gw.status);
    const after = ready(status);
    if (
      after &&
      after.status !== 'Unknown' &&
      (before?.status !== after.status || before.reason !== after.reason)
    ) {
      if (after.status === 'True')
        events.record(eventObject(gw), 'Normal', 'Ready', `fleets ready: ${status.readyFleets ?? ''}`);
      else
        events.record(eventObject(gw), 'Warning', after.reason ?? 'NotReady', after.message ?? 'not ready');
    }
    if (drift !== undefined) events.record(eventObject(gw), 'Normal', 'DriftCorrected', drift);
  }

  private observeFleet(def: FleetDef, proxies: ProxyInfo[]): FleetObservation {
    const mine = proxies.filter((p) => p.fleet === def.key);
    const acked = new Set(mine.map((p) => canonicalJson(p.acked)));
    const obs: FleetObservation = {
      replicas: def.replicas,
      readyReplicas: this.o.runtime.replicas(def.key).filter((r) => r.ready).length,
      connectedProxies: mine.length,
    };
    // The version every connected Envoy acknowledged: a digest of the per-type versions, when
    // they all agree.
    const [only] = acked;
    if (acked.size === 1 && only !== undefined && only !== '{}') obs.configVersion = shortDigest(only);
    const address = this.o.runtime.address?.(def.key);
    if (address !== undefined) obs.address = address;
    const nack = this.lastNack.get(def.key);
    if (nack) obs.lastNack = nack;
    const traffic = def.metrics.enabled ? this.traffic?.figures(def.key) : undefined;
    if (traffic) obs.traffic = traffic;
    return obs;
  }

  private async reconcile(): Promise<void> {
    if (!this.leading || this.closed) return;
    const view = this.o.view;
    const objects = view.gateways();
    const owner = knativeOwner(objects.filter((g) => view.config(g.metadata.name) !== undefined));
    const proxies = this.o.connections();
    const now = (this.o.now ?? (() => new Date().toISOString()))();
    const stale = view.staleness();
    for (const gw of objects) {
      if (!this.leading || this.closed) return;
      const name = gw.metadata.name;
      const config = view.config(name);
      const knative = config ? await this.knative.reconcile(gw, owner) : undefined;
      const fleetProblems = config ? (this.o.runtime.problems?.(name) ?? []) : [];
      const tlsProblems: string[] = [];
      if (config?.defaultCertificate) {
        const applied = await this.certificates.apply(gw);
        if (applied) tlsProblems.push(applied);
        for (const [fleet, problems] of view.fleetProblems(name)) {
          for (const p of problems) tlsProblems.push(`${fleet}: ${p.message}`);
        }
      }
      const byKey = new Map(config?.fleets.map((f) => [f.key, f]) ?? []);
      const status = gatewayStatus(
        gw,
        config,
        (k) => {
          const def = byKey.get(k);
          return def
            ? this.observeFleet(def, proxies)
            : { replicas: 0, readyReplicas: 0, connectedProxies: 0 };
        },
        {
          problems: view.problems(name),
          fleetProblems,
          tlsProblems,
          ...(knative ? { knative } : {}),
          ...(stale ? { controlPlaneStale: stale.message } : {}),
        },
        now,
      );
      const json = canonicalJson(status);
      if (json === canonicalJson(gw.status ?? {}) || json === this.written.get(name)) continue;
      try {
        await this.o.rest.request(
          'PATCH',
          `${GATEWAY_PATH}/${name}/status`,
          // a merge patch keeps fields it does not name: the optional top-level ones are nulled
          {
            status: {
              ...status,
              externalAddress: status.externalAddress ?? null,
              requestsPerSecond: status.requestsPerSecond ?? null,
              errorRatio: status.errorRatio ?? null,
            },
          },
          'application/merge-patch+json',
        );
        this.written.set(name, json);
        this.recordTransition(gw, status, knative?.reason === 'DriftCorrected' ? knative.message : undefined);
        this.o.log.info(
          {
            name,
            ready: status.conditions?.find((c) => c.type === 'Ready')?.status,
            fleets: status.readyFleets,
          },
          'KnativeGateway status written',
        );
      } catch (err) {
        this.o.log.warn({ name, err: String(err) }, 'KnativeGateway status write failed');
      }
    }
  }
}
