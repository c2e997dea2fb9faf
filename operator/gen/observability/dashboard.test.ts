// The shipped dashboard (deploy/observability/dashboard.json) is what dashboard.ts generates and
// is valid Grafana JSON: unique ids, grid positions inside the grid and not overlapping, the data
// source variable on every panel and target, only variables it defines. Broken copies show that
// each check can fail. (Its queries run against a real Prometheus in test/e2e/observability.test.ts.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../generate.ts';
import {
  dashboardProblems,
  dashboardQueries,
  labelVariables,
  type JsonDashboard,
} from './dashboard-check.ts';
import { dashboardRows } from './dashboard.ts';

const shipped = (): JsonDashboard =>
  JSON.parse(readFileSync(join(repoRoot(), 'deploy/observability/dashboard.json'), 'utf8')) as JsonDashboard;

test('the shipped dashboard has no problems, and one query per target of dashboard.ts', () => {
  const d = shipped();
  expect(dashboardProblems(d)).toEqual([]);
  const rows = dashboardRows();
  expect(d.panels?.filter((p) => p.type === 'row').map((p) => p.title)).toEqual(rows.map((r) => r.title));
  const queries = dashboardQueries(d, '1m');
  expect(queries.map((q) => q.raw)).toEqual(
    rows.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => t.expr))),
  );
  for (const q of queries) expect(q.expr).not.toContain('$');
  // "All" selects series that have the label: a query must not match series without it
  expect(queries.find((q) => q.raw.includes('$service'))?.expr).toContain('kgw_service=~".+"');
  expect(queries.find((q) => q.raw.includes('$fleet'))?.expr).toContain('fleet=~".+"');
});

test('the variables: fleet from the operator, namespace and service from the per-Service stats', () => {
  expect(labelVariables(shipped())).toEqual([
    { name: 'fleet', label: 'fleet', match: 'kgw_fleet_replicas' },
    { name: 'namespace', label: 'kgw_namespace', match: 'envoy_vhost_route_upstream_rq_xx' },
    { name: 'service', label: 'kgw_service', match: 'envoy_vhost_route_upstream_rq_xx{kgw_namespace=~".+"}' },
  ]);
});

test('every row has panels and the Knative Services row is there', () => {
  const rows = dashboardRows();
  expect(rows.map((r) => r.title)).toEqual([
    'Fleet health',
    'Control plane',
    'Time to ready and probes',
    'Knative Services',
  ]);
  for (const r of rows) expect(r.panels.length).toBeGreaterThan(0);
});

test('broken copies are reported', () => {
  const broken = (edit: (d: JsonDashboard & { panels: Record<string, unknown>[] }) => void): string[] => {
    const d = shipped() as JsonDashboard & { panels: Record<string, unknown>[] };
    edit(d);
    return dashboardProblems(d);
  };
  expect(broken((d) => (d.panels[2]!.id = d.panels[1]!.id))).toEqual([expect.stringMatching(/duplicate id/)]);
  expect(broken((d) => (d.panels[2]!.gridPos = d.panels[1]!.gridPos))).toEqual([
    expect.stringMatching(/overlaps panel 2/),
  ]);
  expect(broken((d) => delete d.panels[1]!.datasource)).toEqual([expect.stringMatching(/datasource is not/)]);
  expect(broken((d) => (d.panels[1]!.gridPos = { h: 8, w: 10, x: 20, y: 200 }))).toEqual([
    expect.stringMatching(/out of the grid/),
  ]);
  expect(broken((d) => ((d.panels[1]!.targets as { expr: string }[])[0]!.expr = 'up{job="$nope"}'))).toEqual([
    expect.stringMatching(/unknown variable \$nope/),
  ]);
  expect(broken((d) => (d.templating = { list: [] }))).toContainEqual('no datasource variable');
});
