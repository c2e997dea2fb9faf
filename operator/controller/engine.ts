// The operator's core loop, wiring its parts: the cluster's caches (cluster-watch.ts) mark
// KIngresses (or only endpoints/Secrets) dirty (flush-marks.ts: which change marks what); a
// coalescing flush hands them to the KIngress pipeline (ingress-pipeline.ts: translate →
// per-gateway assembly → xDS push, NACK attribution), then the status of what changed to the
// status writer (ingress-status.ts: probing and status writes). The engine decides which
// KnativeGateways are served (api/gateway-selection.ts) and hands them to the gateway reconciler
// (fleets, Knative config, gateway status) and the pipeline; it follows leadership and
// RoutePolicies. A KIngress whose class no gateway serves is never written to.
import type { Service } from '../api/core.ts';
import type { KnativeGateway } from '../api/knativegateway.ts';
import { ingressKey, type KIngress } from '../api/kingress.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { Logger } from '../log.ts';
import type { ReferencedSecrets } from '../kube/referenced-secrets.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { HostOwners } from '../translate/host-ownership.ts';
import type { Lookups } from '../translate/lookups.ts';
import type { SnapshotInput } from '../xds/cache.ts';
import type { TypeUrl } from '../xds/protos.ts';
import type { AckEvent, ProxyInfo } from '../xds/types.ts';
import type { RateLimitServiceInfo } from '../xds/rate-limit-configs.ts';
import { GatewayReconciler, type GatewayReconcilerOptions } from './gateway-reconciler.ts';
import type { GatewayConfig } from './gateways.ts';
import { IngressPipeline } from './ingress-pipeline.ts';
import { IngressStatusWriter, kingressEventObject, type StatusMetrics } from './ingress-status.ts';
import { ClusterWatch } from './cluster-watch.ts';
import { EventRecorder } from '../kube/events.ts';
import { DependencyIndex, secretKeys, specRefs } from './dependencies.ts';
import { routeAcks } from './route-acks.ts';
import { RoutePolicies } from './route-policies.ts';
import { EndpointWait } from './endpoint-wait.ts';
import { FlushMarks } from './flush-marks.ts';
import { FlushScheduler } from './flush-scheduler.ts';
import { ServedGateways } from './served-gateways.ts';
import { ingressView, type IngressView } from '../policy/resolve.ts';

/** What the engine needs from the xDS server. */
export interface SnapshotSink {
  /** Types not given keep their previous set (an endpoint change gives EDS only). */
  setSnapshot(fleet: string, resources: SnapshotInput): void;
  markSynced(): void;
  /** Current version of a fleet's resource type (for NACK attribution). */
  snapshotVersion?(fleet: string, typeUrl: TypeUrl): string | undefined;
  onAck?(cb: (e: AckEvent) => void): unknown;
  onNack?(cb: (e: AckEvent) => void): unknown;
  /** Connected Envoys (for the KnativeGateway's per-fleet status). */
  connections?(): ProxyInfo[];
  /** The RateLimitConfigs of a Global fleet's rate-limit service (complete set by name). */
  setRateLimitConfigs?(fleet: string, configs: ReadonlyMap<string, object>): unknown;
  /** Connected rate-limit services of Global fleets (for the per-fleet status). */
  rateLimitServices?(): RateLimitServiceInfo[];
}

