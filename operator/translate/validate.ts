// Checks on a KIngress spec that Envoy would otherwise reject with a NACK (or silently misroute):
// header names must be HTTP tokens and may not be pseudo-headers or Host; hosts must be DNS names
// (an optional leading `*.` wildcard); paths must start with `/`; rewriteHost must be a host.
// Pure; shared by translation (condition on status) and the admission webhook.
import type { IngressSpec } from '../api/kingress.ts';
import type { TranslateProblem } from './ir.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const HOST = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);
/** Header values: visible ASCII, space and tab, no CR/LF/NUL. */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) return `header name "${name}" is not a valid HTTP header name`;
  if (name.toLowerCase() === 'host') return 'header "Host" cannot be set or matched; use rewriteHost';
  return undefined;
}

export function hostProblem(host: string): string | undefined {
  if (host.length > 253 || !HOST.test(host)) return `host "${host}" is not a valid DNS name`;
  return undefined;
}

function headersProblem(
  where: string,
  m: Record<string, unknown> | undefined,
  values: boolean,
): string | undefined {
  for (const [k, v] of Object.entries(m ?? {})) {
    const p = headerNameProblem(k);
    if (p) return `${where}: ${p}`;
    if (values && typeof v === 'string' && !VALUE.test(v))
      return `${where}: value of header "${k}" has control characters`;
  }
  return undefined;
}

/** The first problem found, as `<field path>: <message>`, or undefined when the spec is fine. */
export function specProblem(spec: IngressSpec): TranslateProblem | undefined {
  const bad = (message: string): TranslateProblem => ({ reason: 'InvalidSpec', message });
  for (const [ri, rule] of (spec.rules ?? []).entries()) {
    for (const [hi, host] of (rule.hosts ?? []).entries()) {
      const p = hostProblem(host);
      if (p) return bad(`spec.rules[${ri}].hosts[${hi}]: ${p}`);
    }
    for (const [pi, path] of (rule.http?.paths ?? []).entries()) {
      const at = `spec.rules[${ri}].http.paths[${pi}]`;
      if (path.path && !path.path.startsWith('/'))
        return bad(`${at}.path: "${path.path}" must start with "/"`);
      if (path.rewriteHost) {
        const p = hostProblem(path.rewriteHost);
        if (p) return bad(`${at}.rewriteHost: ${p}`);
      }
      const p =
        headersProblem(`${at}.headers`, path.headers, false) ??
        headersProblem(`${at}.appendHeaders`, path.appendHeaders, true) ??
        (path.splits ?? [])
          .map((s, si) => headersProblem(`${at}.splits[${si}].appendHeaders`, s.appendHeaders, true))
          .find((x) => x !== undefined);
      if (p) return bad(p);
    }
  }
  for (const [ti, t] of (spec.tls ?? []).entries()) {
    for (const [hi, host] of (t.hosts ?? []).entries()) {
      const p = hostProblem(host);
      if (p) return bad(`spec.tls[${ti}].hosts[${hi}]: ${p}`);
    }
  }
  return undefined;
}
