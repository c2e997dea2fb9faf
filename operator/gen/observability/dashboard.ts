// kgw's Grafana dashboard, the source of deploy/observability/dashboard.json: rows of panels
// (fleet health, control plane, time to ready and probes, Knative Services), each with its PromQL.
// Ids and grid positions are assigned here, so the JSON is valid by construction; the data
// source is the dashboard variable `datasource`. test/e2e/observability.test.ts runs every panel
// query against a real Prometheus scraping a real kgw; docs/observability.md describes the panels.
import { FLEET_LABEL, SERVICE, TRAFFIC_HCM } from './metric-names.ts';

export interface Target {
  expr: string;
  legendFormat: string;
}

export interface PanelDef {
  title: string;
  description: string;
  type?: 'timeseries' | 'stat';
  /** Grafana unit (`reqps`, `s`, `bytes`, `percentunit`, …). */
  unit: string;
  targets: Target[];
  /** Grid width out of 24 (default 8). */
  width?: number;
}

export interface RowDef {
  title: string;
  panels: PanelDef[];
}

const DS = { type: 'prometheus', uid: '${datasource}' } as const;
const PANEL_HEIGHT = 8;

const fleetSel = `${FLEET_LABEL}=~"$fleet"`;
const traffic = `${fleetSel}, ${TRAFFIC_HCM}`;
const byFleet = `sum by (${FLEET_LABEL})`;
const svcSel = `${SERVICE.namespace}=~"$namespace", ${SERVICE.service}=~"$service"`;
const svcBy = `${SERVICE.namespace}, ${SERVICE.service}`;
const svcLegend = `{{${SERVICE.namespace}}}/{{${SERVICE.service}}}`;

const t = (expr: string, legendFormat: string): Target => ({ expr, legendFormat });

