// LEGACY: the old hand-written codec, kept only for protojson-differential.test.ts and
// bench/encode.ts (KGW_BENCH_ENCODER=legacy) until it is removed. Use protojson.ts.
// Canonical proto3 JSON (with .proto field names, i.e. snake_case) ⇄ protobuf binary for xDS
// resources. The encoder (protojson-encode.ts) is what the snapshot cache uses; the decoder
// (protojson-decode.ts) reads resources back, for tests and tools.
import { decodeMessage } from './legacy-protojson-decode.ts';
import { encodeMessage } from './legacy-protojson-encode.ts';
import { messageType, typeNameOfUrl } from './legacy-protos.ts';
import type { JsonObject } from './legacy-protojson-shared.ts';

export { decodeMessage } from './legacy-protojson-decode.ts';
export { encodeMessage } from './legacy-protojson-encode.ts';
export { ProtoJsonError, type JsonObject, type JsonValue } from './legacy-protojson-shared.ts';

/** Encodes a canonical-JSON resource of the given type URL (or full message name) to bytes. */
export function encodeResource(typeUrl: string, json: object): Buffer {
  return encodeMessage(messageType(typeNameOfUrl(typeUrl)), json);
}

/** Decodes resource bytes back to canonical JSON (snake_case, implicit defaults omitted). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): JsonObject {
  return decodeMessage(messageType(typeNameOfUrl(typeUrl)), bytes);
}
