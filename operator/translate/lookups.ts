// The read-only view of the cluster that translation needs. Implemented over the informer caches
// in the operator and over plain arrays in tests; translation never performs I/O itself.
import type { EndpointSlice, Secret, Service } from '../api/core.ts';
import type { ExternalNamePolicy } from './external-names.ts';

export interface Lookups {
  clusterDomain: string;
  /** Where ExternalName Services may lead (the gateway's policy); STRICT_POLICY when absent. */
  externalNames?: ExternalNamePolicy;
  service(namespace: string, name: string): Service | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  /** EndpointSlices labelled kubernetes.io/service-name=<name> in the namespace. */
  endpointSlices(namespace: string, service: string): EndpointSlice[];
}

export function lookupsFromObjects(
  objs: { services?: Service[]; secrets?: Secret[]; slices?: EndpointSlice[] },
  clusterDomain = 'cluster.local',
  externalNames?: ExternalNamePolicy,
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
    service: (ns, n) => services.get(key(ns, n)),
    secret: (ns, n) => secrets.get(key(ns, n)),
    endpointSlices: (ns, n) => slices.get(key(ns, n)) ?? [],
  };
}
