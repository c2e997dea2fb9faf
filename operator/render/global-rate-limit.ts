// RoutePolicy rate limits on a fleet whose rateLimitSharing is Global: an external rate-limit
// service (envoyproxy/ratelimit, with Redis) keeps one count for all the fleet's Envoys.
//
// - Every HTTP connection manager carries Envoy's `ratelimit` filter once, disabled, after
//   local_ratelimit; a host with a policy's rate limits enables it in its virtual host's
//   typed_per_filter_config with a RateLimitPerRoute naming the policy's domain and the actions
//   that build the request's descriptors. Probe copies and ACME routes switch it off again.
// - Each rule gives one descriptor: (rule, <index>_<name>), (host, <host>) and, for a keyed rule,
//   (key, <header value>) or (remote_address, <client address>). A request without the header
//   gives no descriptor for that rule (it is not counted), as with local_ratelimit.
// - The rate-limit service learns the limits from kgw: one RateLimitConfig per policy (domain
//   `kgw/<ns>/<policy>`), served over xDS (xds/rate-limit-configs.ts). In each, a rule's listed
//   values have a limit of their own and `eachOtherValue` (or a whole-host rule) a limit per value
//   seen; the host level has no value, so every host of the policy counts on its own.
// - Responses carry x-ratelimit-* headers from the service's answer: the filter setting is per HTTP
//   connection manager, so a policy with responseHeaders Off has them removed again by its host's
//   header_mutation (which runs after ratelimit on the way back, also on the 429 it answers).
// - The service's counters are fixed windows (a minute limit resets at the start of each clock
//   minute), not local_ratelimit's token buckets.
import type { RateLimitFailureMode } from '../api/knativegateway-constants.ts';
import type { BucketIR, ClusterIR, RateLimitIR } from '../translate/ir.ts';
import { TYPE_PREFIX, type Json } from './types.ts';

import { RATE_LIMIT_CLUSTER } from '../translate/rate-limit-service.ts';
import { byCodePoint } from '../order.ts';

export { RATE_LIMIT_CLUSTER };
export const RATE_LIMIT_FILTER = 'envoy.filters.http.ratelimit';
/** The HCM-level domain; every host that enables the filter overrides it with its policy's. */
export const RATE_LIMIT_DEFAULT_DOMAIN = 'kgw';

export const GLOBAL_RATE_LIMIT_TYPES = {
  rateLimit: `${TYPE_PREFIX}envoy.extensions.filters.http.ratelimit.v3.RateLimit`,
  rateLimitPerRoute: `${TYPE_PREFIX}envoy.extensions.filters.http.ratelimit.v3.RateLimitPerRoute`,
  rateLimitConfig: `${TYPE_PREFIX}ratelimit.config.ratelimit.v3.RateLimitConfig`,
} as const;

/** What the fleet's Envoys need to know about the rate-limit service. */
export interface GlobalRateLimitOptions {
  failureMode: RateLimitFailureMode;
  timeoutMs: number;
  /** The EDS cluster of the service's endpoints (translate/rate-limit-service.ts). */
  cluster: ClusterIR;
}

/** Descriptor keys (the same in the actions and in the service's configuration). */
export const DESCRIPTOR_KEYS = {
  rule: 'rule',
  host: 'host',
  header: 'key',
  clientIP: 'remote_address',
} as const;

/** Milliseconds as a canonical proto3 JSON Duration (no fraction, or 3 digits: `0.020s`). */
function durationOfMs(ms: number): string {
  const rest = ms % 1000;
  return `${Math.floor(ms / 1000)}${rest === 0 ? '' : `.${String(rest).padStart(3, '0')}`}s`;
}

