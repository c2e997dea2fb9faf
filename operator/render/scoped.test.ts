// Scoped form of the route tables: one scope per exact host and listener, keyed [listener, host],
// its one-vhost route configuration inline; wildcard hosts in one scope per listener; the same
// scope objects at every call (the xDS cache encodes once). Envoy's side: scoped.envoy.test.ts.
import {
  asScope,
  isWildcardVhost,
  LISTENER_HEADER,
  NEEDS_FILTERS,
  ROUTE_KEY_FILTER,
  ROUTE_KEY_HEADER,
  scopeName,
  scopesOf,
  wildcardScope,
} from './scoped.ts';
import type { Json } from './types.ts';

const vh = (name: string, host: string, extra: Json = {}): Json => ({
  name,
  domains: host === '*' ? ['*'] : [host, `${host}:*`],
  routes: [{ name: `${name}/r`, match: { prefix: '/' }, direct_response: { status: 200 } }],
  ...extra,
});
const policy = { typed_per_filter_config: { 'kgw.rbac': { '@type': 'x' } } };

describe('scoped routes', () => {
  test('names: one `/`, after the listener', () => {
    expect(scopeName('http', 'ns/hello/hello_ns_example_com')).toBe('http/ns~hello~hello_ns_example_com');
    expect(scopeName('https', 'a/b/c').split('/')).toEqual(['https', 'a~b~c']);
  });

  test('an exact host: key [listener, host], the vhost inline, the route-key filter off', () => {
    const v = vh('ns/a/a_example_com', 'a.example.com');
    const s = asScope('https', v);
    expect(s).toEqual({
      name: 'https/ns~a~a_example_com',
      route_configuration: {
        name: 'https/ns~a~a_example_com',
        virtual_hosts: [{ ...v, name: 'https/ns~a~a_example_com' }],
        request_headers_to_remove: [LISTENER_HEADER, ROUTE_KEY_HEADER],
        typed_per_filter_config: {
          [ROUTE_KEY_FILTER]: {
            '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
            disabled: true,
          },
        },
      },
      key: { fragments: [{ string_key: 'https' }, { string_key: 'a.example.com' }] },
    });
    // memoised per vhost object and listener
    expect(asScope('https', v)).toBe(s);
    expect(asScope('http', v)).not.toBe(s);
    expect(asScope('https', { ...v })).not.toBe(s);
  });

  test('wildcard hosts: one scope per listener, key `*`, sorted by name, routes marked when guarded', () => {
    const any = vh('ns/z/_', '*');
    const apps = vh('ns/a/_apps', '*.apps.example.com', policy);
    expect([any, apps].map(isWildcardVhost)).toEqual([true, true]);
    expect(isWildcardVhost(vh('ns/b/b', 'b.example.com'))).toBe(false);
    const s = wildcardScope('http', [any, apps])!;
    expect(s.name).toBe('http/*');
    expect(s.key).toEqual({ fragments: [{ string_key: 'http' }, { string_key: '*' }] });
    const rc = s.route_configuration as Json;
    // the route-key filter is what brings a request here: not disabled
    expect(rc.typed_per_filter_config).toBeUndefined();
    const vhosts = rc.virtual_hosts as Json[];
    expect(vhosts.map((v) => v.name)).toEqual(['http/ns~a~_apps', 'http/ns~z~_']);
    const marks = vhosts.map((v) => (v.routes as Json[]).map((r) => r.metadata ?? null));
    expect(marks).toEqual([[{ filter_metadata: { [ROUTE_KEY_FILTER]: { [NEEDS_FILTERS]: true } } }], [null]]);
    expect(wildcardScope('http', [])).toBeUndefined();
  });

  test('scopesOf: scopes of every listener, wildcard hosts in their listener scope', () => {
    const a = vh('ns/a/a', 'a.example.com');
    const w = vh('ns/w/w', '*.example.com');
    const out = scopesOf(
      new Map([
        ['http', { name: 'http', virtual_hosts: [a, w] }],
        ['https', { name: 'https', virtual_hosts: [a] }],
      ]),
    );
    expect([...out.keys()]).toEqual(['http/ns~a~a', 'http/*', 'https/ns~a~a']);
    expect(out.get('http/ns~a~a')).toBe(asScope('http', a));
  });

  test('two vhosts with one name on a listener are refused', () => {
    const a = vh('ns/a/h', 'h');
    expect(() => scopesOf(new Map([['http', { name: 'http', virtual_hosts: [a, { ...a }] }]]))).toThrow(
      'two virtual hosts named http/ns~a~h on listener http',
    );
  });
});
