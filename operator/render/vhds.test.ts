// VHDS form of the route tables: the route configurations without vhosts, every vhost its own
// resource named `<route configuration>/<vhost with / written ~>` (Envoy files a vhost under the
// part before the last `/`), the same vhost objects at every call (the xDS cache encodes once).
import { asVhdsVhost, splitRouteTables, vhdsName, vhdsRouteConfig } from './vhds.ts';

describe('VHDS', () => {
  test('names: one `/`, after the route configuration', () => {
    expect(vhdsName('http', 'ns/hello/hello_ns_example_com')).toBe('http/ns~hello~hello_ns_example_com');
    expect(vhdsName('https', 'a/b/c').split('/')).toEqual(['https', 'a~b~c']);
  });

  test('splitRouteTables: stubs naming vhds, and the vhosts in the same order', () => {
    const a = { name: 'ns/a/a_example_com', domains: ['a.example.com'], routes: [] };
    const b = { name: 'ns/b/b_example_com', domains: ['b.example.com'], routes: [] };
    const out = splitRouteTables(
      new Map([
        ['http', { name: 'http', virtual_hosts: [a, b] }],
        ['https', { name: 'https', virtual_hosts: [b] }],
      ]),
    );
    expect([...out.routes.values()]).toEqual([vhdsRouteConfig('http'), vhdsRouteConfig('https')]);
    expect([...out.vhosts.keys()]).toEqual([
      'http/ns~a~a_example_com',
      'http/ns~b~b_example_com',
      'https/ns~b~b_example_com',
    ]);
    expect(out.vhosts.get('http/ns~a~a_example_com')).toEqual({ ...a, name: 'http/ns~a~a_example_com' });
    // memoised per vhost object and route configuration
    expect(asVhdsVhost('http', a)).toBe(out.vhosts.get('http/ns~a~a_example_com'));
    expect(asVhdsVhost('https', b)).not.toBe(asVhdsVhost('http', b));
  });

  test('two vhosts with one name in a route configuration are refused', () => {
    const a = { name: 'ns/a/h', domains: ['h'], routes: [] };
    expect(() =>
      splitRouteTables(new Map([['http', { name: 'http', virtual_hosts: [a, { ...a }] }]])),
    ).toThrow('two virtual hosts named http/ns~a~h');
  });
});
