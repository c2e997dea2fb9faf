// KnativeGateway API, TypeBox schema: the fleet's part of RoutePolicy semantics (the admin's
// choices that RoutePolicies in the namespaces cannot make).
import type { Static } from '@sinclair/typebox';
import {
  DEFAULT_RATE_LIMIT_FAILURE_MODE,
  DEFAULT_RATE_LIMIT_SHARING,
  DEFAULT_RATE_LIMIT_TIMEOUT_MS,
  DNS1123_LABEL_PATTERN,
  MESSAGES,
  RATE_LIMIT_FAILURE_MODES,
  RATE_LIMIT_SHARING_MODES,
} from './knativegateway-constants.ts';
import { Enum, Int, Obj, Str, cel } from './schema-builders.ts';

export const GlobalRateLimitSchema = Obj(
  'The rate-limit service that keeps the counts of a fleet whose rateLimitSharing is Global ' +
    "(envoyproxy/ratelimit, gRPC, with Redis). Every request to a host with a RoutePolicy's rate " +
    "limits asks it first. kgw serves it the limits itself: it connects to kgw's xDS server " +
    '(CONFIG_TYPE=GRPC_XDS_SOTW) as node <gateway>/<fleet>; see docs/policies.md.',
  {
    service: Obj(
      'The Kubernetes Service of the rate-limit service. The Envoys connect to its ready endpoints ' +
        '(HTTP/2, plaintext).',
      {
        name: Str('Name of the Service.', { pattern: DNS1123_LABEL_PATTERN, maxLength: 63 }),
        namespace: Str('Namespace of the Service.', { pattern: DNS1123_LABEL_PATTERN, maxLength: 63 }),
        port: Int("The Service port of the rate-limit service's gRPC API (envoyproxy/ratelimit: 8081).", {
          minimum: 1,
          maximum: 65535,
        }),
      },
      { required: ['name', 'namespace', 'port'] },
    ),
    failureMode: Enum(
      'What happens to a request when the rate-limit service cannot be reached or does not answer ' +
        'within timeoutMs. Allow: it goes through unlimited (rate limits fail open). Deny: it is ' +
        `answered 500. Defaults to ${DEFAULT_RATE_LIMIT_FAILURE_MODE}.`,
      { enum: RATE_LIMIT_FAILURE_MODES, default: DEFAULT_RATE_LIMIT_FAILURE_MODE },
    ),
    timeoutMs: Int(
      'How long an Envoy waits for the answer of the rate-limit service, in milliseconds, before ' +
        `failureMode applies. Defaults to ${DEFAULT_RATE_LIMIT_TIMEOUT_MS}.`,
      { minimum: 1, maximum: 10_000, default: DEFAULT_RATE_LIMIT_TIMEOUT_MS },
    ),
  },
  { required: ['service'] },
);

export type GlobalRateLimit = Static<typeof GlobalRateLimitSchema>;

interface PolicySelf {
  rateLimitSharing?: string;
  globalRateLimit?: unknown;
}

export const FleetPolicySchema = Obj(
  "How RoutePolicies (policy.kgw.dev) behave on this fleet's Envoys.",
  {
    rateLimitSharing: Enum(
      "How a RoutePolicy's rate limits count across the fleet's Envoy replicas. PerReplica: each " +
        'replica has its own buckets, so with N replicas a client that reaches all of them gets up ' +
        "to N times the limit. SharedEvenly: each replica's buckets hold the limit divided by the " +
        "number of the fleet's ready replicas (Envoy's local cluster rate limit), so the fleet as a " +
        'whole admits about the limit when the load is spread evenly over the replicas; a client ' +
        'that keeps one connection to one replica gets about limit/N. Global: an external ' +
        'rate-limit service (globalRateLimit) counts for the whole fleet, so the limit is exact ' +
        'whichever replicas the requests reach; one gRPC call per limited request. Changing it ' +
        'from or to SharedEvenly changes the Envoy bootstrap (a rolling restart of the fleet). ' +
        `Defaults to ${DEFAULT_RATE_LIMIT_SHARING}.`,
      { enum: RATE_LIMIT_SHARING_MODES, default: DEFAULT_RATE_LIMIT_SHARING },
    ),
    globalRateLimit: GlobalRateLimitSchema,
  },
  {
    default: {},
    validations: [
      cel(
        "!has(self.rateLimitSharing) || self.rateLimitSharing != 'Global' || has(self.globalRateLimit)",
        MESSAGES.globalRateLimitService,
        (p: PolicySelf) => p.rateLimitSharing !== 'Global' || p.globalRateLimit !== undefined,
      ),
    ],
  },
);
