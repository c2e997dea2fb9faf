import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AdsClient, pollUntil, resourceNames, type AdsResponse } from '../../test/support/ads-client.ts';
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
  httpListener,
  loadAssignment,
  routeTo,
  staticCluster,
  tlsSecret,
} from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import type { AckEvent } from './types.ts';

let server: XdsServer;
let target: string;
const clients: AdsClient[] = [];

beforeEach(async () => {
  server = new XdsServer({ orderingTimeoutMs: 5000 });
  target = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
});

function connect(fleet: string, id = `${fleet}-envoy`): AdsClient {
  const c = new AdsClient(target, 'sotw', { id, cluster: fleet });
  clients.push(c);
  return c;
}

async function expectNext(c: AdsClient, typeUrl: TypeUrl, names: string[]): Promise<AdsResponse> {
  const r = await c.next();
  expect({ type: r.type_url, names: resourceNames(r).sort() }).toEqual({
    type: typeUrl,
    names: [...names].sort(),
  });
  return r;
}

/** Waits until the server has processed every request the client sent so far and ACKed `r`. */
async function acked(c: AdsClient, r: AdsResponse): Promise<void> {
  c.ack(r);
  await server.waitForAck(
    c.node.cluster,
    r.type_url as TypeUrl,
    (e) => e.nonce === r.nonce && e.nodeId === c.node.id,
    5000,
  );
}

const fleetA = {
  [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]),
  [TYPE_LISTENER]: byName([httpListener('http', 8080)]),
  [TYPE_ROUTE]: byName([routeTo('http', ['a', 'b'])]),
  [TYPE_ENDPOINT]: byName([loadAssignment('a', '198.19.0.1'), loadAssignment('b', '198.19.0.2')]),
  [TYPE_SECRET]: byName([tlsSecret('cert', 'v1')]),
};

/** Connects, subscribes to all five types and ACKs the initial responses. */
async function fullySubscribed(fleet = 'a'): Promise<AdsClient> {
  const c = connect(fleet);
  c.subscribe(TYPE_CLUSTER);
  await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'b']));
  c.subscribe(TYPE_ENDPOINT, ['a', 'b']);
  await acked(c, await expectNext(c, TYPE_ENDPOINT, ['a', 'b']));
  c.subscribe(TYPE_SECRET, ['cert']);
  await acked(c, await expectNext(c, TYPE_SECRET, ['cert']));
  c.subscribe(TYPE_LISTENER);
  await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
  c.subscribe(TYPE_ROUTE, ['http']);
  await acked(c, await expectNext(c, TYPE_ROUTE, ['http']));
  return c;
}