/** The HCM's ratelimit filter, disabled until a host's policy enables it. */
export function rateLimitHttpFilter(g: Pick<GlobalRateLimitOptions, 'failureMode' | 'timeoutMs'>): Json {
  return {
    name: RATE_LIMIT_FILTER,
    typed_config: {
      '@type': GLOBAL_RATE_LIMIT_TYPES.rateLimit,
      domain: RATE_LIMIT_DEFAULT_DOMAIN,
      timeout: durationOfMs(g.timeoutMs),
      ...(g.failureMode === 'Deny' ? { failure_mode_deny: true } : {}),
      rate_limit_service: {
        grpc_service: { envoy_grpc: { cluster_name: RATE_LIMIT_CLUSTER } },
        transport_api_version: 'V3',
      },
      stat_prefix: 'kgw_global_rate_limit',
      // x-ratelimit-limit/-remaining/-reset from the service's answer (IETF draft 03, as the local
      // modes send them); a policy with responseHeaders Off has them removed (policy.ts)
      enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    },
    disabled: true,
  };
}

/** The rate-limit service's domain of a policy (`<ns>/<name>`). */
export function rateLimitDomain(policy: string): string {
  return `kgw/${policy}`;
}

/** A rule's descriptor value: its index and name, so renamed or reordered rules never share counts. */
function ruleValue(i: number, name: string): string {
  return `${i}_${name}`;
}

/** The virtual host's RateLimitPerRoute: the policy's domain and one descriptor per rule. */
export function rateLimitPerRoute(r: RateLimitIR, host: string): Json {
  const rateLimits = r.rules.map((rule, i) => {
    const actions: Json[] = [
      { generic_key: { descriptor_key: DESCRIPTOR_KEYS.rule, descriptor_value: ruleValue(i, rule.name) } },
      { generic_key: { descriptor_key: DESCRIPTOR_KEYS.host, descriptor_value: host } },
    ];
    if (rule.key) {
      actions.push(
        'header' in rule.key
          ? { request_headers: { header_name: rule.key.header, descriptor_key: DESCRIPTOR_KEYS.header } }
          : { remote_address: {} },
      );
    }
    return { actions };
  });
  return {
    '@type': GLOBAL_RATE_LIMIT_TYPES.rateLimitPerRoute,
    domain: rateLimitDomain(r.policy),
    rate_limits: rateLimits,
  };
}

const UNITS: Readonly<Record<number, string>> = { 1: 'SECOND', 60: 'MINUTE', 3600: 'HOUR', 86400: 'DAY' };

/** A bucket as the service's limit; undefined for a period it has no unit for (never from the API). */
function limitOf(b: BucketIR): Json | undefined {
  const unit = UNITS[b.seconds];
  return unit === undefined ? undefined : { unit, requests_per_unit: b.requests };
}

/**
 * The policy's RateLimitConfig for the rate-limit service (named like its domain). A rule whose
 * limits cannot be expressed is left out; a rule without any limit gives no descriptor.
 */
export function rateLimitConfig(r: RateLimitIR): Json {
  const descriptors: Json[] = [];
  r.rules.forEach((rule, i) => {
    const hostLevel: Json = { key: DESCRIPTOR_KEYS.host };
    if (!rule.key) {
      const each = rule.each && limitOf(rule.each);
      if (!each) return;
      hostLevel.rate_limit = each;
    } else {
      const key = 'header' in rule.key ? DESCRIPTOR_KEYS.header : DESCRIPTOR_KEYS.clientIP;
      const values: Json[] = [];
      for (const l of rule.limits) {
        const limit = limitOf(l.bucket);
        if (limit) values.push({ key, value: l.value, rate_limit: limit });
      }
      const each = rule.each && limitOf(rule.each);
      if (each) values.push({ key, rate_limit: each });
      if (values.length === 0) return;
      hostLevel.descriptors = values;
    }
    descriptors.push({ key: DESCRIPTOR_KEYS.rule, value: ruleValue(i, rule.name), descriptors: [hostLevel] });
  });
  const domain = rateLimitDomain(r.policy);
  return { name: domain, domain, ...(descriptors.length > 0 ? { descriptors } : {}) };
}

/** The RateLimitConfigs of these policies' rate limits, by name (each policy once). */
export function rateLimitConfigs(limits: Iterable<RateLimitIR>): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const r of limits) {
    const domain = rateLimitDomain(r.policy);
    if (!out.has(domain)) out.set(domain, rateLimitConfig(r));
  }
  return new Map([...out].sort(([a], [b]) => byCodePoint(a, b)));
}
