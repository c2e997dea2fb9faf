// The ClusterDomainClaim policy of a KnativeGateway as a pure decision: may namespace N map domain
// D? Used by the DomainMapping admission webhook (reject) and by the claim controller (create the
// claim, or report the denial on the DomainMapping's status). Rules are domain suffixes with a
// namespace selector; no rules means no restriction beyond "first namespace to claim a domain
// keeps it" (which ClusterDomainClaims enforce).
import type { LabelSelector, ResolvedDomainClaims } from './knativegateway.ts';

/** Whether `labels` satisfy a Kubernetes label selector (an empty or absent selector matches all). */
export function selectorMatches(
  sel: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    const inValues = has && value !== undefined && (e.values ?? []).includes(value);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** `domain` equals `suffix` or is under it (`a.example.com` is under `example.com`). */
export function domainUnder(domain: string, suffix: string): boolean {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const s = suffix.toLowerCase().replace(/\.$/, '');
  return d === s || d.endsWith(`.${s}`);
}

function describeSelector(sel: LabelSelector | undefined): string {
  if (!sel) return 'any namespace';
  const parts = [
    ...Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
    ...(sel.matchExpressions ?? []).map((e) =>
      e.operator === 'Exists'
        ? e.key
        : e.operator === 'DoesNotExist'
          ? `!${e.key}`
          : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${(e.values ?? []).join(',')})`,
    ),
  ];
  return parts.length > 0 ? `namespaces with labels ${parts.join(', ')}` : 'any namespace';
}

export interface ClaimDecision {
  allowed: boolean;
  /** Why not (names the gateway, the domain and what would be allowed). */
  message?: string;
}

/** May `namespace` (with `labels`) map `domain` under gateway `gateway`'s policy? */
export function claimDecision(
  policy: ResolvedDomainClaims,
  gateway: string,
  domain: string,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): ClaimDecision {
  if (policy.rules === undefined) return { allowed: true };
  const covering = policy.rules.filter((r) => r.domains.some((s) => domainUnder(domain, s)));
  if (covering.length === 0) {
    const all = [...new Set(policy.rules.flatMap((r) => r.domains))].sort();
    return {
      allowed: false,
      message:
        `domain ${domain} is not allowed by KnativeGateway ${gateway}'s domainClaims policy ` +
        `(allowed suffixes: ${all.join(', ') || 'none'})`,
    };
  }
  if (covering.some((r) => selectorMatches(r.namespaceSelector, labels))) return { allowed: true };
  const who = covering.map((r) => describeSelector(r.namespaceSelector)).join('; or ');
  return {
    allowed: false,
    message:
      `namespace ${namespace} may not map domain ${domain}: KnativeGateway ${gateway}'s domainClaims ` +
      `policy allows it only for ${who}`,
  };
}
