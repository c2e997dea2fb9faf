// A KIngress spec as written (any JSON: the API server's schema for KIngress preserves unknown
// fields and checks no types) → a typed, defaulted IngressSpec, or every problem with its field
// path. The one place that decides what kgw accepts, used by translation (a problem becomes
// `Ready=False, InvalidSpec`) and by the admission webhook (the same messages at admission).
//
// The rules, in three groups:
// - Knative's (knative.dev/networking ingress_validation.go): rules, http.paths and splits present,
//   percents 0-100 totalling 100 (one split may leave it out), backends named, tls entries with
//   secretName and secretNamespace, serviceNamespace equal to the KIngress's namespace, httpOption
//   "", Enabled or Redirected; and its defaulting (empty visibility → ExternalIP, a lone split
//   without percent → 100).
// - kgw's: every value has the type the API documents; visibility ExternalIP or ClusterLocal;
//   secretNamespace equal to the KIngress's namespace too (a KIngress reaches only its own
//   namespace); every rule names its hosts (a rule without hosts would
//   catch traffic meant for every other tenant).
// - Envoy's (envoy-limits.ts), so whatever kgw accepts Envoy accepts: hosts are DNS names (an
//   optional leading `*.`), header names HTTP tokens other than Host and pseudo-headers, header
//   values without control characters and at most 16 KiB once `%` is escaped, at most 1000
//   headers added per route or split, paths of visible ASCII starting with `/`, ports 1-65535.
import type {
  HTTPIngressPath,
  HTTPOption,
  IngressBackendSplit,
  IngressRule,
  IngressSpec,
  IngressTLS,
  Visibility,
} from '../api/kingress.ts';
import { ENVOY_LIMITS, escapedHeaderValueBytes } from './envoy-limits.ts';

export type ParseResult = { ok: true; spec: IngressSpec } | { ok: false; problems: string[] };

type Obj = Record<string, unknown>;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOST = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);
/** Header values: visible ASCII and Latin-1, space and tab; no CR, LF, NUL or other controls. */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Paths: `/` then visible ASCII other than `?` and `#` (a prefix match never sees the query). */
const PATH = /^\/[\x21-\x22\x24-\x3e\x40-\x7e]*$/;
/** Kubernetes Service names (RFC 1035 labels) and port names (IANA service names). */
const SERVICE_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Secret names (RFC 1123 subdomains). */
const SUBDOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})*$`);
const VISIBILITIES: readonly string[] = ['ExternalIP', 'ClusterLocal'];
const HTTP_OPTIONS: readonly string[] = ['', 'Enabled', 'Redirected'];

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: unknown): boolean {
  return !isObject(v) || Object.keys(v).length === 0;
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return `header name ${show(name)} is not a valid HTTP header name`;
  if (name.length > ENVOY_LIMITS.headerNameBytes)
    return `header name is longer than ${ENVOY_LIMITS.headerNameBytes} characters`;
  if (name.toLowerCase() === 'host') return 'header "Host" cannot be set or matched; use rewriteHost';
  return undefined;
}

export function hostProblem(host: string): string | undefined {
  if (host.length > ENVOY_LIMITS.hostBytes || !HOST.test(host))
    return `host ${show(host)} is not a valid DNS name`;
  if (host.split('.').some((l) => l.length > 63))
    return `host ${show(host)} has a label longer than 63 characters`;
  return undefined;
}

/** Collects problems as `<field path>: <message>`. */
class Problems {
  readonly list: string[] = [];
  add(at: string, message: string): void {
    this.list.push(`${at}: ${message}`);
  }
}

function stringList(p: Problems, at: string, v: unknown, check: (s: string) => string | undefined): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    p.add(at, 'must be a list');
    return [];
  }
  const out: string[] = [];
  v.forEach((x: unknown, i) => {
    if (typeof x !== 'string') return p.add(`${at}[${i}]`, `must be a string, got ${show(x)}`);
    const problem = check(x);
    if (problem) return p.add(`${at}[${i}]`, problem);
    out.push(x);
  });
  return out;
}

function optionalString(p: Problems, at: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') {
    p.add(at, `must be a string, got ${show(v)}`);
    return undefined;
  }
  return v;
}

/** appendHeaders: name → value, sorted by name (the route's header order). */
function headerValues(p: Problems, at: string, v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) {
    p.add(at, 'must be a map of header names to values');
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    const nameProblem = headerNameProblem(k);
    if (nameProblem) {
      p.add(at, nameProblem);
      continue;
    }
    if (typeof val !== 'string') {
      p.add(`${at}.${k}`, `must be a string, got ${show(val)}`);
      continue;
    }
    if (!VALUE.test(val)) p.add(`${at}.${k}`, 'has control characters or characters outside Latin-1');
    else if (escapedHeaderValueBytes(val) > ENVOY_LIMITS.headerValueBytes)
      p.add(
        `${at}.${k}`,
        `is longer than Envoy's limit of ${ENVOY_LIMITS.headerValueBytes} bytes ('%' counts twice)`,
      );
    else out[k] = val;
  }
  if (Object.keys(v).length >= ENVOY_LIMITS.headersToAdd)
    p.add(
      at,
      `has more than ${ENVOY_LIMITS.headersToAdd - 1} headers (Envoy's limit is ${ENVOY_LIMITS.headersToAdd})`,
    );
  return out;
}

