import { NackGuard } from './nack-guard.ts';

const m = (...keys: string[]) => new Map(keys.map((k) => [k, `${k}@v`]));

test('a NACK blames the KIngresses changed since the last ACK of that fleet and type', () => {
  const g = new NackGuard<string>();
  g.pushed('gw/ext', 'route', 'v1', m('ns/a'));
  expect([...g.acked('gw/ext', 'route', 'v1').keys()]).toEqual(['ns/a']);
  g.pushed('gw/ext', 'route', 'v2', m('ns/b'));
  g.pushed('gw/ext', 'route', 'v3', m('ns/c'));
  g.pushed('gw/ext', 'cluster', 'c1', m('ns/z'));
  expect([...g.nacked('gw/ext', 'route', 'v3').keys()].sort()).toEqual(['ns/b', 'ns/c']);
  // the other type's pending push is untouched
  expect([...g.acked('gw/ext', 'cluster', 'c1').keys()]).toEqual(['ns/z']);
  // nothing left to blame
  expect(g.nacked('gw/ext', 'route', 'v3').size).toBe(0);
});

test('fleets are independent and an unknown version blames nobody', () => {
  const g = new NackGuard<string>();
  g.pushed('gw/ext', 'route', 'v1', m('ns/a'));
  g.pushed('gw/local', 'route', 'v1', m('ns/b'));
  expect([...g.nacked('gw/local', 'route', 'v1').keys()]).toEqual(['ns/b']);
  expect(g.nacked('gw/ext', 'route', 'nope').size).toBe(0);
  expect([...g.acked('gw/ext', 'route', 'v1').keys()]).toEqual(['ns/a']);
});

test('an ACK of a later version confirms everything before it; forget drops a key', () => {
  const g = new NackGuard<string>();
  g.pushed('f', 't', 'v1', m('a'));
  g.pushed('f', 't', 'v2', m('b'));
  g.pushed('f', 't', 'v2', m('c')); // same version: merged
  g.forget('b');
  expect([...g.acked('f', 't', 'v2').keys()].sort()).toEqual(['a', 'c']);
});

test('a change pending in two types of a fleet is confirmed only when both accepted it', () => {
  const g = new NackGuard<string>();
  const change = m('ns/a', 'ns/b');
  g.pushed('f', 'cluster', 'c1', change);
  g.pushed('f', 'route', 'r1', change);
  g.pushed('other', 'route', 'r1', m('ns/a'));
  // the new clusters are accepted: nothing confirmed while the routes are still pending
  expect(g.acked('f', 'cluster', 'c1').size).toBe(0);
  // … and the routes rejected: both are suspects (and were never confirmed)
  expect([...g.nacked('f', 'route', 'r1').keys()].sort()).toEqual(['ns/a', 'ns/b']);

  g.pushed('f', 'cluster', 'c2', m('ns/c'));
  g.pushed('f', 'route', 'r2', m('ns/c'));
  expect(g.acked('f', 'route', 'r2').size).toBe(0);
  expect([...g.acked('f', 'cluster', 'c2').keys()]).toEqual(['ns/c']);
  // another fleet's pending change does not hold this fleet's back
  expect([...g.acked('other', 'route', 'r1').keys()]).toEqual(['ns/a']);
});

test('only the same value pending in another type holds a confirmation back', () => {
  const g = new NackGuard<string>();
  g.pushed('f', 'cluster', 'c1', new Map([['a', 'a@1']]));
  g.pushed('f', 'route', 'r1', new Map([['a', 'a@2']]));
  expect([...g.acked('f', 'cluster', 'c1').entries()]).toEqual([['a', 'a@1']]);
});
