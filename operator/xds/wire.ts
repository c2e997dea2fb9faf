// ADS wire format: decodes DiscoveryRequest / DeltaDiscoveryRequest into small typed objects,
// assembles responses from pre-encoded resource chunks (a resource is wrapped in its Any / Resource
// envelope once per change, and a response is a header plus a concatenation of those chunks), and
// defines the AggregatedDiscoveryService for grpc-js (server side and a client side for tests).
// The messages are @bufbuild/protobuf messages of the same Envoy registry as the resources.
import type * as grpc from '@grpc/grpc-js';
import {
  create,
  fromBinary,
  fromJson,
  toBinary,
  type DescMessage,
  type JsonObject,
} from '@bufbuild/protobuf';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { messageType } from './protos.ts';

const DISCOVERY = 'envoy.service.discovery.v3';
export const ADS_SERVICE = `${DISCOVERY}.AggregatedDiscoveryService`;
export const SOTW_METHOD = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const DELTA_METHOD = `/${ADS_SERVICE}/DeltaAggregatedResources`;

/** The parts of envoy.config.core.v3.Node kgw uses. `cluster` is the fleet. */
export interface NodeInfo {
  id: string;
  cluster: string;
  userAgent: string;
}

export interface ErrorDetail {
  code: number;
  message: string;
}

export interface SotwRequest {
  version_info: string;
  node?: NodeInfo;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: ErrorDetail;
}

export interface DeltaRequest {
  node?: NodeInfo;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: ErrorDetail;
}

interface WireAny {
  type_url: string;
  value: Buffer;
}

/** A decoded DiscoveryResponse (client side; resources still encoded). */
export interface SotwResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: WireAny[];
}

/** A decoded DeltaDiscoveryResponse (client side; resources still encoded). */
export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: { name: string; version: string; resource?: WireAny }[];
  removed_resources: string[];
}

/*
 * The decoded messages as @bufbuild/protobuf represents them (fields by their localName, i.e.
 * lowerCamelCase, a oneof as { case, value }); only the fields kgw reads. The registry's messages
 * are untyped (no generated code), so decoded messages are cast to these shapes.
 */
interface NodeMessage {
  id: string;
  cluster: string;
  userAgentName: string;
  userAgentVersionType: { case: string | undefined; value?: unknown };
}
interface StatusMessage {
  code: number;
  message: string;
}
interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}
interface DiscoveryRequestMessage {
  versionInfo: string;
  node?: NodeMessage;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail?: StatusMessage;
}
interface DeltaDiscoveryRequestMessage {
  node?: NodeMessage;
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail?: StatusMessage;
}
interface DiscoveryResponseMessage {
  versionInfo: string;
  resources: AnyMessage[];
  typeUrl: string;
  nonce: string;
}
interface DeltaDiscoveryResponseMessage {
  systemVersionInfo: string;
  resources: { name: string; version: string; resource?: AnyMessage }[];
  typeUrl: string;
  removedResources: string[];
  nonce: string;
}

interface Types {
  request: DescMessage;
  response: DescMessage;
  deltaRequest: DescMessage;
  deltaResponse: DescMessage;
  /** google.protobuf.Any */
  anyMessage: DescMessage;
  resource: DescMessage;
  /** Field number of `resources` in DiscoveryResponse and in DeltaDiscoveryResponse. */
  sotwResourcesNo: number;
  deltaResourcesNo: number;
}
let types: Types | undefined;
function t(): Types {
  if (types) return types;
  const response = messageType(`${DISCOVERY}.DiscoveryResponse`);
  const deltaResponse = messageType(`${DISCOVERY}.DeltaDiscoveryResponse`);
  const resourcesNo = (d: DescMessage): number => {
    const f = d.fields.find((x) => x.name === 'resources');
    if (!f) throw new Error(`${d.typeName} has no resources field`);
    return f.number;
  };
  types = {
    request: messageType(`${DISCOVERY}.DiscoveryRequest`),
    response,
    deltaRequest: messageType(`${DISCOVERY}.DeltaDiscoveryRequest`),
    deltaResponse,
    anyMessage: messageType('google.protobuf.Any'),
    resource: messageType(`${DISCOVERY}.Resource`),
    sotwResourcesNo: resourcesNo(response),
    deltaResourcesNo: resourcesNo(deltaResponse),
  };
  return types;
}

function nodeOf(n: NodeMessage | undefined): NodeInfo | undefined {
  if (!n) return undefined;
  const v = n.userAgentVersionType;
  const version = v.case === 'userAgentVersion' && typeof v.value === 'string' ? v.value : '';
  return {
    id: n.id,
    cluster: n.cluster,
    userAgent: version ? `${n.userAgentName}/${version}` : n.userAgentName,
  };
}

