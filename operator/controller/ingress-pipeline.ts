// The KIngress pipeline: dirty KIngress keys → translation (translate/) → per-gateway incremental
// assembly (incremental.ts: host claims + fleet resources) → xDS push of only the kinds that
// changed, with NACK attribution of what it pushed (nack-arbiter.ts). It keeps each KIngress's
// last good IR (served while a later change fails), what Envoy last accepted (what a NACK reverts
// to) and the problem to report; the engine decides when to flush and hands the status reports
// (statusReport) to the status writer. No API server access: everything comes in through options.
import { rateLimitServiceCluster } from '../translate/rate-limit-service.ts';
import type { KIngress } from '../api/kingress.ts';
import type { Logger } from '../log.ts';
import type { FleetProblem, FleetResources } from '../render/fleet.ts';
import { hostRefs, type HostOwners } from '../translate/host-ownership.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { IngressIR, TranslateProblem, TranslateResult } from '../translate/ir.ts';
import type { Lookups } from '../translate/lookups.ts';
import type { SnapshotInput } from '../xds/cache.ts';
import { TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE, TYPE_SCOPED_ROUTE, type TypeUrl } from '../xds/protos.ts';
import type { AckEvent } from '../xds/types.ts';
import { SECRET_REF, specRefs, type DependencyIndex } from './dependencies.ts';
import { encodeProblem } from './encode-check.ts';
import { awaitedBackends, type EndpointWait } from './endpoint-wait.ts';
import type { GatewayConfig } from './gateways.ts';
import { IncrementalGateway, snapshotOf } from './incremental.ts';
import type { StatusReport } from './ingress-status.ts';
import { NackArbiter, type NackHost } from './nack-arbiter.ts';

/** What the pipeline pushes to (the xDS server's snapshot cache). */
export interface SnapshotTarget {
  /** Types not given keep their previous set (an endpoint change gives EDS only). */
  setSnapshot(fleet: string, resources: SnapshotInput): void;
  /** Current version of a fleet's resource type (for NACK attribution). */
  snapshotVersion?(fleet: string, typeUrl: TypeUrl): string | undefined;
  /** The RateLimitConfigs of a Global fleet's rate-limit service (complete set by name). */
  setRateLimitConfigs?(fleet: string, configs: ReadonlyMap<string, object>): unknown;
}

export interface IngressPipelineOptions {
  log: Logger;
  xds: SnapshotTarget;
  /** Services, endpoints, Secrets and RoutePolicies as translation reads them. */
  lookups: Lookups;
  hostOwners?: HostOwners;
  /** The cached KIngress of a key (`<ns>/<name>`). */
  ingress(key: string): KIngress | undefined;
  /** refs (`svc:…`, `secret:…`, `host:…`) each KIngress reads, kept up to date here. */
  deps: DependencyIndex;
  /** A referenced Secret exists but its data is still on its way. */
  secretPending(key: string): boolean;
  /** Served KIngresses held back while their new backends have no endpoints yet. */
  endpointWait: EndpointWait;
  /** The RoutePolicy attachment a KIngress is translated with (route-policies.ts fingerprint). */
  policyPrint(key: string): string;
  /** The KIngress's status must be computed again (statusReport). */
  statusChanged(key: string): void;
  /** The KIngress is not served any more (deleted, or of a class no gateway serves). */
  forgotten(key: string): void;
  /** A revert after a NACK: its readiness must be probed anew. */
  restartProbe(key: string): void;
  /** Parts of a KIngress translation ignored (for an Event). */
  ignored(ing: KIngress, message: string): void;
  /** The NACK arbiter wants a flush (a held change to retry). */
  wake(): void;
  /** Work counters shared with the engine (pushes and push time are counted here). */
  counters: { pushes: number; pushMs: number };
  /** The fleets' Envoys speak delta xDS: their route tables go as scoped routes (render/scoped.ts). */
  scoped?: boolean;
}

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

/** What the RoutePolicy Programmed verdict reads of a served KIngress (policy/programmed.ts). */
export interface PolicyState {
  print: string;
  gateway?: string;
  held: boolean;
}

/** Resource types a KIngress change can alter (NACKs of these are attributed to KIngresses). */
const ATTRIBUTED_TYPES: TypeUrl[] = [TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE, TYPE_SCOPED_ROUTE];

