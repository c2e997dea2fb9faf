// KIngress admission. Only KIngresses of an ingress class a KnativeGateway serves are judged;
// every other KIngress is allowed untouched (another implementation owns it).
//
// Knative's own rules (knative.dev/networking ingress_validation.go, contract §1.6): rules
// non-empty, each with http.paths, each path with splits, split percents 0–100 totalling 100 (a
// single split may leave it out), backends with serviceNamespace/serviceName/servicePort, tls
// entries with secretName/secretNamespace, httpOption "", Enabled or Redirected. kgw adds: rule
// visibility ExternalIP/ClusterLocal, what Envoy would reject (operator/translate/validate.ts:
// host names, header names and values, paths, rewriteHost), serviceNamespace and secretNamespace
// equal to the KIngress's namespace (kgw reads Services and Secrets only there), and no host
// already served by another KIngress of the same class (the controller would report
// DomainConflict; rejecting early tells the writer at once). The cross-object check ignores the
// object itself (UPDATE) and KIngresses being deleted.
import { INGRESS_CLASS_ANNOTATION, type KIngress } from '../operator/api/kingress.ts';
import { specProblem } from '../operator/translate/validate.ts';
import { verdictOf, allow, type Verdict } from './admission.ts';
import type { Lookups } from './lookups.ts';
import { servedClasses } from './validate-knativegateway.ts';

