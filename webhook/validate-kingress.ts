// KIngress admission. Only KIngresses of an ingress class a KnativeGateway serves are judged;
// every other KIngress is allowed untouched (another implementation owns it).
//
// The spec is judged by operator/translate/parse.ts, the same rules translation applies
// (Knative's own, kgw's namespace and type rules, and Envoy's limits), so admission and the
// KIngress's status never disagree; every problem is listed. kgw adds two cross-object checks:
// - every host must be the KIngress's to serve under the serving gateway's policy
//   (operator/translate/host-ownership.ts, the rule translation applies, same message): another
//   namespace's generated names, hosts claimed by another namespace and hosts the gateway's
//   domainClaims rules do not allow the namespace are refused (HostNotAllowed in status);
// - no host already served by another KIngress of the same class (the controller would report
//   DomainConflict; rejecting early tells the writer at once). This check ignores the object
//   itself (UPDATE) and KIngresses being deleted, and names the other KIngress only when it is in
//   the same namespace.
import {
  DEFAULT_CLUSTER_DOMAIN,
  withGatewayDefaults,
  type KnativeGateway,
} from '../operator/api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, type KIngress } from '../operator/api/kingress.ts';
import { gatewayHostPolicy, hostDecision, type HostPolicy } from '../operator/translate/host-ownership.ts';
import { parseIngressSpec } from '../operator/translate/parse.ts';
import { verdictOf, allow, type Verdict } from './admission.ts';
import type { Lookups } from './lookups.ts';
import { servedClasses, servingGateway } from './validate-knativegateway.ts';

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

/** The serving gateway's host policy and cluster domain (none when its spec cannot be read). */
function gatewayPolicy(gw: KnativeGateway | undefined): { policy?: HostPolicy; clusterDomain: string } {
  if (gw === undefined) return { clusterDomain: DEFAULT_CLUSTER_DOMAIN };
  try {
    const spec = withGatewayDefaults(gw.spec);
    return { policy: gatewayHostPolicy(gw.metadata.name, spec), clusterDomain: spec.clusterDomain };
  } catch {
    return { clusterDomain: DEFAULT_CLUSTER_DOMAIN }; // a spec the schema has already refused
  }
}

export function validateKIngress(
  object: unknown,
  _oldObject: unknown,
  lookups: Pick<Lookups, 'gateways' | 'kingressesByHost' | 'hostOwners'>,
): Verdict {
  if (!isObject(object) || !isObject(object.metadata)) return verdictOf(['object: must be a KIngress']);
  const ing = object as unknown as KIngress;
  const cls = ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
  if (cls === undefined || !servedClasses(lookups.gateways()).has(cls)) return allow();
  const namespace = ing.metadata.namespace ?? '';
  const parsed = parseIngressSpec(ing.spec, namespace);
  if (!parsed.ok) return verdictOf(parsed.problems);
  const problems: string[] = [];
  const { policy, clusterDomain } = gatewayPolicy(servingGateway(lookups.gateways(), cls));

  // hosts already served by another KIngress of the class, for the same visibility (the
  // controller's conflict rule: a host has one owner per visibility)
  const self = `${namespace}/${ing.metadata.name}`;
  const seen = new Set<string>();
  for (const [ri, rule] of (parsed.spec.rules ?? []).entries()) {
    const vis = rule.visibility ?? 'ExternalIP';
    for (const [hi, host] of (rule.hosts ?? []).entries()) {
      const owned = hostDecision(host, {
        namespace,
        visibility: vis,
        clusterDomain,
        ...(policy ? { policy } : {}),
        ...(lookups.hostOwners ? { owners: lookups.hostOwners } : {}),
      });
      if (!owned.allowed) {
        problems.push(`spec.rules[${ri}].hosts[${hi}]: ${owned.message}`);
        continue;
      }
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