export class IngressPipeline {
  private readonly o: IngressPipelineOptions;
  private readonly states = new Map<string, IngressState>();
  /** Gateway name → its incremental conflicts + fleet assembly. */
  private pipes = new Map<string, IncrementalGateway>();
  /** Fleet key → gateway name. */
  private fleetGateway = new Map<string, string>();
  /** KIngress IRs set on a gateway pipe in the current flush (pushed next). */
  private readonly flushChanges = new Map<string, Map<string, IngressIR>>();
  /** Which KIngress pays for an Envoy NACK. */
  private readonly nacks: NackArbiter;
  /** Fleet key → its ready replicas' addresses as last reported (kept across setGateways). */
  private readonly fleetMembers = new Map<string, string[]>();

  constructor(o: IngressPipelineOptions) {
    this.o = o;
    this.nacks = new NackArbiter(this.nackHost(), o.log);
  }

  stop(): void {
    this.nacks.stop();
  }

  /**
   * The served gateways changed: fresh incremental state per gateway (every KIngress must be
   * flushed again into it; a NACKed KIngress's accepted config is kept).
   */
  setGateways(configs: Iterable<GatewayConfig>): void {
    const list = [...configs];
    this.fleetGateway = new Map(list.flatMap((g) => g.fleets.map((f) => [f.key, g.name])));
    this.pipes = new Map(
      list.map((g) => [
        g.name,
        new IncrementalGateway(
          g.fleets.map((def) => ({
            key: def.key,
            opts: {
              visibility: def.visibility,
              ...(this.o.scoped === true ? { scoped: true } : {}),
              httpPort: def.ports.http,
              httpsPort: def.ports.https,
              accessLog: def.accessLog,
              http: def.http,
              clientIP: def.clientIP,
              rateLimitSharing: def.rateLimitSharing,
              ...(def.globalRateLimit
                ? {
                    globalRateLimit: {
                      failureMode: def.globalRateLimit.failureMode,
                      timeoutMs: def.globalRateLimit.timeoutMs,
                      cluster: rateLimitServiceCluster(
                        def.globalRateLimit.service,
                        this.o.lookups.service(
                          def.globalRateLimit.service.namespace,
                          def.globalRateLimit.service.name,
                        ),
                      ),
                    },
                  }
                : {}),
              ...(def.tracing ? { tracing: { ...def.tracing, serviceName: def.serviceName } } : {}),
              ...(g.defaultCertificate?.fleets.includes(def.name)
                ? { defaultCertificate: { secret: g.defaultCertificate.secret } }
                : {}),
            },
          })),
          this.o.lookups,
        ),
      ]),
    );
    for (const s of this.states.values()) s.gateway = undefined;
    for (const [fleet, addresses] of this.fleetMembers)
      this.pipeOfFleet(fleet)?.setFleetMembers(fleet, addresses);
  }

  /**
   * The ready replicas (addresses) of a fleet now: the next flush sends its fleet-members
   * assignment if its rate limits are SharedEvenly (incremental.ts).
   */
  setFleetMembers(fleet: string, addresses: string[]): void {
    this.fleetMembers.set(fleet, addresses);
    this.pipeOfFleet(fleet)?.setFleetMembers(fleet, addresses);
  }

  private pipeOfFleet(fleet: string): IncrementalGateway | undefined {
    const gw = this.fleetGateway.get(fleet);
    return gw === undefined ? undefined : this.pipes.get(gw);
  }

  /** The gateway a fleet (`<gateway>/<fleet>`) belongs to. */
  gatewayOfFleet(fleet: string): string | undefined {
    return this.fleetGateway.get(fleet);
  }

  /** Secrets the gateways' default certificates use. */
  defaultCertificateSecrets(): string[] {
    return [...this.pipes.values()].flatMap((p) => [...p.defaultCertificateSecrets]);
  }

  /** Whether a gateway's default certificate uses the Secret (`<ns>/<name>`). */
  usesDefaultCertificateSecret(key: string): boolean {
    for (const p of this.pipes.values()) if (p.defaultCertificateSecrets.has(key)) return true;
    return false;
  }

  /** Why a gateway's fleets could not all be assembled (KnativeGateway status). */
  fleetProblems(gateway: string): Iterable<[string, FleetProblem[]]> {
    return this.pipes.get(gateway)?.fleetProblems() ?? [];
  }

  /** Keys of the KIngresses served (of a class a gateway serves). */
  keys(): IterableIterator<string> {
    return this.states.keys();
  }

  has(key: string): boolean {
    return this.states.has(key);
  }

