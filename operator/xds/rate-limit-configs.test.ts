// The RateLimitConfigs of Global fleets, served by the real xDS server to a client that speaks
// like envoyproxy/ratelimit (SotW, node.id = the fleet, no node.cluster).
import { AdsClient, decodedResources, resourceNames } from '../../test/support/ads-client.ts';
import type { TypeUrl } from './protos.ts';
import { TYPE_RATE_LIMIT_CONFIG } from './rate-limit-configs.ts';
import { XdsServer } from './server.ts';

const TYPE = TYPE_RATE_LIMIT_CONFIG as TypeUrl;
let server: XdsServer;
let target: string;
const clients: AdsClient[] = [];

beforeEach(async () => {
  server = new XdsServer();
  target = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
});

function rateLimitService(fleet: string): AdsClient {
  const c = new AdsClient(target, 'sotw', { id: fleet, cluster: '' });
  clients.push(c);
  c.subscribe(TYPE);
  return c;
}

const config = (policy: string, requests: number) => ({
  name: `kgw/${policy}`,
  domain: `kgw/${policy}`,
  descriptors: [
    {
      key: 'rule',
      value: '0_host',
      descriptors: [{ key: 'host', rate_limit: { unit: 'MINUTE', requests_per_unit: requests } }],
    },
  ],
});

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error(`${what}: not reached in 2 s`);
}

test("a rate-limit service gets its fleet's configs (node.id names the fleet), ACKs, and each change", async () => {
  expect(server.setRateLimitConfigs('gw/a', new Map([['kgw/ns/p', config('ns/p', 4)]]))).toBe(true);
  server.setRateLimitConfigs('gw/b', new Map([['kgw/ns/q', config('ns/q', 9)]]));
  const c = rateLimitService('gw/a');
  const first = await c.next();
  expect(first.type_url).toBe(TYPE_RATE_LIMIT_CONFIG);
  expect(decodedResources(first)).toEqual([config('ns/p', 4)]);
  c.ack(first);
  const version = 'version_info' in first ? first.version_info : '';
  await until(() => server.rateLimitServices('gw/a')[0]?.acked === version, 'ACK recorded');
  expect(server.connections()).toEqual([]); // not an Envoy

  // the same set again: no new version, nothing sent
  expect(server.setRateLimitConfigs('gw/a', new Map([['kgw/ns/p', config('ns/p', 4)]]))).toBe(false);
  await expect(c.next(300)).rejects.toThrow();

  // a change: the complete new set
  server.setRateLimitConfigs(
    'gw/a',
    new Map([
      ['kgw/ns/p', config('ns/p', 5)],
      ['kgw/ns/r', config('ns/r', 1)],
    ]),
  );
  const second = await c.next();
  expect('version_info' in second && second.version_info).not.toBe(version);
  expect(resourceNames(second)).toEqual(['kgw/ns/p', 'kgw/ns/r']);
  expect(decodedResources(second)[0]).toEqual(config('ns/p', 5));
});

test('a NACK is kept for the stream until the next ACK; an invalid config throws and changes nothing', async () => {
  server.setRateLimitConfigs('gw/a', new Map([['kgw/ns/p', config('ns/p', 4)]]));
  const c = rateLimitService('gw/a');
  const first = await c.next();
  c.nack(first, 'duplicate domain');
  await until(() => server.rateLimitServices('gw/a')[0]?.lastNack === 'duplicate domain', 'NACK recorded');

  expect(() =>
    server.setRateLimitConfigs(
      'gw/a',
      new Map([['bad', { name: 'bad', descriptors: [{ rate_limit: { unit: 'FORTNIGHT' } }] }]]),
    ),
  ).toThrow(/rate-limit configuration bad of fleet gw\/a/);
  await expect(c.next(300)).rejects.toThrow(); // still the first version

  server.setRateLimitConfigs('gw/a', new Map());
  const empty = await c.next();
  expect(resourceNames(empty)).toEqual([]);
  c.ack(empty);
  await until(() => server.rateLimitServices('gw/a')[0]?.lastNack === undefined, 'NACK cleared');
});

test('a service of a fleet without configs waits (nothing is sent before kgw knows the limits)', async () => {
  const c = rateLimitService('gw/none');
  await expect(c.next(300)).rejects.toThrow();
  server.setRateLimitConfigs('gw/none', new Map([['kgw/ns/p', config('ns/p', 2)]]));
  expect(resourceNames(await c.next())).toEqual(['kgw/ns/p']);
});
