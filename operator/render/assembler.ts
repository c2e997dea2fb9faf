// Incremental fleet assembly: the same resources as renderFleet(opts, accepted, data), kept up
// to date one KIngress at a time. The route tables are the concatenation, in KIngress key order,
// of vhosts rendered once per IngressIR; clusters, endpoints and secrets are maps maintained by
// reference counts, so a change costs O(that KIngress) plus one pass over the (already rendered)
// vhost list when the route table changes. Pure: reads only the IRs and the BackendData it is given.
import type {
  BackendData,
  CertificateIR,
  ClusterIR,
  IngressIR,
  RateLimitIR,
  TlsIR,
} from '../translate/ir.ts';
import { renderCluster } from './cluster.ts';
import { renderLoadAssignment } from './endpoints.ts';
import {
  defaultCertificateProblem,
  fleetRateLimits,
  vhostsOf,
  visibilityPart,
  type FleetProblem,
  type FleetRenderOptions,
  type FleetResources,
} from './fleet.ts';
import {
  HTTP_ROUTE_CONFIG,
  HTTPS_ROUTE_CONFIG,
  renderHttpListener,
  renderHttpsListener,
  tlsChains,
} from './listener.ts';
import { renderSecret } from './secret.ts';
import { renderTracingCluster, TRACING_CLUSTER } from './tracing.ts';
import { deleteUser, lastUser, setUser, userOf, type ClusterSlot } from './cluster-slot.ts';
import { KeyOrder } from './key-order.ts';
import { TrackedMap } from './tracked-map.ts';
import type { Json } from './types.ts';
import { asScope, isWildcardVhost, wildcardScope, wildcardScopeName } from './scoped.ts';

export type ResourceKind = keyof FleetResources;
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  'listeners',
  'routes',
  'scopes',
  'clusters',
  'endpoints',
  'secrets',
];

interface Entry {
  ir: IngressIR;
  http: Json[];
  https: Json[];
  /** Clusters this KIngress's routes use in this fleet. */
  clusters: ClusterIR[];
  tls: TlsIR[];
  /** Distinct secrets of `tls`. */
  secrets: readonly string[];
}

const NONE: readonly never[] = [];

/** The cluster user that pins the rate-limit service's cluster (KIngress keys are `<ns>/<name>`). */
const RATE_LIMIT_USER = '';

interface SecretSlot {
  /** KIngress TLS references, plus one (permanent) for the fleet's default certificate. */
  refs: number;
  cert: CertificateIR | undefined;
  json: Json | undefined;
  /** Exists and is a valid certificate and key (else its SNI chain is left out, as in renderFleet). */
  servable: boolean;
}

/** Whether two certificates render the same (the same checked object, or the same problem). */
function sameCertificate(a: CertificateIR, b: CertificateIR | undefined): boolean {
  if (a === b) return true;
  if (!b || a.ok || b.ok) return false;
  return a.problem.reason === b.problem.reason && a.problem.message === b.problem.message;
}

/** Rendered clusters by ClusterIR object, shared by the fleets of a gateway. */
const renderedClusters = new WeakMap<ClusterIR, Json>();

