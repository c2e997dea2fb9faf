// The KnativeGateway side of the operator, beside the KIngress pipeline: applies the served
// gateways' fleets through the fleet runtime, keeps Knative Serving's ConfigMaps and each gateway's
// default certificate in place, and writes KnativeGateway status.
//
// Status: each gateway is one key of a work queue (kube/workqueue.ts). A failed status write is
// retried with that gateway's own backoff; it neither waits for the next event nor holds up the
// other gateways. `kick(name)` (something about that gateway changed: a NACK, a fleet's replicas)
// queues it at once; `kick()` (something that may concern any gateway, and the engine's resync
// every 2 s, which observes what sends no event: connections, replicas, traffic, staleness) queues
// every gateway but one waiting for its retry, whose backoff stands.
//
// Fleets are applied in the background by fleet-applies.ts (one at a time, the newest set winning,
// a failed apply retried with backoff): a slow API server or a Kubernetes apply never delays an
// xDS push.
import type { FleetNack, KnativeGateway, KnativeGatewayStatus } from '../api/knativegateway.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../log.ts';
import type { FleetProblem } from '../render/fleet.ts';
import type { AckEvent, ProxyInfo } from '../xds/types.ts';
import type { RateLimitServiceInfo } from '../xds/rate-limit-configs.ts';
import { rateLimitServiceStatus } from './rate-limit-service-status.ts';
import { canonicalJson, shortDigest } from './canonical.ts';
import { DefaultCertificates } from './default-certificate.ts';
import { FleetApplies, gatewayEventObject } from './fleet-applies.ts';
import { TrafficSampler, type TrafficSamplerOptions } from './fleet-traffic.ts';
import { gatewayStatus, type FleetObservation, type KnativeObservation } from './gateway-status.ts';
import type { GatewayConfig } from './gateways.ts';
import { KnativeConfigWriter, knativeOwner } from './knative-config.ts';

const GATEWAY_PATH = '/apis/operator.kgw.dev/v1alpha1/knativegateways';

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
  /** Connected rate-limit services of Global fleets (for the per-fleet status). */
  rateLimitServices?(): RateLimitServiceInfo[];
  now?: () => string;
  /** Records Ready transitions, fleet applies and drift corrections as Events on the gateway. */
  events?: EventRecorder;
  /**
   * Reads the request counters of fleets with metrics enabled into their status (fleet-traffic.ts);
   * no traffic figures without it.
   */
  traffic?: Pick<TrafficSamplerOptions, 'scrape' | 'windowMs'>;
  /** First retry delay of a failed status write or fleet apply (default 500 ms), doubling up to maxRetryMs (30 s). */
  retryMs?: number;
  maxRetryMs?: number;
}

