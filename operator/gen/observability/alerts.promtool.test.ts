// The shipped alert rules checked and unit-tested by promtool, built from the Prometheus Go module
// (test/env/setup.sh; test/env/paths.ts finds it, and this test fails, never skips, without it):
// `promtool check rules` on alerts.yaml, `promtool test rules` on alerts.test.yaml (generated series
// for every alert, firing and not). The test file must have a firing and a quiet case for each
// alert; mutated copies of the rules must fail it, which shows promtool's verdict is what is read.
// The dashboard's queries are parsed by promtool too (as recording rules).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { promtoolBin } from '../../../test/env/paths.ts';
import { repoRoot } from '../generate.ts';
import { alertGroups, prometheusRule, ruleFile } from './alerts.ts';
import { dashboardQueries, type JsonDashboard } from './dashboard-check.ts';

interface AlertTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const dir = () => join(repoRoot(), 'deploy/observability');
let tmp = '';
let promtool = '';

beforeAll(() => {
  promtool = promtoolBin();
  tmp = mkdtempSync(join(tmpdir(), 'kgw-promtool-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const ruleCount = () => alertGroups().reduce((n, g) => n + g.rules.length, 0);

test('promtool check rules: the shipped rule file is valid', () => {
  const r = run(['check', 'rules', 'alerts.yaml'], dir());
  expect(r).toEqual({
    status: 0,
    out: expect.stringContaining(`SUCCESS: ${ruleCount()} rules found`) as string,
  });
});

test('promtool test rules: every alert behaves as its generated series say', () => {
  const r = run(['test', 'rules', 'alerts.test.yaml'], dir());
  expect(r.out).toContain('SUCCESS');
  expect(r.status).toBe(0);
});

test('alerts.test.yaml has a firing and a quiet case for every alert, and tests no other', () => {
  const file = parse(readFileSync(join(dir(), 'alerts.test.yaml'), 'utf8')) as AlertTestFile;
  expect(file.rule_files).toEqual(['alerts.yaml']);
  const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
  const names = alertGroups().flatMap((g) => g.rules.map((r) => r.alert));
  for (const alert of names) {
    const mine = cases.filter((c) => c.alertname === alert);
    expect({ alert, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
    expect({ alert, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, quiet: true });
  }
  expect([...new Set(cases.map((c) => c.alertname))].sort()).toEqual([...names].sort());
});

test('the PrometheusRule carries exactly the groups of alerts.yaml', () => {
  const plain = parse(readFileSync(join(dir(), 'alerts.yaml'), 'utf8')) as unknown;
  const cr = parse(readFileSync(join(dir(), 'prometheusrule.yaml'), 'utf8')) as { spec: unknown };
  expect(cr.spec).toEqual(plain);
  expect(plain).toEqual(JSON.parse(JSON.stringify(ruleFile())));
  expect(cr).toEqual(JSON.parse(JSON.stringify(prometheusRule())));
});

test('changed rules fail the unit tests, a broken rule fails the check', () => {
  const original = readFileSync(join(dir(), 'alerts.yaml'), 'utf8');
  copyFileSync(join(dir(), 'alerts.test.yaml'), join(tmp, 'alerts.test.yaml'));
  const mutations: [string, (s: string) => string][] = [
    ['a longer for', (s) => s.replace('for: 10m', 'for: 20m')],
    ['a higher 5xx ratio', (s) => s.replace(/\) > 0\.05/, ') > 0.5')],
    ['no absent() in KgwNoLeader', (s) => s.replace(' or absent(kgw_leader)', '')],
    ['another annotation', (s) => s.replace('has no ready replica', 'is down')],
  ];
  for (const [what, mutate] of mutations) {
    const changed = mutate(original);
    expect({ what, changed: changed !== original }).toEqual({ what, changed: true });
    writeFileSync(join(tmp, 'alerts.yaml'), changed);
    const r = run(['test', 'rules', 'alerts.test.yaml'], tmp);
    expect({ what, status: r.status }).toEqual({ what, status: 1 });
    expect(r.out).toContain('FAILED');
  }
  writeFileSync(join(tmp, 'alerts.yaml'), original.replace('max(kgw_leader) == 0', 'max(kgw_leader) ==== 0'));
  const r = run(['check', 'rules', 'alerts.yaml'], tmp);
  expect(r.status).toBe(1);
  expect(r.out).toMatch(/parse error|unexpected/);
});

test('every dashboard query parses (promtool check rules on them as recording rules)', () => {
  const d = JSON.parse(readFileSync(join(dir(), 'dashboard.json'), 'utf8')) as JsonDashboard;
  const queries = dashboardQueries(d, '5m');
  const rules = queries.map((q) => ({ record: `kgw:dashboard_panel_${q.panelId}_${q.refId}`, expr: q.expr }));
  writeFileSync(join(tmp, 'dashboard-rules.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
  const r = run(['check', 'rules', 'dashboard-rules.yaml'], tmp);
  expect(r).toEqual({
    status: 0,
    out: expect.stringContaining(`SUCCESS: ${queries.length} rules found`) as string,
  });
});
