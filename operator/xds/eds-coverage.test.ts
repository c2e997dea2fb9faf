import { TrackedMap } from '../render/tracked-map.ts';
import { edsCluster, loadAssignment } from '../../test/support/xds-samples.ts';
import { SnapshotCache } from './cache.ts';
import { EdsCoverage } from './eds-coverage.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT } from './protos.ts';
import { TypeState } from './session-state.ts';

/** Clusters a..e accepted by the proxy; load assignments patched through a TrackedMap. */
function setup(): {
  cache: SnapshotCache;
  eds: TrackedMap<object>;
  clusters: TypeState;
  endpoints: TypeState;
  ts: () => { cds: NonNullable<ReturnType<typeof get>>; eds: NonNullable<ReturnType<typeof get>> };
} {
  const cache = new SnapshotCache();
  const cds = new TrackedMap<object>();
  const eds = new TrackedMap<object>();
  for (const n of ['a', 'b', 'c', 'd', 'e']) cds.set(n, edsCluster(n));
  for (const n of ['a', 'b']) eds.set(n, loadAssignment(n, '198.19.0.1'));
  cache.set('f', { [TYPE_CLUSTER]: cds, [TYPE_ENDPOINT]: eds });
  const clusters = new TypeState();
  clusters.subscribed = true;
  for (const r of cache.get('f')!.types.get(TYPE_CLUSTER)!.resources.values())
    clusters.sent.set(r.name, { version: r.version, res: r });
  const endpoints = new TypeState();
  endpoints.subscribed = true;
  endpoints.setNames(['a', 'b'], false);
  const ts = () => ({ cds: get(cache, TYPE_CLUSTER)!, eds: get(cache, TYPE_ENDPOINT)! });
  return { cache, eds, clusters, endpoints, ts };
}
function get(cache: SnapshotCache, t: typeof TYPE_CLUSTER | typeof TYPE_ENDPOINT) {
  return cache.get('f')?.types.get(t);
}

test('a load assignment added for an accepted cluster must be subscribed; a patch re-checks only its users', () => {
  const { cache, eds, clusters, endpoints, ts } = setup();
  const memo = new EdsCoverage();
  const covered = (): boolean => {
    const { cds, eds: e } = ts();
    const value = memo.covered(clusters, cds, e, endpoints);
    expect(new EdsCoverage().covered(clusters, cds, e, endpoints)).toBe(value); // a full read agrees
    return value;
  };
  expect(covered()).toBe(true);
  eds.set('c', loadAssignment('c', '198.19.0.3'));
  cache.set('f', { [TYPE_ENDPOINT]: eds });
  expect(ts().eds.patchOf?.names).toEqual(['c']);
  expect(covered()).toBe(false); // c's endpoints exist, the proxy has not asked for them
  endpoints.setNames(['a', 'b', 'c'], false);
  expect(covered()).toBe(true);
  eds.delete('a');
  eds.set('d', loadAssignment('d', '198.19.0.4'));
  cache.set('f', { [TYPE_ENDPOINT]: eds });
  expect(covered()).toBe(false); // d
  eds.delete('d');
  cache.set('f', { [TYPE_ENDPOINT]: eds });
  expect(covered()).toBe(true);
});
