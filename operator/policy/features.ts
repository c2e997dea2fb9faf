// A RoutePolicy feature as written (api/routepolicy.ts) → its IR (translate/ir.ts), labelled with
// who set it: `<ns>/<name>` for a RoutePolicy, `<gateway>:<part>` for a KnativeGateway's
// spec.policy (policy/admin.ts). One conversion for both, so a default behaves like a policy.
import {
  RATE_PERIODS,
  type Cors,
  type IpAccess,
  type RateLimit,
  type RatePeriod,
} from '../api/routepolicy.ts';
import type { BucketIR, CorsIR, IpAccessIR, RateLimitIR } from '../translate/ir.ts';

export const bucketOf = (requests: number, per: RatePeriod): BucketIR => ({
  requests,
  seconds: RATE_PERIODS[per],
});

export function ipAccessIR(policy: string, ip: IpAccess): IpAccessIR {
  return { policy, allow: [...(ip.allow ?? [])], deny: [...(ip.deny ?? [])] };
}

export function rateLimitIR(policy: string, rl: RateLimit): RateLimitIR {
  return {
    policy,
    responseHeaders: (rl.responseHeaders ?? 'DraftVersion03') !== 'Off',
    rules: rl.rules.map((r) => ({
      name: r.name,
      ...(r.key?.header !== undefined
        ? { key: { header: r.key.header } }
        : r.key?.clientIP !== undefined
          ? { key: { clientIP: true as const } }
          : {}),
      ...(r.requests !== undefined && r.per !== undefined ? { each: bucketOf(r.requests, r.per) } : {}),
      limits: (r.limits ?? []).map((l) => ({ value: l.value, bucket: bucketOf(l.requests, l.per) })),
    })),
  };
}

export function corsIR(policy: string, c: Cors): CorsIR {
  return {
    policy,
    allowOrigins: [...c.allowOrigins],
    allowMethods: [...(c.allowMethods ?? [])],
    allowHeaders: [...(c.allowHeaders ?? [])],
    exposeHeaders: [...(c.exposeHeaders ?? [])],
    ...(c.maxAgeSeconds !== undefined ? { maxAgeSeconds: c.maxAgeSeconds } : {}),
    allowCredentials: c.allowCredentials ?? false,
  };
}
