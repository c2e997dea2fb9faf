// RoutePolicy (policy.kgw.dev/v1alpha1): per-service traffic policy an app team attaches to a
// Knative Service, Route or DomainMapping of its own namespace. This TypeBox schema is the one
// definition of the API: the TypeScript types (Static), the CRD's openAPIV3Schema with its CEL
// rules (gen/routepolicy-crd.ts), the operator's runtime validation (api/schema-check.ts, ajv) and
// the reference docs all come from it. Its names, limits and enumerations are in
// routepolicy-constants.ts and its status in routepolicy-status-schema.ts; this module re-exports
// both under the names the rest of kgw imports.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { isCidr } from './cel-cidr.ts';
import {
  BASIC_AUTH_USER_HEADER,
  DEFAULT_CLIENT_HEADER,
  KNATIVE_SERVING_GROUP,
  POLICY_FEATURES,
  POLICY_LIMITS,
  RATE_PERIODS,
  TARGET_KINDS,
  type RatePeriod,
} from './routepolicy-constants.ts';
import { RoutePolicyStatusSchema, type RoutePolicyStatus } from './routepolicy-status-schema.ts';
import { RoutingSchema } from './routepolicy-routing-schema.ts';
import { Enum, cel, has, dnsName as name } from './schema-builders.ts';

export * from './routepolicy-constants.ts';
export * from './routepolicy-status-schema.ts';
export * from './routepolicy-routing-schema.ts';

// ---- schema helpers: every node carries its `kubectl explain` description -----------------------
// CEL rules (`cel`, with their TypeScript equals) and string enums (`Enum`) come from
// api/schema-builders.ts, as for the KnativeGateway API.

/** An HTTP header field name (RFC 9110 token), lower case as HTTP/2 requires. */
const HEADER_NAME = "^[a-z0-9!#$%&'*+.^_`|~-]+$";
const QUERY_NAME = '^[A-Za-z0-9._~-]+$';
const HTTP_METHOD = '^[A-Z]+$';
/** `*`, or an origin `scheme://host[:port]` whose host may start with one `*.` label. */
const ORIGIN = '^(\\*|[a-z][a-z0-9+.-]*://(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?)$';

/** Printable ASCII without `"` and `\\`: fits a quoted-string of WWW-Authenticate unescaped. */
const REALM = '^[ !#-\\[\\]-~]+$';

const headerName = (description: string) =>
  Type.String({ description, minLength: 1, maxLength: 128, pattern: HEADER_NAME });

// ---- spec ----------------------------------------------------------------------------------------

export const TargetRefSchema = Type.Object(
  {
    group: Enum(`API group of the target; ${KNATIVE_SERVING_GROUP} (the default) is the only one.`, {
      enum: [KNATIVE_SERVING_GROUP] as const,
      default: KNATIVE_SERVING_GROUP,
    }),
    kind: Enum(
      'Kind of the target: a Knative Service (every host of its Route, including tag and ' +
        'cluster-local hosts, and of every DomainMapping to it), a Route (the same without ' +
        'DomainMappings to a Service of that name), or a DomainMapping (its one host).',
      { enum: TARGET_KINDS },
    ),
    name: name('Name of the target, in the namespace of the RoutePolicy.'),
  },
  {
    description:
      'A Knative object in the namespace of the RoutePolicy (there is no namespace field: a policy ' +
      'never reaches another namespace).',
    additionalProperties: false,
  },
);

export const KeySourceSchema = Type.Object(
  {
    header: Type.Optional(headerName('Read the key from this request header.')),
    query: Type.Optional(
      Type.String({
        description: 'Read the key from this query parameter (for example apikey).',
        minLength: 1,
        maxLength: 128,
        pattern: QUERY_NAME,
      }),
    ),
  },
  {
    description: 'Where a client presents its key: exactly one of header or query.',
    additionalProperties: false,
    'x-kubernetes-validations': [
      cel(
        'has(self.header) != has(self.query)',
        'set exactly one of header or query',
        (k: object) => has(k, 'header') !== has(k, 'query'),
      ),
    ],
  },
);

