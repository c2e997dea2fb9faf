// The direct encoder against bufbuild (the maintained, conformance-tested runtime it must match):
// every resource of every golden case, and the forms it must get exactly right or leave alone.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { goldenCases, goldenDir, loadCase, renderCaseFleets } from '../../test/support/golden-cases.ts';
import { fastEncode } from './protojson-fast.ts';
import { decodeMessage, encodeMessageByBufbuild } from './protojson.ts';
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SECRET,
  TYPE_SCOPED_ROUTE,
  messageType,
  typeNameOfUrl,
} from './protos.ts';

const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : 'left to bufbuild');

test('every resource of every golden case: the same bytes as bufbuild, and none left to bufbuild but Secrets', () => {
  let resources = 0;
  const leftOver: string[] = [];
  for (const name of goldenCases(readdirSync(goldenDir))) {
    const objs = loadCase(join(goldenDir, `${name}.yaml`));
    // whole route tables (SotW fleets) and scoped ones (delta fleets: SRDS, scoped listeners)
    for (const { fleet, res } of [...renderCaseFleets(objs), ...renderCaseFleets(objs, { scoped: true })]) {
      const sets = [
        [TYPE_LISTENER, res.listeners],
        [TYPE_ROUTE, res.routes],
        [TYPE_SCOPED_ROUTE, res.scopes],
        [TYPE_CLUSTER, res.clusters],
        [TYPE_ENDPOINT, res.endpoints],
        [TYPE_SECRET, res.secrets],
      ] as const;
      for (const [type, m] of sets) {
        const desc = messageType(typeNameOfUrl(type));
        for (const [key, json] of m) {
          resources++;
          const fast = fastEncode(desc, json);
          if (!fast) {
            leftOver.push(`${name}/${fleet} ${desc.typeName} ${key}`);
            continue;
          }
          expect([name, fleet, key, hex(fast)]).toEqual([
            name,
            fleet,
            key,
            hex(encodeMessageByBufbuild(desc, json)),
          ]);
        }
      }
    }
  }
  expect(resources).toBeGreaterThan(150);
  // Secrets carry certificates as inline_bytes (base64 in JSON): bufbuild decodes those
  expect(leftOver.filter((l) => !l.includes('tls.v3.Secret'))).toEqual([]);
});

const ROUTE = messageType('envoy.config.route.v3.RouteConfiguration');
const CLUSTER = messageType('envoy.config.cluster.v3.Cluster');
const both = (desc: typeof ROUTE, json: object) => [
  hex(fastEncode(desc, json)),
  hex(encodeMessageByBufbuild(desc, json)),
];

test.each([
  [
    'implicit-presence zeros are not written, explicit ones are',
    CLUSTER,
    { name: '', connect_timeout: '0s', per_connection_buffer_limit_bytes: 0 },
  ],
  [
    'a route table: virtual hosts, routes, a direct response, an empty list',
    ROUTE,
    {
      virtual_hosts: [
        { name: 'a', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] },
      ],
      request_headers_to_add: [],
    },
  ],
  [
    'Durations with fractions, wrappers, enums by name',
    CLUSTER,
    {
      name: 'c',
      connect_timeout: '0.020s',
      type: 'EDS',
      lb_policy: 'ROUND_ROBIN',
      per_connection_buffer_limit_bytes: 32768,
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
      outlier_detection: { consecutive_5xx: 7, interval: '10.5s', base_ejection_time: '30s' },
    },
  ],
  [
    'maps in key order whatever the JSON order; Any with an empty body; Struct with every kind of value',
    CLUSTER,
    {
      name: 'm',
      typed_extension_protocol_options: {
        'z.options': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        },
        'a.options': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      },
      metadata: {
        filter_metadata: {
          b: {
            n: -1.5,
            z: -0,
            s: 'x',
            t: true,
            f: false,
            nil: null,
            list: [1, 'two', [3], { k: 'v' }],
            o: { y: 1, a: 2 },
          },
          a: {},
        },
      },
    },
  ],
  [
    'an Any holding a well-known type by its value',
    CLUSTER,
    {
      name: 'w',
      typed_extension_protocol_options: {
        d: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.000000001s' },
        s: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { k: [null] } },
      },
    },
  ],
  [
    '64-bit integers as numbers and as strings, packed repeated scalars, multi-byte UTF-8 and long strings',
    ROUTE,
    {
      name: 'r\u00e9\u{1F600}'.repeat(50),
      virtual_hosts: [
        {
          name: 'v',
          domains: ['*'],
          retry_policy: { retry_on: '5xx', num_retries: 3, retriable_status_codes: [503, 504, 1_000_000] },
          routes: [
            {
              match: { prefix: '/' },
              route: { cluster: 'c', max_stream_duration: { max_stream_duration: '12.5s' } },
            },
          ],
        },
      ],
      max_direct_response_body_size_bytes: 4096,
    },
  ],
])('%s: the same bytes as bufbuild', (_name, desc, json) => {
  const [fast, slow] = both(desc, json);
  expect(fast).not.toBe('left to bufbuild');
  expect(fast).toBe(slow);
});

test('a negative int32 is sign-extended exactly like bufbuild', () => {
  const desc = messageType('envoy.config.route.v3.VirtualHost');
  // priority-like int32 fields are rare; Int32Value wrappers in Any carry one
  const json = {
    name: 'v',
    domains: ['*'],
    typed_per_filter_config: { x: { '@type': 'type.googleapis.com/google.protobuf.Int32Value', value: -5 } },
  };
  const [fast, slow] = both(desc, json);
  expect(fast).toBe(slow);
  expect(decodeMessage(desc, fastEncode(desc, json)!)).toEqual(json);
});

test.each([
  ['null', { name: 'c', connect_timeout: null }],
  ['an unknown key', { name: 'c', conect_timeout: '1s' }],
  ['a lowerCamelCase key', { name: 'c', connectTimeout: '1s' }],
  ['an unknown enum name', { name: 'c', type: 'NOPE' }],
  ['an enum as a number', { name: 'c', type: 1 }],
  ['two members of one oneof', { name: 'c', type: 'EDS', cluster_type: { name: 'x' } }],
  ['a negative Duration', { name: 'c', connect_timeout: '-1s' }],
  ['a Duration with trailing text', { name: 'c', connect_timeout: '1sx' }],
  ['a number where a string belongs', { name: 5 }],
  ['a uint32 out of range', { name: 'c', per_connection_buffer_limit_bytes: { value: 2 ** 32 } }],
  [
    'an Any of an unknown type',
    { name: 'c', typed_extension_protocol_options: { a: { '@type': 'type.googleapis.com/x.Y' } } },
  ],
])('%s is left to bufbuild (which reports it, or decides it)', (_name, json) => {
  expect(fastEncode(CLUSTER, json)).toBeUndefined();
});
