// The metric and label names the dashboard and the alert rules are written against, in one place:
// the operator's own (operator/metrics.ts), Envoy's (its stats with Envoy's default tag
// extraction, as the fleets' stats listener serves them) and the per-Knative-Service ones.
import { HTTPS_ROUTE_CONFIG, HTTP_ROUTE_CONFIG } from '../../render/listener.ts';
import { STAT_LABELS } from '../../render/stats-names.ts';

/** The label every fleet-scoped series carries: `<gateway>/<fleet>` (Envoy's and the operator's). */
export const FLEET_LABEL = STAT_LABELS.fleet;

/**
 * The HTTP connection managers of the fleets' listeners (their stat_prefix): the stats listener
 * (`kgw_stats`) and Envoy's admin (`admin`) have their own and are left out of traffic panels.
 */
export const TRAFFIC_HCM = `envoy_http_conn_manager_prefix=~"${HTTP_ROUTE_CONFIG}|${HTTPS_ROUTE_CONFIG}"`;

/**
 * Per Knative Service RED metrics: Envoy route stats (a stat_prefix on each route) whose prefix
 * tag extraction turns into the labels below, and cluster stats with a revision label.
 * render/stats-names.ts writes the stat names and the tag rules these come from.
 */
export const SERVICE = {
  /** Upstream responses by class (`envoy_response_code_class` 1…5), per route. */
  responses: 'envoy_vhost_route_upstream_rq_xx',
  /** Upstream request time histogram (ms), per route. */
  latencyBucket: 'envoy_vhost_route_upstream_rq_time_bucket',
  /** Upstream responses by class per cluster (one cluster per revision). */
  revisionResponses: 'envoy_cluster_upstream_rq_xx',
  namespace: STAT_LABELS.namespace,
  service: STAT_LABELS.service,
  visibility: STAT_LABELS.visibility,
  revision: STAT_LABELS.revision,
} as const;
