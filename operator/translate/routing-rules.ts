import { byCodePoint } from '../order.ts';
// Gray release by header or cookie (Alibaba ALB's Knative annotations, ingress-nginx canary-by-header
// and canary-by-cookie): rules that send requests carrying given headers or cookies to one revision
// or tag the Route already routes to (or to the Route's own split) — never to anything else. They
// come from a RoutePolicy's spec.routing (api/routepolicy.ts, resolved in policy/resolve.ts) or, as
// a shorthand, from the `kgw.dev/routing-rules` annotation on a Knative Service, which Knative
// copies to its Route and KIngress. Both use this module's rule type and checks, the webhook
// (webhook/validate-routing-rules.ts) its messages, and translate/ingress.ts makes the routes.
// Pure.
//
//   kgw.dev/routing-rules: |
//     [{"revision": "hello-00002", "headers": {"demo": "test"}},
//      {"tag": "canary", "cookies": {"demo": "always"}},
//      {"default": true, "cookies": {"demo": "never"}}]
//
// A request matches a rule when it carries every listed header (exact value) and every listed
// cookie (exact value, quoted or not, alone or among other cookies); the first matching rule wins;
// other requests follow the Route's percentages. Rules fail open: an invalid annotation, or a rule
// naming a revision or tag the Route does not route to, is ignored (and reported), never an error
// of the KIngress.

export const ROUTING_RULES_ANNOTATION = 'kgw.dev/routing-rules';
export const TAG_TO_HOST_ANNOTATION = 'networking.internal.knative.dev/tag-to-host';

export const ROUTING_LIMITS = { rules: 16, matchesPerRule: 8, nameLength: 128, valueLength: 256 } as const;

/**
 * One rule, from the annotation or from a RoutePolicy's spec.routing (api/routepolicy.ts): where
 * matching requests go — exactly one of revision, tag or default — and what they must carry.
 */
export interface RoutingRule {
  /** A revision name (the Service a split names) … */
  revision?: string;
  /** … or a tag of the Route … */
  tag?: string;
  /** … or the Route's own split (ingress-nginx's "never": these requests follow the percentages). */
  default?: true;
  headers: { name: string; value: string }[];
  cookies: { name: string; value: string }[];
}

export type ParsedRules = { ok: true; rules: RoutingRule[] } | { ok: false; problem: string };

/** RFC 9110 token: header and cookie names. */
export const TOKEN_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/** RFC 6265 cookie-octet (no quote, comma, semicolon, backslash, space or control character). */
export const COOKIE_VALUE_PATTERN = '^[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]+$';
/** Header values: visible ASCII and spaces inside, nothing Envoy would reject or a proxy fold. */
export const HEADER_VALUE_PATTERN = '^[\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?$';
/** Headers no rule may match (lower case): the host, pseudo-headers and Knative's own. */
export const RESERVED_HEADER_PATTERN = '^(:|host$|k-network-|knative-serving-)';
const TOKEN = new RegExp(TOKEN_PATTERN);
const COOKIE_VALUE = new RegExp(COOKIE_VALUE_PATTERN);
const HEADER_VALUE = new RegExp(HEADER_VALUE_PATTERN);
const RESERVED_HEADER = new RegExp(RESERVED_HEADER_PATTERN, 'i');
const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const isMatchName = (name: string): boolean =>
  name.length <= ROUTING_LIMITS.nameLength && TOKEN.test(name);
export const isReservedHeader = (name: string): boolean => RESERVED_HEADER.test(name);
export const isHeaderValue = (v: string): boolean =>
  v.length <= ROUTING_LIMITS.valueLength && HEADER_VALUE.test(v);
export const isCookieValue = (v: string): boolean =>
  v.length <= ROUTING_LIMITS.valueLength && COOKIE_VALUE.test(v);

