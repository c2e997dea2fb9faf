// RoutePolicy (policy.kgw.dev/v1alpha1), TypeBox schema: `spec.routing`, gray release by header or
// cookie. The rules are those of the kgw.dev/routing-rules annotation and are checked by the same
// code (translate/routing-rules.ts): the CEL rules here carry it as their TypeScript equals.
import { Type } from '@sinclair/typebox';
import { MapOf, MapValue, cel, dnsName as name, has } from './schema-builders.ts';
import {
  COOKIE_VALUE_PATTERN,
  HEADER_VALUE_PATTERN,
  isMatchName,
  isReservedHeader,
  RESERVED_HEADER_PATTERN,
  ROUTING_LIMITS,
} from '../translate/routing-rules.ts';

const lowerHeaderName = (k: string) => k === k.toLowerCase() && isMatchName(k);
const HEADER_KEY_RE = `^[a-z0-9!#$%&'*+.^_\`|~-]{1,${ROUTING_LIMITS.nameLength}}$`;
const COOKIE_KEY_RE = `^[A-Za-z0-9!#$%&'*+.^_\`|~-]{1,${ROUTING_LIMITS.nameLength}}$`;
const size = (m: object | undefined) => (m === undefined ? 0 : Object.keys(m).length);

export const RoutingRuleSchema = Type.Object(
  {
    headers: Type.Optional(
      MapOf(
        'Request headers the request must carry, each with exactly this value (name: value). Names ' +
          'are lower case; host, pseudo-headers (:authority …), k-network-… and knative-serving-… ' +
          'headers are reserved and cannot be matched.',
        MapValue({ maxLength: ROUTING_LIMITS.valueLength, pattern: HEADER_VALUE_PATTERN }),
        {
          maxProperties: ROUTING_LIMITS.matchesPerRule,
          validations: [
            cel(
              `self.all(k, k.matches("${HEADER_KEY_RE}"))`,
              `header names must be lower-case HTTP tokens of at most ${ROUTING_LIMITS.nameLength} characters`,
              (m: Record<string, string>) => Object.keys(m).every(lowerHeaderName),
            ),
            cel(
              `self.all(k, !k.matches("${RESERVED_HEADER_PATTERN}"))`,
              'host, pseudo-headers (:…), k-network-… and knative-serving-… headers are reserved: they cannot be matched',
              (m: Record<string, string>) => !Object.keys(m).some(isReservedHeader),
            ),
          ],
        },
      ),
    ),
    cookies: Type.Optional(
      MapOf(
        'Cookies the request must carry, each with exactly this value (name: value); a cookie ' +
          'matches alone or among other cookies, its value quoted or not. Names are case-sensitive.',
        MapValue({ maxLength: ROUTING_LIMITS.valueLength, pattern: COOKIE_VALUE_PATTERN }),
        {
          maxProperties: ROUTING_LIMITS.matchesPerRule,
          validations: [
            cel(
              `self.all(k, k.matches("${COOKIE_KEY_RE}"))`,
              `cookie names must be HTTP tokens of at most ${ROUTING_LIMITS.nameLength} characters`,
              (m: Record<string, string>) => Object.keys(m).every(isMatchName),
            ),
          ],
        },
      ),
    ),
    to: Type.Object(
      {
        revision: Type.Optional(
          name(
            'A revision the Route routes to (one of its traffic targets; 0% is fine — that is the ' +
              'point), such as hello-00002.',
          ),
        ),
        tag: Type.Optional(name('A tag of the Route (spec.traffic[].tag), such as canary.')),
        default: Type.Optional(
          Type.Boolean({
            description:
              'true: matching requests follow the Route\'s percentages (ingress-nginx\'s "never"; ' +
              'useful before a broader rule).',
          }),
        ),
      },
      {
        description:
          'Where matching requests go: exactly one of revision, tag or default. A revision or tag ' +
          'the Route does not route to is reported in status and the rule is ignored.',
        additionalProperties: false,
        'x-kubernetes-validations': [
          cel(
            '(has(self.revision) ? 1 : 0) + (has(self.tag) ? 1 : 0) + (has(self.default) ? 1 : 0) == 1',
            'set exactly one of revision, tag or default',
            (t: object) => ['revision', 'tag', 'default'].filter((k) => has(t, k)).length === 1,
          ),
          cel(
            '!has(self.default) || self.default',
            'default can only be true',
            (t: { default?: boolean }) => t.default !== false,
          ),
        ],
      },
    ),
  },
  {
    description:
      'Requests carrying every listed header and cookie go where to says. Give at least one header ' +
      `or cookie, at most ${ROUTING_LIMITS.matchesPerRule} in all.`,
    additionalProperties: false,
    'x-kubernetes-validations': [
      cel(
        'has(self.headers) || has(self.cookies)',
        'give headers or cookies to match',
        (r: { headers?: object; cookies?: object }) => size(r.headers) + size(r.cookies) > 0,
      ),
      cel(
        `(has(self.headers) ? size(self.headers) : 0) + (has(self.cookies) ? size(self.cookies) : 0) <= ${ROUTING_LIMITS.matchesPerRule}`,
        `at most ${ROUTING_LIMITS.matchesPerRule} headers and cookies in one rule`,
        (r: { headers?: object; cookies?: object }) =>
          size(r.headers) + size(r.cookies) <= ROUTING_LIMITS.matchesPerRule,
      ),
    ],
  },
);

export const RoutingSchema = Type.Object(
  {
    rules: Type.Array(RoutingRuleSchema, {
      description:
        'The rules in order: the first rule a request matches decides where it goes; requests ' +
        "matching none follow the Route's percentages.",
      minItems: 1,
      maxItems: ROUTING_LIMITS.rules,
    }),
  },
  {
    description:
      'Gray release by header or cookie (ALB, ingress-nginx canary): send requests carrying given ' +
      'headers or cookies to one revision or tag the Route already routes to. Takes the place of ' +
      'the kgw.dev/routing-rules annotation on the hosts it covers. Fails open: a rule naming ' +
      "something the Route does not route to is ignored and reported. Knative's tag header and " +
      'tag hosts keep routing to their tag.',
    additionalProperties: false,
  },
);
