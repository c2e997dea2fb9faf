import { fromJson, toBinary, type JsonValue } from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { decodeMessage, decodeResource, encodeMessage, encodeResource, ProtoJsonError } from './protojson.ts';
import {
  ANY_TYPES,
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SECRET,
  envoyRegistry,
  messageType,
} from './protos.ts';
import {
  ANY_SAMPLES,
  anySample,
  sampleCluster,
  sampleListener,
  sampleLoadAssignment,
  sampleRoute,
  sampleSecret,
} from '../../test/support/xds-samples.ts';

beforeAll(() => {
  envoyRegistry();
});

/** A copy with every object's keys in order (bufbuild writes map entries in key order then). */
const sortKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : v !== null && typeof v === 'object'
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
        )
      : v;

/**
 * The whole message encoded by @bufbuild/protobuf in one go: a check of what kgw adds around it
 * (elements encoded alone and assembled, canonical keys), which must give the same bytes.
 */
function referenceEncode(typeUrl: string, json: object): Uint8Array {
  const desc = messageType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  return toBinary(desc, fromJson(desc, sortKeys(json) as JsonValue, { registry: envoyRegistry() }));
}

describe('encode/decode round trip', () => {
  it('has a sample for every Any type kgw loads', () => {
    expect(Object.keys(ANY_SAMPLES).sort()).toEqual([...ANY_TYPES].sort());
  });

  it.each(ANY_TYPES.map((t) => [t]))('round-trips %s inside an Any', (typeName) => {
    const sample = anySample(typeName);
    // Listener filter typed_config is a google.protobuf.Any: wrap the sample there.
    const listener = { name: 'l', listener_filters: [{ name: 'x', typed_config: sample }] };
    const bytes = encodeResource(TYPE_LISTENER, listener);
    expect(decodeResource(TYPE_LISTENER, bytes)).toEqual(listener);
    // The Any payload is not empty unless the sample is (guards against a silently dropped type).
    const inner = encodeMessage(messageType(typeName), ANY_SAMPLES[typeName] ?? {});
    expect(inner.length > 0).toBe(Object.keys(ANY_SAMPLES[typeName] ?? {}).length > 0);
    expect(bytes.equals(referenceEncode(TYPE_LISTENER, listener))).toBe(true);
  });

  it.each([
    ['listener', TYPE_LISTENER, sampleListener],
    ['route configuration', TYPE_ROUTE, sampleRoute],
    ['cluster', TYPE_CLUSTER, sampleCluster],
    ['load assignment', TYPE_ENDPOINT, sampleLoadAssignment],
    ['secret', TYPE_SECRET, sampleSecret],
  ] as const)('round-trips a realistic %s', (_label, typeUrl, json) => {
    const bytes = encodeResource(typeUrl, json);
    expect(decodeResource(typeUrl, bytes)).toEqual(json);
    expect(bytes.equals(referenceEncode(typeUrl, json))).toBe(true);
  });

  it('encodes independently of JSON key order', () => {
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reversed(x)]),
            )
          : v;
    const a = encodeResource(TYPE_LISTENER, sampleListener);
    const b = encodeResource(TYPE_LISTENER, reversed(sampleListener) as object);
    expect(b.equals(a)).toBe(true);
  });

  it('reuses the bytes of a virtual host object passed again, without reading it', () => {
    let reads = 0;
    const vhost = new Proxy(structuredClone(sampleRoute.virtual_hosts[0] ?? {}), {
      get(target, key, receiver): unknown {
        reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    // elements are kept apart only in lists of at least 8
    const others = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ name: `v${i}`, domains: [`v${i}`] }));
    const first = encodeResource(TYPE_ROUTE, { name: 'r', virtual_hosts: [vhost, ...others(7)] });
    expect(reads).toBeGreaterThan(0);
    reads = 0;
    const second = encodeResource(TYPE_ROUTE, { name: 'r', virtual_hosts: [vhost, ...others(8)] });
    expect(reads).toBe(0);
    expect(decodeResource(TYPE_ROUTE, second)).toEqual({
      name: 'r',
      virtual_hosts: [
        ...(decodeResource(TYPE_ROUTE, first).virtual_hosts as object[]),
        ...others(8).slice(7),
      ],
    });
  });

  it('assembles elements encoded alone in field-number order, as one whole encode does', () => {
    const vhosts = Array.from({ length: 12 }, (_, i) => ({
      name: `v${i}`,
      domains: [`v${i}.example.com`],
      routes: Array.from({ length: i }, (_x, j) => ({
        name: `r${j}`,
        match: { prefix: `/${j}` },
        direct_response: { status: 200 },
      })),
      request_headers_to_add: [{ header: { key: 'a', value: 'b' } }],
    }));
    const table = {
      validate_clusters: false,
      response_headers_to_add: [{ header: { key: 'x', value: 'y' } }],
      virtual_hosts: vhosts,
      internal_only_headers: ['k'],
      name: 'r',
      request_headers_to_remove: ['z'],
    };
    expect(encodeResource(TYPE_ROUTE, table).equals(referenceEncode(TYPE_ROUTE, table))).toBe(true);
    // and again, from the remembered element bytes
    expect(encodeResource(TYPE_ROUTE, { ...table }).equals(referenceEncode(TYPE_ROUTE, table))).toBe(true);
    const chains = Array.from({ length: 9 }, (_, i) => ({
      name: `c${i}`,
      filter_chain_match: { server_names: [`h${i}`] },
    }));
    const listener = { ...sampleListener, filter_chains: [...sampleListener.filter_chains, ...chains] };
    expect(encodeResource(TYPE_LISTENER, listener).equals(referenceEncode(TYPE_LISTENER, listener))).toBe(
      true,
    );
  });

  it('encodes deterministically (maps sorted) so equal content hashes equally', () => {
    const a = { filter_metadata: { x: { b: 1, a: 2 }, y: { c: [1, 2] } } };
    const b = { filter_metadata: { y: { c: [1, 2] }, x: { a: 2, b: 1 } } };
    const t = messageType('envoy.config.core.v3.Metadata');
    expect(encodeMessage(t, a).equals(encodeMessage(t, b))).toBe(true);
  });
});

