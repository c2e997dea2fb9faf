// The admin's part of RoutePolicy semantics (KnativeGateway spec.policy) applied to one host. Pure.
// - defaults: a feature a host gets when no RoutePolicy sets it there (optionally only under some
//   domains); a RoutePolicy's feature replaces the default of that feature;
// - domain rules: in force on hosts under their domains together with what RoutePolicies set: IP
//   rules are one more condition a request must meet (render/policy.ts ANDs them), rate-limit rules
//   are counted next to the RoutePolicy's;
// - the rate ceiling: a RoutePolicy bucket above it is lowered to it. It is applied where policies
//   are resolved (policy/resolve.ts), so the RoutePolicy's status can say so.
// Labels: `<gateway>:defaults` and `<gateway>:<rule>` (never a `<ns>/<name>` of a RoutePolicy).
import type { GatewayPolicy } from '../api/knativegateway-policy-schema.ts';
import { RATE_PERIODS } from '../api/routepolicy.ts';
import type { BucketIR, CorsIR, HostPolicyIR, IpAccessIR, RateLimitIR } from '../translate/ir.ts';
import { bucketOf, corsIR, ipAccessIR, rateLimitIR } from './features.ts';

export interface DomainRuleIR {
  /** `<gateway>:<rule name>` */
  label: string;
  domains: string[];
  ipAccess?: IpAccessIR;
  rateLimit?: RateLimitIR;
}

export interface AdminPolicyIR {
  gateway: string;
  defaults?: { domains?: string[]; ipAccess?: IpAccessIR; cors?: CorsIR; rateLimit?: RateLimitIR };
  /** The highest rate a RoutePolicy bucket may have. */
  ceiling?: BucketIR;
  domainRules: DomainRuleIR[];
}

/** A KnativeGateway's spec.policy as translation applies it; undefined when it sets nothing. */
export function adminPolicyIR(gateway: string, p: GatewayPolicy | undefined): AdminPolicyIR | undefined {
  if (!p) return undefined;
  const out: AdminPolicyIR = { gateway, domainRules: [] };
  const d = p.defaults;
  if (d) {
    const label = `${gateway}:defaults`;
    out.defaults = {
      ...(d.domains !== undefined ? { domains: d.domains.map((x) => x.toLowerCase()) } : {}),
      ...(d.ipAccess ? { ipAccess: ipAccessIR(label, d.ipAccess) } : {}),
      ...(d.cors ? { cors: corsIR(label, d.cors) } : {}),
      ...(d.rateLimit ? { rateLimit: rateLimitIR(label, d.rateLimit) } : {}),
    };
  }
  const c = p.ceilings?.rateLimit;
  if (c) out.ceiling = bucketOf(c.requests, c.per);
  for (const r of p.domainRules ?? []) {
    const label = `${gateway}:${r.name}`;
    out.domainRules.push({
      label,
      domains: r.domains.map((x) => x.toLowerCase()),
      ...(r.ipAccess ? { ipAccess: ipAccessIR(label, r.ipAccess) } : {}),
      ...(r.rateLimit ? { rateLimit: rateLimitIR(label, r.rateLimit) } : {}),
    });
  }
  return out.defaults || out.ceiling || out.domainRules.length > 0 ? out : undefined;
}

/** Whether `host` is one of `domains` or under one of them (case-insensitive). */
export function underDomains(host: string, domains: readonly string[]): boolean {
  const h = host.toLowerCase();
  return domains.some((d) => h === d || h.endsWith(`.${d}`));
}

/** Two rate limits counted side by side on one host: the rules of both, under a label of both. */
export function bothRateLimits(a: RateLimitIR, b: RateLimitIR): RateLimitIR {
  return {
    policy: `${a.policy}+${b.policy}`,
    rules: [...a.rules, ...b.rules],
    responseHeaders: a.responseHeaders,
  };
}

/** The features in force on `host`: the RoutePolicies' (`tenant`) with the gateway's policy applied. */
export function withAdminPolicy(
  host: string,
  tenant: HostPolicyIR | undefined,
  admin: AdminPolicyIR | undefined,
): HostPolicyIR | undefined {
  if (!admin) return tenant;
  const out: HostPolicyIR = { ...tenant };
  let applied = false;
  const d = admin.defaults;
  if (d && (d.domains === undefined || underDomains(host, d.domains))) {
    if (!out.ipAccess && d.ipAccess) [out.ipAccess, applied] = [d.ipAccess, true];
    if (!out.cors && d.cors) [out.cors, applied] = [d.cors, true];
    if (!out.rateLimit && d.rateLimit) [out.rateLimit, applied] = [d.rateLimit, true];
  }
  for (const r of admin.domainRules) {
    if (!underDomains(host, r.domains)) continue;
    if (r.ipAccess) out.enforcedIpAccess = [...(out.enforcedIpAccess ?? []), r.ipAccess];
    if (r.rateLimit) out.rateLimit = out.rateLimit ? bothRateLimits(out.rateLimit, r.rateLimit) : r.rateLimit;
    applied ||= r.ipAccess !== undefined || r.rateLimit !== undefined;
  }
  return applied ? out : tenant;
}

const PERIOD_NAMES = new Map<number, string>(Object.entries(RATE_PERIODS).map(([k, v]) => [v, k]));

/** `100 per Second` */
export function bucketText(b: BucketIR): string {
  return `${b.requests} per ${PERIOD_NAMES.get(b.seconds) ?? `${b.seconds}s`}`;
}

/**
 * A bucket no faster than `ceiling`: one above it keeps its period with the ceiling's rate (100 per
 * Second makes 100,000 per Minute 6,000 per Minute); if that is under one request, the ceiling itself.
 */
export function lowerBucket(b: BucketIR, ceiling: BucketIR): BucketIR | undefined {
  if (b.requests * ceiling.seconds <= ceiling.requests * b.seconds) return undefined;
  const scaled = Math.floor((ceiling.requests * b.seconds) / ceiling.seconds);
  return scaled >= 1 ? { requests: scaled, seconds: b.seconds } : { ...ceiling };
}

/** A RoutePolicy's rate limits under a ceiling, and what was lowered (`rule <name>: … lowered to …`). */
export function underCeiling(r: RateLimitIR, ceiling: BucketIR): { ir: RateLimitIR; lowered: string[] } {
  const lowered: string[] = [];
  const lower = (rule: string, what: string, b: BucketIR): BucketIR => {
    const l = lowerBucket(b, ceiling);
    if (!l) return b;
    lowered.push(`rule ${rule}${what}: ${bucketText(b)} lowered to ${bucketText(l)}`);
    return l;
  };
  const rules = r.rules.map((rule) => ({
    ...rule,
    ...(rule.each ? { each: lower(rule.name, '', rule.each) } : {}),
    limits: rule.limits.map((l) => ({
      value: l.value,
      bucket: lower(rule.name, ` value ${l.value}`, l.bucket),
    })),
  }));
  return { ir: lowered.length > 0 ? { ...r, rules } : r, lowered };
}