function pairs(
  where: string,
  what: 'headers' | 'cookies',
  v: unknown,
): { name: string; value: string }[] | string {
  if (v === undefined) return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${where}.${what} must be an object`;
  const out: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    if (!isMatchName(name)) return `${where}.${what}: ${JSON.stringify(name)} is not a valid name`;
    if (what === 'headers' && isReservedHeader(name)) return `${where}.headers: ${name} is reserved`;
    const ok = what === 'cookies' ? isCookieValue : isHeaderValue;
    if (typeof value !== 'string' || !ok(value)) {
      return `${where}.${what}.${name} must be a ${what === 'cookies' ? 'cookie' : 'header'} value of at most ${ROUTING_LIMITS.valueLength} characters`;
    }
    out.push({ name: what === 'headers' ? name.toLowerCase() : name, value });
  }
  return out.sort((a, b) => byCodePoint(a.name, b.name));
}

/** What a rule names, as the annotation and a RoutePolicy's `to` write it. */
export interface RuleInput {
  revision?: unknown;
  tag?: unknown;
  default?: unknown;
  headers?: unknown;
  cookies?: unknown;
}

/**
 * One rule checked and normalised (header names lower case, matches sorted), or why it is refused;
 * `where` prefixes the message. The annotation and RoutePolicies share it.
 */
export function routingRule(where: string, o: RuleInput): RoutingRule | string {
  const set = (['revision', 'tag', 'default'] as const).filter((k) => o[k] !== undefined);
  if (set.length !== 1) return `${where}: set exactly one of revision, tag or default`;
  let target: Pick<RoutingRule, 'revision' | 'tag' | 'default'>;
  if (o.default !== undefined) {
    if (o.default !== true) return `${where}.default must be true`;
    target = { default: true };
  } else {
    const field = o.revision !== undefined ? 'revision' : 'tag';
    const name = o[field];
    if (typeof name !== 'string' || name.length > 63 || !DNS_LABELS.test(name))
      return `${where}.${field} must be a name`;
    target = field === 'revision' ? { revision: name } : { tag: name };
  }
  const headers = pairs(where, 'headers', o.headers);
  if (typeof headers === 'string') return headers;
  const cookies = pairs(where, 'cookies', o.cookies);
  if (typeof cookies === 'string') return cookies;
  const n = headers.length + cookies.length;
  if (n === 0) return `${where}: give headers or cookies to match`;
  if (n > ROUTING_LIMITS.matchesPerRule)
    return `${where}: at most ${ROUTING_LIMITS.matchesPerRule} headers and cookies`;
  return { ...target, headers, cookies };
}

/** The annotation's rules, or why it is refused (the webhook shows the same text). */
export function parseRoutingRules(text: string): ParsedRules {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `${ROUTING_RULES_ANNOTATION} is not JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(raw))
    return { ok: false, problem: `${ROUTING_RULES_ANNOTATION} must be a JSON list of rules` };
  if (raw.length > ROUTING_LIMITS.rules) {
    return { ok: false, problem: `${ROUTING_RULES_ANNOTATION}: at most ${ROUTING_LIMITS.rules} rules` };
  }
  const rules: RoutingRule[] = [];
  for (const [i, r] of raw.entries()) {
    const where = `${ROUTING_RULES_ANNOTATION}[${i}]`;
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      return { ok: false, problem: `${where} must be an object` };
    const o = r as Record<string, unknown>;
    const unknown = Object.keys(o).filter(
      (k) => !['revision', 'tag', 'default', 'headers', 'cookies'].includes(k),
    );
    if (unknown.length > 0) return { ok: false, problem: `${where}: unknown field ${unknown[0]}` };
    const rule = routingRule(where, o);
    if (typeof rule === 'string') return { ok: false, problem: rule };
    rules.push(rule);
  }
  return { ok: true, rules };
}

/** What a Route's KIngress routes to: the revisions its splits name (any percent) and its tags. */
export interface RoutedTargets {
  revisions: ReadonlySet<string>;
  tags: ReadonlySet<string>;
}

/** The revisions and tags a KIngress spec (any JSON) and its tag-to-host annotation route to. */
export function routedTargets(spec: unknown, tagToHost: string | undefined): RoutedTargets {
  const revisions = new Set<string>();
  const hosts = new Set<string>();
  const rules: unknown = (spec as { rules?: unknown } | undefined)?.rules;
  for (const r of Array.isArray(rules) ? (rules as unknown[]) : []) {
    const o = (r ?? {}) as { hosts?: unknown; http?: { paths?: unknown } };
    for (const h of Array.isArray(o.hosts) ? (o.hosts as unknown[]) : [])
      if (typeof h === 'string') hosts.add(h);
    const paths: unknown = o.http?.paths;
    for (const p of Array.isArray(paths) ? (paths as unknown[]) : []) {
      const splits: unknown = (p as { splits?: unknown } | null)?.splits;
      for (const s of Array.isArray(splits) ? (splits as unknown[]) : []) {
        const name: unknown = (s as { serviceName?: unknown } | null)?.serviceName;
        if (typeof name === 'string') revisions.add(name);
      }
    }
  }
  const tags = new Set<string>();
  for (const [tag, th] of tagHosts(tagToHost)) if (th.some((h) => hosts.has(h))) tags.add(tag);
  return { revisions, tags };
}

/** Why a rule cannot be programmed on a Route that routes to `routed`, if it cannot. */
export function notRoutedProblem(rule: RoutingRule, routed: RoutedTargets): string | undefined {
  if (rule.revision !== undefined && !routed.revisions.has(rule.revision))
    return `revision ${rule.revision} is not routed by this Route`;
  if (rule.tag !== undefined && !routed.tags.has(rule.tag))
    return `tag ${rule.tag} is not routed by this Route`;
  return undefined;
}

/** tag → hosts from Knative's tag-to-host annotation (a JSON map to a host or a list of hosts). */
export function tagHosts(annotation: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (annotation === undefined) return out;
  let raw: unknown;
  try {
    raw = JSON.parse(annotation);
  } catch {
    return out;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  for (const [tag, v] of Object.entries(raw as Record<string, unknown>)) {
    const hosts = (Array.isArray(v) ? v : [v]).filter((h): h is string => typeof h === 'string');
    if (hosts.length > 0) out.set(tag, hosts);
  }
  return out;
}

/** `s` as a literal in a regex (RE2 and JavaScript alike). */
export function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * An RE2 regex that matches a whole Cookie header containing `name=value` (the value quoted or not)
 * as one of its cookies.
 */
export function cookieRegex(name: string, value: string): string {
  return `(.*;\\s*)?${regexEscape(name)}="?${regexEscape(value)}"?(\\s*;.*)?`;
}
