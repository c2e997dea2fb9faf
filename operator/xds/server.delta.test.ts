import {
  AdsClient,
  isDelta,
  pollUntil,
  resourceNames,
  type AdsResponse,
} from '../../test/support/ads-client.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, type TypeUrl } from './protos.ts';
import { byName, httpListener, loadAssignment, staticCluster } from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import type { AckEvent } from './types.ts';
import type { DeltaResponse } from './wire.ts';

let server: XdsServer;
let target: string;
const clients: AdsClient[] = [];

beforeEach(async () => {
  server = new XdsServer();
  target = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  server.markSynced();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
});

function connect(id = 'envoy'): AdsClient {
  const c = new AdsClient(target, 'delta', { id, cluster: 'f' });
  clients.push(c);
  return c;
}

async function expectNext(
  c: AdsClient,
  typeUrl: TypeUrl,
  names: string[],
  removed: string[] = [],
): Promise<DeltaResponse> {
  const r = await c.next();
  if (!isDelta(r)) throw new Error('expected a delta response');
  expect({
    type: r.type_url,
    names: resourceNames(r).sort(),
    removed: [...r.removed_resources].sort(),
  }).toEqual({
    type: typeUrl,
    names: [...names].sort(),
    removed: [...removed].sort(),
  });
  return r;
}

async function acked(c: AdsClient, r: AdsResponse): Promise<void> {
  c.ack(r);
  await server.waitForAck(
    'f',
    r.type_url as TypeUrl,
    (e) => e.nonce === r.nonce && e.nodeId === c.node.id,
    5000,
  );
}

const versions = (r: DeltaResponse): Record<string, string> =>
  Object.fromEntries(r.resources.map((x) => [x.name, x.version]));

