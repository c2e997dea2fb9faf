// Where an ExternalName Service may send a fleet's traffic. A KIngress writer controls the Services
// of its namespace, so an ExternalName is a request to make Envoy connect anywhere: to Envoy's own
// loopback ports, a cloud metadata endpoint, or another tenant's Services (Contour
// CVE-2021-32783 was exactly this). The rules, pure and shared by translate and its tests:
//
// - Always refused, whatever the gateway allows: IP literals (including the forms resolvers still
//   parse as addresses: `2130706433`, `0x7f000001`, `127.1`), `localhost` and `*.localhost`,
//   single-label names (the pod's DNS search path would turn them into in-cluster names), known
//   cloud metadata names, names under the cluster domain that are not `<svc>.<ns>.svc.<domain>`
//   (pod and other records can resolve to any address), and, for targets outside the cluster, the
//   ports Envoy itself listens on.
// - In-cluster names (`<svc>.<ns>.svc[.<domain>]`) are followed through the Service cache (no DNS)
//   when the target is in the KIngress's own namespace, in a namespace the gateway allows, or is
//   one of the gateway's own fleet Services (Knative points Route placeholders at the private
//   fleet). Chains of ExternalNames are followed the same way, at most MAX_HOPS deep.
// - Names outside the cluster are refused unless the gateway allows the name's suffix and port
//   (`spec.externalNames.allowedHosts`).

import { ENVOY_READY_PORT, fleetServiceName, type ResolvedGatewaySpec } from '../api/knativegateway.ts';

/** What a gateway allows (KnativeGateway `spec.externalNames`, plus its own fleet Services). */
export interface ExternalNamePolicy {
  /** Namespaces, besides the KIngress's own, that an in-cluster ExternalName may point into. */
  namespaces: readonly string[];
  /** Services (`<namespace>/<name>`) any KIngress of the gateway may reach: its fleets' Services. */
  services: readonly string[];
  /** Outside-the-cluster names: a host matches when it equals `suffix` or ends with `.<suffix>`. */
  hosts: readonly { suffix: string; ports: readonly number[] }[];
  /** Ports the gateway's Envoys listen on: never a target outside the cluster. */
  reservedPorts: readonly number[];
}

/** Only the KIngress's own namespace; nothing outside the cluster. */
export const STRICT_POLICY: ExternalNamePolicy = {
  namespaces: [],
  services: [],
  hosts: [],
  reservedPorts: [],
};

/** The policy of a gateway: its `spec.externalNames`, its fleet Services, its Envoys' ports. */
export function gatewayExternalNamePolicy(gateway: string, spec: ResolvedGatewaySpec): ExternalNamePolicy {
  return {
    namespaces: spec.externalNames.allowedNamespaces,
    services: spec.fleets.map((f) => `${spec.namespace}/${fleetServiceName(gateway, f.name)}`),
    hosts: spec.externalNames.allowedHosts,
    reservedPorts: [
      ...new Set([
        ...spec.fleets.flatMap((f) => [
          f.ports.http,
          f.ports.https,
          ...(f.metrics.enabled ? [f.metrics.port] : []),
        ]),
        ENVOY_READY_PORT,
      ]),
    ],
  };
}

/** How many ExternalName Services are followed to reach a real one. */
export const MAX_HOPS = 4;

/** Names that resolve to a cloud provider's instance metadata service. */
const METADATA_NAMES: readonly string[] = [
  'metadata.google.internal',
  'metadata.goog',
  'instance-data.ec2.internal',
  'metadata.azure.internal',
  'metadata.tencentyun.com',
  'metadata.platformequinix.com',
];

export const REASON_REFUSED = 'ExternalNameRefused';
export const REASON_NOT_ALLOWED = 'ExternalNameNotAllowed';

export type HostClass =
  | { kind: 'refused'; why: string }
  | { kind: 'service'; namespace: string; name: string }
  | { kind: 'external'; host: string };

/** Lower-case, without the trailing dot of a fully qualified name. */
export function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function looksLikeAddress(host: string): boolean {
  if (/^[0-9.]+$/.test(host)) return true; // 127.0.0.1, 127.1, 2130706433
  const last = host.split('.').pop() ?? '';
  // a numeric or hex last label is never a top-level domain; resolvers parse such names as addresses
  return /^[0-9]+$/.test(last) || /^0x[0-9a-f]+$/.test(last) || host.includes(':');
}

/** Sorts an ExternalName host into refused, an in-cluster Service, or a name outside the cluster. */
export function classifyHost(rawHost: string, clusterDomain: string): HostClass {
  const host = normalizeHost(rawHost);
  if (host === '') return { kind: 'refused', why: 'it is empty' };
  if (looksLikeAddress(host)) return { kind: 'refused', why: 'it is an IP address' };
  if (host === 'localhost' || host.endsWith('.localhost') || host.startsWith('localhost.'))
    return { kind: 'refused', why: 'it names this host (localhost)' };
  if (!host.includes('.'))
    return {
      kind: 'refused',
      why: "it is a single-label name, which the pod's DNS search path would expand; write <service>.<namespace>.svc",
    };
  if (METADATA_NAMES.includes(host)) return { kind: 'refused', why: 'it is a cloud metadata service' };
  const domain = normalizeHost(clusterDomain);
  for (const suffix of [`.svc.${domain}`, '.svc']) {
    if (host.endsWith(suffix)) {
      const parts = host.slice(0, -suffix.length).split('.');
      if (parts.length === 2 && parts[0] && parts[1])
        return { kind: 'service', name: parts[0], namespace: parts[1] };
      return { kind: 'refused', why: `in-cluster names must have the form <service>.<namespace>${suffix}` };
    }
  }
  if (host === domain || host.endsWith(`.${domain}`))
    return {
      kind: 'refused',
      why: `names under the cluster domain ${domain} other than <service>.<namespace>.svc.${domain} can resolve to any address`,
    };
  return { kind: 'external', host };
}

/** Whether the policy lets a KIngress of `namespace` reach the Service `target` through an ExternalName. */
export function serviceAllowed(
  policy: ExternalNamePolicy,
  namespace: string,
  target: { namespace: string; name: string },
): boolean {
  return (
    target.namespace === namespace ||
    policy.namespaces.includes(target.namespace) ||
    policy.services.includes(`${target.namespace}/${target.name}`)
  );
}

/** Why an outside-the-cluster target is not allowed, or undefined when it is. */
export function externalProblem(
  policy: ExternalNamePolicy,
  host: string,
  port: number,
): { reason: string; why: string } | undefined {
  if (policy.reservedPorts.includes(port))
    return { reason: REASON_REFUSED, why: `port ${port} is one Envoy itself listens on` };
  const entry = policy.hosts.find((h) => host === h.suffix || host.endsWith(`.${h.suffix}`));
  if (!entry)
    return {
      reason: REASON_NOT_ALLOWED,
      why: 'names outside the cluster must be allowed by the KnativeGateway (spec.externalNames.allowedHosts)',
    };
  if (!entry.ports.includes(port))
    return {
      reason: REASON_NOT_ALLOWED,
      why: `the KnativeGateway allows ${entry.suffix} only on port${entry.ports.length === 1 ? '' : 's'} ${entry.ports.join(', ')}`,
    };
  return undefined;
}
