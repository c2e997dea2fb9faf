// The operator's core loop. Reflectors keep caches of KnativeGateways, KIngresses, Services,
// EndpointSlices and Secrets; changes mark KIngresses (or only endpoints/secrets) dirty; a
// coalescing flush re-translates just the dirty KIngresses and hands them to the gateway's
// IncrementalGateway (host claims + per-fleet assembly), which re-renders only what they touch;
// only the resource kinds that changed are pushed to the xDS server. The flush also drives
// probing and status. A KIngress whose class no gateway serves is never written to.
import type { Service } from '../api/core.ts';
import { resolveGateways } from '../api/gateway-selection.ts';
import type { KnativeGateway } from '../api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, hasClass, ingressKey, type KIngress } from '../api/kingress.ts';
import type { FleetRuntime } from '../fleets/runtime.ts';
import type { Logger } from '../log.ts';
import type { ReferencedSecrets } from '../kube/referenced-secrets.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { FleetResources } from '../render/fleet.ts';
import { sameStatus } from '../status/conditions.ts';
import { translateIngress } from '../translate/ingress.ts';
import { encodeProblem } from './encode-check.ts';
import { hostRefs, type HostOwners } from '../translate/host-ownership.ts';
import type { IngressIR, TranslateProblem, TranslateResult } from '../translate/ir.ts';
import type { Lookups } from '../translate/lookups.ts';
import type { SnapshotInput } from '../xds/cache.ts';
import { TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE, type TypeUrl } from '../xds/protos.ts';
import type { AckEvent, ProxyInfo } from '../xds/types.ts';
import { GatewayReconciler, type GatewayReconcilerOptions } from './gateway-reconciler.ts';
import type { GatewayConfig } from './gateways.ts';
import { NackArbiter, type NackHost } from './nack-arbiter.ts';
import { IncrementalGateway, snapshotOf } from './incremental.ts';
import { IngressStatusWriter, kingressEventObject, type StatusMetrics } from './ingress-status.ts';
import { ClusterWatch } from './cluster-watch.ts';
import { EventRecorder } from '../kube/events.ts';
import { DependencyIndex, SECRET_REF, secretKeys, specRefs } from './dependencies.ts';
import { RoutePolicies } from './route-policies.ts';
import { awaitedBackends, EndpointWait } from './endpoint-wait.ts';
import { programmedVerdict } from '../policy/programmed.ts';
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
}

