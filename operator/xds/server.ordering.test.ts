import {
  AdsClient,
  decodedResources,
  isDelta,
  resourceNames,
  type AdsResponse,
} from '../../test/support/ads-client.ts';
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SECRET,
  type TypeUrl,
} from './protos.ts';
import {
  byName,
  edsCluster,
  httpListener,
  loadAssignment,
  routeTo,
  tlsSecret,
} from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import type { StreamMode } from './types.ts';

let server: XdsServer;
let target: string;
const clients: AdsClient[] = [];

async function start(orderingTimeoutMs = 5000): Promise<void> {
  server = new XdsServer({ orderingTimeoutMs });
  target = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
});

function connect(mode: StreamMode): AdsClient {
  const c = new AdsClient(target, mode, { id: `${mode}-envoy`, cluster: 'f' });
  clients.push(c);
  return c;
}

interface Seen {
  type: string;
  names: string[];
  removed: string[];
}

function seen(r: AdsResponse): Seen {
  return {
    type: r.type_url,
    names: resourceNames(r).sort(),
    removed: isDelta(r) ? [...r.removed_resources].sort() : [],
  };
}

async function expectNext(
  c: AdsClient,
  typeUrl: TypeUrl,
  names: string[],
  removed: string[] = [],
): Promise<AdsResponse> {
  const r = await c.next();
  expect(seen(r)).toEqual({ type: typeUrl, names: [...names].sort(), removed: [...removed].sort() });
  return r;
}

async function acked(c: AdsClient, r: AdsResponse): Promise<void> {
  c.ack(r);
  await server.waitForAck('f', r.type_url as TypeUrl, (e) => e.nonce === r.nonce, 5000);
}

const generation1 = {
  [TYPE_CLUSTER]: byName([edsCluster('a'), edsCluster('b')]),
  [TYPE_ENDPOINT]: byName([loadAssignment('a', '198.19.0.1'), loadAssignment('b', '198.19.0.2')]),
  [TYPE_LISTENER]: byName([httpListener('http', 8080)]),
  [TYPE_ROUTE]: byName([routeTo('http', ['a', 'b'])]),
};

/** Cluster b is replaced by c, and the routes move from b to c. */
const generation2 = {
  [TYPE_CLUSTER]: byName([edsCluster('a'), edsCluster('c')]),
  [TYPE_ENDPOINT]: byName([loadAssignment('a', '198.19.0.1'), loadAssignment('c', '198.19.0.3')]),
  [TYPE_ROUTE]: byName([routeTo('http', ['a', 'c'])]),
};

async function subscribeAll(c: AdsClient): Promise<void> {
  c.subscribe(TYPE_CLUSTER);
  await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'b']));
  c.subscribe(TYPE_ENDPOINT, ['a', 'b']);
  await acked(c, await expectNext(c, TYPE_ENDPOINT, ['a', 'b']));
  c.subscribe(TYPE_LISTENER);
  await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
  c.subscribe(TYPE_ROUTE, ['http']);
  await acked(c, await expectNext(c, TYPE_ROUTE, ['http']));
}

function routedClusters(r: AdsResponse): string[] {
  const [config] = decodedResources(r) as { virtual_hosts: { routes: { route: { cluster: string } }[] }[] }[];
  return (config?.virtual_hosts ?? []).flatMap((vh) => vh.routes.map((x) => x.route.cluster)).sort();
}