function headerMatches(p: Problems, at: string, v: unknown): Record<string, { exact: string }> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) {
    p.add(at, 'must be a map of header names to {exact: <value>}');
    return undefined;
  }
  const out: Record<string, { exact: string }> = {};
  for (const [k, m] of Object.entries(v)) {
    const nameProblem = headerNameProblem(k);
    if (nameProblem) {
      p.add(at, nameProblem);
      continue;
    }
    const exact = isObject(m) ? m.exact : undefined;
    if (typeof exact !== 'string') {
      p.add(`${at}.${k}.exact`, `must be a string, got ${show(exact)}`);
      continue;
    }
    if (!VALUE.test(exact)) p.add(`${at}.${k}.exact`, 'has control characters or characters outside Latin-1');
    else if (Buffer.byteLength(exact) > ENVOY_LIMITS.headerValueBytes)
      p.add(`${at}.${k}.exact`, `is longer than ${ENVOY_LIMITS.headerValueBytes} bytes`);
    else out[k] = { exact };
  }
  if (Object.keys(v).length > ENVOY_LIMITS.headerMatches)
    p.add(at, `matches more than ${ENVOY_LIMITS.headerMatches} headers`);
  return out;
}

function parseSplit(p: Problems, at: string, v: unknown, namespace: string): IngressBackendSplit | undefined {
  if (isEmpty(v)) {
    p.add(at, 'must not be empty');
    return undefined;
  }
  const s = v as Obj;
  const before = p.list.length;
  const ns = s.serviceNamespace;
  if (ns === undefined || ns === null || ns === '') p.add(`${at}.serviceNamespace`, 'required');
  else if (ns !== namespace)
    p.add(`${at}.serviceNamespace`, `must be the KIngress's namespace "${namespace}", got ${show(ns)}`);
  const name = s.serviceName;
  if (name === undefined || name === null || name === '') p.add(`${at}.serviceName`, 'required');
  else if (typeof name !== 'string' || name.length > 63 || !SERVICE_NAME.test(name))
    p.add(`${at}.serviceName`, `must be a Service name, got ${show(name)}`);
  const port = s.servicePort;
  const portMsg = `must be a port number from 1 to 65535 or a port name, got ${show(port)}`;
  if (port === undefined || port === null || port === 0 || port === '')
    p.add(`${at}.servicePort`, 'required');
  else if (typeof port === 'number') {
    if (!Number.isInteger(port) || port < 1 || port > 65535) p.add(`${at}.servicePort`, portMsg);
  } else if (typeof port !== 'string' || port.length > 63 || !PORT_NAME.test(port)) {
    // a string of digits is how some writers spell a number; Kubernetes int-or-string keeps it a name
    p.add(`${at}.servicePort`, portMsg);
  }
  const pct = s.percent;
  if (
    pct !== undefined &&
    pct !== null &&
    (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 0 || pct > 100)
  )
    p.add(`${at}.percent`, `must be an integer from 0 to 100, got ${show(pct)}`);
  const appendHeaders = headerValues(p, `${at}.appendHeaders`, s.appendHeaders);
  if (p.list.length > before) return undefined;
  return {
    serviceNamespace: namespace,
    serviceName: name as string,
    servicePort: port as number | string,
    ...(typeof pct === 'number' ? { percent: pct } : {}),
    ...(appendHeaders ? { appendHeaders } : {}),
  };
}