export interface EngineOptions {
  rest: KubeRest;
  log: Logger;
  xds: SnapshotSink;
  /** The Envoys speak delta xDS: route tables go as scoped routes (render/scoped.ts). */
  scoped?: boolean;
  runtime: FleetRuntime;
  /** KnativeGateway → gateway config (defaults applied); undefined when the object is invalid. */
  gatewayConfig(obj: KubeObject): GatewayConfig | undefined;
  /**
   * Whether this replica leads (default true): only the leader runs the fleets, writes KIngress
   * and KnativeGateway status and Knative's ConfigMaps. Every replica watches, translates and
   * serves xDS. Changed later with setLeading().
   */
  leading?: boolean;
  /** Called after the set of served gateways (or their specs) changed. */
  onGatewaysChanged?(): void;
  /**
   * How often KnativeGateway status is recomputed besides on events (default 2000 ms): it observes
   * what sends no event (connections, staleness). A failed write does not wait for it: the
   * reconciler retries that gateway with its own backoff.
   */
  gatewayStatusIntervalMs?: number;
  /**
   * How long watches may fail without a break before this replica reports that its view of the
   * cluster, and so the configuration it serves, may be stale (default 30 s).
   */
  staleAfterMs?: number;
  now?: () => string;
  /** Time-to-ready and probe failures of the KIngress status writer (metrics.ts). */
  statusMetrics?: StatusMetrics;
  /**
   * ClusterDomainClaims and namespace labels for the host rule (translate/host-ownership.ts).
   * start() waits for `synced` (at most HOST_OWNERS_WAIT_MS); the provider calls invalidate()
   * with `host:<h>` / `ns:<namespace>` refs when they change.
   */
  hostOwners?: HostOwners & { synced?: Promise<void> };
  /** Fleet request rates into KnativeGateway status (GatewayReconcilerOptions.traffic). */
  traffic?: GatewayReconcilerOptions['traffic'];
}

/** Longest start() waits for the host owners' caches before translating without them. */
const HOST_OWNERS_WAIT_MS = 10_000;

export class Engine {
  private readonly o: EngineOptions;
  private readonly log: Logger;
  /** Reflectors on the cluster, the Secrets kgw references, and translation's Lookups. */
  readonly cluster: ClusterWatch;
  get ingresses(): Reflector<KIngress & KubeObject> {
    return this.cluster.ingresses;
  }
  get gateways(): Reflector<KubeObject> {
    return this.cluster.gateways;
  }
  private get services(): Reflector<Service & KubeObject> {
    return this.cluster.services;
  }
  private get secrets(): ReferencedSecrets {
    return this.cluster.secrets;
  }
  /** The KnativeGateways served, their configs and fleets. */
  private readonly served: ServedGateways;
  /** What the next flush has to do (KIngresses to translate, statuses, endpoints, Secrets, gateways). */
  private readonly marks: FlushMarks;
  /** The last selection of served gateways and their fleets (applied again on becoming leader). */
  private selection: { fleets: FleetDef[]; served: Map<string, KnativeGateway> } | undefined;
  /** When flushes run (coalescing). */
  private readonly flushes: FlushScheduler;
  /** refs (`svc:ns/name`, `secret:ns/name`) → KIngress keys that read them */
  private readonly deps = new DependencyIndex((added, dropped) => {
    if (added.length > 0) this.secrets.want(added);
    if (dropped) this.syncWantedSecrets();
  });
  private readonly lookups: Lookups;
  /** Translation, assembly, xDS pushes and NACK attribution of the served KIngresses. */
  private readonly pipeline: IngressPipeline;
  private readonly gatewayTimer: NodeJS.Timeout;
  private leading: boolean;
  /** Work counters (for benchmarks and debugging): flushes, KIngresses translated, xDS pushes. */
  readonly counters = { flushes: 0, translated: 0, pushes: 0, flushMs: 0, pushMs: 0 };
  /** Probing and KIngress status writes. */
  private readonly status: IngressStatusWriter;
  /** Fleets, Knative's ConfigMaps, default certificates and KnativeGateway status. */
  private readonly gatewaysRec: GatewayReconciler;
  private readonly events: EventRecorder;
  /** Served KIngresses waiting for their new backends' endpoints (endpoint-wait.ts). */
  private readonly endpointWait = new EndpointWait((k) => this.marks.translate(k));
  /** RoutePolicies: which features are in force on which host, and their status. */
  private readonly policies: RoutePolicies;

