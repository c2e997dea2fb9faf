// Canonical proto3 JSON (with .proto field names, i.e. snake_case) ⇄ protobuf binary for xDS
// resources. The encoder (protojson-encode.ts) is what the snapshot cache uses; the decoder
// (protojson-decode.ts) reads resources back, for tests and tools.
import { decodeMessage } from './protojson-decode.ts';
import { encodeMessage } from './protojson-encode.ts';
import { messageType, typeNameOfUrl } from './protos.ts';
import type { JsonObject } from './protojson-shared.ts';

export { decodeMessage } from './protojson-decode.ts';
export { encodeMessage } from './protojson-encode.ts';
export { ProtoJsonError, type JsonObject, type JsonValue } from './protojson-shared.ts';

/** Encodes a canonical-JSON resource of the given type URL (or full message name) to bytes. */
export function encodeResource(typeUrl: string, json: object): Buffer {
  return encodeMessage(messageType(typeNameOfUrl(typeUrl)), json);
}

/** Decodes resource bytes back to canonical JSON (snake_case, implicit defaults omitted). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): JsonObject {
  return decodeMessage(messageType(typeNameOfUrl(typeUrl)), bytes);
}
