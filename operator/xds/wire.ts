// ADS wire format: decodes DiscoveryRequest / DeltaDiscoveryRequest into small typed objects,
// assembles responses from pre-encoded resource chunks (a resource is wrapped in its Any / Resource
// envelope once per change, and a response is a header plus a concatenation of those chunks), and
// defines the AggregatedDiscoveryService for grpc-js (server side and a client side for tests).
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
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

type Decoded = Record<string, unknown>;

interface Types {
  request: protobuf.Type;
  response: protobuf.Type;
  deltaRequest: protobuf.Type;
  deltaResponse: protobuf.Type;
  any: protobuf.Type;
  resource: protobuf.Type;
}
let types: Types | undefined;
function t(): Types {
  types ??= {
    request: messageType(`${DISCOVERY}.DiscoveryRequest`),
    response: messageType(`${DISCOVERY}.DiscoveryResponse`),
    deltaRequest: messageType(`${DISCOVERY}.DeltaDiscoveryRequest`),
    deltaResponse: messageType(`${DISCOVERY}.DeltaDiscoveryResponse`),
    any: messageType('google.protobuf.Any'),
    resource: messageType(`${DISCOVERY}.Resource`),
  };
  return types;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

function nodeOf(v: unknown): NodeInfo | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const n = v as Decoded;
  const name = str(n.user_agent_name);
  const version = str(n.user_agent_version);
  return { id: str(n.id), cluster: str(n.cluster), userAgent: version ? `${name}/${version}` : name };
}

function errorOf(v: unknown): ErrorDetail | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Decoded;
  return { code: typeof e.code === 'number' ? e.code : 0, message: str(e.message) };
}

export function decodeSotwRequest(buf: Buffer): SotwRequest {
  const m = t().request.decode(buf) as unknown as Decoded;
  const req: SotwRequest = {
    version_info: str(m.version_info),
    resource_names: strs(m.resource_names),
    type_url: str(m.type_url),
    response_nonce: str(m.response_nonce),
  };
  const node = nodeOf(m.node);
  if (node) req.node = node;
  const err = errorOf(m.error_detail);
  if (err) req.error_detail = err;
  return req;
}

export function decodeDeltaRequest(buf: Buffer): DeltaRequest {
  const m = t().deltaRequest.decode(buf) as unknown as Decoded;
  const initial = (m.initial_resource_versions ?? {}) as Record<string, unknown>;
  const req: DeltaRequest = {
    type_url: str(m.type_url),
    resource_names_subscribe: strs(m.resource_names_subscribe),
    resource_names_unsubscribe: strs(m.resource_names_unsubscribe),
    initial_resource_versions: Object.fromEntries(Object.entries(initial).map(([k, v]) => [k, str(v)])),
    response_nonce: str(m.response_nonce),
  };
  const node = nodeOf(m.node);
  if (node) req.node = node;
  const err = errorOf(m.error_detail);
  if (err) req.error_detail = err;
  return req;
}

function finish(w: protobuf.Writer): Buffer {
  const out = w.finish();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** `resources` (field 2) entry of a DiscoveryResponse: a length-delimited Any. */
export function sotwChunk(typeUrl: string, bytes: Buffer): Buffer {
  const any = t().any.encode({ type_url: typeUrl, value: bytes }).finish();
  return finish(
    protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .bytes(any),
  );
}

/** `resources` (field 2) entry of a DeltaDiscoveryResponse: a length-delimited Resource. */
export function deltaChunk(typeUrl: string, name: string, version: string, bytes: Buffer): Buffer {
  const resource = t()
    .resource.encode({ name, version, resource: { type_url: typeUrl, value: bytes } })
    .finish();
  return finish(
    protobuf.Writer.create()
      .uint32((2 << 3) | 2)
      .bytes(resource),
  );
}

const CONTROL_PLANE = { identifier: 'kgw' };

export function encodeSotwResponse(
  header: { version_info: string; type_url: string; nonce: string },
  chunks: Buffer[],
): Buffer {
  const head = finish(t().response.encode({ ...header, control_plane: CONTROL_PLANE }));
  return Buffer.concat([head, ...chunks]);
}

export function encodeDeltaResponse(
  header: { system_version_info: string; type_url: string; nonce: string; removed_resources: string[] },
  chunks: Buffer[],
): Buffer {
  const head = finish(t().deltaResponse.encode({ ...header, control_plane: CONTROL_PLANE }));
  return Buffer.concat([head, ...chunks]);
}

function toWireAny(v: unknown): WireAny | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const a = v as Decoded;
  return { type_url: str(a.type_url), value: Buffer.from((a.value as Uint8Array | undefined) ?? []) };
}

export function decodeSotwResponse(buf: Buffer): SotwResponse {
  const m = t().response.decode(buf) as unknown as Decoded;
  return {
    version_info: str(m.version_info),
    type_url: str(m.type_url),
    nonce: str(m.nonce),
    resources: ((m.resources as unknown[] | undefined) ?? []).flatMap((r) => toWireAny(r) ?? []),
  };
}

export function decodeDeltaResponse(buf: Buffer): DeltaResponse {
  const m = t().deltaResponse.decode(buf) as unknown as Decoded;
  const resources = ((m.resources as Decoded[] | undefined) ?? []).map((r) => {
    const out: DeltaResponse['resources'][number] = { name: str(r.name), version: str(r.version) };
    const any = toWireAny(r.resource);
    if (any) out.resource = any;
    return out;
  });
  return {
    system_version_info: str(m.system_version_info),
    type_url: str(m.type_url),
    nonce: str(m.nonce),
    resources,
    removed_resources: strs(m.removed_resources),
  };
}

/** Client-side request encoders: accept partial requests with proto field names. */
export function encodeSotwRequest(req: Partial<SotwRequest> & { node?: Partial<NodeInfo> }): Buffer {
  return finish(t().request.encode(t().request.fromObject(requestObject(req))));
}

export function encodeDeltaRequest(req: Partial<DeltaRequest> & { node?: Partial<NodeInfo> }): Buffer {
  return finish(t().deltaRequest.encode(t().deltaRequest.fromObject(requestObject(req))));
}

function requestObject(req: { node?: Partial<NodeInfo> }): Decoded {
  const { node, ...rest } = req as Decoded & { node?: Partial<NodeInfo> };
  if (!node) return rest;
  return {
    ...rest,
    node: { id: node.id ?? '', cluster: node.cluster ?? '', user_agent_name: node.userAgent ?? '' },
  };
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
