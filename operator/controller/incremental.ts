// The incremental core of one gateway: host claims (conflicts) plus one FleetAssembler per fleet.
// The engine feeds it translated IRs and cache changes; flush() applies them and returns what
// changed: the KIngresses whose outcome (accepted / DomainConflict) changed, so their status is
// re-evaluated, and per fleet only the resource kinds that changed. Fleets whose rate limits are
// SharedEvenly also get their local cluster's assignment (render/fleet-members.ts) among their
// endpoints, from the ready replicas the engine reports; fleets whose rate limits are Global, the
// configuration of their rate-limit service when their hosts' policies change. Pure: no I/O, no clock.
import type { FleetProblem, FleetRenderOptions, FleetResources } from '../render/fleet.ts';
import { FleetAssembler, type ResourceKind } from '../render/assembler.ts';
import { FLEET_MEMBERS_CLUSTER } from '../render/bootstrap.ts';
import { renderFleetMembers } from '../render/fleet-members.ts';
import { rateLimitConfigs as renderRateLimitConfigs } from '../render/global-rate-limit.ts';
import type { Json } from '../render/types.ts';
import { HostClaims, type Conflict } from '../translate/conflicts.ts';
import type { IngressIR } from '../translate/ir.ts';
import { backendData } from '../translate/backend-data.ts';
import type { Lookups } from '../translate/lookups.ts';
import type { SnapshotInput } from '../xds/cache.ts';
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SCOPED_ROUTE,
  TYPE_SECRET,
  type TypeUrl,
} from '../xds/protos.ts';

const TYPE_OF: Record<ResourceKind, TypeUrl> = {
  listeners: TYPE_LISTENER,
  routes: TYPE_ROUTE,
  scopes: TYPE_SCOPED_ROUTE,
  clusters: TYPE_CLUSTER,
  endpoints: TYPE_ENDPOINT,
  secrets: TYPE_SECRET,
};

/** The changed kinds of a fleet as an xDS snapshot update (type URL → complete map). */
export function snapshotOf(res: Partial<FleetResources>): SnapshotInput {
  const out: Record<string, ReadonlyMap<string, object>> = {};
  for (const [kind, map] of Object.entries(res) as [ResourceKind, ReadonlyMap<string, object>][]) {
    out[TYPE_OF[kind]] = map;
  }
  return out;
}

export interface FlushResult {
  /** KIngress keys whose outcome changed (added, removed, accepted, or another conflict). */
  outcomes: Set<string>;
  /** Fleet key → the kinds of resources that changed, with their complete current maps. */
  fleets: Map<string, Partial<FleetResources>>;
  /**
   * Global fleets whose rate-limit service configuration changed → the complete set of its
   * RateLimitConfigs by name (render/global-rate-limit.ts).
   */
  rateLimitConfigs: Map<string, Map<string, Json>>;
}

export class IncrementalGateway {
  private readonly claims = new HostClaims();
  private readonly assemblers = new Map<string, FleetAssembler>();
  /** KIngresses set or deleted since the last flush. */
  private readonly touched = new Set<string>();
  /** The fleets' default certificate Secrets (`<ns>/<name>`), which refreshSecrets must be given. */
  readonly defaultCertificateSecrets: ReadonlySet<string>;
  /** SharedEvenly fleets: their HTTP port and the current fleet-members assignment. */
  private readonly members = new Map<string, { port: number; cla: Json }>();
  /** Fleets whose fleet-members assignment changed since the last flush. */
  private readonly membersChanged = new Set<string>();
  /** Global fleets → the rate-limit service configuration last returned by flush (as JSON text). */
  private readonly rateLimitSent = new Map<string, string | undefined>();

  constructor(fleets: { key: string; opts: FleetRenderOptions }[], lookups: Lookups) {
    const data = backendData(lookups); // one per gateway: a Secret is checked once for all its fleets
    for (const f of fleets) {
      this.assemblers.set(f.key, new FleetAssembler(f.opts, data));
      if (f.opts.globalRateLimit) this.rateLimitSent.set(f.key, undefined); // first flush sends it
      if (f.opts.rateLimitSharing !== 'SharedEvenly') continue;
      // none known yet: an empty assignment, so the Envoys' start does not wait for it
      this.members.set(f.key, { port: f.opts.httpPort, cla: renderFleetMembers([], f.opts.httpPort) });
      this.membersChanged.add(f.key);
    }
    this.defaultCertificateSecrets = new Set(
      fleets.flatMap((f) => (f.opts.defaultCertificate ? [f.opts.defaultCertificate.secret] : [])),
    );
  }

