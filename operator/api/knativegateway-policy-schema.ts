// KnativeGateway API, TypeBox schema: `spec.policy`, the admin's part of RoutePolicy semantics for
// every host the gateway serves: defaults (a feature a host gets when no RoutePolicy sets it),
// ceilings (the most a RoutePolicy may allow) and domain rules (in force whatever the RoutePolicies
// say; app teams cannot change them, as the KnativeGateway is cluster-scoped). The features reuse
// the RoutePolicy schemas (api/routepolicy.ts), so one definition covers both.
import type { Static } from '@sinclair/typebox';
import { CorsSchema, IpAccessSchema, RATE_PERIODS, RateLimitSchema, type RatePeriod } from './routepolicy.ts';
import { DNS1123_SUBDOMAIN_PATTERN, LIMITS, MESSAGES } from './knativegateway-constants.ts';
import { Arr, Enum, Int, Obj, Str, cel, has } from './schema-builders.ts';

export const GATEWAY_POLICY_LIMITS = { domains: 32, domainRules: 16 } as const;

const PERIODS = Object.keys(RATE_PERIODS) as RatePeriod[];

const domainList = (description: string) =>
  Arr(
    description,
    Str('A DNS domain, such as example.com.', {
      pattern: DNS1123_SUBDOMAIN_PATTERN,
      maxLength: LIMITS.domainMaxLength,
    }),
    {
      minItems: 1,
      maxItems: GATEWAY_POLICY_LIMITS.domains,
      listType: 'set',
    },
  );

export const GatewayPolicyDefaultsSchema = Obj(
  'Features every host of this gateway gets when no RoutePolicy sets them there; a RoutePolicy that ' +
    'sets a feature on a host replaces the default of that feature on it (it may be more or less ' +
    'strict, within ceilings). The schemas are those of RoutePolicy (kubectl explain routepolicy.spec).',
  {
    domains: domainList(
      'Only hosts that are one of these domains or under them (example.com covers example.com and ' +
        'a.b.example.com) get the defaults. Unset: every host, cluster-local ones (…svc.cluster.local) too.',
    ),
    ipAccess: IpAccessSchema,
    cors: CorsSchema,
    rateLimit: RateLimitSchema,
  },
  {
    validations: [
      cel(
        'has(self.ipAccess) || has(self.cors) || has(self.rateLimit)',
        MESSAGES.policyDefaultsFeature,
        (d: object) => has(d, 'ipAccess') || has(d, 'cors') || has(d, 'rateLimit'),
      ),
    ],
  },
);

export const RateCeilingSchema = Obj(
  "The highest rate a RoutePolicy's rate-limit rule may allow for one bucket (one key value, or a " +
    'host as a whole). A bucket over it is lowered to it, and the RoutePolicy says so in its Accepted ' +
    'message. Compared as requests per second: 100 per Minute is under 2 per Second.',
  {
    requests: Int('Requests per period.', { minimum: 1, maximum: 1_000_000_000 }),
    per: Enum('The period: Second, Minute, Hour or Day.', { enum: PERIODS }),
  },
  { required: ['requests', 'per'] },
);

export const GatewayPolicyCeilingsSchema = Obj(
  'The most a RoutePolicy may allow on this gateway’s hosts.',
  { rateLimit: RateCeilingSchema },
  {},
);

export const DomainRuleSchema = Obj(
  'Features the admin enforces on every host under some domains, in addition to (not instead of) what ' +
    'RoutePolicies set: a request must pass both the RoutePolicy’s IP rules and these, and is counted ' +
    'by both its rate limits and these. Knative’s probes and ACME HTTP-01 challenges are exempt.',
  {
    name: Str('Name of the rule (unique in the gateway; in the rate-limit statistics).', {
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
      minLength: 1,
      maxLength: 63,
    }),
    domains: domainList('The rule applies to hosts that are one of these domains or under them.'),
    ipAccess: IpAccessSchema,
    rateLimit: RateLimitSchema,
  },
  {
    required: ['name', 'domains'],
    validations: [
      cel(
        'has(self.ipAccess) || has(self.rateLimit)',
        MESSAGES.domainRuleFeature,
        (r: object) => has(r, 'ipAccess') || has(r, 'rateLimit'),
      ),
    ],
  },
);

export const GatewayPolicySchema = Obj(
  'What the admin sets for RoutePolicies (policy.kgw.dev) on the hosts this gateway serves: defaults, ' +
    'ceilings and domain rules. App teams cannot change it (the KnativeGateway is cluster-scoped). How ' +
    'rate limits count across a fleet’s Envoys, and where the client address comes from, are set per ' +
    'fleet (fleets[].policy, fleets[].clientIP). See docs/policies.md.',
  {
    defaults: GatewayPolicyDefaultsSchema,
    ceilings: GatewayPolicyCeilingsSchema,
    domainRules: Arr('Rules enforced on hosts under their domains, in order.', DomainRuleSchema, {
      maxItems: GATEWAY_POLICY_LIMITS.domainRules,
      mapKeys: ['name'],
    }),
  },
  {},
);

export type GatewayPolicy = Static<typeof GatewayPolicySchema>;
export type GatewayPolicyDefaults = Static<typeof GatewayPolicyDefaultsSchema>;
export type DomainRule = Static<typeof DomainRuleSchema>;
export type RateCeiling = Static<typeof RateCeilingSchema>;
