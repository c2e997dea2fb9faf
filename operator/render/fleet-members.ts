// The ClusterLoadAssignment of a fleet's local cluster (bootstrap.ts FLEET_MEMBERS_CLUSTER): one
// endpoint per ready Envoy replica of the fleet. Envoy's local_cluster_rate_limit divides a bucket
// by the number of these hosts (policy.ts RateLimitSharing); nothing is ever routed to them, so the
// port only has to be valid (the fleet's HTTP port).
import { FLEET_MEMBERS_CLUSTER } from './bootstrap.ts';
import { renderLoadAssignment } from './endpoints.ts';
import type { Json } from './types.ts';

/** The fleet-members assignment for these replica addresses (sorted, each once). */
export function renderFleetMembers(addresses: Iterable<string>, port: number): Json {
  const unique = [...new Set(addresses)].filter((a) => a !== '').sort();
  return renderLoadAssignment(
    FLEET_MEMBERS_CLUSTER,
    unique.map((address) => ({ address, port })),
  );
}
