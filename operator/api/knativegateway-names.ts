// KnativeGateway (operator.kgw.dev/v1alpha1): the names kgw derives from a gateway and its fleets
// (Service, xDS cluster, domainInternal, labels), and the Service names two fleets would share.
import { createHash } from 'node:crypto';
import {
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  LABEL_GATEWAY,
  LABEL_FLEET,
  DEFAULT_NAMESPACE,
  DEFAULT_CLUSTER_DOMAIN,
  LIMITS,
} from './knativegateway-constants.ts';
import type { KnativeGateway } from './knativegateway.ts';
import { withGatewayDefaults } from './knativegateway-defaults.ts';

const DNS1035_LABEL_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Name of the Service (and of the other per-fleet objects) that publishes a fleet:
 * `kgw-<gateway>-<fleet>`. When that is longer than 63 characters or not a valid Service name
 * (a gateway name with dots), it is cut and suffixed with a hash of `<gateway>/<fleet>`, so it
 * stays stable and distinct.
 */
export function fleetServiceName(gateway: string, fleet: string): string {
  const plain = `kgw-${gateway}-${fleet}`;
  if (plain.length <= LIMITS.serviceNameMaxLength && DNS1035_LABEL_RE.test(plain)) return plain;
  const hash = createHash('sha256').update(`${gateway}/${fleet}`).digest('hex').slice(0, 10);
  const base = plain
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, LIMITS.serviceNameMaxLength - 1 - hash.length)
    .replace(/-+$/, '');
  return `${base}-${hash}`;
}

/** The Envoy node.cluster of a fleet's replicas, which is also its xDS snapshot key. */
export function fleetXdsCluster(gateway: string, fleet: string): string {
  return `${gateway}/${fleet}`;
}

/** Inverse of `fleetXdsCluster` (undefined for anything else). */
export function parseFleetXdsCluster(cluster: string): { gateway: string; fleet: string } | undefined {
  const parts = cluster.split('/');
  if (parts.length !== 2) return undefined;
  const [gateway, fleet] = parts;
  if (gateway === undefined || fleet === undefined || gateway === '' || fleet === '') return undefined;
  return { gateway, fleet };
}

/** `<service>.<namespace>.svc.<clusterDomain>`: what KIngress status reports as `domainInternal`. */
export function fleetDomainInternal(
  gateway: string,
  fleet: string,
  namespace: string = DEFAULT_NAMESPACE,
  clusterDomain: string = DEFAULT_CLUSTER_DOMAIN,
): string {
  return `${fleetServiceName(gateway, fleet)}.${namespace}.svc.${clusterDomain}`;
}

/** Labels for every object kgw creates for a fleet. */
export function fleetLabels(gateway: string, fleet: string): Record<string, string> {
  return { [LABEL_MANAGED_BY]: MANAGED_BY_KGW, [LABEL_GATEWAY]: gateway, [LABEL_FLEET]: fleet };
}

/**
 * Fleets of different gateways (or, after hashing, of one gateway) whose Services would share a
 * namespace and a name, e.g. gateway `a-b` fleet `c` and gateway `a` fleet `b-c`. The API server
 * cannot see across objects, so the operator reports these on status instead.
 */
export function fleetServiceNameCollisions(
  gateways: readonly Pick<KnativeGateway, 'metadata' | 'spec'>[],
): string[] {
  const owners = new Map<string, string[]>();
  for (const gw of gateways) {
    const spec = withGatewayDefaults(gw.spec);
    for (const f of spec.fleets) {
      const key = `${spec.namespace}/${fleetServiceName(gw.metadata.name, f.name)}`;
      const list = owners.get(key) ?? [];
      list.push(fleetXdsCluster(gw.metadata.name, f.name));
      owners.set(key, list);
    }
  }
  const out: string[] = [];
  for (const [key, list] of owners) {
    if (list.length > 1) out.push(`fleets ${list.join(', ')} would all be published as Service ${key}`);
  }
  return out;
}
