// What the Envoys of a fleet acknowledged of its routing, for a RoutePolicy's Programmed condition
// (policy/programmed.ts): the route configurations' version, or on a scoped fleet (delta xDS) the
// version of its scoped route configurations, which carry the hosts' route tables and policy
// filters (render/scoped.ts).
import type { ProgrammedView } from '../policy/programmed.ts';
import { TYPE_ROUTE, TYPE_SCOPED_ROUTE, type TypeUrl } from '../xds/protos.ts';
import type { ProxyInfo } from '../xds/types.ts';

export function routeAcks(
  snapshotVersion: (fleet: string, type: TypeUrl) => string | undefined,
  proxies: readonly Pick<ProxyInfo, 'fleet' | 'acked'>[],
): Pick<ProgrammedView, 'routeVersion' | 'ackedRouteVersions'> {
  /** The type that carries the fleet's route tables. */
  const typeOf = (f: string): TypeUrl =>
    snapshotVersion(f, TYPE_SCOPED_ROUTE) !== undefined ? TYPE_SCOPED_ROUTE : TYPE_ROUTE;
  return {
    routeVersion: (f) => snapshotVersion(f, typeOf(f)),
    ackedRouteVersions: (f) => {
      const t = typeOf(f);
      return proxies.filter((p) => p.fleet === f).map((p) => p.acked[t]);
    },
  };
}
