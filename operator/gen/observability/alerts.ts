// kgw's Prometheus alert rules, the one source of deploy/observability/alerts.yaml (a plain rule
// file for `rule_files`) and deploy/observability/prometheusrule.yaml (the same groups as a
// Prometheus Operator PrometheusRule). deploy/observability/alerts.test.yaml tests every rule with
// `promtool test rules` (alerts.promtool.test.ts); docs/observability.md says what to do for each.
import { OPERATOR_NAMESPACE } from '../../api/install.ts';
import { FLEET_LABEL, SERVICE } from './metric-names.ts';

export type Severity = 'warning' | 'critical';

export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold before the alert fires (none: at once). */
  for?: string;
  labels: { severity: Severity };
  annotations: { summary: string; description: string; runbook: string };
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: AlertRule[];
}

/** Minutes a KIngress may stay not Ready before KgwKIngressesNotReady fires. */
export const KINGRESS_NOT_READY_MINUTES = 10;
/** Share of 5xx answers of a Knative Service that fires KgwServiceErrorRatioHigh … */
export const SERVICE_5XX_RATIO = 0.05;
/** … once the Service gets at least this many requests per second (no alert on a trickle). */
export const SERVICE_MIN_RPS = 0.1;

const RUNBOOK = 'docs/observability.md';
const runbook = (alert: string) => `${RUNBOOK}#${alert.toLowerCase()}`;

function rule(
  alert: string,
  severity: Severity,
  expr: string,
  forDuration: string | undefined,
  summary: string,
  description: string,
): AlertRule {
  return {
    alert,
    expr,
    ...(forDuration !== undefined ? { for: forDuration } : {}),
    labels: { severity },
    annotations: { summary, description, runbook: runbook(alert) },
  };
}

const byFleet = `max by (${FLEET_LABEL})`;
const svcBy = `sum by (${SERVICE.namespace}, ${SERVICE.service})`;
const svcRate = (matchers: string) => `${svcBy} (rate(${SERVICE.responses}{${matchers}}[5m]))`;

/** The rule groups, in the order they are written. */
export function alertGroups(): RuleGroup[] {
  return [
    {
      name: 'kgw-operator',
      rules: [
        rule(
          'KgwNoLeader',
          'critical',
          'max(kgw_leader) == 0 or absent(kgw_leader)',
          '5m',
          'No kgw operator replica leads (or none is scraped)',
          'No replica holds the leader Lease: Envoy fleets are not reconciled, KIngress and ' +
            'KnativeGateway status is not written. Envoys keep serving their last configuration.',
        ),
        rule(
          'KgwMultipleLeaders',
          'warning',
          'sum(kgw_leader) > 1',
          '2m',
          '{{ $value }} kgw operator replicas report that they lead',
          'More than one replica reports holding the leader Lease: they may fight over fleets and status.',
        ),
        rule(
          'KgwApiserverStale',
          'warning',
          'max by (instance) (kgw_apiserver_stale_seconds) > 0',
          '2m',
          'kgw operator {{ $labels.instance }} has lost its watches of the API server',
          'Its watches have been failing for {{ $value }} s: the configuration it serves to Envoy may ' +
            'be stale, and it reports not ready.',
        ),
      ],
    },
    {
      name: 'kgw-fleets',
      rules: [
        rule(
          'KgwXdsNack',
          'warning',
          'sum by (fleet) (increase(kgw_xds_nacks_total[10m])) > 0',
          undefined,
          'Envoy fleet {{ $labels.fleet }} rejected configuration',
          'Envoys of {{ $labels.fleet }} rejected configuration in the last 10 minutes. ' +
            'They keep their last good configuration; the KIngress that caused it is marked not Ready.',
        ),
        rule(
          'KgwFleetNotReady',
          'warning',
          `${byFleet} (kgw_fleet_ready_replicas) < ${byFleet} (kgw_fleet_replicas)`,
          '10m',
          'Envoy fleet {{ $labels.fleet }} has fewer ready replicas than it asks for',
          '{{ $value }} replicas of {{ $labels.fleet }} are ready, fewer than its spec asks for.',
        ),
        rule(
          'KgwFleetDown',
          'critical',
          `${byFleet} (kgw_fleet_ready_replicas) == 0 and ${byFleet} (kgw_fleet_replicas) > 0`,
          '2m',
          'Envoy fleet {{ $labels.fleet }} has no ready replica',
          'No replica of {{ $labels.fleet }} is ready: the hosts it serves are unreachable.',
        ),
      ],
    },
    {
      name: 'kgw-kingresses',
      rules: [
        rule(
          'KgwKIngressesNotReady',
          'warning',
          'max(kgw_kingresses{state="not_ready"}) > 0',
          `${KINGRESS_NOT_READY_MINUTES}m`,
          `{{ $value }} KIngresses have not been Ready for ${KINGRESS_NOT_READY_MINUTES} minutes`,
          'KIngresses of a class kgw serves are not Ready: an invalid spec, a missing Service or ' +
            'Secret, a host taken by another namespace, a NACK, or replicas that do not answer the probe.',
        ),
        rule(
          'KgwServiceErrorRatioHigh',
          'warning',
          `(${svcRate(`${SERVICE.service}!="", envoy_response_code_class="5"`)} / ` +
            `${svcRate(`${SERVICE.service}!=""`)}) > ${SERVICE_5XX_RATIO} ` +
            `and ${svcRate(`${SERVICE.service}!=""`)} >= ${SERVICE_MIN_RPS}`,
          '5m',
          'Knative Service {{ $labels.kgw_namespace }}/{{ $labels.kgw_service }} answers 5xx',
          `More than ${SERVICE_5XX_RATIO * 100}% of its requests through kgw got a 5xx answer ` +
            '(ratio {{ $value | humanizePercentage }}) for 5 minutes.',
        ),
      ],
    },
  ];
}

/** The plain Prometheus rule file (`rule_files:`). */
export function ruleFile(): { groups: RuleGroup[] } {
  return { groups: alertGroups() };
}

/** The same groups as a Prometheus Operator PrometheusRule in the operator's namespace. */
export function prometheusRule(): object {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'kgw',
      namespace: OPERATOR_NAMESPACE,
      labels: { 'app.kubernetes.io/part-of': 'kgw' },
    },
    spec: { groups: alertGroups() },
  };
}
