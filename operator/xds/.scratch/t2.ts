import protojson from 'protobufjs/ext/protojson.js';
import { messageType, protoRoot } from '../protos.ts';
import { decodeMessage } from '../protojson.ts';
protoRoot();
const T = messageType('envoy.config.cluster.v3.Cluster');
const j = { name: 'c', type: 'EDS', connect_timeout: '0.250s', eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } },
  metadata: { filter_metadata: { kgw: { a: 1, b: [true, null] } } }, per_connection_buffer_limit_bytes: 1000 };
const m = protojson.fromJson(T, j);
const b = T.encode(m).finish();
console.log(JSON.stringify(decodeMessage(T, b)));