describe('canonical JSON mapping', () => {
  const socket = (extra: object): object => ({
    name: 'l',
    address: { socket_address: { address: 'a', ...extra } },
  });

  it('omits implicit defaults and keeps wrapper and oneof values that are zero', () => {
    const json = {
      name: 'c',
      type: 'STATIC', // enum 0, but a oneof member: kept
      lb_policy: 'ROUND_ROBIN', // enum default (0): omitted
      connect_timeout: '0s', // message: kept
      per_connection_buffer_limit_bytes: 0, // UInt32Value: kept
      respect_dns_ttl: false, // bool default: omitted
    };
    expect(decodeResource(TYPE_CLUSTER, encodeResource(TYPE_CLUSTER, json))).toEqual({
      name: 'c',
      type: 'STATIC',
      connect_timeout: '0s',
      per_connection_buffer_limit_bytes: 0,
    });
    expect(decodeResource(TYPE_LISTENER, encodeResource(TYPE_LISTENER, socket({ port_value: 0 })))).toEqual(
      socket({ port_value: 0 }),
    );
  });

  it.each([
    ['1.5s', '1.500s'],
    ['0.000001s', '0.000001s'],
    ['-2.25s', '-2.250s'],
    ['90s', '90s'],
    ['0.123456789s', '0.123456789s'],
  ])('maps Duration %s to %s', (input, output) => {
    const t = messageType('envoy.config.cluster.v3.Cluster');
    expect(decodeMessage(t, encodeMessage(t, { name: 'c', connect_timeout: input }))).toEqual({
      name: 'c',
      connect_timeout: output,
    });
  });

  it('maps Timestamp, Any holding a well-known type, int64 beyond 2^53 and bytes', () => {
    const t = messageType('envoy.config.listener.v3.Listener');
    const json = {
      name: 'l',
      listener_filters: [
        {
          name: 's',
          typed_config: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: [1, 'b'] } },
        },
        { name: 'd', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3s' } },
        {
          name: 'ts',
          typed_config: {
            '@type': 'type.googleapis.com/google.protobuf.Timestamp',
            value: '2024-02-29T12:00:00.250Z',
          },
        },
      ],
    };
    expect(decodeMessage(t, encodeMessage(t, json))).toEqual(json);
    const m = messageType('envoy.config.route.v3.HeaderMatcher');
    const big = { name: 'x', range_match: { start: '-9223372036854775808', end: '9223372036854775807' } };
    expect(decodeMessage(m, encodeMessage(m, big))).toEqual(big);
    expect(decodeMessage(m, encodeMessage(m, { name: 'x', range_match: { start: 5, end: 6 } }))).toEqual({
      name: 'x',
      range_match: { start: '5', end: '6' },
    });
  });

  it('accepts an offset Timestamp and normalises it to UTC', () => {
    const t = messageType('google.protobuf.Timestamp');
    expect(decodeMessage(t, encodeMessage(t, '2024-01-01T02:00:00+02:00' as unknown as object))).toEqual({
      value: '2024-01-01T00:00:00Z',
    });
  });
});

