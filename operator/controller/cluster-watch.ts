// The engine's view of the cluster: one reflector each for KIngresses, KnativeGateways, Services
// and EndpointSlices (indexed by the Service they belong to), and the Secrets kgw references
// (kube/referenced-secrets.ts); the translation Lookups over them; and whether they are in touch
// with the API server (staleness).
import type { EndpointSlice, Service } from '../api/core.ts';
import type { KIngress } from '../api/kingress.ts';
import type { Logger } from '../log.ts';
import { ReferencedSecrets } from '../kube/referenced-secrets.ts';
import { Reflector, withoutManagedFields, type KubeObject, type ReflectorEvent } from '../kube/reflector.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Lookups } from '../translate/lookups.ts';

const KINGRESS_PATH = '/apis/networking.internal.knative.dev/v1alpha1/ingresses';
const GATEWAY_PATH = '/apis/operator.kgw.dev/v1alpha1/knativegateways';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface ClusterWatchOptions {
  rest: KubeRest;
  log: Logger;
  /** A referenced Secret's data changed, appeared or went (`<ns>/<name>`). */
  onSecret(key: string): void;
  /** The EndpointSlices of a Service (`<ns>/<name>`) changed. */
  onEndpoints(service: string): void;
  /** How long watches may fail before staleness() reports it (default 30 s). */
  staleAfterMs?: number;
}

const key = (ns: string | undefined, n: string): string => `${ns ?? ''}/${n}`;

export class ClusterWatch {
  readonly ingresses: Reflector<KIngress & KubeObject>;
  readonly gateways: Reflector<KubeObject>;
  readonly services: Reflector<Service & KubeObject>;
  readonly slices: Reflector<EndpointSlice & KubeObject>;
  readonly secrets: ReferencedSecrets;
  /** Translation's view of the cluster (the engine sets clusterDomain and policies per gateway). */
  readonly lookups: Lookups;
  private readonly o: ClusterWatchOptions;
  /** `<ns>/<service>` → names of its EndpointSlices. */
  private readonly sliceIndex = new Map<string, Set<string>>();

  constructor(o: ClusterWatchOptions) {
    this.o = o;
    // nothing reads the managedFields of these objects (every KIngress, Service and EndpointSlice
    // of the cluster): the stores keep the objects without them
    const mk = <T extends KubeObject>(path: string) =>
      new Reflector<T>(o.rest, { path, log: o.log, transform: withoutManagedFields });
    this.ingresses = mk(KINGRESS_PATH);
    this.gateways = mk(GATEWAY_PATH);
    this.services = mk('/api/v1/services');
    this.slices = mk('/apis/discovery.k8s.io/v1/endpointslices');
    this.secrets = new ReferencedSecrets({ rest: o.rest, log: o.log, onChange: (k) => o.onSecret(k) });
    this.slices.onEvent((e) => this.indexSlice(e));
    this.lookups = {
      clusterDomain: 'cluster.local',
      service: (ns, n) => this.services.store.get(key(ns, n)),
      secret: (ns, n) => this.secrets.get(ns, n),
      endpointSlices: (ns, svc) =>
        [...(this.sliceIndex.get(key(ns, svc)) ?? [])]
          .map((name) => this.slices.store.get(key(ns, name)))
          .filter((s): s is EndpointSlice & KubeObject => s !== undefined),
    };
  }

  private indexSlice(e: ReflectorEvent<EndpointSlice & KubeObject>): void {
    const serviceOf = (o: KubeObject | undefined) =>
      (o?.metadata.labels as Record<string, string> | undefined)?.[SERVICE_NAME_LABEL];
    const ns = e.obj.metadata.namespace;
    const name = e.obj.metadata.name;
    const now = e.type === 'delete' ? undefined : serviceOf(e.obj);
    const before = e.type === 'delete' ? serviceOf(e.obj) : serviceOf(e.old);
    if (before && before !== now) {
      const k = key(ns, before);
      const set = this.sliceIndex.get(k);
      set?.delete(name);
      if (set?.size === 0) this.sliceIndex.delete(k);
      this.o.onEndpoints(k);
    }
    if (now) {
      const k = key(ns, now);
      const set = this.sliceIndex.get(k) ?? new Set<string>();
      set.add(name);
      this.sliceIndex.set(k, set);
      this.o.onEndpoints(k);
    }
  }

  private all() {
    return [this.gateways, this.services, this.slices, this.secrets, this.ingresses] as const;
  }

  start(): void {
    for (const r of this.all()) r.start();
  }

  /** Every watch has its first list. */
  async synced(): Promise<void> {
    await Promise.all(this.all().map((r) => r.synced));
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((r) => r.stop()));
  }

  /**
   * Why this replica's view of the cluster may be stale: one of its watches has been failing for
   * staleAfterMs or longer (the API server unreachable, or a list forbidden). Undefined while all
   * watches are in touch.
   */
  staleness(): { seconds: number; message: string } | undefined {
    const limit = this.o.staleAfterMs ?? 30_000;
    const now = performance.now();
    let worst: { ms: number; what: string; err: unknown } | undefined;
    const watched: [string, { unhealthySince: number | undefined; lastError: unknown }][] = [
      ['KnativeGateways', this.gateways],
      ['KIngresses', this.ingresses],
      ['Services', this.services],
      ['EndpointSlices', this.slices],
      ['Secrets', this.secrets.meta],
    ];
    for (const [what, r] of watched) {
      const since = r.unhealthySince;
      if (since === undefined || now - since < limit) continue;
      if (!worst || now - since > worst.ms) worst = { ms: now - since, what, err: r.lastError };
    }
    if (!worst) return undefined;
    const seconds = Math.round(worst.ms / 1000);
    return {
      seconds,
      message:
        `kgw has not been able to watch ${worst.what} for ${seconds} s (${String(worst.err).slice(0, 200)}): ` +
        'the fleets keep the configuration they have, which may be stale',
    };
  }

  private wasStale = false;

  /** Logs when this replica becomes stale and when it is in touch again (see staleness()). */
  logStalenessChange(): void {
    const s = this.staleness();
    if ((s !== undefined) === this.wasStale) return;
    this.wasStale = s !== undefined;
    if (s) this.o.log.error({ seconds: s.seconds, reason: s.message }, 'cut off from the API server');
    else this.o.log.info({}, 'in touch with the API server again');
  }
}
