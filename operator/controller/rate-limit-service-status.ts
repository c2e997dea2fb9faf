// The status of a Global fleet's rate-limit service (KnativeGateway status.fleets[].rateLimitService)
// from its connected instances. Pure: the clock is a parameter. envoyproxy/ratelimit reads its xDS
// client certificate once at start; kgw renews the certificate in the fleet's Secret when two thirds
// of its lifetime have passed (pki/xds-tls.ts), so an instance still connected with a certificate past
// that point has to be restarted to load the new one before the old one expires.
import type { FleetStatus } from '../api/knativegateway.ts';
import type { RateLimitServiceInfo } from '../xds/rate-limit-configs.ts';

export type RateLimitServiceStatus = NonNullable<FleetStatus['rateLimitService']>;

/** Past two thirds of the lifetime, as kgw's renewal (pki/ca.ts needsRenewal). */
const RENEWAL_FRACTION = 2 / 3;

function pastRenewal(s: RateLimitServiceInfo, now: number): boolean {
  if (s.certificateNotAfter === undefined || s.certificateNotBefore === undefined) return false;
  const from = Date.parse(s.certificateNotBefore);
  const to = Date.parse(s.certificateNotAfter);
  return now >= from + RENEWAL_FRACTION * (to - from);
}

export function rateLimitServiceStatus(
  services: readonly RateLimitServiceInfo[],
  fleet: string,
  now: Date,
): RateLimitServiceStatus {
  const mine = services.filter((s) => s.fleet === fleet);
  const out: RateLimitServiceStatus = { connected: mine.length };
  const acked = new Set(mine.map((s) => s.acked));
  const [only] = acked;
  if (acked.size === 1 && only !== undefined) out.configVersion = only;
  const expiries = mine.flatMap((s) => (s.certificateNotAfter !== undefined ? [s.certificateNotAfter] : []));
  if (expiries.length > 0) out.certificateNotAfter = expiries.sort()[0];
  if (mine.some((s) => pastRenewal(s, now.getTime()))) out.restartNeeded = true;
  return out;
}
