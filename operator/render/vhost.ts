// VirtualHostIR → Envoy VirtualHost. One vhost per host; the domain list carries `host` and
// `host:*` so an authority with a port (gRPC sends `host:80`) still matches. The vhost's name is
// what its statistics are labelled with (stats-names.ts).
import type { VirtualHostIR } from '../translate/ir.ts';
import { exemptProbeRoute, exemptRoute, hostPolicyFilters, type RateLimitSharing } from './policy.ts';
import { renderRedirectRoute, renderRouteOnce } from './route.ts';
import { vhostName } from './stats-names.ts';
import type { Json } from './types.ts';

export function vhostDomains(host: string): string[] {
  return host === '*' ? ['*'] : [host, `${host}:*`];
}

/**
 * @param plainHttp true for the plain-HTTP route table: a Redirected vhost then answers 301,
 * except for ACME HTTP-01 challenge paths, which are always served over plain HTTP.
 * @param sharing how the host's rate limits count across the fleet's Envoys (policy.ts).
 */
export function renderVirtualHost(
  vh: VirtualHostIR,
  plainHttp: boolean,
  sharing: RateLimitSharing = 'PerReplica',
): Json {
  const redirect = plainHttp && vh.redirectHttp;
  const shown = redirect ? vh.routes.filter((r) => r.acme) : vh.routes;
  const policy = vh.policy;
  if (!policy) {
    const routes = shown.map(renderRouteOnce);
    if (redirect) routes.push(renderRedirectRoute(`${vh.owner}/redirect`));
    return { name: vhostName(vh.owner, vh.host), domains: vhostDomains(vh.host), routes };
  }
  // With a policy: probe copies (which then also need K-Network-Probe), ACME challenges and the
  // redirect are exempt from auth and IP rules (shallow copies: the shared rendered route stays as
  // it is for hosts without a policy).
  const global = sharing === 'Global';
  const routes = shown.map((r) =>
    r.probe === true
      ? exemptProbeRoute(renderRouteOnce(r), global)
      : r.acme
        ? exemptRoute(renderRouteOnce(r), global)
        : renderRouteOnce(r),
  );
  if (redirect) routes.push(exemptRoute(renderRedirectRoute(`${vh.owner}/redirect`), global));
  return {
    name: vhostName(vh.owner, vh.host),
    domains: vhostDomains(vh.host),
    routes,
    typed_per_filter_config: hostPolicyFilters(policy, sharing, vh.host),
  };
}
