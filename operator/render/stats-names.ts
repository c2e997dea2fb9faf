// How Envoy names kgw's statistics, and the tag extraction that turns those names into Prometheus
// labels (bootstrap stats_config). One module, so the names written into routes and clusters and
// the regexes that read them back cannot drift apart.
//
// - A route of a Knative Service gets `stat_prefix: <namespace>~<service>`: Envoy then counts
//   its requests under `vhost.<vhost>.route.<namespace>~<service>.` (upstream_rq_<code>,
//   upstream_rq_<class>xx, upstream_rq_time, …). Every route of one Service in one vhost shares
//   these counters.
// - Vhost names have no dots (`<ns>/<name>/<host>`, `.` → `_`), so Envoy's default
//   `envoy.virtual_host_name` tag takes the whole name instead of cutting at the host's first dot.
// - A cluster (`<ns>/<service>:<port>`) is counted as `kgw~<ns>~<service>~<port>` (alt_stat_name).
//
// With the tags below (after Envoy's defaults) the per-Service series read, for example,
//   envoy_vhost_route_upstream_rq_xx{envoy_response_code_class="5", kgw_namespace="default",
//     kgw_service="hello", envoy_virtual_host="default/hello/hello_default_example_com", …}
//   envoy_cluster_upstream_rq_time_bucket{kgw_namespace="default", kgw_revision="hello-00001", …}
// and every series of a replica carries fleet (`<gateway>/<fleet>`, as in the operator's metrics) and kgw_visibility.
// Names and namespaces are DNS labels (translate/knative-names.ts): no `.` or `~` inside a value.
import type { Visibility } from '../api/kingress.ts';
import type { KnativeNames } from '../translate/knative-names.ts';
import type { Json } from './types.ts';

const SEP = '~';
/** Label names (Prometheus) of kgw's own tags. */
export const STAT_LABELS = {
  namespace: 'kgw_namespace',
  service: 'kgw_service',
  revision: 'kgw_revision',
  // the name and value the operator's own metrics use (kgw_xds_connected_proxies{fleet}, …)
  fleet: 'fleet',
  visibility: 'kgw_visibility',
} as const;

export function routeStatPrefix(k: KnativeNames): string {
  return `${k.namespace}${SEP}${k.service}`;
}

/** `<ns>/<service>:<port>` → `kgw~<ns>~<service>~<port>`; undefined for any other form. */
export function clusterStatName(cluster: string): string | undefined {
  const m = /^([a-z0-9-]+)\/([a-z0-9-]+):(\d+)$/.exec(cluster);
  return m ? [`kgw`, m[1], m[2], m[3]].join(SEP) : undefined;
}

/** A vhost's name: `<owner>/<host>` with every `.` written `_` (DNS names have no `_`). */
export function vhostName(owner: string, host: string): string {
  return `${owner}/${host}`.replace(/\./g, '_');
}

const VALUE = '([a-z0-9_-]+)';
const ROUTE = String.raw`vhost\.[^.]+\.route\.`;

/**
 * stats_config.stats_tags: the fleet and visibility on every series; namespace and Service from
 * route stat prefixes; namespace and revision (the split's Service: Knative names each revision's
 * Service after it) from cluster stat names. Each regex removes its part from the metric name,
 * so the route stats all become `vhost.route.*` and the cluster stats `cluster.*`.
 */
export function statsTags(fleet: string, visibility?: Visibility): Json[] {
  return [
    { tag_name: STAT_LABELS.fleet, fixed_value: fleet },
    ...(visibility ? [{ tag_name: STAT_LABELS.visibility, fixed_value: visibility }] : []),
    // one regex per tag name: the namespace of route prefixes and of cluster names alike
    { tag_name: STAT_LABELS.namespace, regex: `^(?:${ROUTE}|cluster\\.kgw${SEP})(${VALUE}${SEP})` },
    { tag_name: STAT_LABELS.service, regex: `^${ROUTE}[^${SEP}.]+${SEP}(${VALUE}\\.)` },
    { tag_name: STAT_LABELS.revision, regex: `^cluster\\.kgw${SEP}[^${SEP}.]+${SEP}(${VALUE}${SEP})` },
  ];
}
