// docs/observability.md describes what is shipped: every dashboard panel with each of its queries
// as the dashboard holds them, every alert under a heading its `runbook` annotation points at,
// with its expression, and every metric the operator exports (the default process metrics aside).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { idleSources, metricsRegistry } from '../../metrics.ts';
import { repoRoot } from '../generate.ts';
import { alertGroups } from './alerts.ts';
import { dashboardRows } from './dashboard.ts';

const doc = () => readFileSync(join(repoRoot(), 'docs/observability.md'), 'utf8');
/** The contents of the ```promql blocks, one query a line. */
const promqlLines = (text: string) =>
  new Set([...text.matchAll(/```promql\n([\s\S]*?)```/g)].flatMap((m) => (m[1] ?? '').split('\n')));

test('every panel is described with each of its queries', () => {
  const text = doc();
  const lines = promqlLines(text);
  for (const row of dashboardRows()) {
    expect({ row: row.title, found: text.includes(`### ${row.title}\n`) }).toEqual({
      row: row.title,
      found: true,
    });
    for (const p of row.panels) {
      expect({ panel: p.title, found: text.includes(`**${p.title}**`) }).toEqual({
        panel: p.title,
        found: true,
      });
      for (const t of p.targets)
        expect({ panel: p.title, expr: t.expr, found: lines.has(t.expr) }).toMatchObject({ found: true });
    }
  }
});

test('every alert has the section its runbook annotation names, with its expression', () => {
  const text = doc();
  const lines = promqlLines(text);
  for (const r of alertGroups().flatMap((g) => g.rules)) {
    expect(r.annotations.runbook).toBe(`docs/observability.md#${r.alert.toLowerCase()}`);
    expect({ alert: r.alert, heading: text.includes(`\n### ${r.alert}\n`) }).toEqual({
      alert: r.alert,
      heading: true,
    });
    expect({ alert: r.alert, expr: lines.has(r.expr) }).toEqual({ alert: r.alert, expr: true });
  }
});

test('every metric of the operator is in the metrics table', async () => {
  const { registry } = metricsRegistry(idleSources());
  const names = (await registry.getMetricsAsJSON())
    .map((m) => m.name)
    .filter((n) => !n.startsWith('kgw_process_') && !n.startsWith('kgw_nodejs_'));
  expect(names.length).toBeGreaterThan(10);
  const text = doc();
  for (const n of names)
    expect({ metric: n, documented: text.includes(`\`${n}\``) }).toEqual({ metric: n, documented: true });
});
