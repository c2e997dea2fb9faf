// LEGACY, kept only for protojson-differential.test.ts and bench/encode.ts until the old codec is
// removed: the protobufjs Root over the .proto files of @grpc/grpc-js-xds that the old hand-written
// codec (legacy-protojson*.ts) walks. Nothing else imports it.
// Envoy protos for the xDS server: loads the ADS service, the five xDS resource types and every
// extension type kgw puts into a google.protobuf.Any, once and lazily, into one protobufjs Root
// (proto field names kept, i.e. snake_case). The .proto files come from the deps/ folder of
// @grpc/grpc-js-xds, the only npm package that ships the Envoy API.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';

export const TYPE_LISTENER = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const TYPE_ROUTE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const TYPE_CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const TYPE_ENDPOINT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const TYPE_SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

export type TypeUrl =
  typeof TYPE_LISTENER | typeof TYPE_ROUTE | typeof TYPE_CLUSTER | typeof TYPE_ENDPOINT | typeof TYPE_SECRET;

/** The xDS resource types kgw serves, in push order (see ordering.ts for why). */
export const TYPE_URLS: readonly TypeUrl[] = [
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_SECRET,
  TYPE_LISTENER,
  TYPE_ROUTE,
];

/** Short names for logs and stats keys. */
export const TYPE_SHORT: Record<TypeUrl, string> = {
  [TYPE_LISTENER]: 'LDS',
  [TYPE_ROUTE]: 'RDS',
  [TYPE_CLUSTER]: 'CDS',
  [TYPE_ENDPOINT]: 'EDS',
  [TYPE_SECRET]: 'SDS',
};

export function isTypeUrl(s: string): s is TypeUrl {
  return (TYPE_URLS as readonly string[]).includes(s);
}

/**
 * Extension types the render layer may place in a google.protobuf.Any (typed_config and friends).
 * Every one of them is round-trip tested; any other message type reachable from the loaded files
 * also works, and an `@type` that is not loaded at all is rejected with an error naming it.
 */
export const ANY_TYPES: readonly string[] = [
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  'envoy.extensions.filters.http.router.v3.Router',
  'envoy.extensions.filters.http.health_check.v3.HealthCheck',
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
  'envoy.config.route.v3.FilterConfig',
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol',
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
  'envoy.extensions.access_loggers.stream.v3.StderrAccessLog',
  'envoy.extensions.access_loggers.file.v3.FileAccessLog',
  'envoy.extensions.http.original_ip_detection.xff.v3.XffConfig',
  'envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig',
  'envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig',
  'xds.type.v3.TypedStruct',
];

const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/health_check/v3/health_check.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/proxy_protocol/v3/proxy_protocol.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/http/original_ip_detection/xff/v3/xff.proto',
  'envoy/extensions/request_id/uuid/v3/uuid.proto',
  'envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto',
  'xds/type/v3/typed_struct.proto',
];

function includeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const xdsDeps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  // protobufjs bundles the common well-known types but not descriptor.proto, which the
  // validate/udpa annotation protos import; it ships that file in its own folder.
  const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));
  return [
    path.join(xdsDeps, 'envoy-api'),
    path.join(xdsDeps, 'xds'),
    path.join(xdsDeps, 'googleapis'),
    path.join(xdsDeps, 'protoc-gen-validate'),
    protobufjsDir,
  ];
}

let cached: protobuf.Root | undefined;

/** The shared Root; the first call parses the .proto files (a few hundred ms). */
export function protoRoot(): protobuf.Root {
  if (cached) return cached;
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (path.isAbsolute(target)) return target;
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  for (const name of ANY_TYPES) root.lookupType(name); // fail loudly at load if the list drifts
  cached = root;
  return root;
}

const typeCache = new Map<string, protobuf.Type | undefined>();

/** Looks up a message type by full name (without leading dot); undefined if not loaded. Memoised. */
export function findType(fullName: string): protobuf.Type | undefined {
  if (typeCache.has(fullName)) return typeCache.get(fullName);
  const found = protoRoot().lookup(fullName.startsWith('.') ? fullName : `.${fullName}`);
  const type = found instanceof protobuf.Type ? found : undefined;
  typeCache.set(fullName, type);
  return type;
}

/** Looks up a message type that must exist. */
export function messageType(fullName: string): protobuf.Type {
  const t = findType(fullName);
  if (!t) throw new Error(`protobuf message type ${fullName} is not loaded`);
  return t;
}

/** 'type.googleapis.com/a.b.C' → 'a.b.C' (anything up to the last '/' is the URL prefix). */
export function typeNameOfUrl(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}
