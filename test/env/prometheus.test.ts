// startPrometheus against a local exporter: the generated configuration, targets up, an instant
// query with the target's labels, an API error surfaced, a loaded rule firing, and a clean stop.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { prometheusConfig, startPrometheus } from './prometheus.ts';

test('prometheusConfig: one scrape config per job, static targets with their labels', () => {
  const cfg = parse(
    prometheusConfig([
      { name: 'a', targets: [{ address: '127.0.0.1:1', labels: { fleet: 'gw/x' } }] },
      { name: 'b', metricsPath: '/stats/prometheus', targets: [{ address: '198.18.0.2:9091' }] },
    ]),
  ) as { global: Record<string, string>; scrape_configs: unknown[] };
  expect(cfg.global.scrape_interval).toBe('1s');
  expect(cfg.scrape_configs).toEqual([
    {
      job_name: 'a',
      metrics_path: '/metrics',
      static_configs: [{ targets: ['127.0.0.1:1'], labels: { fleet: 'gw/x' } }],
    },
    {
      job_name: 'b',
      metrics_path: '/stats/prometheus',
      static_configs: [{ targets: ['198.18.0.2:9091'], labels: {} }],
    },
  ]);
});

test('scrapes a target, answers queries, reports API errors, stops', async () => {
  const exporter = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end('# TYPE kgw_test_gauge gauge\nkgw_test_gauge 42\n');
  });
  await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
  const port = (exporter.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'kgw-prom-rules-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    stringify({ groups: [{ name: 'g', rules: [{ alert: 'GaugeHigh', expr: 'kgw_test_gauge > 40' }] }] }),
  );
  const prom = await startPrometheus({
    jobs: [{ name: 'exporter', targets: [{ address: `127.0.0.1:${port}`, labels: { fleet: 'gw/x' } }] }],
    ruleFiles: [rules],
  });
  try {
    await prom.waitTargetsUp(20_000);
    const deadline = Date.now() + 10_000;
    let got = await prom.query('kgw_test_gauge');
    while (got.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      got = await prom.query('kgw_test_gauge');
    }
    expect(got.map((s) => [s.metric.job, s.metric.fleet, s.value[1]])).toEqual([['exporter', 'gw/x', '42']]);
    await expect(prom.query('kgw_test_gauge{')).rejects.toThrow(/bad_data/);
    expect(await prom.labelValues('fleet', 'kgw_test_gauge')).toEqual(['gw/x']);
    expect(await prom.labelValues('fleet', 'kgw_no_such_metric')).toEqual([]);
    const firing = async () => (await prom.rules()).find((r) => r.name === 'GaugeHigh')?.state === 'firing';
    for (let i = 0; i < 50 && !(await firing()); i++) await new Promise((r) => setTimeout(r, 200));
    expect(await prom.rules()).toEqual([
      expect.objectContaining({ name: 'GaugeHigh', health: 'ok', state: 'firing' }),
    ]);
  } finally {
    await prom.stop();
    await new Promise((r) => exporter.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
  expect(prom.proc.exitInfo()).toBeDefined();
});
