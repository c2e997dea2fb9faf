// The KnativeGateways this operator serves and what follows from them: which gateway serves a
// KIngress (by its class), the fleets and their replicas, and why a gateway is not served. The
// rule for which objects are served is api/gateway-selection.ts (resolveGateways); this keeps its
// latest outcome with each served gateway's config (defaults applied, controller/gateways.ts).
import { resolveGateways } from '../api/gateway-selection.ts';
import type { KnativeGateway } from '../api/knativegateway.ts';
import { hasClass, type KIngress } from '../api/kingress.ts';
import type { FleetDef, FleetRuntime } from '../fleets/runtime.ts';
import type { KubeObject } from '../kube/reflector.ts';
import type { Logger } from '../log.ts';
import type { GatewayConfig } from './gateways.ts';

export interface ServedGatewaysOptions {
  log: Logger;
  runtime: Pick<FleetRuntime, 'replicas'>;
  /** KnativeGateway → gateway config (defaults applied); undefined when the object is invalid. */
  gatewayConfig(obj: KubeObject): GatewayConfig | undefined;
}

export class ServedGateways {
  private readonly o: ServedGatewaysOptions;
  private configs = new Map<string, GatewayConfig>();
  /** Gateway name → why it is not served (invalid spec, ingress class taken). */
  private readonly problems = new Map<string, string[]>();
  /** Fleet key → its ready replicas (`id@address`) when last seen, to spot new ones. */
  private readonly readyReplicas = new Map<string, Set<string>>();

  constructor(o: ServedGatewaysOptions) {
    this.o = o;
  }

  /**
   * Decides again which of `objects` are served; returns the served objects (by name) and
   * their fleets.
   */
  select(objects: KnativeGateway[]): { served: Map<string, KnativeGateway>; fleets: FleetDef[] } {
    const next = new Map<string, GatewayConfig>();
    this.problems.clear();
    const selection = resolveGateways(objects);
    for (const [name, problems] of selection.problems) {
      this.o.log.warn({ gateway: name, problems }, 'KnativeGateway not served');
      this.problems.set(name, problems);
    }
    for (const obj of selection.served) {
      const g = this.o.gatewayConfig(obj as unknown as KubeObject);
      if (g) next.set(g.name, g);
    }
    this.configs = next;
    return {
      served: new Map(
        selection.served.filter((o) => next.has(o.metadata.name)).map((o) => [o.metadata.name, o]),
      ),
      fleets: [...next.values()].flatMap((g) => g.fleets),
    };
  }

  /** The served gateways' configs. */
  values(): IterableIterator<GatewayConfig> {
    return this.configs.values();
  }

  config(name: string): GatewayConfig | undefined {
    return this.configs.get(name);
  }

  /** Why a gateway is not served (empty when it is, or unknown). */
  problemsOf(name: string): string[] {
    return this.problems.get(name) ?? [];
  }

  /** The served gateway whose ingress class the KIngress has. */
  gatewayFor(ing: KIngress): GatewayConfig | undefined {
    for (const g of this.configs.values()) if (hasClass(ing, g.ingressClass)) return g;
    return undefined;
  }

  /** A served fleet by key (`<gateway>/<fleet>`). */
  fleet(key: string): FleetDef | undefined {
    for (const g of this.configs.values()) for (const f of g.fleets) if (f.key === key) return f;
    return undefined;
  }

  /** Per served fleet, the replicas its spec asks for and how many the runtime has ready. */
  fleetReplicas(): { fleet: string; desired: number; ready: number }[] {
    return [...this.configs.values()].flatMap((g) =>
      g.fleets.map((f) => ({
        fleet: f.key,
        desired: f.replicas,
        ready: this.o.runtime.replicas(f.key).filter((r) => r.ready).length,
      })),
    );
  }

  /**
   * Records the fleet's ready replicas; true when one of them was not ready when last recorded
   * (a replica that went away is not news: it leaves the others' probe verdicts standing).
   */
  replicaBecameReady(fleetKey: string): boolean {
    const ready = new Set(
      this.o.runtime
        .replicas(fleetKey)
        .filter((r) => r.ready)
        .map((r) => `${r.id}@${r.address}`),
    );
    const before = this.readyReplicas.get(fleetKey) ?? new Set<string>();
    this.readyReplicas.set(fleetKey, ready);
    return [...ready].some((r) => !before.has(r));
  }
}