  /** Fleet key → problems with the fleet's own configuration (a missing default certificate). */
  fleetProblems(): Map<string, FleetProblem[]> {
    const out = new Map<string, FleetProblem[]>();
    for (const [key, a] of this.assemblers) {
      const p = a.problems();
      if (p.length > 0) out.set(key, p);
    }
    return out;
  }

  /** Adds or replaces the (last good) IR of a KIngress served by this gateway. */
  set(ir: IngressIR, created: string): void {
    if (this.claims.get(ir.key) === ir) return;
    this.claims.set(ir, created);
    this.touched.add(ir.key);
  }

  delete(key: string): void {
    if (!this.claims.has(key)) return;
    this.claims.delete(key);
    this.touched.add(key);
  }

  has(key: string): boolean {
    return this.claims.has(key);
  }

  isAccepted(key: string): boolean {
    return this.claims.isAccepted(key);
  }

  conflict(key: string): Conflict | undefined {
    return this.claims.conflict(key);
  }

  /** The EndpointSlices of these Services (`<ns>/<name>`) changed. */
  refreshEndpoints(services: Iterable<string>): void {
    const list = [...services];
    for (const a of this.assemblers.values()) a.refreshEndpoints(list);
  }

  /** These Secrets (`<ns>/<name>`) changed. */
  refreshSecrets(names: Iterable<string>): void {
    const list = [...names];
    for (const a of this.assemblers.values()) a.refreshSecrets(list);
  }

  /**
   * The ready replicas (addresses) of a fleet now; ignored unless its rate limits are SharedEvenly.
   * The next flush sends its endpoints when the assignment changed.
   */
  setFleetMembers(fleet: string, addresses: Iterable<string>): void {
    const m = this.members.get(fleet);
    if (!m) return;
    const cla = renderFleetMembers(addresses, m.port);
    if (JSON.stringify(cla) === JSON.stringify(m.cla)) return;
    m.cla = cla;
    this.membersChanged.add(fleet);
  }

  /**
   * The complete current resources of a fleet (live maps: read, never mutate), without the
   * fleet-members assignment (flush() adds it).
   */
  resources(fleet: string): FleetResources | undefined {
    return this.assemblers.get(fleet)?.resources();
  }

  flush(): FlushResult {
    const outcomes = this.claims.drainChanged();
    // a KIngress set or deleted may change its hosts' policies, even where the rendered routes stay
    // the same (a Global host's routes name the rules, not their limits)
    const irsChanged = outcomes.size > 0 || this.touched.size > 0;
    for (const k of new Set([...outcomes, ...this.touched])) {
      const ir = this.claims.isAccepted(k) ? this.claims.get(k) : undefined;
      for (const a of this.assemblers.values()) {
        if (ir) a.set(ir);
        else a.delete(k);
      }
    }
    this.touched.clear();
    const fleets = new Map<string, Partial<FleetResources>>();
    for (const [key, a] of this.assemblers) {
      const changed = a.take();
      const m = this.members.get(key);
      if (m && (changed.endpoints || this.membersChanged.has(key))) {
        changed.endpoints = new Map([
          ...(changed.endpoints ?? a.resources().endpoints),
          [FLEET_MEMBERS_CLUSTER, m.cla],
        ]);
      }
      if (Object.keys(changed).length > 0) fleets.set(key, changed);
    }
    this.membersChanged.clear();
    const rateLimitConfigs = new Map<string, Map<string, Json>>();
    for (const [key, sent] of this.rateLimitSent) {
      if (sent !== undefined && !irsChanged) continue; // same hosts and policies
      const configs = renderRateLimitConfigs(this.assemblers.get(key)!.rateLimits());
      const text = JSON.stringify([...configs]);
      if (text === sent) continue;
      this.rateLimitSent.set(key, text);
      rateLimitConfigs.set(key, configs);
    }
    return { outcomes, fleets, rateLimitConfigs };
  }
}