describe('errors', () => {
  const hcm = (extra: object): object => ({
    name: 'l',
    filter_chains: [
      {
        filters: [
          {
            name: 'hcm',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              ...extra,
            },
          },
        ],
      },
    ],
  });
  const fail = (typeUrl: string, json: object): ProtoJsonError => {
    try {
      encodeResource(typeUrl, json);
    } catch (err) {
      if (err instanceof ProtoJsonError) return err;
      throw err;
    }
    throw new Error('expected encodeResource to throw');
  };

  it('names the JSON path of an unknown field and hints at the proto name', () => {
    const err = fail(TYPE_LISTENER, hcm({ statPrefix: 'x' }));
    expect(err.path).toBe('$.filter_chains[0].filters[0].typed_config.statPrefix');
    expect(err.message).toContain('use the proto field name "stat_prefix"');
  });

  it('rejects an Any whose @type is not loaded, naming the type', () => {
    const err = fail(TYPE_LISTENER, {
      name: 'l',
      listener_filters: [
        { name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.Nope' } },
      ],
    });
    expect(err.message).toContain("envoy.extensions.Nope is not in kgw's Envoy API v1.40.0");
    expect(err.path).toBe('$.listener_filters[0].typed_config');
  });

  it('rejects an Any without @type', () => {
    expect(
      fail(TYPE_LISTENER, { name: 'l', listener_filters: [{ name: 'x', typed_config: { a: 1 } }] }).message,
    ).toContain('"@type"');
  });

  it.each([
    [
      'an unknown enum name',
      { name: 'c', lb_policy: 'FASTEST' },
      '$.lb_policy',
      '"FASTEST" (unknown value; one of ROUND_ROBIN, LEAST_REQUEST,',
    ],
    ['a malformed Duration', { name: 'c', connect_timeout: '5' }, '$.connect_timeout', 'Duration'],
    [
      'a string for an integer',
      { name: 'c', per_connection_buffer_limit_bytes: 'ten' },
      '$.per_connection_buffer_limit_bytes',
      'expected number (uint32)',
    ],
    [
      'an out-of-range uint32',
      { name: 'c', per_connection_buffer_limit_bytes: -1 },
      '$.per_connection_buffer_limit_bytes',
      'out of range',
    ],
    ['an object for a string', { name: { a: 1 } }, '$.name', 'expected string, got object'],
    [
      'a scalar for a message',
      { name: 'c', eds_cluster_config: 'x' },
      '$.eds_cluster_config',
      'cannot decode message envoy.config.cluster.v3.Cluster.EdsClusterConfig from JSON: "x"',
    ],
    [
      'a non-array for a repeated field',
      { name: 'c', dns_lookup_family: 'AUTO', health_checks: {} },
      '$.health_checks',
      'expected Array, got object',
    ],
  ])('rejects %s with its path', (_label, json, path, text) => {
    const err = fail(TYPE_CLUSTER, json);
    expect(err.path).toBe(path);
    expect(err.message).toContain(text);
  });

  it('rejects two members of one oneof', () => {
    const err = fail(TYPE_LISTENER, {
      name: 'l',
      address: { socket_address: { address: 'a', port_value: 1, named_port: 'http' } },
    });
    expect(err.path).toBe('$.address.socket_address');
    expect(err.message).toContain(
      'port_specifier from JSON: oneof set multiple times by port_value and named_port',
    );
  });

  it.each([
    [
      'a list item deep inside a virtual host',
      {
        name: 'r',
        virtual_hosts: [
          { name: 'a', domains: ['x'] },
          {
            name: 'b',
            domains: ['y'],
            routes: [{ match: { prefix: '/', headers: [{ name: 'h', string_match: { exact: 1 } }] } }],
          },
        ],
      },
      '$.virtual_hosts[1].routes[0].match.headers[0].string_match.exact',
      'expected string, got 1',
    ],
    [
      'a scalar list item',
      { name: 'r', virtual_hosts: [{ name: 'b', domains: ['y', 7] }] },
      '$.virtual_hosts[0].domains[1]',
      'list item #2: expected string, got 7',
    ],
    [
      'a map entry holding an Any',
      {
        name: 'r',
        virtual_hosts: [
          {
            name: 'a',
            typed_per_filter_config: {
              f: { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: 'yes' },
            },
          },
        ],
      },
      '$.virtual_hosts[0].typed_per_filter_config["f"].disabled',
      'expected boolean, got "yes"',
    ],
  ])('names the path of %s', (_label, json, path, text) => {
    const err = fail(TYPE_ROUTE, json);
    expect(err.path).toBe(path);
    expect(err.message).toContain(text);
  });

  it('leaves out keys whose value is undefined, as JSON.stringify does', () => {
    const json = {
      name: 'c',
      alt_stat_name: undefined,
      metadata: { filter_metadata: { a: { x: undefined } } },
    };
    expect(decodeResource(TYPE_CLUSTER, encodeResource(TYPE_CLUSTER, json))).toEqual({
      name: 'c',
      metadata: { filter_metadata: { a: {} } },
    });
  });

  it('names an Any type that is not in the registry when decoding', () => {
    const listener = messageType('envoy.config.listener.v3.Listener');
    const no = (desc: typeof listener, name: string): number => {
      const f = desc.fields.find((x) => x.name === name);
      if (!f) throw new Error(`no field ${name}`);
      return f.number;
    };
    const filter = messageType('envoy.config.listener.v3.ListenerFilter');
    const any = messageType('google.protobuf.Any');
    const anyBytes = new BinaryWriter()
      .tag(no(any, 'type_url'), WireType.LengthDelimited)
      .string('type.googleapis.com/x.Y')
      .tag(no(any, 'value'), WireType.LengthDelimited)
      .bytes(Buffer.from([8, 1]))
      .finish();
    const filterBytes = new BinaryWriter()
      .tag(no(filter, 'name'), WireType.LengthDelimited)
      .string('x')
      .tag(no(filter, 'typed_config'), WireType.LengthDelimited)
      .bytes(anyBytes)
      .finish();
    const bytes = new BinaryWriter()
      .tag(no(listener, 'name'), WireType.LengthDelimited)
      .string('l')
      .tag(no(listener, 'listener_filters'), WireType.LengthDelimited)
      .bytes(filterBytes)
      .finish();
    expect(() => decodeResource(TYPE_LISTENER, bytes)).toThrow(/x\.Y.*is not in the type registry/);
  });
});