export interface EngineOptions {
  rest: KubeRest;
  log: Logger;
  xds: SnapshotSink;
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
  /** How often KnativeGateway status is recomputed besides on events (default 2000 ms). */
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

interface IngressState {
  /** Last successful translation (kept while a later change fails: last good config). */
  good?: IngressIR;
  created: string;
  /** The gateway whose IncrementalGateway holds `good`. */
  gateway?: string;
  problem?: TranslateProblem;
  /** The IR Envoy last accepted for this KIngress (what a NACK reverts to). */
  served?: IngressIR;
  /** Generation Envoy rejected: not pushed again until the spec changes. */
  rejectedGeneration?: number;
  /**
   * A config Envoy rejected together with other KIngresses' changes, waiting (nack-arbiter.ts) to
   * be pushed again with fewer of them (status is left alone meanwhile).
   */
  held?: IngressIR;
  /** The RoutePolicy attachment `good` was translated with (route-policies.ts fingerprint). */
  policyPrint?: string;
}

/** Resource types a KIngress change can alter (NACKs of these are attributed to KIngresses). */
const ATTRIBUTED_TYPES: TypeUrl[] = [TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE];

/** Longest a change waits for the previous flush's coalescing window (see schedule()). */
const MAX_COALESCE_MS = 500;

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
  private readonly states = new Map<string, IngressState>();
  private gatewayConfigs = new Map<string, GatewayConfig>();
  private readonly dirty = new Set<string>();
  private readonly statusDirty = new Set<string>();
  /** Services (`<ns>/<name>`) whose EndpointSlices changed since the last flush. */
  private readonly endpointsDirty = new Set<string>();
  /** Secrets (`<ns>/<name>`) that changed since the last flush. */
  private readonly secretsDirty = new Set<string>();
  private gatewaysDirty = true;
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  /** End (performance.now) and duration of the last flush that did work, for coalescing. */
  private lastFlush = { end: 0, cost: 0 };
  private flushing: Promise<void> = Promise.resolve();
  private synced = false;
  private closed = false;
  /** refs (`svc:ns/name`, `secret:ns/name`) → KIngress keys that read them */
  private readonly deps = new DependencyIndex((added, dropped) => {
    if (added.length > 0) this.secrets.want(added);
    if (dropped) this.syncWantedSecrets();
  });
  private readonly lookups: Lookups;
  /** Fleet key → gateway name. */
  private fleetGateway = new Map<string, string>();
  /** Fleet key → its ready replicas (`id@address`) when last seen, to spot new ones. */
  private readonly readyReplicas = new Map<string, Set<string>>();
  /** Gateway name → its incremental conflicts + fleet assembly. */
  private pipes = new Map<string, IncrementalGateway>();
  /** Which KIngress pays for an Envoy NACK (nack-arbiter.ts). */
  private readonly nacks: NackArbiter;
  /** KIngress IRs set on a gateway pipe in the current flush (pushed next). */
  private readonly flushChanges = new Map<string, Map<string, IngressIR>>();
  /** Gateway name → why it is not served (invalid spec, ingress class taken). */
  private readonly gatewayProblems = new Map<string, string[]>();
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
  private readonly endpointWait = new EndpointWait((k) => {
    this.dirty.add(k);
    this.schedule();
  });
  /** RoutePolicies: which features are in force on which host, and their status. */
  private readonly policies: RoutePolicies;