  constructor(o: EngineOptions) {
    this.o = o;
    this.log = o.log;
    this.served = new ServedGateways({
      log: o.log,
      runtime: o.runtime,
      gatewayConfig: (obj) => o.gatewayConfig(obj),
    });
    this.marks = new FlushMarks({
      deps: this.deps,
      served: (k) => this.pipeline.has(k),
      wake: () => this.schedule(),
    });
    this.flushes = new FlushScheduler({
      flush: () => this.flush(),
      failed: (err) => this.log.error({ err }, 'flush failed'),
    });
    this.leading = o.leading ?? true;
    const events = new EventRecorder({ rest: o.rest, log: o.log });
    this.events = events;
    this.status = new IngressStatusWriter({
      rest: o.rest,
      log: o.log,
      events,
      ingress: (k) => this.ingresses.store.get(k),
      replicas: (f) => o.runtime.replicas(f),
      ...(o.now ? { now: o.now } : {}),
      ...(o.statusMetrics ? { metrics: o.statusMetrics } : {}),
    });
    this.gatewaysRec = new GatewayReconciler({
      rest: o.rest,
      log: o.log,
      events,
      runtime: o.runtime,
      connections: () => o.xds.connections?.() ?? [],
      rateLimitServices: () => o.xds.rateLimitServices?.() ?? [],
      ...(o.now ? { now: o.now } : {}),
      ...(o.traffic ? { traffic: o.traffic } : {}),
      view: {
        gateways: () => [...this.gateways.store.values()] as unknown as KnativeGateway[],
        config: (name) => this.served.config(name),
        problems: (name) => this.served.problemsOf(name),
        fleetProblems: (name) => this.pipeline.fleetProblems(name),
        staleness: () => this.staleness(),
      },
    });
    this.status.setLeading(this.leading);
    this.gatewaysRec.setLeading(this.leading);
    this.gatewayTimer = setInterval(() => {
      this.cluster.logStalenessChange();
      this.gatewaysRec.kick();
      this.updatePolicyProgrammed();
    }, o.gatewayStatusIntervalMs ?? 2000);
    this.gatewayTimer.unref();
    this.cluster = new ClusterWatch({
      rest: o.rest,
      log: o.log,
      onSecret: (k) => this.onSecretChange(k),
      onEndpoints: (svc) => this.marks.endpointsChanged(svc, this.endpointWait.waitingFor(svc)),
      ...(o.staleAfterMs !== undefined ? { staleAfterMs: o.staleAfterMs } : {}),
    });
    this.policies = new RoutePolicies({
      rest: o.rest,
      log: o.log,
      events,
      secrets: {
        get: (ns, n) => this.secrets.get(ns, n),
        isPending: (k) => this.secrets.isPending(k),
        exists: (k) => this.secrets.exists(k),
      },
      onChange: () => this.schedule(),
      ...(o.now ? { now: o.now } : {}),
    });
    this.policies.setLeading(this.leading);
    this.lookups = {
      ...this.cluster.lookups,
      routePolicy: (key, host) => this.policies.hostPolicy(key, host),
    };
    this.pipeline = new IngressPipeline({
      log: o.log,
      xds: o.xds,
      lookups: this.lookups,
      ...(o.scoped === true ? { scoped: true } : {}),
      ...(o.hostOwners ? { hostOwners: o.hostOwners } : {}),
      ingress: (k) => this.ingresses.store.get(k),
      deps: this.deps,
      secretPending: (k) => this.secrets.isPending(k),
      endpointWait: this.endpointWait,
      policyPrint: (k) => this.policies.fingerprint(k),
      statusChanged: (k) => this.marks.statuses.add(k),
      forgotten: (k) => this.status.forget(k),
      restartProbe: (k) => this.status.restartProbe(k),
      ignored: (ing, message) => {
        if (this.leading)
          this.events.record(kingressEventObject(ing), 'Warning', 'RoutingRulesIgnored', message);
      },
      wake: () => this.schedule(),
      counters: this.counters,
    });
    this.ingresses.onEvent((e) => {
      this.status.observe(ingressKey(e.obj), e.type === 'delete' ? undefined : e.obj);
      // a KIngress's hosts and labels decide which policies cover it
      if (this.marks.ingressEvent(e) && this.policies.active) this.policies.markDirty();
    });
    this.services.onEvent((e) => this.marks.serviceChanged(e.obj));
    this.gateways.onEvent((e) => this.marks.gatewayEvent(e));
    o.runtime.onChange((fleetKey) => this.onFleetChange(fleetKey));
    o.xds.onAck?.((e) => this.onAck(e));
    o.xds.onNack?.((e) => this.onNack(e));
  }