const VISIBILITIES: readonly string[] = ['ExternalIP', 'ClusterLocal'];
const HTTP_OPTIONS: readonly string[] = ['', 'Enabled', 'Redirected'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: unknown): boolean {
  return !isObject(v) || Object.keys(v).length === 0;
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

/** Knative's structural rules plus kgw's namespace rules, as `<field path>: <message>`. */
export function kingressSpecProblems(spec: unknown, namespace: string): string[] {
  const errs: string[] = [];
  if (isEmpty(spec)) return ['spec: must not be empty'];
  const s = spec as Record<string, unknown>;
  const rules = s.rules;
  if (!Array.isArray(rules) || rules.length === 0) errs.push('spec.rules: at least one rule is required');
  else {
    (rules as unknown[]).forEach((rule, ri) => {
      const at = `spec.rules[${ri}]`;
      if (isEmpty(rule)) return errs.push(`${at}: must not be empty`);
      const r = rule as Record<string, unknown>;
      if (
        r.visibility !== undefined &&
        r.visibility !== '' &&
        !VISIBILITIES.includes(r.visibility as string)
      ) {
        errs.push(
          `${at}.visibility: must be ExternalIP or ClusterLocal, got ${JSON.stringify(r.visibility)}`,
        );
      }
      if (r.hosts !== undefined) {
        if (!Array.isArray(r.hosts)) errs.push(`${at}.hosts: must be a list`);
        else
          (r.hosts as unknown[]).forEach((h, hi) => {
            if (typeof h !== 'string') errs.push(`${at}.hosts[${hi}]: must be a string`);
          });
      }
      const http = r.http;
      if (!isObject(http)) return errs.push(`${at}.http: required`);
      const paths = http.paths;
      if (!Array.isArray(paths) || paths.length === 0)
        return errs.push(`${at}.http.paths: at least one path is required`);
      (paths as unknown[]).forEach((path, pi) =>
        pathProblems(errs, `${at}.http.paths[${pi}]`, path, namespace),
      );
    });
  }
  if (s.tls !== undefined) {
    if (!Array.isArray(s.tls)) errs.push('spec.tls: must be a list');
    else
      (s.tls as unknown[]).forEach((t, ti) => {
        const at = `spec.tls[${ti}]`;
        if (isEmpty(t)) return errs.push(`${at}: must not be empty`);
        const tls = t as Record<string, unknown>;
        if (!nonEmptyString(tls.secretName)) errs.push(`${at}.secretName: required`);
        if (!nonEmptyString(tls.secretNamespace)) errs.push(`${at}.secretNamespace: required`);
        else if (tls.secretNamespace !== namespace) {
          errs.push(
            `${at}.secretNamespace: must be the KIngress's namespace "${namespace}", got "${tls.secretNamespace}" ` +
              `(kgw reads certificate Secrets only from the KIngress's own namespace)`,
          );
        }
      });
  }
  if (s.httpOption !== undefined && !HTTP_OPTIONS.includes(s.httpOption as string)) {
    errs.push(`spec.httpOption: must be "", Enabled or Redirected, got ${JSON.stringify(s.httpOption)}`);
  }
  return errs;
}

function pathProblems(errs: string[], at: string, path: unknown, namespace: string): void {
  if (isEmpty(path)) {
    errs.push(`${at}: must not be empty`);
    return;
  }
  const splits = (path as Record<string, unknown>).splits;
  if (!Array.isArray(splits) || splits.length === 0) {
    errs.push(`${at}.splits: at least one split is required`);
    return;
  }
  let total = 0;
  (splits as unknown[]).forEach((split, si) => {
    const sat = `${at}.splits[${si}]`;
    if (isEmpty(split)) return errs.push(`${sat}: must not be empty`);
    const sp = split as Record<string, unknown>;
    const pct = sp.percent;
    if (pct !== undefined) {
      if (typeof pct !== 'number' || !Number.isInteger(pct) || pct < 0 || pct > 100) {
        errs.push(`${sat}.percent: must be an integer from 0 to 100, got ${JSON.stringify(pct)}`);
      } else total += pct;
    }
    if (!nonEmptyString(sp.serviceNamespace)) errs.push(`${sat}.serviceNamespace: required`);
    else if (sp.serviceNamespace !== namespace) {
      errs.push(
        `${sat}.serviceNamespace: must be the KIngress's namespace "${namespace}", got "${sp.serviceNamespace}"`,
      );
    }
    if (!nonEmptyString(sp.serviceName)) errs.push(`${sat}.serviceName: required`);
    const port = sp.servicePort;
    const portMsg = `${sat}.servicePort: must be a port number from 1 to 65535 or a port name`;
    if (port === undefined || port === null || port === 0 || port === '')
      errs.push(`${sat}.servicePort: required`);
    else if (typeof port === 'number') {
      if (!Number.isInteger(port) || port < 1 || port > 65535) errs.push(portMsg);
    } else if (typeof port !== 'string') errs.push(portMsg);
  });
  // one split may leave the percent out (it means 100)
  if (!(splits.length === 1 && total === 0) && total !== 100) {
    errs.push(`${at}.splits: traffic split percentages must total to 100, got ${total}`);
  }
}

function visibilityOf(rule: unknown): string {
  const v = isObject(rule) ? rule.visibility : undefined;
  return typeof v === 'string' && v !== '' ? v : 'ExternalIP';
}

/** Whether a (cached, possibly malformed) KIngress has `host` in a rule of visibility `vis`. */
function serves(k: KIngress, vis: string, host: string): boolean {
  const rules: unknown = k.spec?.rules;
  if (!Array.isArray(rules)) return false;
  return (rules as unknown[]).some((r) => {
    const hosts = isObject(r) ? r.hosts : undefined;
    return visibilityOf(r) === vis && Array.isArray(hosts) && (hosts as unknown[]).includes(host);
  });
}

function deleting(k: KIngress): boolean {
  return k.metadata?.deletionTimestamp !== undefined && k.metadata.deletionTimestamp !== '';
}

export function validateKIngress(
  object: unknown,
  _oldObject: unknown,
  lookups: Pick<Lookups, 'gateways' | 'kingressesByHost'>,
): Verdict {
  if (!isObject(object) || !isObject(object.metadata)) return verdictOf(['object: must be a KIngress']);
  const ing = object as unknown as KIngress;
  const cls = ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (cls === undefined || !servedClasses(lookups.gateways()).has(cls)) return allow();
  const namespace = ing.metadata.namespace ?? '';
  const problems = kingressSpecProblems(ing.spec, namespace);
  if (problems.length === 0) {
    const p = specProblem(ing.spec);
    if (p) problems.push(p.message);
  }
  if (problems.length > 0) return verdictOf(problems);

  // hosts already served by another KIngress of the class, for the same visibility (the
  // controller's conflict rule: a host has one owner per visibility)
  const self = `${namespace}/${ing.metadata.name}`;
  const seen = new Set<string>();
  for (const [ri, rule] of (ing.spec.rules ?? []).entries()) {
    const vis = visibilityOf(rule);
    for (const [hi, host] of (rule.hosts ?? []).entries()) {
      if (seen.has(`${vis}\n${host}`)) continue;
      seen.add(`${vis}\n${host}`);
      const other = lookups
        .kingressesByHost(cls, host)
        .find(
          (k) =>
            `${k.metadata.namespace ?? ''}/${k.metadata.name}` !== self &&
            !deleting(k) &&
            serves(k, vis, host),
        );
      if (other) {
        problems.push(
          `spec.rules[${ri}].hosts[${hi}]: host "${host}" (${vis}) is already served by KIngress ` +
            `${other.metadata.namespace ?? ''}/${other.metadata.name} of ingress class ${cls}`,
        );
      }
    }
  }
  return verdictOf(problems);
}