describe('state of the world', () => {
  it('serves the initial fetch and records the ACK', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const c = connect('a');
    c.subscribe(TYPE_CLUSTER);
    const r = await expectNext(c, TYPE_CLUSTER, ['a', 'b']);
    expect('version_info' in r && r.version_info).toBe(server.snapshotVersion('a', TYPE_CLUSTER));
    await acked(c, r);
    const [info] = server.connections('a');
    expect(info).toMatchObject({
      nodeId: 'a-envoy',
      fleet: 'a',
      mode: 'sotw',
      acked: { [TYPE_CLUSTER]: server.snapshotVersion('a', TYPE_CLUSTER) },
    });
    expect(info?.lastNack).toBeUndefined();
  });

  it('holds every response until markSynced', async () => {
    server.setSnapshot('a', fleetA);
    const c = connect('a');
    c.subscribe(TYPE_CLUSTER);
    c.subscribe(TYPE_LISTENER);
    // The stream is registered when its first request is handled (synchronously with any push).
    await pollUntil(() => server.connections('a').length === 1, 5000, 'the stream to be registered');
    expect(server.stats().responses).toBe(0);
    expect(c.received).toHaveLength(0);
    server.markSynced();
    c.ack(await expectNext(c, TYPE_CLUSTER, ['a', 'b'])); // listeners wait for clusters to be ACKed
    await expectNext(c, TYPE_LISTENER, ['http']);
  });

  it('records a NACK, reports its message and does not resend until the snapshot changes', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const nacks: AckEvent[] = [];
    server.onNack((e) => nacks.push(e));
    const c = connect('a');
    c.subscribe(TYPE_CLUSTER);
    const first = await expectNext(c, TYPE_CLUSTER, ['a', 'b']);
    c.nack(first, 'cluster a: bad connect_timeout');
    await pollUntil(() => nacks.length === 1, 5000, 'the NACK');
    c.subscribe(TYPE_LISTENER); // a NACK settles clusters: listeners may go
    await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
    expect(nacks[0]).toMatchObject({
      fleet: 'a',
      nodeId: 'a-envoy',
      typeUrl: TYPE_CLUSTER,
      nonce: first.nonce,
      error: 'cluster a: bad connect_timeout',
    });
    expect(nacks[0]?.resourceNames.sort()).toEqual(['a', 'b']);
    expect(server.connections('a')[0]?.lastNack).toMatchObject({
      typeUrl: TYPE_CLUSTER,
      error: 'cluster a: bad connect_timeout',
    });
    expect(server.connections('a')[0]?.acked[TYPE_CLUSTER]).toBeUndefined();

    // A listener change is the next thing the client hears: the NACKed clusters were not resent.
    server.setSnapshot('a', { [TYPE_LISTENER]: byName([httpListener('http', 8081)]) });
    await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
    expect(c.unread).toBe(0);
    // A cluster change is sent again.
    server.setSnapshot('a', {
      [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.0.9'), staticCluster('b')]),
    });
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'b']));
    expect(c.received.filter((r) => r.type_url === TYPE_CLUSTER)).toHaveLength(2);
  });

  it('ignores a request whose nonce is not the latest', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const nacks: AckEvent[] = [];
    server.onNack((e) => nacks.push(e));
    const c = connect('a');
    c.subscribe(TYPE_CLUSTER);
    const first = await expectNext(c, TYPE_CLUSTER, ['a', 'b']);
    await acked(c, first);
    server.setSnapshot('a', { [TYPE_CLUSTER]: byName([staticCluster('a')]) });
    const second = await expectNext(c, TYPE_CLUSTER, ['a']);
    c.nack(first, 'stale complaint'); // refers to the first response: stale
    await acked(c, second); // processed after the stale NACK
    expect(nacks).toEqual([]);
    expect(server.connections('a')[0]?.lastNack).toBeUndefined();
    expect(server.connections('a')[0]?.acked[TYPE_CLUSTER]).toBe(
      'version_info' in second ? second.version_info : '',
    );
  });

  it('pushes only the type that changed', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const c = await fullySubscribed();
    const before = c.received.length;
    server.setSnapshot('a', { ...fleetA, [TYPE_ROUTE]: byName([routeTo('http', ['b', 'a'])]) });
    await acked(c, await expectNext(c, TYPE_ROUTE, ['http']));
    server.setSnapshot('a', { [TYPE_LISTENER]: byName([httpListener('http', 9090)]) });
    await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
    expect(c.received.slice(before).map((r) => r.type_url)).toEqual([TYPE_ROUTE, TYPE_LISTENER]);
  });

  it('sends only load assignments on an EDS change and only secrets on an SDS change', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const c = await fullySubscribed();
    const before = c.received.length;
    const bytesBefore = server.stats().bytesSent;
    server.setSnapshot('a', {
      [TYPE_ENDPOINT]: byName([loadAssignment('a', '198.19.0.7'), loadAssignment('b', '198.19.0.2')]),
    });
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['a', 'b']));
    server.setSnapshot('a', { [TYPE_SECRET]: byName([tlsSecret('cert', 'v2')]) });
    await acked(c, await expectNext(c, TYPE_SECRET, ['cert']));
    // Barrier: a later cluster change arrives next, so nothing else was queued in between.
    server.setSnapshot('a', {
      [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.0.3'), staticCluster('b')]),
    });
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'b']));
    expect(c.received.slice(before).map((r) => r.type_url)).toEqual([
      TYPE_ENDPOINT,
      TYPE_SECRET,
      TYPE_CLUSTER,
    ]);
    const bytes = server.stats().bytesSent;
    expect(bytes[TYPE_LISTENER] - bytesBefore[TYPE_LISTENER]).toBe(0);
    expect(bytes[TYPE_ROUTE] - bytesBefore[TYPE_ROUTE]).toBe(0);
  });

  it('does not push when a snapshot update changes nothing', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const c = await fullySubscribed();
    const responses = server.stats().responses;
    const change = server.setSnapshot('a', {
      [TYPE_CLUSTER]: byName([staticCluster('b'), staticCluster('a')]), // fresh objects, same content
    });
    expect(change.changed).toEqual([]);
    expect(server.stats().responses).toBe(responses);
    expect(c.unread).toBe(0);
  });

  it('keeps fleets apart and serves a fleet only once it has a snapshot', async () => {
    server.markSynced();
    server.setSnapshot('a', { [TYPE_CLUSTER]: byName([staticCluster('a1')]) });
    const a = connect('a');
    const b = connect('b');
    a.subscribe(TYPE_CLUSTER);
    b.subscribe(TYPE_CLUSTER);
    await acked(a, await expectNext(a, TYPE_CLUSTER, ['a1']));
    await pollUntil(() => server.connections('b').length === 1, 5000, 'fleet b to connect');
    expect(b.received).toHaveLength(0);
    expect(
      server
        .connections()
        .map((p) => p.fleet)
        .sort(),
    ).toEqual(['a', 'b']);

    server.setSnapshot('b', { [TYPE_CLUSTER]: byName([staticCluster('b1'), staticCluster('b2')]) });
    await acked(b, await expectNext(b, TYPE_CLUSTER, ['b1', 'b2']));
    server.setSnapshot('a', { [TYPE_CLUSTER]: byName([staticCluster('a2')]) });
    await acked(a, await expectNext(a, TYPE_CLUSTER, ['a2']));
    server.setSnapshot('b', { [TYPE_CLUSTER]: byName([staticCluster('b3')]) });
    await acked(b, await expectNext(b, TYPE_CLUSTER, ['b3']));
    expect(b.received.flatMap(resourceNames).some((n) => n.startsWith('a'))).toBe(false);
    expect(a.received.flatMap(resourceNames).some((n) => n.startsWith('b'))).toBe(false);
  });

  it('serves several proxies of one fleet and gives a reconnecting proxy the current state', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const one = connect('a', 'one');
    const two = connect('a', 'two');
    for (const c of [one, two]) {
      c.subscribe(TYPE_CLUSTER);
      await acked(c, await expectNext(c, TYPE_CLUSTER, ['a', 'b']));
    }
    server.setSnapshot('a', { [TYPE_CLUSTER]: byName([staticCluster('c')]) });
    for (const c of [one, two]) await acked(c, await expectNext(c, TYPE_CLUSTER, ['c']));

    one.close();
    await pollUntil(() => server.connections('a').length === 1, 5000, 'the closed stream to be dropped');
    server.setSnapshot('a', { [TYPE_CLUSTER]: byName([staticCluster('d')]) });
    const again = connect('a', 'one');
    again.subscribe(TYPE_CLUSTER);
    await acked(again, await expectNext(again, TYPE_CLUSTER, ['d']));
    expect(
      server
        .connections('a')
        .map((p) => p.nodeId)
        .sort(),
    ).toEqual(['one', 'two']);
  });

  it('rejects an invalid snapshot without changing the served one', () => {
    server.setSnapshot('a', fleetA);
    const version = server.snapshotVersion('a', TYPE_CLUSTER);
    expect(() =>
      server.setSnapshot('a', {
        [TYPE_CLUSTER]: byName([staticCluster('x'), { name: 'y', lb_policy: 'NOPE' }]),
      }),
    ).toThrow(
      /setSnapshot\(a\): CDS resource "y": \$\.lb_policy: .*"NOPE" \(unknown value; one of ROUND_ROBIN,/,
    );
    expect(server.snapshotVersion('a', TYPE_CLUSTER)).toBe(version);
  });

  it('ends open streams on close', async () => {
    server.setSnapshot('a', fleetA);
    server.markSynced();
    const c = connect('a');
    c.subscribe(TYPE_CLUSTER);
    await expectNext(c, TYPE_CLUSTER, ['a', 'b']);
    await server.close();
    await expect(c.next(5000)).rejects.toThrow('stream ended by server');
    expect(server.connections()).toEqual([]);
  });

  it('listens on a unix socket', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kgw-xds-'));
    try {
      const sock = `unix:${path.join(dir, 'ads.sock')}`;
      expect(await server.listen(sock)).toBe(0);
      server.setSnapshot('a', fleetA);
      server.markSynced();
      const c = new AdsClient(sock, 'sotw', { id: 'u', cluster: 'a' });
      clients.push(c);
      c.subscribe(TYPE_LISTENER);
      await expectNext(c, TYPE_LISTENER, ['http']);
    } finally {
      for (const c of clients.splice(0)) c.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