export const SecretRefSchema = Type.Object(
  { name: name('Name of a Secret in the namespace of the RoutePolicy.') },
  { description: 'A Secret in the namespace of the RoutePolicy.', additionalProperties: false },
);

const credentialsFromSchema = (description: string, item: string) =>
  Type.Array(
    Type.Object({ secretRef: SecretRefSchema }, { description: item, additionalProperties: false }),
    { description, minItems: 1, maxItems: POLICY_LIMITS.credentialSecrets },
  );

export const ApiKeyAuthSchema = Type.Object(
  {
    keySources: Type.Array(KeySourceSchema, {
      description:
        'Where keys are read from, in order: the first source present in a request is used. A ' +
        'request without a key gets 401.',
      minItems: 1,
      maxItems: POLICY_LIMITS.keySources,
    }),
    credentialsFrom: credentialsFromSchema(
      'Secrets whose data maps a client name to its key (data: {<client>: <key>}). A client ' +
        'may appear once across all of them, and a key may belong to one client. An unknown ' +
        'key gets 401.',
      'A Secret holding client credentials.',
    ),
    allowedClients: Type.Optional(
      Type.Array(name('A client name (a key of a credentials Secret).'), {
        description:
          'When set, only these clients are let through; any other known client gets 403. When ' +
          'unset, every client with a valid key is.',
        minItems: 1,
        maxItems: POLICY_LIMITS.allowedClients,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    forwardClientHeader: Type.Optional(
      Type.String({
        description:
          `Request header that tells the backend which client called (default ${DEFAULT_CLIENT_HEADER}). ` +
          'kgw removes it from client requests on the policy\u2019s hosts, so it cannot be forged. ' +
          `${BASIC_AUTH_USER_HEADER} is basic auth\u2019s and cannot be used.`,
        minLength: 1,
        maxLength: 128,
        pattern: HEADER_NAME,
        'x-kubernetes-validations': [
          cel(
            `self != '${BASIC_AUTH_USER_HEADER}'`,
            `${BASIC_AUTH_USER_HEADER} names basic auth's user: pick another header`,
            (h: string) => h !== BASIC_AUTH_USER_HEADER,
          ),
        ],
      }),
    ),
    hideCredentials: Type.Optional(
      Type.Boolean({
        description: 'Remove the key from the request before it reaches the backend (default false).',
        default: false,
      }),
    ),
  },
  {
    description:
      'Require an API key on every request to the policy\u2019s hosts (401 without a valid key, 403 ' +
      'for a client not allowed). Knative\u2019s readiness probes and ACME HTTP-01 challenges are exempt.',
    additionalProperties: false,
  },
);

export const BasicAuthSchema = Type.Object(
  {
    credentialsFrom: credentialsFromSchema(
      'Secrets whose data maps a user name to its password (data: {<user>: <password>}). A user ' +
        'may appear once across all of them; users may share a password. A password must be ' +
        'non-empty, without control characters (a trailing newline from --from-file is refused). ' +
        'While a Secret is missing or invalid every request gets 401 (fails closed). kgw gives ' +
        'Envoy an unsalted SHA-1 of each password (the only htpasswd form Envoy\u2019s basic_auth ' +
        'filter accepts, {SHA}), never the password. Such a hash of a short or common password is ' +
        'quickly cracked, so kgw keeps Envoy\u2019s configuration private (mutual-TLS xDS; ' +
        'Envoy\u2019s admin interface is a private socket); use long random passwords.',
      'A Secret holding users and their passwords.',
    ),
    realm: Type.Optional(
      Type.String({
        description:
          'The realm of the WWW-Authenticate: Basic realm="<realm>" header of a 401 (what a browser ' +
          'shows when it asks for credentials). Printable ASCII without " and \\. Default: the ' +
          'request\u2019s URL, as Envoy does.',
        minLength: 1,
        maxLength: POLICY_LIMITS.basicAuthRealm,
        pattern: REALM,
      }),
    ),
  },
  {
    description:
      'Require HTTP basic auth (RFC 7617) on every request to the policy\u2019s hosts: a request ' +
      'without credentials, or with a wrong user or password, gets 401 with WWW-Authenticate. ' +
      `The backend sees the user in the ${BASIC_AUTH_USER_HEADER} request header (kgw removes it ` +
      'from client requests, so it cannot be forged) and the Authorization header unchanged. ' +
      'Knative\u2019s readiness probes and ACME HTTP-01 challenges are exempt. Use it over HTTPS: ' +
      'the password travels in every request.',
    additionalProperties: false,
  },
);

const cidrList = (description: string) =>
  Type.Array(
    Type.String({
      description: 'An IPv4 or IPv6 CIDR, such as 203.0.113.0/24 or 2001:db8::/32.',
      maxLength: 64,
      'x-kubernetes-validations': [
        cel('isCIDR(self)', 'must be an IPv4 or IPv6 CIDR such as 203.0.113.0/24', isCidr),
      ],
    }),
    { description, maxItems: POLICY_LIMITS.cidrs, 'x-kubernetes-list-type': 'set' },
  );

export const IpAccessSchema = Type.Object(
  {
    allow: Type.Optional(cidrList('When set, only clients in these ranges are let through; others get 403.')),
    deny: Type.Optional(cidrList('Clients in these ranges get 403, even when an allow range contains them.')),
  },
  {
    description:
      'Allow or deny clients by address (403). The client address is the one the fleet\u2019s ' +
      'spec.fleets[].clientIP settings resolve (the peer, or X-Forwarded-For with trusted hops). ' +
      'Knative\u2019s readiness probes and ACME HTTP-01 challenges are exempt.',
    additionalProperties: false,
    'x-kubernetes-validations': [
      cel(
        '(has(self.allow) && size(self.allow) > 0) || (has(self.deny) && size(self.deny) > 0)',
        'set at least one allow or deny range',
        (ip: { allow?: string[]; deny?: string[] }) =>
          (ip.allow ?? []).length > 0 || (ip.deny ?? []).length > 0,
      ),
    ],
  },
);

export const CorsSchema = Type.Object(
  {
    allowOrigins: Type.Array(
      Type.String({
        description:
          'An origin such as https://app.example.com, https://*.example.com (any subdomain) or * (any).',
        maxLength: 253,
        pattern: ORIGIN,
      }),
      {
        description: 'Origins allowed to call; a request from another origin gets no CORS headers.',
        minItems: 1,
        maxItems: POLICY_LIMITS.corsOrigins,
        'x-kubernetes-list-type': 'set',
      },
    ),
    allowMethods: Type.Optional(
      Type.Array(Type.String({ description: 'An HTTP method.', maxLength: 32, pattern: HTTP_METHOD }), {
        description: 'Methods allowed in cross-origin requests (Access-Control-Allow-Methods).',
        maxItems: POLICY_LIMITS.corsMethods,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    allowHeaders: Type.Optional(
      Type.Array(headerName('A request header name.'), {
        description: 'Request headers allowed in cross-origin requests (Access-Control-Allow-Headers).',
        maxItems: POLICY_LIMITS.corsHeaders,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    exposeHeaders: Type.Optional(
      Type.Array(headerName('A response header name.'), {
        description: 'Response headers a browser may read (Access-Control-Expose-Headers).',
        maxItems: POLICY_LIMITS.corsHeaders,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    maxAgeSeconds: Type.Optional(
      Type.Integer({
        description: 'How long a browser may cache a preflight answer (Access-Control-Max-Age), in seconds.',
        minimum: 0,
        maximum: POLICY_LIMITS.corsMaxAgeSeconds,
      }),
    ),
    allowCredentials: Type.Optional(
      Type.Boolean({
        description:
          'Let browsers send cookies and credentials (Access-Control-Allow-Credentials). Defaults to false.',
        default: false,
      }),
    ),
  },
  {
    description:
      'Answer CORS preflight requests and add CORS headers for allowed origins. Requests are not ' +
      'refused: a browser enforces CORS on the answer.',
    additionalProperties: false,
    'x-kubernetes-validations': [
      cel(
        "!(has(self.allowCredentials) && self.allowCredentials && self.allowOrigins.exists(o, o == '*'))",
        'allowCredentials cannot be used with the origin *: list the origins',
        (c: { allowCredentials?: boolean; allowOrigins: string[] }) =>
          !(c.allowCredentials === true && c.allowOrigins.includes('*')),
      ),
    ],
  },
);

const PERIODS = Object.keys(RATE_PERIODS) as RatePeriod[];

const requestsSchema = (description: string) =>
  Type.Integer({ description, minimum: 1, maximum: POLICY_LIMITS.rateRequests });
const perSchema = (description: string) => Enum(description, { enum: PERIODS });

export const RateLimitRuleSchema = Type.Object(
  {
    name: Type.String({
      description: 'Name of the rule (unique in the policy; in metrics and logs).',
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    }),
    key: Type.Optional(
      Type.Object(
        {
          header: Type.Optional(
            headerName('Count per value of this request header (Higress limit_by_header).'),
          ),
          clientIP: Type.Optional(
            Type.Object(
              {},
              {
                description: "Count per client address (as the fleet's clientIP settings resolve it).",
                additionalProperties: false,
              },
            ),
          ),
        },
        {
          description:
            'What is counted separately: one bucket per value of a header, or per client address. ' +
            'Without a key the rule counts every request to the host in one bucket. Requests ' +
            'without the header are not limited by the rule.',
          additionalProperties: false,
          'x-kubernetes-validations': [
            cel(
              'has(self.header) != has(self.clientIP)',
              'set exactly one of header or clientIP',
              (k: object) => has(k, 'header') !== has(k, 'clientIP'),
            ),
          ],
        },
      ),
    ),
    requests: Type.Optional(
      requestsSchema(
        'Requests allowed per period: with a key, for each value not listed in limits; without a ' +
          'key, for the host as a whole.',
      ),
    ),
    per: Type.Optional(perSchema('The period of requests: Second, Minute, Hour or Day.')),
    limits: Type.Optional(
      Type.Array(
        Type.Object(
          {
            value: Type.String({
              description: 'A value of the key (header value, or client address).',
              minLength: 1,
              maxLength: 256,
            }),
            requests: requestsSchema('Requests allowed per period for this value.'),
            per: perSchema('The period: Second, Minute, Hour or Day.'),
          },
          { description: 'A limit of its own for one value of the key.', additionalProperties: false },
        ),
        {
          description: 'Values with limits of their own (Higress limit_keys).',
          minItems: 1,
          maxItems: POLICY_LIMITS.rateValues,
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['value'],
        },
      ),
    ),
  },
  {
    description:
      'One limit. A request over any rule gets 429. Buckets start full: a burst of the whole ' +
      "period's requests is allowed.",
    additionalProperties: false,
    'x-kubernetes-validations': [
      cel(
        'has(self.requests) == has(self.per)',
        'set requests and per together',
        (r: object) => has(r, 'requests') === has(r, 'per'),
      ),
      cel(
        'has(self.key) || has(self.requests)',
        'a rule without a key needs requests and per',
        (r: object) => has(r, 'key') || has(r, 'requests'),
      ),
      cel(
        '!has(self.limits) || has(self.key)',
        'limits need a key',
        (r: object) => !has(r, 'limits') || has(r, 'key'),
      ),
      cel(
        'has(self.requests) || has(self.limits)',
        'set requests and per, or limits',
        (r: object) => has(r, 'requests') || has(r, 'limits'),
      ),
    ],
  },
);

export const RateLimitSchema = Type.Object(
  {
    rules: Type.Array(RateLimitRuleSchema, {
      description: 'The limits, each counted on its own.',
      minItems: 1,
      maxItems: POLICY_LIMITS.rateRules,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['name'],
    }),
    responseHeaders: Type.Optional(
      Enum(
        'Send x-ratelimit-limit, -remaining and -reset (IETF draft 03), or Off. Defaults to DraftVersion03.',
        {
          enum: ['DraftVersion03', 'Off'] as const,
          default: 'DraftVersion03',
        },
      ),
    ),
  },
  {
    description:
      'Rate limits (Higress key-rate-limit): requests over a limit get 429, each host counted on its ' +
      "own. How the count is shared by a fleet's Envoy replicas is the fleet's " +
      'policy.rateLimitSharing on the KnativeGateway (PerReplica by default: with N replicas a client ' +
      "spread across them gets up to N times the limit, Higress' semantics). Knative's probes and " +
      'ACME challenges are not counted.',
    additionalProperties: false,
  },
);

export const RoutePolicySpecSchema = Type.Object(
  {
    targetRefs: Type.Array(TargetRefSchema, {
      description: 'What the policy applies to: every host of these targets (see kind).',
      minItems: 1,
      maxItems: POLICY_LIMITS.targetRefs,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['group', 'kind', 'name'],
    }),
    hosts: Type.Optional(
      Type.Array(name('A host name of one of the targets.'), {
        description:
          'Narrow the policy to these hosts of its targets (default: all of them). A host that ' +
          'is not one of the targets\u2019 is reported in status and ignored.',
        maxItems: POLICY_LIMITS.hosts,
        'x-kubernetes-list-type': 'set',
      }),
    ),
    apiKeyAuth: Type.Optional(ApiKeyAuthSchema),
    basicAuth: Type.Optional(BasicAuthSchema),
    ipAccess: Type.Optional(IpAccessSchema),
    cors: Type.Optional(CorsSchema),
    rateLimit: Type.Optional(RateLimitSchema),
    routing: Type.Optional(RoutingSchema),
  },
  {
    description: 'The targets and the features the policy sets on them; at least one feature.',
    additionalProperties: false,
    'x-kubernetes-validations': [
      cel(
        'has(self.apiKeyAuth) || has(self.basicAuth) || has(self.ipAccess) || has(self.cors) || ' +
          'has(self.rateLimit) || has(self.routing)',
        'set at least one of apiKeyAuth, basicAuth, ipAccess, cors, rateLimit or routing',
        (spec: object) => POLICY_FEATURES.some((f) => has(spec, f)),
      ),
    ],
  },
);

export type TargetRef = Static<typeof TargetRefSchema>;
export type KeySource = Static<typeof KeySourceSchema>;
export type ApiKeyAuth = Static<typeof ApiKeyAuthSchema>;
export type BasicAuth = Static<typeof BasicAuthSchema>;
export type IpAccess = Static<typeof IpAccessSchema>;
export type Cors = Static<typeof CorsSchema>;
export type RateLimit = Static<typeof RateLimitSchema>;
export type Routing = Static<typeof RoutingSchema>;
export type RoutePolicySpec = Static<typeof RoutePolicySpecSchema>;

export interface RoutePolicy {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string;
    resourceVersion?: string;
    deletionTimestamp?: string;
  };
  spec: RoutePolicySpec;
  status?: RoutePolicyStatus;
}

/** The schemas of the API, for generators and checks that walk them. */
export const ROUTE_POLICY_SCHEMAS: { spec: TSchema; status: TSchema } = {
  spec: RoutePolicySpecSchema,
  status: RoutePolicyStatusSchema,
};
