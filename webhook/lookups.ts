// What the validators may know about other objects, and the live implementation: reflectors
// (list + watch caches) on KIngresses, KnativeGateways, ClusterDomainClaims and cert-manager
// ClusterIssuers. A webhook answers from these caches only, never with an API call of its own,
// so an answer is fast (the webhooks' timeouts are 3–5 s) and admission never writes anything.
//
// Optional kinds: Knative's ClusterDomainClaim CRD and cert-manager's ClusterIssuer CRD may be
// missing. Their reflectors keep retrying (with backoff) until the CRD appears; until their first
// list succeeds the lookup says the kind is unavailable instead of "not found", and start() does
// not wait for them.
import {
  GATEWAY_GROUP,
  GATEWAY_PLURAL,
  GATEWAY_VERSION,
  type KnativeGateway,
} from '../operator/api/knativegateway.ts';
import {
  INGRESS_CLASS_ANNOTATION,
  KINGRESS_GROUP,
  KINGRESS_PLURAL,
  KINGRESS_VERSION,
  type KIngress,
} from '../operator/api/kingress.ts';
import { Reflector, type KubeObject, type ReflectorEvent } from '../operator/kube/reflector.ts';
import { ApiError, type KubeRest } from '../operator/kube/rest.ts';
import type { Logger } from '../operator/log.ts';
import type { HostOwners } from '../operator/translate/host-ownership.ts';
import { hostOwnersFromObjects, type NamespaceObject } from '../operator/translate/lookups.ts';

export interface ClusterDomainClaim {
  metadata: { name: string; deletionTimestamp?: string };
  spec?: { namespace?: string };
}

/**
 * Whether a cert-manager ClusterIssuer exists: `found`, `missing`, or `unavailable` (cert-manager's
 * CRD is not installed, or kgw could not list ClusterIssuers yet).
 */
export type IssuerPresence = 'found' | 'missing' | 'unavailable';

/**
 * kgw's namespace policy for a DomainMapping's domain: a reason to refuse `namespace` the domain,
 * or undefined to allow it. `annotations` are the DomainMapping's (its ingress class picks the
 * gateway whose policy applies).
 */
export type DomainPolicy = (
  domain: string,
  namespace: string,
  annotations: Readonly<Record<string, string>> | undefined,
) => string | undefined;

export interface Lookups {
  /** Every KnativeGateway (as stored). */
  gateways(): readonly KnativeGateway[];
  /** KIngresses of `ingressClass` that have `host` in one of their rules (any visibility). */
  kingressesByHost(ingressClass: string, host: string): readonly KIngress[];
  /**
   * The ClusterDomainClaim named `name`; undefined when there is none, `unavailable` when the
   * claims are not known (Knative's CRD is missing or not listed yet).
   */
  clusterDomainClaim(name: string): ClusterDomainClaim | undefined | 'unavailable';
  clusterIssuer(name: string): IssuerPresence;
  /** Namespace policy for DomainMappings (default: every namespace may map any unclaimed domain). */
  domainPolicy?: DomainPolicy;
  /** Claims and namespace labels for the KIngress host rule (absent: none known). */
  hostOwners?: HostOwners;
}

// ---------------------------------------------------------------------------------------------
// In-memory lookups (tests, and the building block of the live ones)

export interface StaticLookupsData {
  gateways?: KnativeGateway[];
  kingresses?: KIngress[];
  /** undefined: Knative's CRD is absent. */
  claims?: ClusterDomainClaim[];
  /** undefined: cert-manager's CRD is absent. */
  clusterIssuers?: string[];
  domainPolicy?: DomainPolicy;
  /** Namespaces (with their labels) the KIngress host rule may read. */
  namespaces?: NamespaceObject[];
}

