// Test gRPC client for PingService: a real @grpc/grpc-js client dialing a chosen address over
// plaintext h2c with a chosen :authority (e.g. `host:80`), no proxy and no retries.
import * as grpc from '@grpc/grpc-js';
import { urlHost } from './http-client.ts';
import { PING_PATH, PING_STREAM_PATH, decodeResponse, encodeRequest } from './grpc-codec.ts';

export interface GrpcPingOptions {
  address: string;
  port: number;
  /** :authority for every call, e.g. `ping.example.com:80`. */
  authority: string;
  /** Deadline of each unary call and of each whole stream; default 30 000 ms. */
  timeoutMs?: number;
}

export interface PingStream {
  /** Sends one message and resolves with the next reply on this stream. */
  send(msg: string): Promise<string>;
  /** Half-closes and waits (bounded by the deadline) for the server's status. */
  close(): Promise<void>;
}

export interface GrpcPingClient {
  ping(msg: string): Promise<string>;
  stream(): PingStream;
  close(): void;
}

const serialize = (msg: string): Buffer => encodeRequest(msg);
const deserialize = (buf: Buffer): string => decodeResponse(buf);

function openStream(client: grpc.Client, timeoutMs: number): PingStream {
  const call = client.makeBidiStreamRequest(PING_STREAM_PATH, serialize, deserialize, new grpc.Metadata(), {
    deadline: Date.now() + timeoutMs,
  });
  const waiters: Array<{ resolve: (s: string) => void; reject: (e: Error) => void }> = [];
  const early: string[] = [];
  let failure: Error | undefined;
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const failAll = (err: Error): void => {
    failure ??= err;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  call.on('data', (reply: string) => {
    const w = waiters.shift();
    if (w) w.resolve(reply);
    else early.push(reply);
  });
  call.on('error', (err: Error) => failAll(err));
  call.on('end', () => failAll(new Error('stream ended before a reply')));
  return {
    send(msg: string): Promise<string> {
      if (early.length > 0) return Promise.resolve(early.shift()!);
      if (failure) return Promise.reject(failure);
      return new Promise<string>((resolve, reject) => {
        waiters.push({ resolve, reject });
        call.write(msg);
      });
    },
    async close(): Promise<void> {
      call.end();
      const s = await status;
      if (s.code !== grpc.status.OK) throw new Error(`PingStream ended with ${s.code}: ${s.details}`);
    },
  };
}

export function grpcPing(opts: GrpcPingOptions): GrpcPingClient {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const client = new grpc.Client(`${urlHost(opts.address)}:${opts.port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': opts.authority,
    'grpc.enable_http_proxy': 0,
    'grpc.enable_retries': 0,
    'grpc.use_local_subchannel_pool': 1,
  });
  return {
    ping: (msg: string) =>
      new Promise<string>((resolve, reject) => {
        client.makeUnaryRequest(
          PING_PATH,
          serialize,
          deserialize,
          msg,
          new grpc.Metadata(),
          { deadline: Date.now() + timeoutMs },
          (err: grpc.ServiceError | null, reply?: string) => {
            if (err) reject(err);
            else resolve(reply ?? '');
          },
        );
      }),
    stream: () => openStream(client, timeoutMs),
    close: () => client.close(),
  };
}
