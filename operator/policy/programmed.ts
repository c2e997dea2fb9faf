// Whether a RoutePolicy runs on every Envoy that serves its hosts (its Programmed condition). Pure:
// the engine supplies what it knows of the KIngresses the policy is in force on and of the fleets.
import type { PolicyOutcome } from './resolve.ts';
import { setVersionOfLabel } from '../xds/types.ts';
import type { RateLimitSharing } from '../api/knativegateway-constants.ts';

export interface ProgrammedView {
  /** The KIngress's translation in force: the attachment fingerprint it was translated with. */
  ingress(key: string): { print: string; gateway?: string; held: boolean } | undefined;
  /** The current attachment fingerprint of a KIngress. */
  currentPrint(key: string): string;
  /** Fleet keys of a gateway. */
  fleetsOf(gateway: string): string[];
  /** The fleet's current route-configuration version. */
  routeVersion(fleet: string): string | undefined;
  /** The route-configuration versions the fleet's connected Envoys acknowledged last. */
  ackedRouteVersions(fleet: string): (string | undefined)[];
  /** How the fleet's Envoys count rate limits (KnativeGateway fleets[].policy), and its service. */
  rateLimitSharing?(fleet: string): { mode: RateLimitSharing; service?: string } | undefined;
}

export interface ProgrammedVerdict {
  ok: boolean;
  reason: 'Programmed' | 'Pending';
  message: string;
}

const pending = (message: string): ProgrammedVerdict => ({ ok: false, reason: 'Pending', message });

/** SotW answers carry the snapshot version, possibly with a `+<subset>` suffix. */
function matches(acked: string | undefined, current: string): boolean {
  return acked !== undefined && setVersionOfLabel(acked) === current;
}

export function programmedVerdict(o: PolicyOutcome, view: ProgrammedView): ProgrammedVerdict {
  const fleets = new Set<string>();
  for (const k of o.ingressKeys) {
    const ing = view.ingress(k);
    if (!ing || ing.gateway === undefined) return pending(`KIngress ${k} is not served yet`);
    if (ing.held) return pending(`KIngress ${k} waits for its configuration to be accepted by Envoy`);
    if (ing.print !== view.currentPrint(k)) return pending(`KIngress ${k} is being configured with it`);
    for (const f of view.fleetsOf(ing.gateway)) fleets.add(f);
  }
  let envoys = 0;
  for (const fleet of [...fleets].sort()) {
    const current = view.routeVersion(fleet);
    const acked = view.ackedRouteVersions(fleet);
    if (current === undefined || acked.length === 0)
      return pending(`no Envoy of fleet ${fleet} is connected`);
    const done = acked.filter((a) => matches(a, current)).length;
    if (done < acked.length) {
      return pending(`${done} of ${acked.length} Envoys of fleet ${fleet} acknowledged the configuration`);
    }
    envoys += acked.length;
  }
  const sharing = o.rateLimited ? [...fleets].sort().map((f) => sharingNote(f, view)) : [];
  return {
    ok: true,
    reason: 'Programmed',
    message:
      `acknowledged by all ${envoys} Envoy${envoys === 1 ? '' : 's'} of fleet${fleets.size === 1 ? '' : 's'} ${[...fleets].sort().join(', ')}` +
      (sharing.length > 0 ? `; rate limits: ${sharing.join('; ')}` : ''),
  };
}

/** What a limit means on a fleet, for the status (issue 10: PerReplica shows the N-fold limit). */
function sharingNote(fleet: string, view: ProgrammedView): string {
  const s = view.rateLimitSharing?.(fleet) ?? { mode: 'PerReplica' as const };
  const n = view.ackedRouteVersions(fleet).length;
  const envoys = `${n} Envoy${n === 1 ? '' : 's'}`;
  switch (s.mode) {
    case 'SharedEvenly':
      return `SharedEvenly on ${fleet} (each limit divided among its ${envoys})`;
    case 'Global':
      return `Global on ${fleet} (counted by the rate-limit service ${s.service ?? '?'})`;
    default:
      return n > 1
        ? `PerReplica on ${fleet} (each of its ${envoys} counts alone: up to ${n}x each limit)`
        : `PerReplica on ${fleet} (${envoys})`;
  }
}