function errorOf(e: StatusMessage | undefined): ErrorDetail | undefined {
  return e ? { code: e.code, message: e.message } : undefined;
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function decodeSotwRequest(buf: Buffer): SotwRequest {
  const m = fromBinary(t().request, buf) as unknown as DiscoveryRequestMessage;
  const req: SotwRequest = {
    version_info: m.versionInfo,
    resource_names: m.resourceNames,
    type_url: m.typeUrl,
    response_nonce: m.responseNonce,
  };
  const node = nodeOf(m.node);
  if (node) req.node = node;
  const err = errorOf(m.errorDetail);
  if (err) req.error_detail = err;
  return req;
}

export function decodeDeltaRequest(buf: Buffer): DeltaRequest {
  const m = fromBinary(t().deltaRequest, buf) as unknown as DeltaDiscoveryRequestMessage;
  const req: DeltaRequest = {
    type_url: m.typeUrl,
    resource_names_subscribe: m.resourceNamesSubscribe,
    resource_names_unsubscribe: m.resourceNamesUnsubscribe,
    initial_resource_versions: { ...m.initialResourceVersions },
    response_nonce: m.responseNonce,
  };
  const node = nodeOf(m.node);
  if (node) req.node = node;
  const err = errorOf(m.errorDetail);
  if (err) req.error_detail = err;
  return req;
}

/** One length-delimited field `no` holding `message`: a chunk appended to a response header. */
function field(no: number, message: Uint8Array): Buffer {
  return asBuffer(new BinaryWriter().tag(no, WireType.LengthDelimited).bytes(message).finish());
}

/** `resources` entry of a DiscoveryResponse: an Any. */
export function sotwChunk(typeUrl: string, bytes: Buffer): Buffer {
  const { anyMessage, sotwResourcesNo } = t();
  return field(sotwResourcesNo, toBinary(anyMessage, create(anyMessage, { typeUrl, value: bytes })));
}

/** `resources` entry of a DeltaDiscoveryResponse: a Resource. */
export function deltaChunk(typeUrl: string, name: string, version: string, bytes: Buffer): Buffer {
  const { anyMessage, resource, deltaResourcesNo } = t();
  const message = create(resource, {
    name,
    version,
    resource: create(anyMessage, { typeUrl, value: bytes }),
  });
  return field(deltaResourcesNo, toBinary(resource, message));
}

const CONTROL_PLANE = { identifier: 'kgw' };

export function encodeSotwResponse(
  header: { version_info: string; type_url: string; nonce: string },
  chunks: Buffer[],
): Buffer {
  const { response } = t();
  const head = create(response, {
    versionInfo: header.version_info,
    typeUrl: header.type_url,
    nonce: header.nonce,
    controlPlane: CONTROL_PLANE,
  });
  return Buffer.concat([toBinary(response, head), ...chunks]);
}

export function encodeDeltaResponse(
  header: { system_version_info: string; type_url: string; nonce: string; removed_resources: string[] },
  chunks: Buffer[],
): Buffer {
  const { deltaResponse } = t();
  const head = create(deltaResponse, {
    systemVersionInfo: header.system_version_info,
    typeUrl: header.type_url,
    nonce: header.nonce,
    removedResources: header.removed_resources,
    controlPlane: CONTROL_PLANE,
  });
  return Buffer.concat([toBinary(deltaResponse, head), ...chunks]);
}

const wireAny = (a: AnyMessage): WireAny => ({ type_url: a.typeUrl, value: asBuffer(a.value) });

export function decodeSotwResponse(buf: Buffer): SotwResponse {
  const m = fromBinary(t().response, buf) as unknown as DiscoveryResponseMessage;
  return {
    version_info: m.versionInfo,
    type_url: m.typeUrl,
    nonce: m.nonce,
    resources: m.resources.map(wireAny),
  };
}

export function decodeDeltaResponse(buf: Buffer): DeltaResponse {
  const m = fromBinary(t().deltaResponse, buf) as unknown as DeltaDiscoveryResponseMessage;
  const resources = m.resources.map((r) => {
    const out: DeltaResponse['resources'][number] = { name: r.name, version: r.version };
    if (r.resource) out.resource = wireAny(r.resource);
    return out;
  });
  return {
    system_version_info: m.systemVersionInfo,
    type_url: m.typeUrl,
    nonce: m.nonce,
    resources,
    removed_resources: m.removedResources,
  };
}

/** Client-side request encoders: accept partial requests with proto field names. */
export function encodeSotwRequest(req: Partial<SotwRequest> & { node?: Partial<NodeInfo> }): Buffer {
  return asBuffer(toBinary(t().request, fromJson(t().request, requestJson(req))));
}

export function encodeDeltaRequest(req: Partial<DeltaRequest> & { node?: Partial<NodeInfo> }): Buffer {
  return asBuffer(toBinary(t().deltaRequest, fromJson(t().deltaRequest, requestJson(req))));
}

/** The request as proto3 JSON (proto field names; undefined members left out). */
function requestJson(req: object & { node?: Partial<NodeInfo> }): JsonObject {
  const { node, ...rest } = req;
  const out = JSON.parse(JSON.stringify(rest)) as JsonObject;
  if (node)
    out.node = { id: node.id ?? '', cluster: node.cluster ?? '', user_agent_name: node.userAgent ?? '' };
  return out;
}

const passThrough = (b: Buffer): Buffer => b;

/** Server side: requests decoded, responses written as ready-made bytes. */
export function adsServerService(): grpc.ServiceDefinition {
  return {
    StreamAggregatedResources: {
      path: SOTW_METHOD,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeSotwRequest,
      requestDeserialize: decodeSotwRequest,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
    DeltaAggregatedResources: {
      path: DELTA_METHOD,
      requestStream: true,
      responseStream: true,
      requestSerialize: encodeDeltaRequest,
      requestDeserialize: decodeDeltaRequest,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  };
}
