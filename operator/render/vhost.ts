// VirtualHostIR → Envoy VirtualHost. One vhost per host; the domain list carries `host` and
// `host:*` so an authority with a port (gRPC sends `host:80`) still matches.
import type { VirtualHostIR } from '../translate/ir.ts';
import { renderRedirectRoute, renderRouteOnce } from './route.ts';
import type { Json } from './types.ts';

export function vhostDomains(host: string): string[] {
  return host === '*' ? ['*'] : [host, `${host}:*`];
}

/**
 * @param plainHttp true for the plain-HTTP route table: a Redirected vhost then answers 301,
 * except for ACME HTTP-01 challenge paths, which are always served over plain HTTP.
 */
export function renderVirtualHost(vh: VirtualHostIR, plainHttp: boolean): Json {
  const routes =
    plainHttp && vh.redirectHttp
      ? [...vh.routes.filter((r) => r.acme).map(renderRouteOnce), renderRedirectRoute(`${vh.owner}/redirect`)]
      : vh.routes.map(renderRouteOnce);
  return { name: `${vh.owner}/${vh.host}`, domains: vhostDomains(vh.host), routes };
}
