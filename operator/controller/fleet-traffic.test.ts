import {
  TRAFFIC_STATS_PATH,
  TrafficSampler,
  serviceCounters,
  formatRate,
  formatRatio,
  overallTraffic,
  trafficBetween,
} from './fleet-traffic.ts';
import { newLogger } from '../log.ts';

const scrape = (classes: Record<string, number>, service = 'hello') =>
  Object.entries(classes)
    .map(
      ([c, n]) =>
        `envoy_vhost_route_upstream_rq_xx{envoy_response_code_class="${c}",` +
        `kgw_namespace="ns",kgw_service="${service}",envoy_virtual_host="ns/${service}/h"} ${n}`,
    )
    .join('\n') + '\n';

test('counters: every class of every Knative Service route; 5xx are errors', () => {
  const text =
    scrape({ 2: 90, 4: 5, 5: 5 }) +
    scrape({ 2: 10 }, 'other') +
    // route stats without a Service label are not kgw's (none exist today: no other route has a stat prefix)
    'envoy_vhost_route_upstream_rq_xx{envoy_response_code_class="5",envoy_virtual_host="x"} 1000\n';
  expect(serviceCounters(text)).toEqual({ total: 110, errors: 5 });
  expect(serviceCounters('# TYPE x counter\n')).toEqual({ total: 0, errors: 0 });
});

test('figures from two samples; a replica whose counters went down restarted and counts from 0', () => {
  const before = new Map([
    ['a', { total: 100, errors: 0 }],
    ['b', { total: 500, errors: 50 }],
  ]);
  const after = new Map([
    ['a', { total: 400, errors: 3 }], // +300, +3
    ['b', { total: 60, errors: 6 }], // restarted: 60, 6
    ['c', { total: 999, errors: 999 }], // new: not counted yet
  ]);
  expect(trafficBetween(before, after, 30)).toEqual({
    requestsPerSecond: '12.0',
    errorRatio: '2.5%',
    windowSeconds: 30,
  });
  expect(trafficBetween(before, before, 30)).toEqual({ requestsPerSecond: '0.00', windowSeconds: 30 });
});

test('formats', () => {
  expect([formatRate(0), formatRate(3.14159), formatRate(42.42), formatRate(1234.5)]).toEqual([
    '0.00',
    '3.14',
    '42.4',
    '1235',
  ]);
  expect([formatRatio(0), formatRatio(0.0004), formatRatio(0.25), formatRatio(1)]).toEqual([
    '0.0%',
    '0.04%',
    '25.0%',
    '100.0%',
  ]);
  expect(
    overallTraffic([
      { requestsPerSecond: '10.0', errorRatio: '10.0%', windowSeconds: 30 },
      { requestsPerSecond: '30.0', errorRatio: '0.0%', windowSeconds: 30 },
      { requestsPerSecond: '0.00', windowSeconds: 30 },
    ]),
  ).toEqual({ requestsPerSecond: '40.0', errorRatio: '2.5%' });
  expect(overallTraffic([{ requestsPerSecond: '0.00', windowSeconds: 30 }])).toEqual({
    requestsPerSecond: '0.00',
  });
});

test('the sampler scrapes ready replicas only, through the filtered stats path; a failed replica is left out', async () => {
  let clock = 0;
  const counts: Record<string, number> = { a: 0, b: 0 };
  const asked: string[] = [];
  const sampler = new TrafficSampler({
    log: newLogger('test'),
    windowMs: 10_000,
    now: () => clock,
    scrape: (address, port, path) => {
      asked.push(`${address}:${port}${path}`);
      if (address === 'down') return Promise.reject(new Error('refused'));
      return Promise.resolve(scrape({ 2: counts[address] ?? 0, 5: address === 'b' ? 10 : 0 }));
    },
  });
  const fleet = {
    key: 'g/e',
    port: 9091,
    replicas: [
      { id: 'a', address: 'a', ready: true },
      { id: 'b', address: 'b', ready: true },
      { id: 'x', address: 'down', ready: true },
      { id: 'n', address: 'not-ready', ready: false },
    ],
  };
  expect(await sampler.sample([fleet])).toBe(false); // first sample: nothing to compare yet
  expect(sampler.figures('g/e')).toBeUndefined();
  expect(asked).toEqual([
    `a:9091${TRAFFIC_STATS_PATH}`,
    `b:9091${TRAFFIC_STATS_PATH}`,
    `down:9091${TRAFFIC_STATS_PATH}`,
  ]);
  clock += 10_000;
  counts.a = 150;
  counts.b = 40;
  expect(await sampler.sample([fleet])).toBe(true);
  expect(sampler.figures('g/e')).toEqual({
    requestsPerSecond: '19.0',
    errorRatio: '0.0%',
    windowSeconds: 10,
  });
  clock += 10_000;
  expect(await sampler.sample([fleet])).toBe(true); // no requests now
  expect(sampler.figures('g/e')).toEqual({ requestsPerSecond: '0.00', windowSeconds: 10 });
  expect(await sampler.sample([])).toBe(true); // the fleet went: its figures too
  expect(sampler.figures('g/e')).toBeUndefined();
});
