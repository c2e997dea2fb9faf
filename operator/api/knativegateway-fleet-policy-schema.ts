// KnativeGateway API, TypeBox schema: the fleet's part of RoutePolicy semantics (the admin's
// choices that RoutePolicies in the namespaces cannot make).
import { DEFAULT_RATE_LIMIT_SHARING, RATE_LIMIT_SHARING_MODES } from './knativegateway-constants.ts';
import { Enum, Obj } from './schema-builders.ts';

export const FleetPolicySchema = Obj(
  "How RoutePolicies (policy.kgw.dev) behave on this fleet's Envoys.",
  {
    rateLimitSharing: Enum(
      "How a RoutePolicy's rate limits count across the fleet's Envoy replicas. PerReplica: each " +
        'replica has its own buckets, so with N replicas a client that reaches all of them gets up ' +
        "to N times the limit. SharedEvenly: each replica's buckets hold the limit divided by the " +
        "number of the fleet's ready replicas (Envoy's local cluster rate limit), so the fleet as a " +
        'whole admits about the limit when the load is spread evenly over the replicas; a client ' +
        'that keeps one connection to one replica gets about limit/N. Changing it changes the ' +
        `Envoy bootstrap (a rolling restart of the fleet). Defaults to ${DEFAULT_RATE_LIMIT_SHARING}.`,
      { enum: RATE_LIMIT_SHARING_MODES, default: DEFAULT_RATE_LIMIT_SHARING },
    ),
  },
  { default: {} },
);