function parsePath(p: Problems, at: string, v: unknown, namespace: string): HTTPIngressPath | undefined {
  if (isEmpty(v)) {
    p.add(at, 'must not be empty');
    return undefined;
  }
  const o = v as Obj;
  const before = p.list.length;
  const path = optionalString(p, `${at}.path`, o.path);
  if (path !== undefined && path !== '') {
    if (!path.startsWith('/')) p.add(`${at}.path`, `${show(path)} must start with "/"`);
    else if (path.length > ENVOY_LIMITS.pathBytes)
      p.add(`${at}.path`, `is longer than ${ENVOY_LIMITS.pathBytes} characters`);
    else if (!PATH.test(path))
      p.add(`${at}.path`, `${show(path)} may contain only visible ASCII characters other than "?" and "#"`);
  }
  const rewriteHost = optionalString(p, `${at}.rewriteHost`, o.rewriteHost);
  if (rewriteHost) {
    const problem = hostProblem(rewriteHost);
    if (problem) p.add(`${at}.rewriteHost`, problem);
  }
  const headers = headerMatches(p, `${at}.headers`, o.headers);
  const appendHeaders = headerValues(p, `${at}.appendHeaders`, o.appendHeaders);
  const splits: IngressBackendSplit[] = [];
  if (!Array.isArray(o.splits) || o.splits.length === 0)
    p.add(`${at}.splits`, 'at least one split is required');
  else {
    o.splits.forEach((s: unknown, si) => {
      const split = parseSplit(p, `${at}.splits[${si}]`, s, namespace);
      if (split) splits.push(split);
    });
    if (p.list.length === before) {
      const total = splits.reduce((sum, s) => sum + (s.percent ?? 0), 0);
      // one split may leave the percent out (it means 100)
      if (!(splits.length === 1 && total === 0) && total !== 100)
        p.add(`${at}.splits`, `traffic split percentages must total to 100, got ${total}`);
    }
    // one more goes on every route: the probe copy's K-Network-Hash
    const room = ENVOY_LIMITS.headersToAdd - 1;
    const pathHeaders = Object.keys(appendHeaders ?? {}).length;
    if (splits.some((s) => pathHeaders + Object.keys(s.appendHeaders ?? {}).length > room))
      p.add(
        at,
        `adds more than ${room} headers to a request (Envoy's limit is ${ENVOY_LIMITS.headersToAdd})`,
      );
  }
  if (p.list.length > before) return undefined;
  // Knative's defaulting: a lone split without a percent takes all the traffic
  const [only] = splits;
  if (splits.length === 1 && only && !only.percent) only.percent = 100;
  return {
    ...(path !== undefined ? { path } : {}),
    ...(rewriteHost ? { rewriteHost } : {}),
    ...(headers ? { headers } : {}),
    splits,
    ...(appendHeaders ? { appendHeaders } : {}),
  };
}