  get size(): number {
    return this.states.size;
  }

  /** Keys of the KIngresses with a good config on `gateway`. */
  servedOn(gateway: string): string[] {
    return [...this.states].filter(([, s]) => s.good && s.gateway === gateway).map(([k]) => k);
  }

  /** What the RoutePolicy Programmed verdict needs of a KIngress; undefined when not served. */
  policyState(key: string): PolicyState | undefined {
    const st = this.states.get(key);
    if (!st?.good) return undefined;
    return {
      print: st.policyPrint ?? '',
      ...(st.gateway !== undefined ? { gateway: st.gateway } : {}),
      held: st.held !== undefined,
    };
  }

  /**
   * One flush: translates `dirty` (gw: the gateway serving a KIngress, if any), then assembles
   * each gateway's fleets and pushes what changed. Endpoint and Secret changes re-render without
   * translation. One KIngress, or one gateway, failing never stops the others.
   */
  flush(
    dirty: Iterable<string>,
    gatewayFor: (ing: KIngress) => GatewayConfig | undefined,
    endpointsDirty: ReadonlySet<string>,
    secretsDirty: ReadonlySet<string>,
  ): void {
    this.nacks.releaseGroup();
    for (const k of dirty) {
      try {
        this.flushIngress(k, gatewayFor);
      } catch (err) {
        this.o.log.error({ key: k, err: String(err) }, 'KIngress flush failed');
      }
    }
    for (const [gwName, pipe] of this.pipes) {
      try {
        this.flushGateway(gwName, pipe, endpointsDirty, secretsDirty);
      } catch (err) {
        // a kgw bug; the other gateways' fleets still get their configuration
        this.o.log.error({ gateway: gwName, err: String(err) }, 'flushing a gateway failed');
      }
    }
    this.flushChanges.clear();
  }

  /** What to report on a KIngress's status now (undefined: nothing, e.g. a retry in flight). */
  statusReport(key: string, gw: GatewayConfig): StatusReport | undefined {
    const state = this.states.get(key);
    if (!state || state.held) return undefined; // a held one is reported once its retry is answered
    const conflict = state.gateway ? this.pipes.get(state.gateway)?.conflict(key) : undefined;
    if (state.problem) return { kind: 'problem', ...state.problem };
    if (conflict) return { kind: 'conflict', ...conflict };
    if (state.good) return { kind: 'served', ir: state.good, gateway: gw };
    return undefined;
  }

  /** Envoy accepted a version: the KIngresses changed in it are now served as pushed. */
  onAck(e: AckEvent): void {
    this.nacks.onAck(e);
  }

  /** Envoy rejected a version: the arbiter finds which KIngress pays. */
  onNack(e: AckEvent): void {
    this.nacks.onNack(e);
  }