  constructor(o: EngineOptions) {
    this.o = o;
    this.log = o.log;
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
      ...(o.now ? { now: o.now } : {}),
      ...(o.traffic ? { traffic: o.traffic } : {}),
      view: {
        gateways: () => [...this.gateways.store.values()] as unknown as KnativeGateway[],
        config: (name) => this.gatewayConfigs.get(name),
        problems: (name) => this.gatewayProblems.get(name) ?? [],
        fleetProblems: (name) => this.pipes.get(name)?.fleetProblems() ?? [],
        staleness: () => this.staleness(),
      },
    });
    this.nacks = new NackArbiter(this.nackHost(), o.log);
    this.status.setLeading(this.leading);
    this.gatewaysRec.setLeading(this.leading);
    this.gatewayTimer = setInterval(() => {
      this.checkStale();
      this.gatewaysRec.kick();
      this.updatePolicyProgrammed();
    }, o.gatewayStatusIntervalMs ?? 2000);
    this.gatewayTimer.unref();
    this.cluster = new ClusterWatch({
      rest: o.rest,
      log: o.log,
      onSecret: (k) => this.onSecretChange(k),
      onEndpoints: (svc) => {
        this.endpointsDirty.add(svc);
        for (const k of this.endpointWait.waitingFor(svc)) this.dirty.add(k);
        this.schedule();
      },
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
    this.ingresses.onEvent((e) => {
      const k = ingressKey(e.obj);
      this.status.observe(k, e.type === 'delete' ? undefined : e.obj);
      const classOf = (i: KIngress) => i.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
      if (
        e.type === 'upsert' &&
        e.old &&
        e.old.metadata.generation === e.obj.metadata.generation &&
        // the class annotation changes no generation, but decides who serves the KIngress
        classOf(e.old) === classOf(e.obj) &&
        this.states.has(k)
      ) {
        // status-only change (often our own write): nothing to translate
        if (!sameStatus(e.old.status, e.obj.status ?? {})) this.statusDirty.add(k);
        this.schedule();
        return;
      }
      this.dirty.add(k);
      // a KIngress's hosts and labels decide which policies cover it
      if (this.policies.active) this.policies.markDirty();
      this.schedule();
    });
    const onRef = (kind: string) => (e: { obj: KubeObject }) => {
      for (const k of this.deps.usersOf(`${kind}:${e.obj.metadata.namespace ?? ''}/${e.obj.metadata.name}`)) {
        this.dirty.add(k);
      }
      this.schedule();
    };
    this.services.onEvent(onRef('svc'));
    this.gateways.onEvent((e) => {
      // A status-only change (usually our own write) changes nothing to serve.
      if (e.type === 'upsert' && e.old && e.old.metadata.generation === e.obj.metadata.generation) {
        const labels = (o: KubeObject) => JSON.stringify(o.metadata.labels ?? {});
        if (labels(e.old) === labels(e.obj)) return;
      }
      this.gatewaysDirty = true;
      this.schedule();
    });
    o.runtime.onChange((fleetKey) => this.onFleetChange(fleetKey));
    o.xds.onAck?.((e) => this.onAck(e));
    o.xds.onNack?.((e) => this.onNack(e));
  }

  async start(): Promise<void> {
    this.cluster.start();
    this.policies.start();
    await this.cluster.synced();
    // RoutePolicies and their credentials before anything is pushed (bounded: a cluster without
    // the RoutePolicy CRD still starts): auth must not arrive a push after the routes it guards.
    await this.policies.synced();
    await this.secrets.prefetch(this.policies.wantedSecrets());
    // The Secrets KIngresses and gateways reference are fetched before anything is pushed: a first
    // snapshot without them would take TLS away from hosts the Envoys are serving.
    await this.secrets.prefetch(this.referencedSecretsAtStart());
    await this.gatewaysRec.start();
    if (this.o.hostOwners?.synced) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, HOST_OWNERS_WAIT_MS)));
      await Promise.race([this.o.hostOwners.synced, bound]);
      clearTimeout(timer);
    }
    this.synced = true;
    this.log.info(
      { ingresses: this.ingresses.store.size, gateways: this.gateways.store.size },
      'caches synced',
    );
    this.schedule();
    await this.flushing;
    this.flushNow();
    this.o.xds.markSynced();
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
    const fallback = [...this.pipes.values()].some((p) => p.defaultCertificateSecrets.has(k));
    if (this.deps.has(`${SECRET_REF}${k}`) || fallback) this.secretsDirty.add(k);
    if (fallback) this.gatewaysRec.kick();
    if (this.policies.usesSecret(k)) this.policies.markDirty();
    for (const key of this.deps.usersOf(`${SECRET_REF}${k}`)) this.dirty.add(key);
    this.schedule();
  }

  /** The Secrets whose data kgw keeps: those KIngresses name and the gateways' default certificates. */
  private syncWantedSecrets(): void {
    const keys: string[] = [];
    keys.push(...this.deps.referencedSecrets());
    for (const p of this.pipes.values()) keys.push(...p.defaultCertificateSecrets);
    keys.push(...this.policies.wantedSecrets());
    this.secrets.setWanted(keys);
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.gatewayTimer);
    this.endpointWait.stop();
    this.nacks.stop();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.cluster.stop();
    await this.policies.stop();
    await this.flushing.catch(() => undefined);
    await this.gatewaysRec.stop();
    await this.status.stop();
  }

  /** The KnativeGateway objects currently served (valid, ingress class not taken by an older one). */
  servedGateways(): KnativeGateway[] {
    return [...this.gateways.store.values()]
      .filter((o) => this.gatewayConfigs.has(o.metadata.name))
      .map((o) => o as unknown as KnativeGateway);
  }

  /** KIngresses of a served class and how many are Ready for their generation (for metrics). */
  ingressSummary(): { served: number; ready: number } {
    let ready = 0;
    for (const k of this.states.keys()) {
      const ing = this.ingresses.store.get(k);
      if (ing && this.status.readyFor(k)) ready++;
    }
    return { served: this.states.size, ready };
  }

  /**
   * Why this replica's view of the cluster may be stale: one of its watches has been failing for
   * staleAfterMs or longer (the API server unreachable, or a list forbidden). Undefined when all
   * watches are in touch. Readiness, a metric and the KnativeGateways' FleetsReady report it.
   */
  staleness(): { seconds: number; message: string } | undefined {
    return this.cluster.staleness();
  }

  private wasStale = false;

  /** Logs when this replica becomes stale and when it is in touch again (see staleness()). */
  private checkStale(): void {
    const s = this.staleness();
    if ((s !== undefined) === this.wasStale) return;
    this.wasStale = s !== undefined;
    if (s) this.log.error({ seconds: s.seconds, reason: s.message }, 'cut off from the API server');
    else this.log.info({}, 'in touch with the API server again');
  }

  /**
   * Per fleet (`<gateway>/<fleet>`) of the served gateways, the replicas its spec asks for and how
   * many are ready. Empty on a follower: only the leader runs (and so sees) the fleets.
   */
  fleetReplicas(): { fleet: string; desired: number; ready: number }[] {
    if (!this.leading) return [];
    const out: { fleet: string; desired: number; ready: number }[] = [];
    for (const config of this.gatewayConfigs.values()) {
      for (const f of config.fleets) {
        const ready = this.o.runtime.replicas(f.key).filter((r) => r.ready).length;
        out.push({ fleet: f.key, desired: f.replicas, ready });
      }
    }
    return out;
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
    this.gatewaysDirty = true;
    for (const k of this.states.keys()) this.statusDirty.add(k);
    this.schedule();
    this.gatewaysRec.kick();
  }

  /**
   * Coalescing: after a flush that took C ms, the next one starts no sooner than C ms after it
   * ended (capped): a lone change after a quiet spell is flushed at once, while a burst against
   * a large configuration (where pushing a route table takes long) is batched, so flushing
   * never takes more than about half the time.
   */
  private schedule(): void {
    if (!this.synced || this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushTimer = undefined;
      this.flushScheduled = false;
      this.flushing = this.flushing
        .then(() => this.flushNow())
        .catch((err: unknown) => {
          this.log.error({ err }, 'flush failed');
        });
    };
    const wait = Math.min(this.lastFlush.cost, MAX_COALESCE_MS) - (performance.now() - this.lastFlush.end);
    if (wait >= 1) this.flushTimer = setTimeout(run, wait);
    else setImmediate(run);
  }

  /** Waits until everything scheduled so far has been flushed (for tests and benchmarks). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && (this.flushScheduled || this.dirty.size > 0); i++) {
      await new Promise((r) => setTimeout(r, 2));
      await this.flushing;
    }
    await this.flushing;
  }

  private gatewayFor(ing: KIngress): GatewayConfig | undefined {
    for (const g of this.gatewayConfigs.values()) if (hasClass(ing, g.ingressClass)) return g;
    return undefined;
  }

  private flushGateways(): void {
    this.gatewaysDirty = false;
    const next = new Map<string, GatewayConfig>();
    this.gatewayProblems.clear();
    const objects = [...this.gateways.store.values()] as unknown as KnativeGateway[];
    const selection = resolveGateways(objects);
    for (const [name, problems] of selection.problems) {
      this.log.warn({ gateway: name, problems }, 'KnativeGateway not served');
      this.gatewayProblems.set(name, problems);
    }
    for (const obj of selection.served) {
      const g = this.o.gatewayConfig(obj as unknown as KubeObject);
      if (g) next.set(g.name, g);
    }
    this.gatewayConfigs = next;
    this.fleetGateway = new Map([...next.values()].flatMap((g) => g.fleets.map((f) => [f.key, g.name])));
    // Fresh incremental state per gateway; every KIngress is re-translated into it below.
    this.pipes = new Map(
      [...next.values()].map((g) => [
        g.name,
        new IncrementalGateway(
          g.fleets.map((def) => ({
            key: def.key,
            opts: {
              visibility: def.visibility,
              httpPort: def.ports.http,
              httpsPort: def.ports.https,
              accessLog: def.accessLog,
              http: def.http,
              clientIP: def.clientIP,
              ...(def.tracing ? { tracing: { ...def.tracing, serviceName: def.serviceName } } : {}),
              ...(g.defaultCertificate?.fleets.includes(def.name)
                ? { defaultCertificate: { secret: g.defaultCertificate.secret } }
                : {}),
            },
          })),
          this.lookups,
        ),
      ]),
    );
    for (const s of this.states.values()) s.gateway = undefined;
    const fleets = [...next.values()].flatMap((g) => g.fleets);
    const served = new Map(
      selection.served.filter((o) => next.has(o.metadata.name)).map((o) => [o.metadata.name, o]),
    );
    // applied in the background: a slow API server never delays the pushes below
    if (this.leading) this.gatewaysRec.applyFleets(fleets, served);
    this.gatewaysRec.kick();
    this.o.onGatewaysChanged?.();
    this.syncWantedSecrets(); // the gateways' default certificates
    for (const k of this.ingresses.store.keys()) this.dirty.add(k);
  }

  private onFleetChange(fleetKey: string): void {
    const def = [...this.gatewayConfigs.values()].flatMap((g) => g.fleets).find((f) => f.key === fleetKey);
    if (!def) return;
    void this.gatewaysRec.publish(def);
    this.gatewaysRec.kick();
    const ready = new Set(
      this.o.runtime
        .replicas(fleetKey)
        .filter((r) => r.ready)
        .map((r) => `${r.id}@${r.address}`),
    );
    const before = this.readyReplicas.get(fleetKey) ?? new Set<string>();
    this.readyReplicas.set(fleetKey, ready);
    // Only a replica that became ready must be probed for every KIngress of the gateway; one
    // that went away leaves the others' verdicts standing (and re-probing 10k KIngresses on
    // every readiness blip would swamp the fleet).
    if (![...ready].some((r) => !before.has(r))) return;
    this.status.restartProbes(def.gateway);
    for (const [k, s] of this.states) if (s.good && s.gateway === def.gateway) this.statusDirty.add(k);
    this.schedule();
  }

  /** KIngresses that read any of `refs` (e.g. `host:<h>`, `ns:<namespace>`) are translated again. */
  invalidate(refs: readonly string[]): void {
    let any = false;
    for (const r of refs) {
      for (const k of this.deps.usersOf(r)) {
        this.dirty.add(k);
        any = true;
      }
    }
    if (any) this.schedule();
  }

  private flushNow(): void {
    if (this.closed) return;
    if (this.gatewaysDirty) this.flushGateways();
    this.refreshPolicies();
    this.nacks.releaseGroup();
    const t0 = performance.now();
    const translated = this.dirty.size;
    const pushesBefore = this.counters.pushes;
    for (const k of this.dirty) {
      this.dirty.delete(k);
      // One KIngress can never stop the others: whatever goes wrong with it is its own problem.
      try {
        this.flushIngress(k);
      } catch (err) {
        this.log.error({ key: k, err: String(err) }, 'KIngress flush failed');
      }
    }
    for (const [gwName, pipe] of this.pipes) {
      try {
        this.flushGateway(gwName, pipe);
      } catch (err) {
        // a kgw bug; the other gateways' fleets still get their configuration
        this.log.error({ gateway: gwName, err: String(err) }, 'flushing a gateway failed');
      }
    }
    this.flushChanges.clear();
    this.endpointsDirty.clear();
    this.secretsDirty.clear();
    const pushes = this.counters.pushes - pushesBefore;
    const ms = performance.now() - t0;
    this.counters.flushes++;
    this.counters.translated += translated;
    this.counters.flushMs += ms;
    if (translated > 0 || pushes > 0) this.lastFlush = { end: performance.now(), cost: ms };
    if (translated > 0 || pushes > 0)
      this.log.debug({ translated, pushes, ms: Math.round(ms * 10) / 10 }, 'flushed');
    for (const k of this.statusDirty) {
      this.statusDirty.delete(k);
      try {
        this.updateStatus(k);
      } catch (err) {
        this.log.error({ key: k, err: String(err) }, 'KIngress status update failed');
      }
    }
    this.updatePolicyProgrammed();
  }

  /** Resolves RoutePolicies again if needed; KIngresses whose features changed are translated again. */
  private refreshPolicies(): void {
    if (!this.policies.dirty) return; // the KIngress views are built only when resolving
    this.secrets.want(this.policies.wantedSecrets());
    const views = (): IngressView[] =>
      [...this.ingresses.store.values()].filter((ing) => this.gatewayFor(ing)).map(ingressView);
    for (const k of this.policies.refresh(views) ?? []) this.dirty.add(k);
  }

  /** Each RoutePolicy's Programmed condition from the KIngresses it covers and the fleets' ACKs. */
  private updatePolicyProgrammed(): void {
    if (!this.policies.active) return;
    const proxies = this.o.xds.connections?.() ?? [];
    for (const o of this.policies.outcomes()) {
      if (o.ingressKeys.length === 0) continue;
      const verdict = programmedVerdict(o, {
        ingress: (k) => {
          const st = this.states.get(k);
          if (!st?.good) return undefined;
          return {
            print: st.policyPrint ?? '',
            ...(st.gateway !== undefined ? { gateway: st.gateway } : {}),
            held: st.held !== undefined,
          };
        },
        currentPrint: (k) => this.policies.fingerprint(k),
        fleetsOf: (g) => this.gatewayConfigs.get(g)?.fleets.map((f) => f.key) ?? [],
        routeVersion: (f) => this.o.xds.snapshotVersion?.(f, TYPE_ROUTE),
        ackedRouteVersions: (f) => proxies.filter((p) => p.fleet === f).map((p) => p.acked[TYPE_ROUTE]),
      });
      this.policies.setProgrammed(o.key, verdict);
    }
  }

  /** Assembles one gateway's fleets from its staged changes and pushes what changed. */
  private flushGateway(gwName: string, pipe: IncrementalGateway): void {
    if (this.endpointsDirty.size > 0) pipe.refreshEndpoints(this.endpointsDirty);
    if (this.secretsDirty.size > 0) pipe.refreshSecrets(this.secretsDirty);
    const { outcomes, fleets } = pipe.flush();
    // Outcome changes include a KIngress that wins a host because its owner went away.
    for (const k of outcomes) if (this.states.has(k)) this.statusDirty.add(k);
    const changes = this.flushChanges.get(gwName) ?? new Map<string, IngressIR>();
    for (const [fleet, res] of fleets) {
      const versionOf = (t: TypeUrl) => this.o.xds.snapshotVersion?.(fleet, t);
      const before = ATTRIBUTED_TYPES.map(versionOf);
      this.push(fleet, res);
      if (changes.size === 0) continue;
      // Only the types this push gave a new version: Envoy answers those (an unchanged type's
      // version was answered before and would never be confirmed).
      ATTRIBUTED_TYPES.forEach((t, i) => {
        const version = versionOf(t);
        if (version !== undefined && version !== before[i]) this.nacks.pushed(fleet, t, version, changes);
      });
    }
  }

  /** Translates one dirty KIngress and stages its IR (or records its problem). */
  private flushIngress(k: string): void {
    const ing = this.ingresses.store.get(k);
    const gw = ing && this.gatewayFor(ing);
    const prev = this.states.get(k);
    if (prev?.gateway && prev.gateway !== gw?.name) {
      this.pipes.get(prev.gateway)?.delete(k);
      prev.gateway = undefined;
    }
    if (!ing || !gw) {
      if (prev) {
        this.states.delete(k);
        this.status.forget(k); // no longer ours to write (deleted, or of another class now)
        this.deps.set(k, []);
        this.nacks.answered(k);
      }
      return;
    }
    // A referenced Secret that exists but whose data is still on its way: wait for it (its
    // arrival marks this KIngress dirty again) rather than report it missing.
    const refs = specRefs(ing);
    this.deps.set(k, refs);
    if (refs.some((r) => r.startsWith(SECRET_REF) && this.secrets.isPending(r.slice(SECRET_REF.length))))
      return;
    const policyPrint = this.policies.fingerprint(k);
    const res = this.translate(ing, gw);
    const state: IngressState = prev ?? { created: ing.metadata.creationTimestamp ?? '' };
    if (!res.ok && res.problem.withdraw) {
      // e.g. a host it may not serve: its last good configuration must not stay served either
      this.pipes.get(gw.name)?.delete(k);
      state.good = undefined;
      state.served = undefined;
      state.held = undefined;
      state.gateway = undefined;
      state.rejectedGeneration = undefined;
    }
    if (state.rejectedGeneration !== undefined && state.rejectedGeneration === ing.metadata.generation) {
      // Envoy rejected this generation: keep serving what it accepted and keep the report
      // (also into a gateway pipe that was rebuilt since).
      if (state.served && state.gateway === undefined) {
        this.pipes.get(gw.name)?.set(state.served, state.created);
        state.gateway = gw.name;
      }
      this.statusDirty.add(k);
      return;
    }
    state.rejectedGeneration = undefined;
    state.held = undefined; // translated anew: pushed as a change of its own
    if (res.ok && state.good && state.gateway === gw.name) {
      // a served KIngress moving to backends without endpoints yet keeps its config meanwhile
      const waiting = awaitedBackends(state.good, res.ir, (ns, svc) => this.lookups.endpointSlices(ns, svc));
      if (waiting.length > 0 && this.endpointWait.hold(k, waiting)) {
        this.log.debug(
          { namespace: ing.metadata.namespace, name: ing.metadata.name, waiting },
          'waiting for endpoints',
        );
        this.states.set(k, state);
        this.statusDirty.add(k);
        return;
      }
    }
    this.endpointWait.clear(k);
    if (res.ok) {
      if (res.ir.notes && JSON.stringify(res.ir.notes) !== JSON.stringify(state.good?.notes)) {
        const message = res.ir.notes.join('; ');
        this.log.warn(
          { namespace: ing.metadata.namespace, name: ing.metadata.name, message },
          'KIngress: ignored',
        );
        if (this.leading)
          this.events.record(kingressEventObject(ing), 'Warning', 'RoutingRulesIgnored', message);
      }
      state.good = res.ir;
      state.policyPrint = policyPrint;
      state.problem = undefined;
    } else {
      state.problem = res.problem;
      this.log.warn(
        { namespace: ing.metadata.namespace, name: ing.metadata.name, ...res.problem },
        'KIngress not programmed',
      );
    }
    this.states.set(k, state);
    // The last good IR stays served while a later change fails.
    if (state.good) {
      this.stage(gw.name, k, state.good, state.created);
      state.gateway = gw.name;
    }
    this.deps.set(k, [
      ...specRefs(ing, res.ok ? res.ir : undefined),
      ...hostRefs(ing.spec, ing.metadata.namespace ?? '', gw.clusterDomain, gw.hostPolicy),
    ]);
    this.statusDirty.add(k);
  }

  /**
   * translate + the encode check, with any exception turned into the KIngress's own problem (an
   * exception is a kgw bug, but it must not cost the other KIngresses their configuration).
   */
  private translate(ing: KIngress, gw: GatewayConfig): TranslateResult {
    try {
      const res = translateIngress(ing, {
        ...this.lookups,
        clusterDomain: gw.clusterDomain,
        externalNames: gw.externalNames,
        ...(gw.hostPolicy ? { hostPolicy: gw.hostPolicy } : {}),
        ...(this.o.hostOwners ? { hostOwners: this.o.hostOwners } : {}),
      });
      if (!res.ok) return res;
      const problem = encodeProblem(res.ir);
      return problem ? { ok: false, problem } : res;
    } catch (err) {
      this.log.error(
        { namespace: ing.metadata.namespace, name: ing.metadata.name, err: String(err) },
        'translating a KIngress failed',
      );
      return {
        ok: false,
        problem: {
          reason: 'InternalError',
          message: `kgw could not translate this KIngress: ${String(err)}`.slice(0, 1000),
        },
      };
    }
  }

  /** Sends the changed kinds of one fleet (an endpoint change sends EDS only). */
  private push(fleet: string, res: Partial<FleetResources>): void {
    const t0 = performance.now();
    try {
      this.counters.pushes++;
      this.o.xds.setSnapshot(fleet, snapshotOf(res));
    } catch (err) {
      this.log.error({ err: String(err), fleet }, 'xDS snapshot rejected');
    } finally {
      this.counters.pushMs += performance.now() - t0;
    }
  }

  /** Envoy accepted a version: the KIngresses changed in it are now served as pushed. */
  private onAck(e: AckEvent): void {
    // New config is in place on that replica: probe rounds of its gateway retry right away.
    const gateway = this.fleetGateway.get(e.fleet);
    if (gateway !== undefined) this.status.poke(gateway);
    this.nacks.onAck(e);
  }

  /**
   * Sets a KIngress's IR on its gateway's pipe and records it as a change of this flush (for NACK
   * attribution); false when the gateway has no pipe.
   */
  private stage(gateway: string, k: string, ir: IngressIR, created: string): boolean {
    const pipe = this.pipes.get(gateway);
    if (!pipe) return false;
    pipe.set(ir, created);
    const changes = this.flushChanges.get(gateway) ?? new Map<string, IngressIR>();
    changes.set(k, ir);
    this.flushChanges.set(gateway, changes);
    return true;
  }

  /** Envoy rejected a version: reported on the fleet, attributed by the arbiter. */
  private onNack(e: AckEvent): void {
    this.gatewaysRec.recordNack(e.fleet, {
      typeUrl: e.typeUrl,
      version: e.version,
      message: (e.error ?? '').slice(0, 1000),
      proxy: e.nodeId,
      time: (this.o.now ?? (() => new Date().toISOString()))(),
    });
    this.nacks.onNack(e);
  }

  /** What the NACK arbiter does to a KIngress's state (see NackHost). */
  private nackHost(): NackHost {
    return {
      good: (k) => (this.ingresses.store.has(k) ? this.states.get(k)?.good : undefined),
      accepted: (k, ir) => {
        const st = this.states.get(k);
        if (st) st.served = ir;
      },
      revert: (k) => {
        const st = this.states.get(k);
        if (!st) return;
        this.status.restartProbe(k);
        const pipe = st.gateway ? this.pipes.get(st.gateway) : undefined;
        if (st.served) pipe?.set(st.served, st.created);
        else pipe?.delete(k);
        st.good = st.served;
      },
      hold: (k, ir) => {
        const st = this.states.get(k);
        if (st) st.held = ir;
      },
      reject: (k, message) => {
        const st = this.states.get(k);
        const ing = this.ingresses.store.get(k);
        if (!st || !ing) return;
        this.log.warn(
          { namespace: ing.metadata.namespace, name: ing.metadata.name, error: message },
          'Envoy NACK attributed to KIngress',
        );
        st.problem = { reason: 'EnvoyRejected', message };
        st.rejectedGeneration = ing.metadata.generation ?? 0;
        this.statusDirty.add(k);
      },
      retry: (k) => {
        const st = this.states.get(k);
        const ir = st?.held;
        if (!st || !ir) return false;
        st.held = undefined;
        this.statusDirty.add(k);
        // without a gateway any more there is nothing to push
        if (st.gateway !== undefined && this.stage(st.gateway, k, ir, st.created)) st.good = ir;
        return true;
      },
      wake: () => this.schedule(),
    };
  }

  /** Hands what is known about a KIngress to the status writer (ingress-status.ts). */
  private updateStatus(k: string): void {
    if (!this.leading) return;
    const ing = this.ingresses.store.get(k);
    const state = this.states.get(k);
    const gw = ing && this.gatewayFor(ing);
    if (!ing || !state || !gw) return;
    if (state.held) return; // reported once its retry is answered
    const conflict = state.gateway ? this.pipes.get(state.gateway)?.conflict(k) : undefined;
    if (state.problem) this.status.report(k, { kind: 'problem', ...state.problem });
    else if (conflict) this.status.report(k, { kind: 'conflict', ...conflict });
    else if (state.good) this.status.report(k, { kind: 'served', ir: state.good, gateway: gw });
  }
}