/** The rows and panels, in order. */
export function dashboardRows(): RowDef[] {
  return [
    {
      title: 'Fleet health',
      panels: [
        {
          title: 'Envoy replicas',
          description:
            'Per fleet: Envoys that report themselves live (scraped), replicas the operator sees ready, ' +
            'and replicas the fleet spec asks for.',
          unit: 'short',
          targets: [
            t(`${byFleet} (envoy_server_live{${fleetSel}})`, '{{fleet}} live'),
            t(`max by (${FLEET_LABEL}) (kgw_fleet_ready_replicas{${fleetSel}})`, '{{fleet}} ready'),
            t(`max by (${FLEET_LABEL}) (kgw_fleet_replicas{${fleetSel}})`, '{{fleet}} desired'),
          ],
        },
        {
          title: 'Downstream requests per second',
          description: 'Requests the fleet received on its HTTP and HTTPS listeners.',
          unit: 'reqps',
          targets: [
            t(`${byFleet} (rate(envoy_http_downstream_rq_total{${traffic}}[$__rate_interval]))`, '{{fleet}}'),
          ],
        },
        {
          title: 'Downstream responses by class',
          description:
            'Responses the fleet sent, per status class (5xx: errors of kgw, Envoy or the backends).',
          unit: 'reqps',
          targets: [
            t(
              `sum by (${FLEET_LABEL}, envoy_response_code_class) ` +
                `(rate(envoy_http_downstream_rq_xx{${traffic}}[$__rate_interval]))`,
              '{{fleet}} {{envoy_response_code_class}}xx',
            ),
          ],
        },
        {
          title: 'Downstream latency',
          description: 'Request duration seen by the fleet (first byte in to last byte out), p50 and p99.',
          unit: 'ms',
          targets: [0.5, 0.99].map((q) =>
            t(
              `histogram_quantile(${q}, sum by (${FLEET_LABEL}, le) ` +
                `(rate(envoy_http_downstream_rq_time_bucket{${traffic}}[$__rate_interval])))`,
              `{{fleet}} p${q * 100}`,
            ),
          ),
        },
        {
          title: 'Active downstream connections',
          description: 'Client connections open on the fleet’s HTTP and HTTPS listeners.',
          unit: 'short',
          targets: [t(`${byFleet} (envoy_http_downstream_cx_active{${traffic}})`, '{{fleet}}')],
        },
        {
          title: 'Envoys connected to xDS',
          description:
            'Envoys with an ADS stream, as the operator replicas count them and as the Envoys report it.',
          unit: 'short',
          targets: [
            t(`${byFleet} (kgw_xds_connected_proxies{${fleetSel}})`, '{{fleet}} (operator)'),
            t(`${byFleet} (envoy_control_plane_connected_state{${fleetSel}})`, '{{fleet}} (Envoy)'),
          ],
        },
      ],
    },
    {
      title: 'Control plane',
      panels: [
        {
          title: 'Leader',
          description: 'Per operator replica, 1 while it holds the leader Lease; exactly one should.',
          unit: 'short',
          targets: [t('max by (instance) (kgw_leader)', '{{instance}}')],
        },
        {
          title: 'KIngresses',
          description: 'KIngresses of a class kgw serves, Ready and not Ready.',
          unit: 'short',
          targets: [t('max by (state) (kgw_kingresses)', '{{state}}')],
        },
        {
          title: 'API server staleness',
          description: 'Seconds the watches of a replica have been failing (0 while in touch).',
          unit: 's',
          targets: [t('max by (instance) (kgw_apiserver_stale_seconds)', '{{instance}}')],
        },
        {
          title: 'xDS pushes per second',
          description: 'Fleet snapshot updates handed to the xDS server, and KIngress translations.',
          unit: 'ops',
          targets: [
            t(
              'sum by (instance) (rate(kgw_xds_snapshot_updates_total[$__rate_interval]))',
              '{{instance}} pushes',
            ),
            t(
              'sum by (instance) (rate(kgw_engine_translated_total[$__rate_interval]))',
              '{{instance}} translations',
            ),
          ],
        },
        {
          title: 'xDS bytes sent per second',
          description: 'Bytes of xDS responses, by resource type (LDS, RDS, SRDS, CDS, EDS, SDS).',
          unit: 'Bps',
          targets: [t('sum by (type) (rate(kgw_xds_sent_bytes_total[$__rate_interval]))', '{{type}}')],
        },
        {
          title: 'xDS NACKs',
          description: 'Configurations the Envoys of each fleet rejected (any NACK is worth a look).',
          unit: 'short',
          targets: [
            t(`${byFleet} (increase(kgw_xds_nacks_total{${fleetSel}}[$__rate_interval]))`, '{{fleet}}'),
          ],
        },
        {
          title: 'Envoy configuration updates',
          description:
            'Listener (LDS) and cluster (CDS) updates each fleet’s Envoys accepted (ACK) and rejected (NACK).',
          unit: 'ops',
          targets: (['listener_manager_lds', 'cluster_manager_cds'] as const).flatMap((s) =>
            (['success', 'rejected'] as const).map((r) =>
              t(
                `${byFleet} (rate(envoy_${s}_update_${r}{${fleetSel}}[$__rate_interval]))`,
                `{{fleet}} ${s.slice(-3).toUpperCase()} ${r === 'success' ? 'ACK' : 'NACK'}`,
              ),
            ),
          ),
        },
        {
          title: 'Operator memory',
          description: 'Resident memory of each operator replica.',
          unit: 'bytes',
          targets: [t('max by (instance) (kgw_process_resident_memory_bytes)', '{{instance}}')],
        },
        {
          title: 'Operator CPU',
          description: 'CPU seconds per second used by each operator replica.',
          unit: 'short',
          targets: [
            t('sum by (instance) (rate(kgw_process_cpu_seconds_total[$__rate_interval]))', '{{instance}}'),
          ],
        },
      ],
    },
    {
      title: 'Time to ready and probes',
      panels: [
        {
          title: 'Time to Ready',
          description:
            'From a KIngress generation first seen by the leader to Ready written (translation, ' +
            'push, every replica probed, status write): p50, p90, p99.',
          unit: 's',
          targets: [0.5, 0.9, 0.99].map((q) =>
            t(
              `histogram_quantile(${q}, sum by (le) (rate(kgw_kingress_ready_seconds_bucket[$__rate_interval])))`,
              `p${q * 100}`,
            ),
          ),
        },
        {
          title: 'KIngresses made Ready per second',
          description: 'Ready written for a new generation (the count of the time-to-ready histogram).',
          unit: 'ops',
          targets: [t('sum(rate(kgw_kingress_ready_seconds_count[$__rate_interval]))', 'ready')],
        },
        {
          title: 'Probe failures per second',
          description:
            'Readiness probes of Envoy replicas that must be retried: error (no answer), status ' +
            '(404/5xx: not configured yet), hash (an older configuration). Normal during rollouts.',
          unit: 'ops',
          targets: [t('sum by (reason) (rate(kgw_probe_failures_total[$__rate_interval]))', '{{reason}}')],
        },
      ],
    },
    {
      title: 'Knative Services',
      panels: [
        {
          title: 'Requests per second by Service',
          description: 'Requests routed to each Knative Service (all its visibilities and revisions).',
          unit: 'reqps',
          targets: [
            t(`sum by (${svcBy}) (rate(${SERVICE.responses}{${svcSel}}[$__rate_interval]))`, svcLegend),
          ],
        },
        {
          title: '5xx ratio by Service',
          description: 'Share of each Knative Service’s responses that were 5xx.',
          unit: 'percentunit',
          targets: [
            t(
              `sum by (${svcBy}) (rate(${SERVICE.responses}{${svcSel}, envoy_response_code_class="5"}[$__rate_interval])) ` +
                `/ sum by (${svcBy}) (rate(${SERVICE.responses}{${svcSel}}[$__rate_interval]))`,
              svcLegend,
            ),
          ],
        },
        {
          title: 'Latency p99 by Service',
          description: 'Upstream request time of each Knative Service, 99th percentile.',
          unit: 'ms',
          targets: [
            t(
              `histogram_quantile(0.99, sum by (${svcBy}, le) ` +
                `(rate(${SERVICE.latencyBucket}{${svcSel}}[$__rate_interval])))`,
              svcLegend,
            ),
          ],
        },
        {
          title: 'Requests per second by revision',
          description: 'Requests sent to each revision (traffic splits and tags show here).',
          unit: 'reqps',
          targets: [
            t(
              `sum by (${SERVICE.namespace}, ${SERVICE.revision}) ` +
                `(rate(${SERVICE.revisionResponses}{${SERVICE.namespace}=~"$namespace", ${SERVICE.revision}!=""}[$__rate_interval]))`,
              `{{${SERVICE.namespace}}}/{{${SERVICE.revision}}}`,
            ),
          ],
        },
      ],
    },
  ];
}