describe('make-before-break', () => {
  it('SotW: adds clusters before routes use them and removes one only after routes stop using it', async () => {
    await start();
    server.setSnapshot('f', generation1);
    server.markSynced();
    const c = connect('sotw');
    await subscribeAll(c);
    const routesSent = (): number => server.stats().resourcesSent[TYPE_ROUTE];
    const routesBefore = routesSent();

    server.setSnapshot('f', generation2);
    // New cluster c arrives first, removed cluster b is still there; routes are held.
    const cds = await expectNext(c, TYPE_CLUSTER, ['a', 'b', 'c']);
    expect(routesSent()).toBe(routesBefore);
    await acked(c, cds);
    // Clusters ACKed, but c's endpoints are not subscribed yet (Envoy is warming c): still held.
    expect(routesSent()).toBe(routesBefore);
    c.subscribe(TYPE_ENDPOINT, ['a', 'b', 'c']);
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['a', 'b', 'c']));
    // Now the routes move to c.
    const rds = await expectNext(c, TYPE_ROUTE, ['http']);
    expect(routedClusters(rds)).toEqual(['a', 'c']);
    await acked(c, rds);
    // Only after the routes were ACKed does b leave, then its endpoints.
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'c']));
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['a', 'c']));
    expect(c.received.slice(4).map((r) => r.type_url)).toEqual([
      TYPE_CLUSTER,
      TYPE_ENDPOINT,
      TYPE_ROUTE,
      TYPE_CLUSTER,
      TYPE_ENDPOINT,
    ]);
  });

  it('delta: same order, with removals sent only after the routes were ACKed', async () => {
    await start();
    server.setSnapshot('f', generation1);
    server.markSynced();
    const c = connect('delta');
    await subscribeAll(c);

    server.setSnapshot('f', generation2);
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['c']));
    c.subscribe(TYPE_ENDPOINT, ['c']);
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['c']));
    const rds = await expectNext(c, TYPE_ROUTE, ['http']);
    expect(routedClusters(rds)).toEqual(['a', 'c']);
    await acked(c, rds);
    await acked(c, await expectNext(c, TYPE_CLUSTER, [], ['b']));
    await acked(c, await expectNext(c, TYPE_ENDPOINT, [], ['b']));
    expect(c.received.slice(4).map((r) => r.type_url)).toEqual([
      TYPE_CLUSTER,
      TYPE_ENDPOINT,
      TYPE_ROUTE,
      TYPE_CLUSTER,
      TYPE_ENDPOINT,
    ]);
  });

  it('keeps a removed secret until the listeners of that generation are ACKed', async () => {
    await start();
    server.setSnapshot('f', {
      [TYPE_LISTENER]: byName([httpListener('https', 8443)]),
      [TYPE_SECRET]: byName([tlsSecret('s1', 'one')]),
    });
    server.markSynced();
    const c = connect('sotw');
    c.subscribe(TYPE_LISTENER);
    await acked(c, await expectNext(c, TYPE_LISTENER, ['https']));
    c.subscribe(TYPE_SECRET, ['s1']);
    await acked(c, await expectNext(c, TYPE_SECRET, ['s1']));

    server.setSnapshot('f', {
      [TYPE_LISTENER]: byName([httpListener('https', 9443)]),
      [TYPE_SECRET]: byName([tlsSecret('s2', 'two')]),
    });
    const lds = await expectNext(c, TYPE_LISTENER, ['https']);
    c.subscribe(TYPE_SECRET, ['s1', 's2']); // the new listener asks for s2 while the old one still uses s1
    await acked(c, await expectNext(c, TYPE_SECRET, ['s1', 's2']));
    await acked(c, lds);
    await acked(c, await expectNext(c, TYPE_SECRET, ['s2']));
  });

  it('releases held routes after the ordering timeout when endpoints are never requested', async () => {
    await start(200);
    server.setSnapshot('f', generation1);
    server.markSynced();
    const c = connect('sotw');
    await subscribeAll(c);
    server.setSnapshot('f', generation2);
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'b', 'c']));
    // No EDS subscription for c ever comes; the routes still arrive (after the timeout).
    const rds = await expectNext(c, TYPE_ROUTE, ['http']);
    expect(routedClusters(rds)).toEqual(['a', 'c']);
  });

  it.each(['sotw', 'delta'] as const)(
    '%s: re-sends the unchanged load assignment of a modified EDS cluster (Envoy re-warms it)',
    async (mode) => {
      await start();
      server.setSnapshot('f', generation1);
      server.markSynced();
      const c = connect(mode);
      await subscribeAll(c);
      server.setSnapshot('f', { [TYPE_CLUSTER]: byName([edsCluster('a', '2s'), edsCluster('b')]) });
      await acked(c, await expectNext(c, TYPE_CLUSTER, mode === 'sotw' ? ['a', 'b'] : ['a']));
      const eds = await expectNext(c, TYPE_ENDPOINT, mode === 'sotw' ? ['a', 'b'] : ['a']);
      await acked(c, eds);
      // Endpoint-only changes afterwards are unaffected: nothing else is queued.
      server.setSnapshot('f', {
        [TYPE_ENDPOINT]: byName([loadAssignment('a', '198.19.0.5'), loadAssignment('b', '198.19.0.2')]),
      });
      await acked(c, await expectNext(c, TYPE_ENDPOINT, mode === 'sotw' ? ['a', 'b'] : ['a']));
      expect(c.unread).toBe(0);
    },
  );
});
