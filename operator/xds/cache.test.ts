import { SnapshotCache } from './cache.ts';
import { decodeResource } from './protojson.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER } from './protos.ts';
import {
  byName,
  edsCluster,
  httpListener,
  loadAssignment,
  staticCluster,
} from '../../test/support/xds-samples.ts';

describe('SnapshotCache', () => {
  it('encodes each resource with a content version and keeps types that are not given', () => {
    const cache = new SnapshotCache();
    const first = cache.set('f', {
      [TYPE_CLUSTER]: byName([staticCluster('a')]),
      [TYPE_LISTENER]: byName([httpListener('http', 80)]),
    });
    expect(first).toMatchObject({ generation: 1, changed: [TYPE_CLUSTER, TYPE_LISTENER] });
    const a = cache.get('f')?.types.get(TYPE_CLUSTER)?.resources.get('a');
    expect(a?.version).toMatch(/^[0-9a-f]{16}$/);
    expect(decodeResource(TYPE_CLUSTER, a?.bytes ?? Buffer.alloc(0))).toMatchObject({
      name: 'a',
      type: 'STATIC',
    });

    const second = cache.set('f', { [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]) });
    expect(second).toMatchObject({ generation: 2, changed: [TYPE_CLUSTER] });
    expect(cache.get('f')?.types.get(TYPE_LISTENER)?.resources.has('http')).toBe(true);
    expect(cache.get('f')?.types.get(TYPE_CLUSTER)?.resources.get('a')?.version).toBe(a?.version);
  });

  it('reports no change (and keeps the generation) when content is equal, in any order', () => {
    const cache = new SnapshotCache();
    cache.set('f', { [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]) });
    const version = cache.get('f')?.types.get(TYPE_CLUSTER)?.version;
    const again = cache.set('f', { [TYPE_CLUSTER]: byName([staticCluster('b'), staticCluster('a')]) });
    expect(again).toMatchObject({ generation: 1, changed: [] });
    expect(cache.get('f')?.types.get(TYPE_CLUSTER)?.version).toBe(version);
  });

  it('lists the resources that left a set', () => {
    const cache = new SnapshotCache();
    cache.set('f', { [TYPE_CLUSTER]: byName([staticCluster('a'), staticCluster('b')]) });
    const change = cache.set('f', { [TYPE_CLUSTER]: byName([staticCluster('a')]) });
    expect(change.removed.get(TYPE_CLUSTER)?.map((r) => r.name)).toEqual(['b']);
  });

  it('does not re-encode an object passed again under the same name', () => {
    const cache = new SnapshotCache();
    let reads = 0;
    const cluster = new Proxy(staticCluster('a'), {
      get(target, key, receiver): unknown {
        reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    cache.set('f', { [TYPE_CLUSTER]: new Map([['a', cluster]]) });
    expect(reads).toBeGreaterThan(0);
    reads = 0;
    cache.set('f', { [TYPE_CLUSTER]: new Map([['a', cluster]]) });
    expect(reads).toBe(0);
  });

  it('knows which load assignment an EDS cluster needs', () => {
    const cache = new SnapshotCache();
    const named = {
      ...edsCluster('b'),
      eds_cluster_config: { eds_config: { ads: {} }, service_name: 'b-endpoints' },
    };
    cache.set('f', { [TYPE_CLUSTER]: byName([edsCluster('a'), named, staticCluster('s')]) });
    const clusters = cache.get('f')?.types.get(TYPE_CLUSTER)?.resources;
    expect([...(clusters?.values() ?? [])].map((c) => [c.name, c.edsName])).toEqual([
      ['a', 'a'],
      ['b', 'b-endpoints'],
      ['s', undefined],
    ]);
  });

  it('rejects a resource whose name differs from its key, and leaves the snapshot alone', () => {
    const cache = new SnapshotCache();
    cache.set('f', { [TYPE_ENDPOINT]: byName([loadAssignment('a', '198.19.0.1')]) });
    expect(() =>
      cache.set('f', { [TYPE_ENDPOINT]: new Map([['b', loadAssignment('a', '198.19.0.1')]]) }),
    ).toThrow('EDS resource keyed "b" carries name "a"');
    expect([...(cache.get('f')?.types.get(TYPE_ENDPOINT)?.resources.keys() ?? [])]).toEqual(['a']);
  });

  it('rejects an unknown type URL', () => {
    const cache = new SnapshotCache();
    const input = {
      'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration': new Map(),
    } as never;
    expect(() => cache.set('f', input)).toThrow('unsupported type URL');
  });
});