export class GatewayReconciler {
  private readonly o: GatewayReconcilerOptions;
  private readonly knative: KnativeConfigWriter;
  private readonly certificates: DefaultCertificates;
  /** Gateway name → canonical JSON of the status last written. */
  private readonly written = new Map<string, string>();
  /** Fleet key → the last configuration its Envoys rejected. */
  private readonly lastNack = new Map<string, FleetNack>();
  /** Gateway name → its reconcile and status write. */
  private readonly statuses: WorkQueue;
  private readonly fleets: FleetApplies;
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
    this.statuses = new WorkQueue({
      name: 'knativegateway-status',
      log: o.log,
      baseDelayMs: o.retryMs ?? 500,
      maxDelayMs: o.maxRetryMs ?? 30_000,
      process: (name) => this.reconcile(name),
    });
    this.fleets = new FleetApplies({
      runtime: o.runtime,
      log: o.log,
      ...(o.events ? { events: o.events } : {}),
      leading: () => this.leading,
      applied: () => this.kick(),
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
      ...(o.maxRetryMs !== undefined ? { maxRetryMs: o.maxRetryMs } : {}),
    });
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
    await this.fleets.stop();
    await this.statuses.stop();
  }

  /** Leading replicas apply fleets and write; a new leader rewrites every status. */
  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) this.written.clear();
  }

  /** Envoy rejected a version: reported on the fleet's status (the message cut to 1000 characters). */
  recordNack(e: Pick<AckEvent, 'fleet' | 'typeUrl' | 'version' | 'error' | 'nodeId'>): void {
    this.lastNack.set(e.fleet, {
      typeUrl: e.typeUrl,
      version: e.version,
      message: (e.error ?? '').slice(0, 1000),
      proxy: e.nodeId,
      time: (this.o.now ?? (() => new Date().toISOString()))(),
    });
    this.kick(this.gatewayOf(e.fleet));
  }

  /** The served gateway a fleet (`<gateway>/<fleet>` key) belongs to. */
  private gatewayOf(fleet: string): string | undefined {
    const view = this.o.view;
    return view
      .gateways()
      .map((gw) => gw.metadata.name)
      .find((name) => view.config(name)?.fleets.some((f) => f.key === fleet));
  }

  /** Makes the fleets run as given, in the background (fleet-applies.ts); statuses follow. */
  applyFleets(fleets: FleetDef[], served: ReadonlyMap<string, KnativeGateway>): void {
    if (!this.closed) this.fleets.apply(fleets, served);
  }

  /** Makes a fleet reachable under its Service name (runtimes that need it). */
  async publish(def: FleetDef): Promise<void> {
    if (!this.closed) await this.fleets.publish(def);
  }

  /**
   * Queues the reconcile (Knative ConfigMaps, default certificate, status) of gateway `name` now,
   * or, without a name, of every gateway but those waiting to retry a failed write (their backoff
   * stands). A gateway queued already is not queued twice.
   */
  kick(name?: string): void {
    if (!this.started || !this.leading || this.closed) return;
    if (name !== undefined) {
      this.statuses.add(name);
      return;
    }
    for (const gw of this.o.view.gateways()) {
      const n = gw.metadata.name;
      if (this.statuses.failuresOf(n) === 0) this.statuses.add(n);
    }
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
        events.record(gatewayEventObject(gw), 'Normal', 'Ready', `fleets ready: ${status.readyFleets ?? ''}`);
      else
        events.record(
          gatewayEventObject(gw),
          'Warning',
          after.reason ?? 'NotReady',
          after.message ?? 'not ready',
        );
    }
    if (drift !== undefined) events.record(gatewayEventObject(gw), 'Normal', 'DriftCorrected', drift);
    for (const f of status.fleets ?? []) {
      const was = gw.status?.fleets?.find((x) => x.name === f.name)?.rateLimitService?.restartNeeded === true;
      if (f.rateLimitService?.restartNeeded === true && !was)
        events.record(
          gatewayEventObject(gw),
          'Warning',
          'RateLimitServiceRestartNeeded',
          `the rate-limit service of fleet ${f.name} still uses a client certificate that expires at ` +
            `${f.rateLimitService.certificateNotAfter ?? '?'}; kgw has renewed it in its Secret: restart ` +
            'the service to load it',
        );
    }
  }

  private observeFleet(
    def: FleetDef,
    proxies: ProxyInfo[],
    services: readonly RateLimitServiceInfo[],
  ): FleetObservation {
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
    if (def.globalRateLimit)
      obs.rateLimitService = rateLimitServiceStatus(
        services,
        def.key,
        new Date((this.o.now ?? (() => new Date().toISOString()))()),
      );
    return obs;
  }

  /** One gateway: Knative's ConfigMaps, its default certificate, its status; a failed write throws. */
  private async reconcile(name: string): Promise<void> {
    if (!this.leading || this.closed) return;
    const objects = this.o.view.gateways();
    const gw = objects.find((g) => g.metadata.name === name);
    if (gw === undefined) {
      this.written.delete(name);
      return;
    }
    const { status, knative } = await this.observe(gw, objects);
    const json = canonicalJson(status);
    if (json === canonicalJson(gw.status ?? {}) || json === this.written.get(name)) return;
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
      { name, ready: status.conditions?.find((c) => c.type === 'Ready')?.status, fleets: status.readyFleets },
      'KnativeGateway status written',
    );
  }

  /** The gateway's status from what is observed; Knative's ConfigMaps and its certificate applied on the way. */
  private async observe(
    gw: KnativeGateway,
    objects: readonly KnativeGateway[],
  ): Promise<{ status: KnativeGatewayStatus; knative: KnativeObservation | undefined }> {
    const view = this.o.view;
    const name = gw.metadata.name;
    const config = view.config(name);
    const owner = knativeOwner(objects.filter((g) => view.config(g.metadata.name) !== undefined));
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
    const proxies = this.o.connections();
    const services = this.o.rateLimitServices?.() ?? [];
    const byKey = new Map(config?.fleets.map((f) => [f.key, f]) ?? []);
    const stale = view.staleness();
    const status = gatewayStatus(
      gw,
      config,
      (k) => {
        const def = byKey.get(k);
        return def
          ? this.observeFleet(def, proxies, services)
          : { replicas: 0, readyReplicas: 0, connectedProxies: 0 };
      },
      {
        problems: view.problems(name),
        fleetProblems,
        tlsProblems,
        ...(knative ? { knative } : {}),
        ...(stale ? { controlPlaneStale: stale.message } : {}),
      },
      (this.o.now ?? (() => new Date().toISOString()))(),
    );
    return { status, knative };
  }
}