function renderClusterOnce(c: ClusterIR): Json {
  let out = renderedClusters.get(c);
  if (!out) {
    out = renderCluster(c);
    renderedClusters.set(c, out);
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

export class FleetAssembler {
  private readonly opts: FleetRenderOptions;
  private readonly data: BackendData;
  private readonly entries = new Map<string, Entry>();
  /** The values of `entries` in key order (renderFleet's order). */
  private readonly order = new KeyOrder<Entry>(
    (e) => e.ir.key,
    (e) => this.entries.get(e.ir.key) === e,
  );
  private httpCount = 0;
  private httpsCount = 0;
  private readonly clusterSlots = new Map<string, ClusterSlot>();
  /** `<ns>/<service>` → EDS clusters fed by it. */
  private readonly byService = new Map<string, Set<string>>();
  private readonly secretSlots = new Map<string, SecretSlot>();
  private tlsEntries = 0;
  /** The default certificate's Secret key (when configured) and why it cannot be served. */
  private readonly defaultKey: string | undefined;
  private defaultProblem: FleetProblem | undefined;

  // The live outputs (see take()).
  private readonly listeners = new TrackedMap<Json>();
  private readonly routes = new TrackedMap<Json>();
  /** Scoped fleets (opts.scoped): the scopes of the route tables, by name (scoped.ts). */
  private readonly scopes = new TrackedMap<Json>();
  /** Scoped fleets: the https vhosts are in `scopes` (the HTTPS listener exists). */
  private httpsScopesOn = false;
  /** Scoped fleets: the vhosts of wildcard hosts per listener, by vhost name (one scope each listener). */
  private readonly wildcards = new Map<string, Map<string, Json>>();
  private readonly wildcardsDirty = new Set<string>();
  private readonly clusters = new TrackedMap<Json>();
  private readonly endpoints = new TrackedMap<Json>();
  private readonly secrets = new TrackedMap<Json>();

  private readonly changed = new Set<ResourceKind>(RESOURCE_KINDS);
  private routesDirty = true;
  private tlsDirty = true;
  private chainsKey = '';

  constructor(opts: FleetRenderOptions, data: BackendData) {
    if (!opts.scoped) this.changed.delete('scopes'); // whole route tables: no SRDS type at all
    this.opts = opts;
    this.data = data;
    this.listeners.set(HTTP_ROUTE_CONFIG, renderHttpListener(opts));
    // the fleet's own cluster (KIngress clusters are named <ns>/<service>:<port>: no clash)
    if (opts.tracing) this.clusters.set(TRACING_CLUSTER, renderTracingCluster(opts.tracing));
    // the rate-limit service's EDS cluster: pinned for the assembler's life under a user key no
    // KIngress has, so refreshEndpoints keeps its endpoints current like any backend's
    if (opts.globalRateLimit) this.updateClusters(RATE_LIMIT_USER, undefined, [opts.globalRateLimit.cluster]);
    this.defaultKey = opts.defaultCertificate?.secret;
    this.defaultProblem = defaultCertificateProblem(opts, data);
    if (this.defaultKey !== undefined) {
      // Pinned for the assembler's life; rendered (and re-read by refreshSecrets) like KIngress TLS.
      const slot: SecretSlot = { refs: 1, cert: undefined, json: undefined, servable: false };
      this.secretSlots.set(this.defaultKey, slot);
      this.renderSecret(this.defaultKey, slot);
    }
  }

  /** Problems with the fleet's own configuration (the default certificate), for gateway status. */
  problems(): FleetProblem[] {
    return this.defaultProblem ? [this.defaultProblem] : [];
  }

  /** The default certificate's Secret key when it is served, else undefined. */
  private servedDefault(): string | undefined {
    return this.defaultProblem ? undefined : this.defaultKey;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Adds or replaces the accepted IR of one KIngress. */
  set(ir: IngressIR): void {
    const old = this.entries.get(ir.key);
    if (old?.ir === ir) {
      this.refreshSecrets(old.secrets);
      return;
    }
    const part = visibilityPart(ir, this.opts.visibility);
    const rendered = vhostsOf(ir, this.opts.visibility, this.opts.rateLimitSharing);
    const clusters: ClusterIR[] = [];
    if (part.vhosts.length > 0) {
      for (const c of ir.clusters) {
        if (part.vhosts.some((vh) => vh.routes.some((r) => r.targets.some((t) => t.cluster === c.name)))) {
          clusters.push(c);
        }
      }
    }
    const entry: Entry = {
      ir,
      http: rendered.http,
      https: rendered.https,
      clusters,
      tls: part.tls,
      secrets: part.tls.length === 0 ? NONE : [...new Set(part.tls.map((t) => t.secret))],
    };
    if (!old) {
      this.order.insert(entry);
      if (entry.http.length > 0) this.routesDirty = true;
    } else if (sameJson([old.http, old.https], [entry.http, entry.https])) {
      entry.http = old.http; // equal: keep the objects already in the route tables
      entry.https = old.https;
    } else {
      this.routesDirty = true;
    }
    if (this.opts.scoped && (old?.http !== entry.http || old.https !== entry.https)) {
      this.updateScopes(old, false);
      this.updateScopes(entry, true);
    }
    this.entries.set(ir.key, entry);
    if (old) this.order.replace(old, entry);
    this.httpCount += entry.http.length - (old?.http.length ?? 0);
    this.httpsCount += entry.https.length - (old?.https.length ?? 0);
    this.updateClusters(ir.key, old?.clusters, clusters);
    this.updateTls(old, entry);
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.order.remove(old);
    this.httpCount -= old.http.length;
    this.httpsCount -= old.https.length;
    if (old.http.length > 0) this.routesDirty = true;
    if (this.opts.scoped) this.updateScopes(old, false);
    this.updateClusters(key, old.clusters, undefined);
    this.updateTls(old, undefined);
  }

  /** Re-reads the EndpointSlices of these Services (`<ns>/<name>`). */
  refreshEndpoints(services: Iterable<string>): void {
    for (const svc of services) {
      for (const name of this.byService.get(svc) ?? []) {
        const slot = this.clusterSlots.get(name);
        if (slot) this.renderEndpoints(name, slot, true);
      }
    }
  }

  /**
   * The rate limits of the RoutePolicies on the hosts this fleet serves, in KIngress key order
   * (one per host: a policy on several hosts appears once per host).
   */
  rateLimits(): RateLimitIR[] {
    return fleetRateLimits(
      this.order.sorted().map((e) => e.ir),
      this.opts.visibility,
    );
  }

  /** Re-reads these Secrets (`<ns>/<name>`) from the BackendData. */
  refreshSecrets(names: Iterable<string>): void {
    for (const name of names) {
      const slot = this.secretSlots.get(name);
      if (slot) this.renderSecret(name, slot);
    }
  }

  /** Kinds changed since the last take() (without taking them). */
  pending(): ResourceKind[] {
    this.assemble();
    return RESOURCE_KINDS.filter((k) => this.changed.has(k));
  }

  /**
   * The kinds changed since the last take(), with the current maps of those kinds. The maps are
   * live views owned by the assembler (copying 20k clusters per change would cost more than
   * the change): read them before the next set/delete/refresh and never mutate them.
   */
  take(): Partial<FleetResources> {
    this.assemble();
    const all = this.resources();
    const out: Partial<FleetResources> = {};
    for (const k of RESOURCE_KINDS) if (this.changed.has(k)) out[k] = all[k];
    this.changed.clear();
    return out;
  }

  /** Every current map (live views, as for take()). */
  resources(): FleetResources {
    this.assemble();
    return {
      listeners: this.listeners,
      routes: this.routes,
      scopes: this.scopes,
      clusters: this.clusters,
      endpoints: this.endpoints,
      secrets: this.secrets,
    };
  }

  private assemble(): void {
    if (this.tlsDirty) {
      this.tlsDirty = false;
      const tls: TlsIR[] = [];
      if (this.tlsEntries > 0)
        for (const e of this.order.sorted())
          for (const t of e.tls) if (this.secretSlots.get(t.secret)?.servable === true) tls.push(t);
      const defaultSecret = this.servedDefault();
      const chainsKey = JSON.stringify([tlsChains(tls), defaultSecret ?? null]);
      if (chainsKey !== this.chainsKey) {
        const hadHttps = this.listeners.has(HTTPS_ROUTE_CONFIG);
        this.chainsKey = chainsKey;
        const https = renderHttpsListener(this.opts, tls, defaultSecret);
        if (https) this.listeners.set(HTTPS_ROUTE_CONFIG, https);
        else this.listeners.delete(HTTPS_ROUTE_CONFIG);
        this.changed.add('listeners');
        if (hadHttps !== (https !== undefined)) {
          this.routesDirty = true;
          this.changed.add('secrets');
          this.syncSecrets();
        }
      }
    }
    if (this.opts.scoped) {
      this.routesDirty = false;
      this.assembleScopes();
    } else if (this.routesDirty) {
      this.routesDirty = false;
      // The one O(all KIngresses) step of a change: copying references, ~0.2 ms at 10k.
      const withHttps = this.listeners.has(HTTPS_ROUTE_CONFIG);
      const http = new Array<Json>(this.httpCount);
      const https = new Array<Json>(withHttps ? this.httpsCount : 0);
      const sorted = this.order.sorted();
      let h = 0;
      let s = 0;
      for (let i = 0; i < sorted.length; i++) {
        const e = sorted[i]!;
        for (let j = 0; j < e.http.length; j++) http[h++] = e.http[j]!;
        if (withHttps) for (let j = 0; j < e.https.length; j++) https[s++] = e.https[j]!;
      }
      this.routes.set(HTTP_ROUTE_CONFIG, { name: HTTP_ROUTE_CONFIG, virtual_hosts: http });
      if (withHttps) this.routes.set(HTTPS_ROUTE_CONFIG, { name: HTTPS_ROUTE_CONFIG, virtual_hosts: https });
      else this.routes.delete(HTTPS_ROUTE_CONFIG);
      this.changed.add('routes');
    }
  }

  /**
   * Scoped: no route configurations of their own; the https scopes exist while the HTTPS listener
   * does. An exact host's scope is added and removed by set/delete (updateScopes), so a change
   * costs O(that KIngress); a listener's wildcard scope is rebuilt when one of its vhosts changed.
   */
  private assembleScopes(): void {
    const withHttps = this.listeners.has(HTTPS_ROUTE_CONFIG);
    if (withHttps !== this.httpsScopesOn) {
      this.httpsScopesOn = withHttps;
      for (const e of this.entries.values()) this.putScopes(HTTPS_ROUTE_CONFIG, e.https, withHttps);
    }
    for (const listener of this.wildcardsDirty) {
      const scope = wildcardScope(listener, [...(this.wildcards.get(listener)?.values() ?? [])]);
      const name = wildcardScopeName(listener);
      if (scope) this.scopes.set(name, scope);
      else this.scopes.delete(name);
      this.changed.add('scopes');
    }
    this.wildcardsDirty.clear();
  }

  /** Adds (or removes) the scopes of one KIngress. */
  private updateScopes(e: Entry | undefined, add: boolean): void {
    if (!e) return;
    this.putScopes(HTTP_ROUTE_CONFIG, e.http, add);
    if (this.httpsScopesOn) this.putScopes(HTTPS_ROUTE_CONFIG, e.https, add);
  }

  private putScopes(listener: string, list: readonly Json[], add: boolean): void {
    for (const vh of list) {
      if (isWildcardVhost(vh)) {
        this.putWildcard(listener, vh, add);
        continue;
      }
      const v = asScope(listener, vh);
      const name = String(v.name);
      if (add) {
        if (this.scopes.get(name) === v) continue;
        this.scopes.set(name, v);
      } else {
        if (this.scopes.get(name) !== v) continue;
        this.scopes.delete(name);
      }
      this.changed.add('scopes');
    }
  }

  private putWildcard(listener: string, vh: Json, add: boolean): void {
    let byName = this.wildcards.get(listener);
    if (!byName) this.wildcards.set(listener, (byName = new Map<string, Json>()));
    const name = String(vh.name);
    if (add) {
      if (byName.get(name) === vh) return;
      byName.set(name, vh);
    } else {
      if (byName.get(name) !== vh) return;
      byName.delete(name);
    }
    this.wildcardsDirty.add(listener);
  }

  private updateClusters(key: string, before: ClusterIR[] | undefined, after: ClusterIR[] | undefined): void {
    for (const c of after ?? NONE) {
      if (before?.includes(c)) continue;
      let slot = this.clusterSlots.get(c.name);
      if (!slot) {
        slot = {
          soloKey: undefined,
          soloIR: undefined,
          many: undefined,
          winner: key,
          current: undefined,
          json: {},
          service: undefined,
        };
        this.clusterSlots.set(c.name, slot);
      }
      setUser(slot, key, c);
      if (key >= slot.winner) {
        slot.winner = key;
        this.renderClusterSlot(c.name, slot);
      }
    }
    for (const c of before ?? NONE) {
      if (after?.some((a) => a.name === c.name)) continue;
      const slot = this.clusterSlots.get(c.name);
      if (!slot || userOf(slot, key) === undefined) continue;
      if (deleteUser(slot, key) === 0) {
        this.clusterSlots.delete(c.name);
        this.clusters.delete(c.name);
        this.changed.add('clusters');
        this.setService(c.name, slot.service, undefined);
        if (this.endpoints.delete(c.name)) this.changed.add('endpoints');
      } else if (slot.winner === key) {
        slot.winner = lastUser(slot);
        this.renderClusterSlot(c.name, slot);
      }
    }
  }

  private renderClusterSlot(name: string, slot: ClusterSlot): void {
    const c = userOf(slot, slot.winner)!;
    if (c === slot.current) return;
    if (slot.current && JSON.stringify(c) === JSON.stringify(slot.current)) {
      slot.current = c; // equal: keep the rendered objects (nothing to send)
      return;
    }
    slot.current = c;
    slot.json = renderClusterOnce(c);
    this.clusters.set(name, slot.json);
    this.changed.add('clusters');
    const service =
      c.kind === 'eds' && c.endpoints ? `${c.endpoints.namespace}/${c.endpoints.service}` : undefined;
    this.setService(name, slot.service, service);
    slot.service = service;
    this.renderEndpoints(name, slot, false);
  }

  private setService(name: string, before: string | undefined, after: string | undefined): void {
    if (before === after) return;
    if (before !== undefined) {
      const set = this.byService.get(before);
      set?.delete(name);
      if (set?.size === 0) this.byService.delete(before);
    }
    if (after !== undefined) {
      let set = this.byService.get(after);
      if (!set) {
        set = new Set();
        this.byService.set(after, set);
      }
      set.add(name);
    }
  }

  private renderEndpoints(name: string, slot: ClusterSlot, compare: boolean): void {
    const c = slot.current!;
    if (c.kind !== 'eds' || !c.endpoints) {
      if (this.endpoints.delete(name)) this.changed.add('endpoints');
      return;
    }
    const cla = renderLoadAssignment(name, this.data.endpoints(c));
    if (compare && sameJson(this.endpoints.get(name), cla)) return;
    this.endpoints.set(name, cla);
    this.changed.add('endpoints');
  }

  private updateTls(before: Entry | undefined, after: Entry | undefined): void {
    const b = before?.tls ?? [];
    const a = after?.tls ?? [];
    this.tlsEntries += a.length - b.length;
    if ((b.length > 0 || a.length > 0) && !sameJson(b, a)) this.tlsDirty = true;
    const old = new Set(before?.secrets ?? []);
    for (const name of after?.secrets ?? []) {
      if (old.delete(name)) {
        this.refreshSecrets([name]);
        continue;
      }
      let slot = this.secretSlots.get(name);
      if (!slot) {
        slot = { refs: 0, cert: undefined, json: undefined, servable: false };
        this.secretSlots.set(name, slot);
      }
      slot.refs++;
      this.renderSecret(name, slot);
      this.syncSecret(name, slot); // the default certificate may be served now that a KIngress uses it
    }
    for (const name of old) {
      const slot = this.secretSlots.get(name);
      if (!slot) continue;
      if (--slot.refs === 0) {
        this.secretSlots.delete(name);
        if (this.secrets.delete(name)) this.changed.add('secrets');
      } else {
        this.syncSecret(name, slot); // still used: by another KIngress or as the default certificate
      }
    }
  }

  private renderSecret(name: string, slot: SecretSlot): void {
    const cert = this.data.certificate(name);
    if (sameCertificate(cert, slot.cert)) return;
    slot.cert = cert;
    slot.json = cert.ok ? renderSecret(name, cert) : undefined;
    const servable = cert.ok;
    if (servable !== slot.servable) {
      slot.servable = servable;
      this.tlsDirty = true; // its SNI chain comes or goes
    }
    if (name === this.defaultKey) {
      const problem = defaultCertificateProblem(this.opts, this.data);
      if ((problem === undefined) !== (this.defaultProblem === undefined)) this.tlsDirty = true;
      this.defaultProblem = problem;
    }
    this.syncSecret(name, slot);
  }

  /**
   * Secrets are served only while the fleet has an HTTPS listener (as renderFleet does): those of
   * KIngress TLS entries and the default certificate only when they exist and are valid.
   */
  private syncSecret(name: string, slot: SecretSlot): void {
    const isDefault = name === this.defaultKey;
    const used =
      (slot.refs > (isDefault ? 1 : 0) && slot.servable) || (isDefault && this.defaultProblem === undefined);
    const want = used && this.listeners.has(HTTPS_ROUTE_CONFIG) ? slot.json : undefined;
    const have = this.secrets.get(name);
    if (want === have) return;
    if (want) this.secrets.set(name, want);
    else this.secrets.delete(name);
    this.changed.add('secrets');
  }

  private syncSecrets(): void {
    for (const [name, slot] of this.secretSlots) this.syncSecret(name, slot);
  }
}
