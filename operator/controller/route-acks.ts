// What the Envoys of a fleet acknowledged of its routing, for a RoutePolicy's Programmed condition
// (policy/programmed.ts): the route configurations' version and, on a VHDS fleet (delta xDS), the
// version of its vhosts too, since that is where a host's policy filters are configured. An Envoy
// counts as current only once it acknowledged both.
import type { ProgrammedView } from '../policy/programmed.ts';
import { TYPE_ROUTE, TYPE_VHOST, type TypeUrl } from '../xds/protos.ts';
import type { ProxyInfo } from '../xds/types.ts';

export function routeAcks(
  snapshotVersion: (fleet: string, type: TypeUrl) => string | undefined,
  proxies: readonly Pick<ProxyInfo, 'fleet' | 'acked'>[],
): Pick<ProgrammedView, 'routeVersion' | 'ackedRouteVersions'> {
  const vhdsOf = (f: string) => snapshotVersion(f, TYPE_VHOST);
  return {
    routeVersion: (f) => {
      const rds = snapshotVersion(f, TYPE_ROUTE);
      const vhds = vhdsOf(f);
      return rds === undefined || vhds === undefined ? rds : `${rds}|${vhds}`;
    },
    ackedRouteVersions: (f) => {
      const vhds = vhdsOf(f) !== undefined;
      return proxies
        .filter((p) => p.fleet === f)
        .map((p) => {
          const rds = p.acked[TYPE_ROUTE];
          if (!vhds) return rds;
          return rds === undefined ? undefined : `${rds}|${p.acked[TYPE_VHOST] ?? ''}`;
        });
    },
  };
}