  async start(): Promise<void> {
    // Each phase's milliseconds go into the two start-up log lines (a restart at scale is seconds:
    // these say where they went).
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const phase = (name: string): void => {
      const now = performance.now();
      phases[`${name}Ms`] = Math.round(now - mark);
      mark = now;
    };
    this.cluster.start();
    this.policies.start();
    await this.cluster.synced();
    phase('list');
    // RoutePolicies and their credentials before anything is pushed (bounded: a cluster without
    // the RoutePolicy CRD still starts): auth must not arrive a push after the routes it guards.
    await this.policies.synced();
    await this.secrets.prefetch(this.policies.wantedSecrets());
    phase('policies');
    // The Secrets KIngresses and gateways reference are fetched before anything is pushed: a first
    // snapshot without them would take TLS away from hosts the Envoys are serving.
    await this.secrets.prefetch(this.referencedSecretsAtStart());
    phase('secrets');
    await this.gatewaysRec.start();
    phase('gateways');
    if (this.o.hostOwners?.synced) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, HOST_OWNERS_WAIT_MS)));
      await Promise.race([this.o.hostOwners.synced, bound]);
      clearTimeout(timer);
      phase('hostOwners');
    }
    this.log.info(
      { ingresses: this.ingresses.store.size, gateways: this.gateways.store.size, ...phases },
      'caches synced',
    );
    this.flushes.open();
    await this.flushes.flushNow();
    this.o.xds.markSynced();
    phase('firstFlush');
    this.log.info({ ingresses: this.ingresses.store.size, ms: phases.firstFlushMs }, 'first push ready');
  }

  /** Secrets (`<ns>/<name>`) the cached KIngresses and gateways reference. */
  private referencedSecretsAtStart(): string[] {
    const keys = new Set<string>();
    for (const ing of this.ingresses.store.values()) for (const k of secretKeys(specRefs(ing))) keys.add(k);
    for (const obj of this.gateways.store.values()) {
      const secret = this.o.gatewayConfig(obj)?.defaultCertificate?.secret;
      if (secret) keys.add(secret);
    }
    return [...keys];
  }

  /** A referenced Secret's data arrived, changed or went: re-translate and re-render its users. */
  private onSecretChange(k: string): void {
    const fallback = this.pipeline.usesDefaultCertificateSecret(k);
    if (fallback) this.gatewaysRec.kick();
    if (this.policies.usesSecret(k)) this.policies.markDirty();
    this.marks.secretChanged(k, fallback);
  }

  /** The Secrets whose data kgw keeps: those KIngresses name and the gateways' default certificates. */
  private syncWantedSecrets(): void {
    const keys: string[] = [];
    keys.push(...this.deps.referencedSecrets());
    keys.push(...this.pipeline.defaultCertificateSecrets());
    keys.push(...this.policies.wantedSecrets());
    this.secrets.setWanted(keys);
  }

  async stop(): Promise<void> {
    clearInterval(this.gatewayTimer);
    this.endpointWait.stop();
    this.pipeline.stop();
    await this.cluster.stop();
    await this.policies.stop();
    await this.flushes.stop();
    await this.gatewaysRec.stop();
    await this.status.stop();
  }

  /** The KnativeGateway objects currently served (valid, ingress class not taken by an older one). */
  servedGateways(): KnativeGateway[] {
    return [...this.gateways.store.values()]
      .filter((o) => this.served.config(o.metadata.name))
      .map((o) => o as unknown as KnativeGateway);
  }

  /** KIngresses of a served class and how many are Ready for their generation (for metrics). */
  ingressSummary(): { served: number; ready: number } {
    let ready = 0;
    for (const k of this.pipeline.keys()) if (this.status.readyFor(k)) ready++;
    return { served: this.pipeline.size, ready };
  }

  /**
   * Why this replica's view of the cluster may be stale: one of its watches has been failing for
   * staleAfterMs or longer (the API server unreachable, or a list forbidden). Undefined when all
   * watches are in touch. Readiness, a metric and the KnativeGateways' FleetsReady report it.
   */
  staleness(): { seconds: number; message: string } | undefined {
    return this.cluster.staleness();
  }

  /**
   * Per fleet (`<gateway>/<fleet>`) of the served gateways, the replicas its spec asks for and how
   * many are ready. Empty on a follower: only the leader runs (and so sees) the fleets.
   */
  fleetReplicas(): { fleet: string; desired: number; ready: number }[] {
    return this.leading ? this.served.fleetReplicas() : [];
  }

  /** Whether this replica currently leads. */
  isLeading(): boolean {
    return this.leading;
  }

  /**
   * Leadership changed. A new leader takes over the fleets (the runtime adopts what is running),
   * re-probes every KIngress and rewrites what is stale; a replica that stops leading stops
   * probing and writing at once.
   */
  setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.log.info({ leading }, leading ? 'leading: writing status' : 'following: not writing status');
    this.status.setLeading(leading);
    this.gatewaysRec.setLeading(leading);
    this.policies.setLeading(leading);
    if (!leading) return;
    // The new leader applies the fleets of the gateways it already serves; the KIngresses need no
    // new translation (a follower translates and pushes like a leader). Before the first
    // selection there is nothing to apply yet: that flush applies them.
    if (this.selection) this.gatewaysRec.applyFleets(this.selection.fleets, this.selection.served);
    for (const k of this.pipeline.keys()) this.marks.statuses.add(k);
    this.schedule();
    this.gatewaysRec.kick();
  }

  /** A flush is needed (coalesced: flush-scheduler.ts). */
  private schedule(): void {
    this.flushes.schedule();
  }

  /** Waits until everything scheduled so far has been flushed (for tests and benchmarks). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && (this.flushes.pending || this.marks.ingresses.size > 0); i++) {
      await new Promise((r) => setTimeout(r, 2));
      await this.flushes.settled();
    }
    await this.flushes.settled();
  }

  private gatewayFor(ing: KIngress): GatewayConfig | undefined {
    return this.served.gatewayFor(ing);
  }

  private flushGateways(): void {
    this.marks.gateways = false;
    const { served, fleets } = this.served.select([
      ...this.gateways.store.values(),
    ] as unknown as KnativeGateway[]);
    this.selection = { fleets, served };
    // Fresh incremental state per gateway; every KIngress is re-translated into it below.
    this.pipeline.setGateways(this.served.values());
    // applied in the background: a slow API server never delays the pushes below
    if (this.leading) this.gatewaysRec.applyFleets(fleets, served);
    this.gatewaysRec.kick();
    this.o.onGatewaysChanged?.();
    this.syncWantedSecrets(); // the gateways' default certificates
    if (this.policies.active) this.policies.markDirty(); // a gateway's rate ceiling may have changed
    for (const k of this.ingresses.store.keys()) this.marks.ingresses.add(k);
  }

  private onFleetChange(fleetKey: string): void {
    const def = this.served.fleet(fleetKey);
    if (!def) return;
    void this.gatewaysRec.publish(def);
    this.gatewaysRec.kick(def.gateway);
    if (def.rateLimitSharing === 'SharedEvenly') {
      // the fleet's local cluster: rate limits are divided by its ready replicas
      const ready = this.o.runtime.replicas(fleetKey).filter((r) => r.ready);
      this.pipeline.setFleetMembers(
        fleetKey,
        ready.map((r) => r.address),
      );
      this.schedule();
    }
    // A replica that became ready joins the running probe rounds and those of KIngresses not yet
    // Ready; one that went away leaves the others' verdicts standing.
    if (!this.served.replicaBecameReady(fleetKey)) return;
    const again = this.status.replicaBecameReady(def.gateway, this.pipeline.servedOn(def.gateway));
    for (const k of again) this.marks.statuses.add(k);
    this.schedule();
  }

  /** KIngresses that read any of `refs` (e.g. `host:<h>`, `ns:<namespace>`) are translated again. */
  invalidate(refs: readonly string[]): void {
    this.marks.invalidate(refs);
  }

  /** One flush (flush-scheduler.ts runs it); whether it translated or pushed anything. */
  private flush(): boolean {
    const marks = this.marks;
    if (marks.gateways) this.flushGateways();
    this.refreshPolicies();
    const t0 = performance.now();
    const translated = marks.ingresses.size;
    const pushesBefore = this.counters.pushes;
    // drained as it goes: a key marked again while flushing is flushed in this pass
    this.pipeline.flush(
      marks.drainIngresses(),
      (ing) => this.gatewayFor(ing),
      marks.endpoints,
      marks.secrets,
    );
    marks.endpoints.clear();
    marks.secrets.clear();
    const pushes = this.counters.pushes - pushesBefore;
    const ms = performance.now() - t0;
    this.counters.flushes++;
    this.counters.translated += translated;
    this.counters.flushMs += ms;
    const worked = translated > 0 || pushes > 0;
    if (worked) this.log.debug({ translated, pushes, ms: Math.round(ms * 10) / 10 }, 'flushed');
    for (const k of marks.statuses) {
      marks.statuses.delete(k);
      try {
        this.updateStatus(k);
      } catch (err) {
        this.log.error({ key: k, err: String(err) }, 'KIngress status update failed');
      }
    }
    this.updatePolicyProgrammed();
    return worked;
  }

  /** Resolves RoutePolicies again if needed; KIngresses whose features changed are translated again. */
  private refreshPolicies(): void {
    if (!this.policies.dirty) return; // the KIngress views are built only when resolving
    this.secrets.want(this.policies.wantedSecrets());
    const views = (): IngressView[] => {
      const out: IngressView[] = [];
      for (const ing of this.ingresses.store.values()) {
        const gw = this.gatewayFor(ing);
        if (!gw) continue;
        const bucket = gw.adminPolicy?.ceiling;
        out.push(ingressView(ing, bucket ? { gateway: gw.name, bucket } : undefined));
      }
      return out;
    };
    for (const k of this.policies.refresh(views) ?? []) this.marks.ingresses.add(k);
  }

  /** Each RoutePolicy's Programmed condition from the KIngresses it covers and the fleets' ACKs. */
  private updatePolicyProgrammed(): void {
    if (!this.policies.active) return;
    const proxies = this.o.xds.connections?.() ?? [];
    this.policies.updateProgrammed({
      ingress: (k) => this.pipeline.policyState(k),
      fleetsOf: (g) => this.served.config(g)?.fleets.map((f) => f.key) ?? [],
      rateLimitSharing: (f) => {
        const def = this.served.fleet(f);
        if (!def) return undefined;
        const svc = def.globalRateLimit?.service;
        return { mode: def.rateLimitSharing, ...(svc ? { service: `${svc.namespace}/${svc.name}` } : {}) };
      },
      ...routeAcks((f, t) => this.o.xds.snapshotVersion?.(f, t), proxies),
    });
  }

  /** Envoy accepted a version: the KIngresses changed in it are now served as pushed. */
  private onAck(e: AckEvent): void {
    // New config is in place on that replica: probe rounds of its gateway retry right away.
    const gateway = this.pipeline.gatewayOfFleet(e.fleet);
    if (gateway !== undefined) this.status.poke(gateway);
    this.pipeline.onAck(e);
  }

  /** Envoy rejected a version: reported on the fleet, attributed by the pipeline's arbiter. */
  private onNack(e: AckEvent): void {
    this.gatewaysRec.recordNack(e);
    this.pipeline.onNack(e);
  }

  /** Hands what is known about a KIngress to the status writer (ingress-status.ts). */
  private updateStatus(k: string): void {
    if (!this.leading) return;
    const ing = this.ingresses.store.get(k);
    const gw = ing && this.gatewayFor(ing);
    const report = gw && this.pipeline.statusReport(k, gw);
    if (report) this.status.report(k, report);
  }
}
