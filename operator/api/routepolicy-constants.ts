// RoutePolicy (policy.kgw.dev/v1alpha1): the API's names, what a policy may target, its limits,
// the rate-limit periods and the features a policy sets. The schema is in api/routepolicy.ts
// (which re-exports this module) and api/routepolicy-status-schema.ts.

export const POLICY_GROUP = 'policy.kgw.dev';
export const POLICY_VERSION = 'v1alpha1';
export const POLICY_API_VERSION = `${POLICY_GROUP}/${POLICY_VERSION}`;
export const POLICY_KIND = 'RoutePolicy';
export const POLICY_LIST_KIND = 'RoutePolicyList';
export const POLICY_PLURAL = 'routepolicies';
export const POLICY_SINGULAR = 'routepolicy';
export const POLICY_SHORT_NAME = 'rpol';
export const POLICY_CRD_NAME = `${POLICY_PLURAL}.${POLICY_GROUP}`;

export const KNATIVE_SERVING_GROUP = 'serving.knative.dev';
export const TARGET_KINDS = ['Service', 'Route', 'DomainMapping'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** Header kgw sets to the authenticated API-key client by default (removed from client requests). */
export const DEFAULT_CLIENT_HEADER = 'x-kgw-consumer';

/**
 * Header kgw sets to the user that basic auth let through (removed from client requests). Fixed:
 * Envoy's basic_auth filter takes it in the listener's filter config, not per host.
 */
export const BASIC_AUTH_USER_HEADER = 'x-kgw-user';

export const POLICY_LIMITS = {
  targetRefs: 16,
  hosts: 64,
  keySources: 8,
  credentialSecrets: 16,
  /** Clients (API keys) or users (basic auth) across all credential Secrets of one policy. */
  credentials: 1000,
  basicAuthRealm: 64,
  allowedClients: 1000,
  cidrs: 256,
  corsOrigins: 64,
  corsHeaders: 64,
  corsMethods: 16,
  corsMaxAgeSeconds: 86_400,
  rateRules: 16,
  rateValues: 256,
  /** Envoy's token bucket counts in uint32. */
  rateRequests: 1_000_000_000,
} as const;

export const RATE_PERIODS = { Second: 1, Minute: 60, Hour: 3600, Day: 86_400 } as const;
export type RatePeriod = keyof typeof RATE_PERIODS;

/** The features a policy may set; two policies setting one feature on one target conflict. */
export const POLICY_FEATURES = [
  'apiKeyAuth',
  'basicAuth',
  'ipAccess',
  'cors',
  'rateLimit',
  'routing',
] as const;
export type PolicyFeature = (typeof POLICY_FEATURES)[number];
