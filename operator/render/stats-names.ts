// How Envoy names kgw's statistics, and the tag extraction that turns those names into Prometheus
// labels (bootstrap stats_config). One module, so the names written into routes and clusters and
// the regexes that read them back cannot drift apart.
//
// - A route of a Knative Service gets `stat_prefix: <namespace>~<service>`: Envoy then counts
//   its requests under `vhost.<vhost>.route.<namespace>~<service>.` (upstream_rq_<code>,
//   upstream_rq_<class>xx, upstream_rq_time, …). Every route of one Service in one vhost shares
//   these counters.
// - Vhost names have no dots (`<ns>/<name>/<host>`, `.` → `_`; in a scope, scoped.ts,
//   `http/<ns>~<name>~<host>`), so Envoy's default `envoy.virtual_host_name` tag takes the whole
//   name instead of cutting at the host's first dot.
// - A cluster (`<ns>/<service>:<port>`) is counted as `kgw~<ns>~<service>~<port>` (alt_stat_name).
//
// With the tags below (after Envoy's defaults) the per-Service series read, for example,
//   envoy_vhost_route_upstream_rq_xx{envoy_response_code_class="5", kgw_namespace="default",
//     kgw_service="hello", envoy_virtual_host="http/default~hello~hello_default_example_com" (scoped), …}
//   envoy_cluster_upstream_rq_time_bucket{kgw_namespace="default", kgw_revision="hello-00001", …}
// and the scrape adds fleet (`<gateway>/<fleet>`, as in the operator's metrics) and kgw_visibility
// from the pod's labels.
// Names and namespaces are DNS labels (translate/knative-names.ts): no `.` or `~` inside a value.
import type { KnativeNames } from '../translate/knative-names.ts';
import type { Json } from './types.ts';

const SEP = '~';
/** Label names (Prometheus): Envoy's tags, and the two the scrape adds (fleet, visibility). */
export const STAT_LABELS = {
  namespace: 'kgw_namespace',
  service: 'kgw_service',
  revision: 'kgw_revision',
  // added by the scrape; the name and value the operator's own metrics use (kgw_xds_connected_proxies{fleet})
  fleet: 'fleet',
  // added by the scrape, from the pod label operator.kgw.dev/visibility
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
 * Cluster stats get the namespace and revision labels only in the upstream_rq families (requests,
 * response classes and codes, latency): Envoy keeps each tag of each stat in memory, and a cluster
 * has ~170 stats, of which the panels and alerts read only these.
 */
const CLUSTER_RQ = String.raw`\.upstream_rq`;

/**
 * stats_config.stats_tags: namespace and Service from route stat prefixes; namespace and revision
 * (the split's Service: Knative names each revision's Service after it) from cluster stat names.
 * Each regex removes its part from the metric name, so the route stats all become `vhost.route.*`
 * and the cluster stats `cluster.*`. The fleet and visibility labels come from the scrape (pod
 * labels, docs/observability.md), not from Envoy: a fixed tag sits on every stat of a replica and
 * cost 20 MiB of Envoy memory per 1,000 KIngresses (bench/stats.ts).
 */
export function statsTags(): Json[] {
  return [
    // one regex per tag name: the namespace of route prefixes (`<ns>~<service>.`) and of cluster
    // names (`kgw~<ns>~<revision>~<port>.upstream_rq…`) alike
    {
      tag_name: STAT_LABELS.namespace,
      regex:
        `^(?:${ROUTE}|cluster\\.kgw${SEP})(${VALUE}${SEP})` +
        `(?:[^.${SEP}]+${SEP}[^.]+${CLUSTER_RQ}|[^.${SEP}]+\\.)`,
    },
    { tag_name: STAT_LABELS.service, regex: `^${ROUTE}[^${SEP}.]+${SEP}(${VALUE}\\.)` },
    {
      tag_name: STAT_LABELS.revision,
      regex: `^cluster\\.kgw${SEP}[^${SEP}.]+${SEP}(${VALUE}${SEP})[^.]+${CLUSTER_RQ}`,
    },
  ];
}
