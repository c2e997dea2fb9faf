import { CachedResource, SnapshotCache } from './cache.ts';
import { TrackedMap } from '../render/tracked-map.ts';
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

  it("holds a resource's encoding once: bytes become a view of the wire chunk built from them", () => {
    const encoded = (name = 'a') => {
      const cache = new SnapshotCache();
      cache.set('f', { [TYPE_CLUSTER]: byName([staticCluster(name)]) });
      return cache.get('f')!.types.get(TYPE_CLUSTER)!.resources.get(name)!;
    };
    // a name of 200 bytes takes a two-byte length on the wire
    for (const name of ['a', 'x'.repeat(200)]) {
      for (const chunkOf of [(r: CachedResource) => r.deltaChunk, (r: CachedResource) => r.sotwChunk]) {
        const r = encoded(name);
        const copy = Buffer.from(r.bytes);
        const chunk = chunkOf(r);
        expect(r.bytes.buffer === chunk.buffer).toBe(true); // a view, no second copy
        expect(r.bytes.equals(copy)).toBe(true);
        expect(decodeResource(TYPE_CLUSTER, r.bytes)).toMatchObject({ name, type: 'STATIC' });
      }
    }
    // an identical resource re-encoded from a new object takes over the chunks, and views them too
    const before = encoded();
    const chunk = before.deltaChunk;
    const again = new CachedResource(TYPE_CLUSTER, 'a', staticCluster('a'), Buffer.from(before.bytes));
    again.adoptChunks(before);
    expect(again.deltaChunk).toBe(chunk);
    expect(again.bytes.buffer === chunk.buffer).toBe(true);
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
      'type.googleapis.com/envoy.config.route.v3.VirtualHost': new Map(),
    } as never;
    expect(() => cache.set('f', input)).toThrow('unsupported type URL');
  });
});

describe('SnapshotCache with a change-logged map (render/tracked-map.ts)', () => {
  /** A TrackedMap that counts walks over it: a change must not walk the set. */
  class CountingMap<V> extends TrackedMap<V> {
    walks = 0;
    override entries(): MapIterator<[string, V]> {
      this.walks++;
      return super.entries();
    }
    override [Symbol.iterator](): MapIterator<[string, V]> {
      this.walks++;
      return super[Symbol.iterator]();
    }
    override values(): MapIterator<V> {
      this.walks++;
      return super.values();
    }
    override keys(): MapIterator<string> {
      this.walks++;
      return super.keys();
    }
  }
  const clusters = (names: string[]): CountingMap<object> => {
    const m = new CountingMap<object>();
    for (const n of names) m.set(n, staticCluster(n));
    return m;
  };

  it('once seen, a change reads only the names it touched, and the snapshot equals a full update', () => {
    const cache = new SnapshotCache();
    const live = clusters(['a', 'b', 'c']);
    cache.set('f', { [TYPE_CLUSTER]: live });
    const v1 = cache.get('f')?.types.get(TYPE_CLUSTER)?.version;
    live.walks = 0;
    live.set('b', edsCluster('b'));
    live.delete('c');
    live.set('d', staticCluster('d'));
    const change = cache.set('f', { [TYPE_CLUSTER]: live });
    expect(live.walks).toBe(0);
    expect(change).toMatchObject({ generation: 2, changed: [TYPE_CLUSTER] });
    expect(change.removed.get(TYPE_CLUSTER)?.map((r) => r.name)).toEqual(['c']);
    const ts = cache.get('f')?.types.get(TYPE_CLUSTER);
    expect(ts?.version).not.toBe(v1);
    const full = new SnapshotCache();
    full.set('f', { [TYPE_CLUSTER]: new Map(live) });
    const fullTs = full.get('f')?.types.get(TYPE_CLUSTER);
    const versions = (m: ReadonlyMap<string, { version: string }> | undefined) =>
      [...(m ?? [])].map(([n, r]) => `${n}=${r.version}`).sort();
    expect(versions(ts?.resources)).toEqual(versions(fullTs?.resources));
  });

  it('touched names that end as they were change nothing (same generation and set version)', () => {
    const cache = new SnapshotCache();
    const live = clusters(['a', 'b']);
    cache.set('f', { [TYPE_CLUSTER]: live });
    const v1 = cache.get('f')?.types.get(TYPE_CLUSTER)?.version;
    live.set('a', staticCluster('a')); // a new object with the same content
    live.set('x', staticCluster('x'));
    live.delete('x');
    expect(cache.set('f', { [TYPE_CLUSTER]: live })).toMatchObject({ generation: 1, changed: [] });
    expect(cache.get('f')?.types.get(TYPE_CLUSTER)?.version).toBe(v1);
  });

  it('an invalid resource throws and changes nothing; the next update still sees every change', () => {
    const cache = new SnapshotCache();
    const live = clusters(['a', 'b']);
    cache.set('f', { [TYPE_CLUSTER]: live });
    live.delete('b');
    live.set('bad', { name: 'bad', lb_policy: 'NOPE' });
    expect(() => cache.set('f', { [TYPE_CLUSTER]: live })).toThrow(/CDS resource "bad"/);
    expect([...(cache.get('f')?.types.get(TYPE_CLUSTER)?.resources.keys() ?? [])].sort()).toEqual(['a', 'b']);
    live.delete('bad');
    const change = cache.set('f', { [TYPE_CLUSTER]: live });
    expect(change.removed.get(TYPE_CLUSTER)?.map((r) => r.name)).toEqual(['b']);
    expect([...(cache.get('f')?.types.get(TYPE_CLUSTER)?.resources.keys() ?? [])]).toEqual(['a']);
  });

  it('another map object, or changes the log no longer knows, are read in full', () => {
    const cache = new SnapshotCache();
    const live = clusters(['a']);
    cache.set('f', { [TYPE_CLUSTER]: live });
    const other = clusters(['a', 'z']);
    cache.set('f', { [TYPE_CLUSTER]: other });
    expect(other.walks).toBeGreaterThan(0);
    expect([...(cache.get('f')?.types.get(TYPE_CLUSTER)?.resources.keys() ?? [])].sort()).toEqual(['a', 'z']);
    // back to the first map, changed meanwhile: not the map last seen, so read in full
    for (let i = 0; i < 3000; i++) live.set(`n${i % 1500}`, staticCluster(`n${i % 1500}`));
    live.walks = 0;
    cache.set('f', { [TYPE_CLUSTER]: live });
    expect(live.walks).toBeGreaterThan(0);
    expect(cache.get('f')?.types.get(TYPE_CLUSTER)?.resources.size).toBe(1501);
  });
});
