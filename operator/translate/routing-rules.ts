// Gray release by header or cookie (Alibaba ALB's Knative annotations, ingress-nginx canary-by-header
// and canary-by-cookie): the `kgw.dev/routing-rules` annotation on a Knative Service, which Knative
// copies to its Route and KIngress, sends requests carrying given headers or cookies to one revision
// or tag the Route already routes to — never to anything else. Pure: parsing and checking the
// annotation; translate/ingress.ts makes the routes.
//
//   kgw.dev/routing-rules: |
//     [{"revision": "hello-00002", "headers": {"demo": "test"}},
//      {"tag": "canary", "cookies": {"demo": "always"}}]
//
// A request matches a rule when it carries every listed header (exact value) and every listed
// cookie (exact value, quoted or not, alone or among other cookies); the first matching rule wins;
// other requests follow the Route's percentages. Rules fail open: an invalid annotation, or a rule
// naming a revision or tag the Route does not route to, is ignored (and reported), never an error
// of the KIngress.

export const ROUTING_RULES_ANNOTATION = 'kgw.dev/routing-rules';
export const TAG_TO_HOST_ANNOTATION = 'networking.internal.knative.dev/tag-to-host';

export const ROUTING_LIMITS = { rules: 16, matchesPerRule: 8, valueLength: 256 } as const;

export interface RoutingRule {
  /** A revision name (the Service a split names) … */
  revision?: string;
  /** … or a tag of the Route. */
  tag?: string;
  headers: { name: string; value: string }[];
  cookies: { name: string; value: string }[];
}

export type ParsedRules = { ok: true; rules: RoutingRule[] } | { ok: false; problem: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 6265 cookie-octet (no quote, comma, semicolon, backslash, space or control character). */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/;
/** Header values: visible ASCII and spaces inside, nothing Envoy would reject or a proxy fold. */
const HEADER_VALUE = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;
const DNS_LABELS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function pairs(
  where: string,
  what: 'headers' | 'cookies',
  v: unknown,
): { name: string; value: string }[] | string {
  if (v === undefined) return [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${where}.${what} must be an object`;
  const out: { name: string; value: string }[] = [];
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    if (!TOKEN.test(name) || name.length > 128)
      return `${where}.${what}: ${JSON.stringify(name)} is not a valid name`;
    if (what === 'headers' && /^(:|host$|k-network-|knative-serving-)/i.test(name)) {
      return `${where}.headers: ${name} is reserved`;
    }
    const ok = what === 'cookies' ? COOKIE_VALUE : HEADER_VALUE;
    if (typeof value !== 'string' || value.length > ROUTING_LIMITS.valueLength || !ok.test(value)) {
      return `${where}.${what}.${name} must be a ${what === 'cookies' ? 'cookie' : 'header'} value of at most ${ROUTING_LIMITS.valueLength} characters`;
    }
    out.push({ name: what === 'headers' ? name.toLowerCase() : name, value });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
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
    const unknown = Object.keys(o).filter((k) => !['revision', 'tag', 'headers', 'cookies'].includes(k));
    if (unknown.length > 0) return { ok: false, problem: `${where}: unknown field ${unknown[0]}` };
    if ((o.revision === undefined) === (o.tag === undefined)) {
      return { ok: false, problem: `${where}: set exactly one of revision or tag` };
    }
    const target = o.revision ?? o.tag;
    if (typeof target !== 'string' || target.length > 63 || !DNS_LABELS.test(target)) {
      return {
        ok: false,
        problem: `${where}.${o.revision !== undefined ? 'revision' : 'tag'} must be a name`,
      };
    }
    const headers = pairs(where, 'headers', o.headers);
    if (typeof headers === 'string') return { ok: false, problem: headers };
    const cookies = pairs(where, 'cookies', o.cookies);
    if (typeof cookies === 'string') return { ok: false, problem: cookies };
    const n = headers.length + cookies.length;
    if (n === 0) return { ok: false, problem: `${where}: give headers or cookies to match` };
    if (n > ROUTING_LIMITS.matchesPerRule) {
      return { ok: false, problem: `${where}: at most ${ROUTING_LIMITS.matchesPerRule} headers and cookies` };
    }
    rules.push({ ...(o.revision !== undefined ? { revision: target } : { tag: target }), headers, cookies });
  }
  return { ok: true, rules };
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