/** Lookups over fixed lists (unit tests). */
export function staticLookups(d: StaticLookupsData): Lookups {
  const out: Lookups = {
    gateways: () => d.gateways ?? [],
    kingressesByHost: (cls, host) =>
      (d.kingresses ?? []).filter(
        (k) => k.metadata.annotations?.[INGRESS_CLASS_ANNOTATION] === cls && hostsOf(k).includes(host),
      ),
    clusterDomainClaim: (name) =>
      d.claims === undefined ? 'unavailable' : d.claims.find((c) => c.metadata.name === name),
    clusterIssuer: (name) =>
      d.clusterIssuers === undefined ? 'unavailable' : d.clusterIssuers.includes(name) ? 'found' : 'missing',
  };
  if (d.domainPolicy) out.domainPolicy = d.domainPolicy;
  out.hostOwners = hostOwnersFromObjects(d.claims ?? [], d.namespaces ?? []);
  return out;
}

/** The hosts of every rule of a KIngress (defensive: the object may be any decoded JSON). */
export function hostsOf(k: KIngress): string[] {
  const rules: unknown = k.spec?.rules;
  if (!Array.isArray(rules)) return [];
  const out: string[] = [];
  for (const r of rules as unknown[]) {
    const hosts = (r as { hosts?: unknown } | null)?.hosts;
    if (Array.isArray(hosts)) for (const h of hosts as unknown[]) if (typeof h === 'string') out.push(h);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Live lookups

export const KINGRESSES_PATH = `/apis/${KINGRESS_GROUP}/${KINGRESS_VERSION}/${KINGRESS_PLURAL}`;
export const GATEWAYS_PATH = `/apis/${GATEWAY_GROUP}/${GATEWAY_VERSION}/${GATEWAY_PLURAL}`;
export const CLUSTER_DOMAIN_CLAIMS_PATH =
  '/apis/networking.internal.knative.dev/v1alpha1/clusterdomainclaims';
export const CLUSTER_ISSUERS_PATH = '/apis/cert-manager.io/v1/clusterissuers';

/** The part of a Reflector the lookups read (the operator's engine shares its own). */
export interface SharedCache {
  readonly store: ReadonlyMap<string, KubeObject>;
  onEvent(h: (e: ReflectorEvent<KubeObject>) => void): void;
  readonly synced: Promise<void>;
}

export interface LiveLookupsOptions {
  rest: KubeRest;
  log: Logger;
  /**
   * Caches someone else keeps (started and stopped by them): the operator passes its engine's
   * KIngress and KnativeGateway reflectors so they are not listed and watched twice.
   */
  shared?: { ingresses?: SharedCache; gateways?: SharedCache };
  domainPolicy?: DomainPolicy;
  /**
   * Claims and namespace labels for the KIngress host rule; the operator passes its claim
   * controller's, so admission and translation read the same caches. Default: this lookup's own
   * ClusterDomainClaim cache, no namespace labels.
   */
  hostOwners?: HostOwners;
  /** Bound for start() waiting on the required caches (default 60 s). */
  syncTimeoutMs?: number;
}

export interface LiveLookups extends Lookups {
  /**
   * Starts the reflectors and resolves once the KIngress and KnativeGateway caches are listed
   * (the optional kinds are not waited for beyond one probe). Rejects after syncTimeoutMs.
   */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether the optional kinds are listed (for logs and tests). */
  available(): { clusterDomainClaims: boolean; clusterIssuers: boolean };
}

type Obj = KubeObject & Record<string, unknown>;

/** Lookups backed by reflectors. KIngresses are indexed by `<class>\n<host>` for kingressesByHost. */
export function liveLookups(o: LiveLookupsOptions): LiveLookups {
  const mk = (path: string, quiet?: (err: unknown) => boolean) =>
    new Reflector<Obj>(o.rest, { path, log: o.log, ...(quiet ? { quiet } : {}) });
  const ingresses: SharedCache = o.shared?.ingresses ?? mk(KINGRESSES_PATH);
  const gateways: SharedCache = o.shared?.gateways ?? mk(GATEWAYS_PATH);
  // optional kinds: while their API is not installed (404, said once at info by start()) they are
  // retried at debug, not warned about every 30 s for the life of the process
  const notInstalled = (err: unknown) => err instanceof ApiError && err.status === 404;
  const claims = mk(CLUSTER_DOMAIN_CLAIMS_PATH, notInstalled);
  const issuers = mk(CLUSTER_ISSUERS_PATH, notInstalled);
  /** The reflectors these lookups start and stop (not the shared ones). */
  const owned = [ingresses, gateways, claims, issuers].filter(
    (r): r is Reflector<Obj> => r instanceof Reflector,
  );
  let claimsSynced = false;
  let issuersSynced = false;
  void claims.synced.then(() => (claimsSynced = true));
  void issuers.synced.then(() => (issuersSynced = true));

  // host index: `<class>\n<host>` → keys of the KIngresses claiming it
  const byHost = new Map<string, Set<string>>();
  const indexKeys = (k: KIngress): string[] => {
    const cls = k.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
    return cls === undefined ? [] : [...new Set(hostsOf(k))].map((h) => `${cls}\n${h}`);
  };
  const keyOf = (k: KIngress) => `${k.metadata.namespace ?? ''}/${k.metadata.name}`;
  const unindex = (k: KIngress) => {
    for (const ik of indexKeys(k)) {
      const set = byHost.get(ik);
      set?.delete(keyOf(k));
      if (set?.size === 0) byHost.delete(ik);
    }
  };
  const index = (obj: KIngress) => {
    for (const ik of indexKeys(obj)) {
      let set = byHost.get(ik);
      if (!set) byHost.set(ik, (set = new Set()));
      set.add(keyOf(obj));
    }
  };
  // A shared cache may already hold objects: index them, then follow its events.
  for (const obj of ingresses.store.values()) index(obj as unknown as KIngress);
  ingresses.onEvent((e) => {
    const obj = e.obj as unknown as KIngress;
    if (e.type === 'delete') return unindex(obj);
    if (e.old) unindex(e.old as unknown as KIngress);
    index(obj);
  });

  const out: LiveLookups = {
    gateways: () => [...gateways.store.values()] as unknown as KnativeGateway[],
    kingressesByHost: (cls, host) =>
      [...(byHost.get(`${cls}\n${host}`) ?? [])]
        .map((k) => ingresses.store.get(k) as unknown as KIngress | undefined)
        .filter((k): k is KIngress => k !== undefined),
    clusterDomainClaim: (name) => (claimsSynced ? claims.store.get(`/${name}`) : 'unavailable'),
    clusterIssuer: (name) =>
      issuersSynced ? (issuers.store.has(`/${name}`) ? 'found' : 'missing') : 'unavailable',
    async start() {
      for (const r of owned) r.start();
      const timeoutMs = o.syncTimeoutMs ?? 60_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`webhook caches not synced within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([Promise.all([ingresses.synced, gateways.synced]), timeout]);
        // optional kinds: wait for their first list only when their API exists
        for (const [r, path] of [
          [claims, CLUSTER_DOMAIN_CLAIMS_PATH],
          [issuers, CLUSTER_ISSUERS_PATH],
        ] as const) {
          if (await served(o.rest, path)) await Promise.race([r.synced, timeout]);
          else o.log.info({ path }, 'webhook lookups: API not installed; its checks are skipped until it is');
        }
      } finally {
        clearTimeout(timer);
      }
    },
    async stop() {
      await Promise.all(owned.map((r) => r.stop()));
    },
    available: () => ({ clusterDomainClaims: claimsSynced, clusterIssuers: issuersSynced }),
  };
  if (o.domainPolicy) out.domainPolicy = o.domainPolicy;
  const claimNamespace = (c: Obj): string => {
    const ns = (c as unknown as ClusterDomainClaim).spec?.namespace;
    return typeof ns === 'string' ? ns : '';
  };
  out.hostOwners = o.hostOwners ?? {
    claimOwner: (d) => {
      const c = claims.store.get(`/${d}`);
      return c === undefined ? undefined : claimNamespace(c);
    },
    claimsUnder: (suffix) =>
      [...claims.store.values()]
        .filter((c) => c.metadata.name.endsWith(`.${suffix}`))
        .map((c) => ({ domain: c.metadata.name, namespace: claimNamespace(c) })),
    namespaceLabels: () => undefined,
  };
  return out;
}

/** Whether a collection can be listed (false for 404: its CRD is not installed). */
async function served(rest: KubeRest, path: string): Promise<boolean> {
  try {
    await rest.get(path, { limit: 1 });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return false;
    throw err;
  }
}