describe('delta xDS', () => {
  it('sends the initial set, then only changed resources, then removals', async () => {
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]) });
    const c = connect();
    c.subscribe(TYPE_CLUSTER); // no names on the first CDS request: wildcard
    const first = await expectNext(c, TYPE_CLUSTER, ['a', 'b']);
    expect(first.system_version_info).toBe(server.snapshotVersion('f', TYPE_CLUSTER));
    await acked(c, first);

    server.setSnapshot('f', {
      [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.9.9'), staticCluster('b')]),
    });
    const update = await expectNext(c, TYPE_CLUSTER, ['a']);
    expect(versions(update).a).not.toBe(versions(first).a);
    await acked(c, update);

    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.9.9')]) });
    await acked(c, await expectNext(c, TYPE_CLUSTER, [], ['b']));
    expect(server.connections('f')[0]).toMatchObject({
      mode: 'delta',
      acked: { [TYPE_CLUSTER]: server.snapshotVersion('f', TYPE_CLUSTER) },
    });
  });

  it('on reconnect sends only what differs from initial_resource_versions', async () => {
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]) });
    const first = connect('one');
    first.subscribe(TYPE_CLUSTER);
    const had = versions(await expectNext(first, TYPE_CLUSTER, ['a', 'b']));
    first.close();
    await pollUntil(() => server.connections('f').length === 0, 5000, 'the stream to close');

    server.setSnapshot('f', {
      [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.1.1'), staticCluster('b'), staticCluster('c')]),
    });
    const again = connect('one');
    again.subscribe(TYPE_CLUSTER, [], { ...had, gone: 'v0' });
    const resent = await expectNext(again, TYPE_CLUSTER, ['a', 'c'], ['gone']);
    await acked(again, resent);

    // A proxy that is already current gets an empty answer (so its initial fetch completes).
    const current = connect('two');
    current.subscribe(TYPE_CLUSTER, [], { ...had, ...versions(resent) });
    await expectNext(current, TYPE_CLUSTER, []);
  });

  it('follows explicit subscribe and unsubscribe of names', async () => {
    server.setSnapshot('f', {
      [TYPE_ENDPOINT]: byName([
        loadAssignment('a', '198.19.0.1'),
        loadAssignment('b', '198.19.0.2'),
        loadAssignment('c', '198.19.0.3'),
      ]),
      [TYPE_LISTENER]: byName([httpListener('http', 8080)]),
    });
    const c = connect();
    c.subscribe(TYPE_ENDPOINT, ['a']);
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['a']));
    c.subscribe(TYPE_ENDPOINT, ['b']);
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['b']));
    // Unsubscribing sends no removal; the answer to the subscription in the same request is just c.
    c.send({ type_url: TYPE_ENDPOINT, resource_names_subscribe: ['c'], resource_names_unsubscribe: ['a'] });
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['c']));
    server.setSnapshot('f', {
      [TYPE_ENDPOINT]: byName([
        loadAssignment('a', '198.19.0.8'),
        loadAssignment('b', '198.19.0.9'),
        loadAssignment('c', '198.19.0.3'),
      ]),
    });
    await acked(c, await expectNext(c, TYPE_ENDPOINT, ['b']));
    // Barrier: the listener subscription is answered next, so no removal of "a" was queued.
    c.subscribe(TYPE_LISTENER);
    await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
    expect(c.unread).toBe(0);
  });

  it('records a NACK and does not resend the rejected resources until they change', async () => {
    server.setSnapshot('f', {
      [TYPE_CLUSTER]: byName([staticCluster('a')]),
      [TYPE_LISTENER]: byName([httpListener('http', 8080)]),
    });
    const nacks: AckEvent[] = [];
    server.onNack((e) => nacks.push(e));
    const c = connect();
    c.subscribe(TYPE_CLUSTER);
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['a']));
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.6.6')]) });
    c.nack(await expectNext(c, TYPE_CLUSTER, ['a']), 'cluster a: rejected');
    await pollUntil(() => nacks.length === 1, 5000, 'the NACK');
    expect(nacks[0]).toMatchObject({
      typeUrl: TYPE_CLUSTER,
      resourceNames: ['a'],
      removed: [],
      error: 'cluster a: rejected',
    });
    expect(server.connections('f')[0]?.lastNack?.error).toBe('cluster a: rejected');

    c.subscribe(TYPE_LISTENER);
    await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a', '198.19.7.7')]) });
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['a']));
    expect(c.received.map((r) => r.type_url)).toEqual([
      TYPE_CLUSTER,
      TYPE_CLUSTER,
      TYPE_LISTENER,
      TYPE_CLUSTER,
    ]);
  });

  it('after a NACK, an innocent resource of the rejected response is sent again with the next snapshot', async () => {
    // Envoy rejects a delta response as a whole and keeps what it had: a resource that came in it
    // unchanged since (here b, rejected together with a bad a) must go again, or Envoy never gets it.
    server.setSnapshot('f', {
      [TYPE_CLUSTER]: byName([staticCluster('z')]),
      [TYPE_LISTENER]: byName([httpListener('http', 8080)]),
    });
    const c = connect();
    c.subscribe(TYPE_CLUSTER);
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['z']));
    server.setSnapshot('f', {
      [TYPE_CLUSTER]: byName([staticCluster('z'), staticCluster('a', '198.19.6.6'), staticCluster('b')]),
    });
    c.nack(await expectNext(c, TYPE_CLUSTER, ['a', 'b']), 'cluster a: rejected');
    // the same content is not sent again by itself (it would only be rejected again) ...
    c.subscribe(TYPE_LISTENER);
    await acked(c, await expectNext(c, TYPE_LISTENER, ['http']));
    expect(c.unread).toBe(0);
    // ... but the next snapshot is sent against what Envoy kept: b again, though unchanged
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('z'), staticCluster('b')]) });
    await acked(c, await expectNext(c, TYPE_CLUSTER, ['b']));
    expect(server.connections('f')[0]?.lastNack?.resourceNames).toEqual(['a', 'b']);
  });

  it('removes a listener at once', async () => {
    server.setSnapshot('f', {
      [TYPE_LISTENER]: byName([httpListener('one', 8080), httpListener('two', 8081)]),
    });
    const c = connect();
    c.subscribe(TYPE_LISTENER);
    await acked(c, await expectNext(c, TYPE_LISTENER, ['one', 'two']));
    server.setSnapshot('f', { [TYPE_LISTENER]: byName([httpListener('one', 8080)]) });
    await acked(c, await expectNext(c, TYPE_LISTENER, [], ['two']));
  });
});

describe('mixed streams', () => {
  it('serves SotW and delta proxies of one fleet from the same snapshot', async () => {
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a')]) });
    const delta = connect('delta');
    const sotw = new AdsClient(target, 'sotw', { id: 'sotw', cluster: 'f' });
    clients.push(sotw);
    delta.subscribe(TYPE_CLUSTER);
    sotw.subscribe(TYPE_CLUSTER);
    await acked(delta, await expectNext(delta, TYPE_CLUSTER, ['a']));
    await acked(sotw, await sotw.next());
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]) });
    await acked(delta, await expectNext(delta, TYPE_CLUSTER, ['b']));
    const full = await sotw.next();
    expect(resourceNames(full).sort()).toEqual(['a', 'b']);
    await acked(sotw, full);
    expect(
      server
        .connections('f')
        .map((p) => p.mode)
        .sort(),
    ).toEqual(['delta', 'sotw']);
  });

  it('rejects waitForAck after its timeout, naming what it waited for', async () => {
    server.setSnapshot('f', { [TYPE_CLUSTER]: byName([staticCluster('a')]) });
    await expect(server.waitForAck('f', TYPE_CLUSTER, 'nope', 50)).rejects.toThrow(
      'no CDS ACK matching version nope from fleet f within 50 ms',
    );
  });
});
