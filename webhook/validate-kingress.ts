// KIngress admission. Only KIngresses of an ingress class a KnativeGateway serves are judged;
// every other KIngress is allowed untouched (another implementation owns it).
//
// The spec is judged by operator/translate/parse.ts, the same rules translation applies
// (Knative's own, kgw's namespace and type rules, and Envoy's limits), so admission and the
// KIngress's status never disagree; every problem is listed. kgw adds one cross-object check: no
// host already served by another KIngress of the same class (the controller would report
// DomainConflict; rejecting early tells the writer at once). The cross-object check ignores the
// object itself (UPDATE) and KIngresses being deleted, and names the other KIngress only when it
// is in the same namespace.
import { INGRESS_CLASS_ANNOTATION, type KIngress } from '../operator/api/kingress.ts';
import { parseIngressSpec } from '../operator/translate/parse.ts';
import { verdictOf, allow, type Verdict } from './admission.ts';
import type { Lookups } from './lookups.ts';
import { servedClasses } from './validate-knativegateway.ts';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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
  const parsed = parseIngressSpec(ing.spec, namespace);
  if (!parsed.ok) return verdictOf(parsed.problems);
  const problems: string[] = [];

  // hosts already served by another KIngress of the class, for the same visibility (the
  // controller's conflict rule: a host has one owner per visibility)
  const self = `${namespace}/${ing.metadata.name}`;
  const seen = new Set<string>();
  for (const [ri, rule] of (parsed.spec.rules ?? []).entries()) {
    const vis = rule.visibility ?? 'ExternalIP';
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
        // another namespace's object is not named: that would tell one tenant about another's
        const by =
          other.metadata.namespace === namespace
            ? `KIngress ${namespace}/${other.metadata.name}`
            : 'a KIngress of another namespace';
        problems.push(
          `spec.rules[${ri}].hosts[${hi}]: host "${host}" (${vis}) is already served by ${by} of ingress class ${cls}`,
        );
      }
    }
  }
  return verdictOf(problems);
}