function parseRule(p: Problems, at: string, v: unknown, namespace: string): IngressRule | undefined {
  if (isEmpty(v)) {
    p.add(at, 'must not be empty');
    return undefined;
  }
  const r = v as Obj;
  const before = p.list.length;
  let visibility: Visibility = 'ExternalIP';
  if (r.visibility !== undefined && r.visibility !== null && r.visibility !== '') {
    if (typeof r.visibility === 'string' && VISIBILITIES.includes(r.visibility))
      visibility = r.visibility as Visibility;
    else p.add(`${at}.visibility`, `must be ExternalIP or ClusterLocal, got ${show(r.visibility)}`);
  }
  const hosts = stringList(p, `${at}.hosts`, r.hosts, hostProblem);
  if (p.list.length === before && hosts.length === 0)
    p.add(
      `${at}.hosts`,
      'at least one host is required (a rule without hosts would catch every unmatched request)',
    );
  const paths: HTTPIngressPath[] = [];
  const http = r.http;
  if (!isObject(http)) p.add(`${at}.http`, 'required');
  else if (!Array.isArray(http.paths) || http.paths.length === 0)
    p.add(`${at}.http.paths`, 'at least one path is required');
  else
    http.paths.forEach((x: unknown, pi) => {
      const path = parsePath(p, `${at}.http.paths[${pi}]`, x, namespace);
      if (path) paths.push(path);
    });
  if (p.list.length > before) return undefined;
  return { hosts, visibility, http: { paths } };
}

function parseTls(p: Problems, at: string, v: unknown, namespace: string): IngressTLS | undefined {
  if (isEmpty(v)) {
    p.add(at, 'must not be empty');
    return undefined;
  }
  const t = v as Obj;
  const before = p.list.length;
  const hosts = stringList(p, `${at}.hosts`, t.hosts, hostProblem);
  const secretName = t.secretName;
  if (secretName === undefined || secretName === null || secretName === '')
    p.add(`${at}.secretName`, 'required');
  else if (typeof secretName !== 'string' || secretName.length > 253 || !SUBDOMAIN.test(secretName))
    p.add(`${at}.secretName`, `must be a Secret name, got ${show(secretName)}`);
  const secretNamespace = t.secretNamespace;
  if (secretNamespace === undefined || secretNamespace === null || secretNamespace === '')
    p.add(`${at}.secretNamespace`, 'required');
  else if (secretNamespace !== namespace)
    p.add(
      `${at}.secretNamespace`,
      `must be the KIngress's namespace "${namespace}", got ${show(secretNamespace)} ` +
        `(kgw reads certificate Secrets only from the KIngress's own namespace)`,
    );
  if (p.list.length > before) return undefined;
  return { hosts, secretName: secretName as string, secretNamespace: namespace };
}

/** Parses a KIngress spec of `namespace`; see the header for the rules. */
export function parseIngressSpec(spec: unknown, namespace: string): ParseResult {
  const p = new Problems();
  if (isEmpty(spec)) return { ok: false, problems: ['spec: must not be empty'] };
  const s = spec as Obj;
  const rules: IngressRule[] = [];
  if (!Array.isArray(s.rules) || s.rules.length === 0) p.add('spec.rules', 'at least one rule is required');
  else
    s.rules.forEach((r: unknown, ri) => {
      const rule = parseRule(p, `spec.rules[${ri}]`, r, namespace);
      if (rule) rules.push(rule);
    });
  const tls: IngressTLS[] = [];
  if (s.tls !== undefined && s.tls !== null) {
    if (!Array.isArray(s.tls)) p.add('spec.tls', 'must be a list');
    else
      s.tls.forEach((t: unknown, ti) => {
        const entry = parseTls(p, `spec.tls[${ti}]`, t, namespace);
        if (entry) tls.push(entry);
      });
  }
  let httpOption: HTTPOption | undefined;
  if (s.httpOption !== undefined && s.httpOption !== null) {
    if (typeof s.httpOption === 'string' && HTTP_OPTIONS.includes(s.httpOption))
      httpOption = s.httpOption as HTTPOption;
    else p.add('spec.httpOption', `must be "", Enabled or Redirected, got ${show(s.httpOption)}`);
  }
  if (p.list.length > 0) return { ok: false, problems: p.list };
  return {
    ok: true,
    spec: {
      ...(Array.isArray(s.tls) ? { tls } : {}),
      rules,
      ...(httpOption !== undefined ? { httpOption } : {}),
    },
  };
}
