// gRPC wire helpers for PingService (ping.proto), shared by the grpc-ping backend and the
// test client: protobuf encode/decode via protobufjs and the 5-byte length-prefixed framing.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

export const PING_PATH = '/ping.PingService/Ping';
export const PING_STREAM_PATH = '/ping.PingService/PingStream';
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

const root = protobuf.loadSync(fileURLToPath(new URL('./ping.proto', import.meta.url)));
const RequestType = root.lookupType('ping.Request');
const ResponseType = root.lookupType('ping.Response');

function encode(type: protobuf.Type, msg: string): Buffer {
  return Buffer.from(type.encode(type.create({ msg })).finish());
}

function decode(type: protobuf.Type, buf: Buffer): string {
  const obj = type.toObject(type.decode(buf), { defaults: true }) as { msg?: unknown };
  return typeof obj.msg === 'string' ? obj.msg : '';
}

export const encodeRequest = (msg: string): Buffer => encode(RequestType, msg);
export const decodeRequest = (buf: Buffer): string => decode(RequestType, buf);
export const encodeResponse = (msg: string): Buffer => encode(ResponseType, msg);
export const decodeResponse = (buf: Buffer): string => decode(ResponseType, buf);

/** One gRPC length-prefixed message (uncompressed). */
export function frame(payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export interface GrpcMessage {
  compressed: boolean;
  payload: Buffer;
}

/** Splits a byte stream into gRPC messages; throws on messages above MAX_MESSAGE_BYTES. */
export class FrameDecoder {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): GrpcMessage[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: GrpcMessage[] = [];
    while (this.#buf.length >= 5) {
      const len = this.#buf.readUInt32BE(1);
      if (len > MAX_MESSAGE_BYTES) throw new Error(`grpc message of ${len} bytes exceeds the limit`);
      if (this.#buf.length < 5 + len) break;
      out.push({ compressed: this.#buf.readUInt8(0) !== 0, payload: this.#buf.subarray(5, 5 + len) });
      this.#buf = this.#buf.subarray(5 + len);
    }
    return out;
  }

  /** Bytes of an incomplete message left over. */
  get pending(): number {
    return this.#buf.length;
  }
}
