// A minimal ADS client over grpc-js for tests and benchmarks: opens a SotW or delta stream, sends
// requests/ACKs/NACKs the way Envoy does, queues responses and decodes their resources with the
// same protos the server uses. It is deliberately explicit (no automatic ACKs), so tests control
// every step of the protocol.
import * as grpc from '@grpc/grpc-js';
import { decodeResource, type JsonObject } from '../../operator/xds/protojson.ts';
import { TYPE_ENDPOINT, type TypeUrl } from '../../operator/xds/protos.ts';
import type { StreamMode } from '../../operator/xds/types.ts';
import {
  DELTA_METHOD,
  SOTW_METHOD,
  decodeDeltaResponse,
  decodeSotwResponse,
  encodeDeltaRequest,
  encodeSotwRequest,
  type DeltaRequest,
  type DeltaResponse,
  type SotwRequest,
  type SotwResponse,
} from '../../operator/xds/wire.ts';

export type AdsResponse = SotwResponse | DeltaResponse;

export function isDelta(r: AdsResponse): r is DeltaResponse {
  return 'system_version_info' in r;
}

/** Names of the resources a response carries (delta: also the Resource.name of each entry). */
export function resourceNames(r: AdsResponse): string[] {
  if (isDelta(r)) return r.resources.map((x) => x.name);
  return r.resources.map((a) => nameOf(a.type_url, decodeResource(a.type_url, a.value)));
}

/** The decoded resources of a response, as canonical JSON. */
export function decodedResources(r: AdsResponse): JsonObject[] {
  const anys = isDelta(r) ? r.resources.flatMap((x) => (x.resource ? [x.resource] : [])) : r.resources;
  return anys.map((a) => decodeResource(a.type_url, a.value));
}

function nameOf(typeUrl: string, json: JsonObject): string {
  const n = typeUrl === TYPE_ENDPOINT ? json.cluster_name : json.name;
  return typeof n === 'string' ? n : '';
}

interface Waiter {
  resolve: (r: AdsResponse) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class AdsClient {
  readonly mode: StreamMode;
  readonly node: { id: string; cluster: string };
  /** Every response received, in order. */
  readonly received: AdsResponse[] = [];
  readonly #client: grpc.Client;
  readonly #stream: grpc.ClientDuplexStream<SotwRequest | DeltaRequest, AdsResponse>;
  readonly #unread: AdsResponse[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #names = new Map<string, string[]>();
  readonly #acked = new Map<string, string>();
  #sentNode = false;
  #ended: Error | undefined;

  /** target: '127.0.0.1:port' or 'unix:/path.sock'. */
  constructor(target: string, mode: StreamMode, node: { id: string; cluster: string }) {
    this.mode = mode;
    this.node = node;
    this.#client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
    });
    this.#stream =
      mode === 'sotw'
        ? (this.#client.makeBidiStreamRequest<SotwRequest, SotwResponse>(
            SOTW_METHOD,
            encodeSotwRequest,
            decodeSotwResponse,
          ) as grpc.ClientDuplexStream<SotwRequest | DeltaRequest, AdsResponse>)
        : (this.#client.makeBidiStreamRequest<DeltaRequest, DeltaResponse>(
            DELTA_METHOD,
            encodeDeltaRequest,
            decodeDeltaResponse,
          ) as grpc.ClientDuplexStream<SotwRequest | DeltaRequest, AdsResponse>);
    this.#stream.on('data', (r: AdsResponse) => {
      this.received.push(r);
      const w = this.#waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(r);
      } else {
        this.#unread.push(r);
      }
    });
    const end = (err: Error): void => {
      this.#ended ??= err;
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err);
      }
    };
    this.#stream.on('error', (err: Error) => end(err));
    this.#stream.on('end', () => end(new Error('stream ended by server')));
  }

  /** Sends a raw request (the node is added to the first one). */
  send(req: Partial<SotwRequest> | Partial<DeltaRequest>): void {
    const withNode = this.#sentNode ? req : { ...req, node: { ...this.node, userAgent: 'kgw-test' } };
    this.#sentNode = true;
    this.#stream.write(withNode as SotwRequest | DeltaRequest);
  }

  /**
   * Starts (or, for SotW, changes) a subscription. SotW: names replace the previous list (empty =
   * wildcard for LDS/CDS). Delta: names are added; `initial` are the versions the client already has.
   */
  subscribe(typeUrl: TypeUrl, names: string[] = [], initial: Record<string, string> = {}): void {
    if (this.mode === 'sotw') {
      const first = !this.#names.has(typeUrl);
      this.#names.set(typeUrl, names);
      this.send({
        type_url: typeUrl,
        resource_names: names,
        version_info: this.#acked.get(typeUrl) ?? '',
        response_nonce: first ? '' : (this.#lastNonce(typeUrl) ?? ''),
      });
    } else {
      this.send({ type_url: typeUrl, resource_names_subscribe: names, initial_resource_versions: initial });
    }
  }

  /** Delta only: drops names from the subscription. */
  unsubscribe(typeUrl: TypeUrl, names: string[]): void {
    this.send({ type_url: typeUrl, resource_names_unsubscribe: names });
  }

  ack(r: AdsResponse): void {
    if (isDelta(r)) {
      this.send({ type_url: r.type_url, response_nonce: r.nonce });
      return;
    }
    this.#acked.set(r.type_url, r.version_info);
    this.send({
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names: this.#names.get(r.type_url) ?? [],
    });
  }

  nack(r: AdsResponse, message: string): void {
    const error_detail = { code: 3, message }; // INVALID_ARGUMENT, as Envoy reports
    if (isDelta(r)) {
      this.send({ type_url: r.type_url, response_nonce: r.nonce, error_detail });
      return;
    }
    this.send({
      type_url: r.type_url,
      version_info: this.#acked.get(r.type_url) ?? '',
      response_nonce: r.nonce,
      resource_names: this.#names.get(r.type_url) ?? [],
      error_detail,
    });
  }

  /** The next unread response; rejects after timeoutMs or if the stream ends. */
  next(timeoutMs = 5000): Promise<AdsResponse> {
    const r = this.#unread.shift();
    if (r) return Promise.resolve(r);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise<AdsResponse>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new Error(`no xDS response within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Responses received but not yet taken with next(). */
  get unread(): number {
    return this.#unread.length;
  }

  close(): void {
    this.#stream.cancel();
    this.#client.close();
  }

  #lastNonce(typeUrl: string): string | undefined {
    for (let i = this.received.length - 1; i >= 0; i--) {
      const r = this.received[i];
      if (r && r.type_url === typeUrl) return r.nonce;
    }
    return undefined;
  }
}

/** Polls `cond` every 5 ms until it holds; rejects after timeoutMs. */
export async function pollUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 100_000; i++) {
    if (cond()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
