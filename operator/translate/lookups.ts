// The read-only view of the cluster that translation needs. Implemented over the informer caches
// in the operator and over plain arrays in tests; translation never performs I/O itself.
import type { EndpointSlice, Secret, Service } from '../api/core.ts';
import type { ExternalNamePolicy } from './external-names.ts';
import type { HostOwners, HostPolicy } from './host-ownership.ts';
import type { HostPolicyIR } from './ir.ts';
import type { AdminPolicyIR } from '../policy/admin.ts';

export interface Lookups {
  clusterDomain: string;
  /** Where ExternalName Services may lead (the gateway's policy); STRICT_POLICY when absent. */
  externalNames?: ExternalNamePolicy;
  /** Who may serve which host (the gateway's domains, template and claim rules); see host-ownership.ts. */
  hostPolicy?: HostPolicy;
  /** ClusterDomainClaims and namespace labels; absent: none known. */
  hostOwners?: HostOwners;
  service(namespace: string, name: string): Service | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  /** EndpointSlices labelled kubernetes.io/service-name=<name> in the namespace. */
  endpointSlices(namespace: string, service: string): EndpointSlice[];
  /** The RoutePolicy features on a host of a KIngress (`<ns>/<name>`); absent: none. */
  routePolicy?(ingressKey: string, host: string): HostPolicyIR | undefined;
  /** The gateway's spec.policy (defaults and domain rules), applied over routePolicy per host. */
  adminPolicy?: AdminPolicyIR;
}

/** A ClusterDomainClaim or Namespace as the host rule reads it (tests and goldens). */
export interface ClaimObject {
  metadata: { name: string };
  spec?: { namespace?: string };
}
export interface NamespaceObject {
  metadata: { name: string; labels?: Record<string, string> };
}

/** HostOwners over fixed lists of claims and namespaces. */
export function hostOwnersFromObjects(
  claims: readonly ClaimObject[],
  namespaces: readonly NamespaceObject[],
): HostOwners {
  const owner = new Map(claims.map((c) => [c.metadata.name, c.spec?.namespace ?? '']));
  const labels = new Map(namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
  return {
    claimOwner: (d) => owner.get(d),
    claimsUnder: (suffix) =>
      [...owner]
        .filter(([d]) => d.endsWith(`.${suffix}`))
        .map(([domain, namespace]) => ({ domain, namespace })),
    namespaceLabels: (ns) => labels.get(ns),
  };
}

export function lookupsFromObjects(
  objs: {
    services?: Service[];
    secrets?: Secret[];
    slices?: EndpointSlice[];
    claims?: ClaimObject[];
    namespaces?: NamespaceObject[];
  },
  clusterDomain = 'cluster.local',
  externalNames?: ExternalNamePolicy,
  hostPolicy?: HostPolicy,
): Lookups {
  const key = (ns: string | undefined, n: string) => `${ns ?? ''}/${n}`;
  const services = new Map((objs.services ?? []).map((s) => [key(s.metadata.namespace, s.metadata.name), s]));
  const secrets = new Map((objs.secrets ?? []).map((s) => [key(s.metadata.namespace, s.metadata.name), s]));
  const slices = new Map<string, EndpointSlice[]>();
  for (const s of objs.slices ?? []) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = key(s.metadata.namespace, svc);
    slices.set(k, [...(slices.get(k) ?? []), s]);
  }
  return {
    clusterDomain,
    ...(externalNames ? { externalNames } : {}),
    ...(hostPolicy ? { hostPolicy } : {}),
    hostOwners: hostOwnersFromObjects(objs.claims ?? [], objs.namespaces ?? []),
    service: (ns, n) => services.get(key(ns, n)),
    secret: (ns, n) => secrets.get(key(ns, n)),
    endpointSlices: (ns, n) => slices.get(key(ns, n)) ?? [],
  };
}