/** A query variable over one label of one metric; "All" is `allValue` (a regex). */
function labelVariable(name: string, label: string, metric: string, allValue: string): object {
  const query = `label_values(${metric}, ${label})`;
  return {
    name,
    label: name,
    type: 'query',
    datasource: DS,
    definition: query,
    query: { query, refId: name },
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    sort: 1,
    hide: 0,
  };
}

/** The dashboard JSON model; `description` first, so the generated-file marker opens the file. */
export function grafanaDashboard(description: string): object {
  let id = 0;
  let y = 0;
  const panels: object[] = [];
  for (const row of dashboardRows()) {
    panels.push({
      id: ++id,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
    });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      const w = p.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push({
        id: ++id,
        type: p.type ?? 'timeseries',
        title: p.title,
        description: p.description,
        datasource: DS,
        gridPos: { h: PANEL_HEIGHT, w, x, y },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
        targets: p.targets.map((tg, i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: DS,
          expr: tg.expr,
          legendFormat: tg.legendFormat,
        })),
      });
      x += w;
    }
    y += PANEL_HEIGHT;
  }
  return {
    description,
    title: 'kgw',
    uid: 'kgw-overview',
    tags: ['kgw', 'knative', 'envoy'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timezone: 'browser',
    annotations: { list: [] },
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
          hide: 0,
        },
        labelVariable('fleet', FLEET_LABEL, 'kgw_fleet_replicas', '.+'),
        labelVariable('namespace', SERVICE.namespace, SERVICE.responses, '.+'),
        labelVariable(
          'service',
          SERVICE.service,
          `${SERVICE.responses}{${SERVICE.namespace}=~"$namespace"}`,
          '.+',
        ),
      ],
    },
    panels,
  };
}
