import protojson from 'protobufjs/ext/protojson.js';
import { decodeMessage, decodeResource, encodeMessage, encodeResource, ProtoJsonError } from './protojson.ts';
import {
  ANY_TYPES,
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SECRET,
  messageType,
  protoRoot,
} from './protos.ts';
import {
  ANY_SAMPLES,
  anySample,
  sampleCluster,
  sampleListener,
  sampleLoadAssignment,
  sampleRoute,
  sampleSecret,
} from './samples.ts';

beforeAll(() => {
  protoRoot();
});

/** Encodes with protobufjs' own ProtoJSON parser: an independent check of our encoder's bytes. */
function referenceEncode(typeUrl: string, json: object): Uint8Array {
  const type = messageType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  return type.encode(protojson.fromJson(type, json)).finish();
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
    expect(decodeResource(TYPE_LISTENER, referenceEncode(TYPE_LISTENER, listener))).toEqual(listener);
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
    expect(decodeResource(typeUrl, referenceEncode(typeUrl, json))).toEqual(json);
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
    const first = encodeResource(TYPE_ROUTE, { name: 'r', virtual_hosts: [vhost] });
    expect(reads).toBeGreaterThan(0);
    reads = 0;
    const second = encodeResource(TYPE_ROUTE, {
      name: 'r',
      virtual_hosts: [vhost, { name: 'other', domains: ['x'] }],
    });
    expect(reads).toBe(0);
    expect(decodeResource(TYPE_ROUTE, second)).toEqual({
      name: 'r',
      virtual_hosts: [
        decodeResource(TYPE_ROUTE, first).virtual_hosts,
        { name: 'other', domains: ['x'] },
      ].flat(),
    });
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
    expect(err.message).toContain('envoy.extensions.Nope is not loaded');
    expect(err.path).toBe('$.listener_filters[0].typed_config');
  });

  it('rejects an Any without @type', () => {
    expect(
      fail(TYPE_LISTENER, { name: 'l', listener_filters: [{ name: 'x', typed_config: { a: 1 } }] }).message,
    ).toContain('"@type"');
  });

  it.each([
    ['an unknown enum name', { name: 'c', lb_policy: 'FASTEST' }, '$.lb_policy', 'unknown value "FASTEST"'],
    ['a malformed Duration', { name: 'c', connect_timeout: '5' }, '$.connect_timeout', 'Duration'],
    [
      'a string for an integer',
      { name: 'c', per_connection_buffer_limit_bytes: 'ten' },
      '$.per_connection_buffer_limit_bytes',
      'integer',
    ],
    [
      'an out-of-range uint32',
      { name: 'c', per_connection_buffer_limit_bytes: -1 },
      '$.per_connection_buffer_limit_bytes',
      'out of range',
    ],
    ['an object for a string', { name: { a: 1 } }, '$.name', 'expected a string'],
    [
      'a scalar for a message',
      { name: 'c', eds_cluster_config: 'x' },
      '$.eds_cluster_config',
      'expected an object',
    ],
    [
      'a non-array for a repeated field',
      { name: 'c', dns_lookup_family: 'AUTO', health_checks: {} },
      '$.health_checks',
      'expected an array',
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
    expect(err.message).toContain('oneof port_specifier');
  });

  it('names an unloaded Any type when decoding', () => {
    const any = messageType('google.protobuf.Any');
    const listener = messageType('envoy.config.listener.v3.Listener');
    const bytes = listener
      .encode({
        name: 'l',
        listener_filters: [
          {
            name: 'x',
            typed_config: any.create({ type_url: 'type.googleapis.com/x.Y', value: Buffer.from([8, 1]) }),
          },
        ],
      })
      .finish();
    expect(() => decodeResource(TYPE_LISTENER, bytes)).toThrow('x.Y is not loaded');
  });
});