  /** Assembles one gateway's fleets from its staged changes and pushes what changed. */
  private flushGateway(
    gwName: string,
    pipe: IncrementalGateway,
    endpointsDirty: ReadonlySet<string>,
    secretsDirty: ReadonlySet<string>,
  ): void {
    if (endpointsDirty.size > 0) pipe.refreshEndpoints(endpointsDirty);
    if (secretsDirty.size > 0) pipe.refreshSecrets(secretsDirty);
    const { outcomes, fleets, rateLimitConfigs } = pipe.flush();
    for (const [fleet, configs] of rateLimitConfigs) {
      try {
        this.o.xds.setRateLimitConfigs?.(fleet, configs);
      } catch (err) {
        this.o.log.error({ err: String(err), fleet }, 'rate-limit service configuration rejected');
      }
    }
    // Outcome changes include a KIngress that wins a host because its owner went away.
    for (const k of outcomes) if (this.states.has(k)) this.o.statusChanged(k);
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
  private flushIngress(k: string, gatewayFor: (ing: KIngress) => GatewayConfig | undefined): void {
    const ing = this.o.ingress(k);
    const gw = ing && gatewayFor(ing);
    const prev = this.states.get(k);
    if (prev?.gateway && prev.gateway !== gw?.name) {
      this.pipes.get(prev.gateway)?.delete(k);
      prev.gateway = undefined;
    }
    if (!ing || !gw) {
      if (prev) {
        this.states.delete(k);
        this.o.forgotten(k); // no longer ours to write (deleted, or of another class now)
        this.o.deps.set(k, []);
        this.nacks.answered(k);
      }
      return;
    }
    // A referenced Secret that exists but whose data is still on its way: wait for it (its
    // arrival marks this KIngress dirty again) rather than report it missing.
    const refs = specRefs(ing);
    this.o.deps.set(k, refs);
    if (refs.some((r) => r.startsWith(SECRET_REF) && this.o.secretPending(r.slice(SECRET_REF.length))))
      return;
    const policyPrint = this.o.policyPrint(k);
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
      this.o.statusChanged(k);
      return;
    }
    state.rejectedGeneration = undefined;
    state.held = undefined; // translated anew: pushed as a change of its own
    if (res.ok && state.good && state.gateway === gw.name) {
      // a served KIngress moving to backends without endpoints yet keeps its config meanwhile
      const waiting = awaitedBackends(state.good, res.ir, (ns, svc) =>
        this.o.lookups.endpointSlices(ns, svc),
      );
      if (waiting.length > 0 && this.o.endpointWait.hold(k, waiting)) {
        this.o.log.debug(
          { namespace: ing.metadata.namespace, name: ing.metadata.name, waiting },
          'waiting for endpoints',
        );
        this.states.set(k, state);
        this.o.statusChanged(k);
        return;
      }
    }
    this.o.endpointWait.clear(k);
    if (res.ok) {
      if (res.ir.notes && JSON.stringify(res.ir.notes) !== JSON.stringify(state.good?.notes)) {
        const message = res.ir.notes.join('; ');
        this.o.log.warn(
          { namespace: ing.metadata.namespace, name: ing.metadata.name, message },
          'KIngress: ignored',
        );
        this.o.ignored(ing, message);
      }
      state.good = res.ir;
      state.policyPrint = policyPrint;
      state.problem = undefined;
    } else {
      state.problem = res.problem;
      this.o.log.warn(
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
    this.o.deps.set(k, [
      ...specRefs(ing, res.ok ? res.ir : undefined),
      ...hostRefs(ing.spec, ing.metadata.namespace ?? '', gw.clusterDomain, gw.hostPolicy),
    ]);
    this.o.statusChanged(k);
  }

  /**
   * translate + the encode check, with any exception turned into the KIngress's own problem (an
   * exception is a kgw bug, but it must not cost the other KIngresses their configuration).
   */
  private translate(ing: KIngress, gw: GatewayConfig): TranslateResult {
    try {
      const res = translateIngress(ing, {
        ...this.o.lookups,
        clusterDomain: gw.clusterDomain,
        externalNames: gw.externalNames,
        ...(gw.hostPolicy ? { hostPolicy: gw.hostPolicy } : {}),
        ...(gw.adminPolicy ? { adminPolicy: gw.adminPolicy } : {}),
        ...(this.o.hostOwners ? { hostOwners: this.o.hostOwners } : {}),
      });
      if (!res.ok) return res;
      const problem = encodeProblem(res.ir);
      return problem ? { ok: false, problem } : res;
    } catch (err) {
      this.o.log.error(
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
      this.o.counters.pushes++;
      this.o.xds.setSnapshot(fleet, snapshotOf(res));
    } catch (err) {
      this.o.log.error({ err: String(err), fleet }, 'xDS snapshot rejected');
    } finally {
      this.o.counters.pushMs += performance.now() - t0;
    }
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

  /** What the NACK arbiter does to a KIngress's state (see NackHost). */
  private nackHost(): NackHost {
    return {
      good: (k) => (this.o.ingress(k) ? this.states.get(k)?.good : undefined),
      accepted: (k, ir) => {
        const st = this.states.get(k);
        if (st) st.served = ir;
      },
      revert: (k) => {
        const st = this.states.get(k);
        if (!st) return;
        this.o.restartProbe(k);
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
        const ing = this.o.ingress(k);
        if (!st || !ing) return;
        this.o.log.warn(
          { namespace: ing.metadata.namespace, name: ing.metadata.name, error: message },
          'Envoy NACK attributed to KIngress',
        );
        st.problem = { reason: 'EnvoyRejected', message };
        st.rejectedGeneration = ing.metadata.generation ?? 0;
        this.o.statusChanged(k);
      },
      retry: (k) => {
        const st = this.states.get(k);
        const ir = st?.held;
        if (!st || !ir) return false;
        st.held = undefined;
        this.o.statusChanged(k);
        // without a gateway any more there is nothing to push
        if (st.gateway !== undefined && this.stage(st.gateway, k, ir, st.created)) st.good = ir;
        return true;
      },
      wake: () => this.o.wake(),
    };
  }
}
