// kgw's ADS server: one gRPC server serving both StreamAggregatedResources (state of the world) and
// DeltaAggregatedResources to Envoy fleets, from per-fleet snapshots (fleet = Envoy node.cluster).
// Resources are encoded once per change (cache.ts); each stream decides what to send (session.ts)
// under the make-before-break rules of ordering.ts. Nothing is sent before markSynced().
import * as grpc from '@grpc/grpc-js';
import { newLogger, type Logger } from '../log.ts';
import { SnapshotCache, type SnapshotInput, type SnapshotChange } from './cache.ts';
import { TYPE_SHORT, TYPE_URLS, protoRoot, type TypeUrl } from './protos.ts';
import { Session, type SessionHost } from './session.ts';
import type { AckEvent, ProxyInfo, XdsStats } from './types.ts';
import { adsServerService, type DeltaRequest, type SotwRequest } from './wire.ts';

export interface XdsServerOptions {
  log?: Logger;
  /** Longest time listeners/routes wait for clusters/endpoints to be ACKed first (default 10 s). */
  orderingTimeoutMs?: number;
}

export type AckListener = (event: AckEvent) => void;

const zeroByType = (): Record<TypeUrl, number> =>
  Object.fromEntries(TYPE_URLS.map((t) => [t, 0])) as Record<TypeUrl, number>;

export class XdsServer {
  readonly #log: Logger;
  readonly #cache = new SnapshotCache();
  readonly #sessions = new Set<Session>();
  readonly #byFleet = new Map<string, Set<Session>>();
  readonly #calls = new Map<Session, grpc.ServerDuplexStream<unknown, Buffer>>();
  readonly #ackListeners = new Set<AckListener>();
  readonly #nackListeners = new Set<AckListener>();
  readonly #stats: XdsStats = { bytesSent: zeroByType(), resourcesSent: zeroByType(), responses: 0 };
  readonly #host: SessionHost;
  #synced = false;
  #server: grpc.Server | undefined;

  constructor(options: XdsServerOptions = {}) {
    this.#log = options.log ?? newLogger('xds');
    const orderingTimeoutMs = options.orderingTimeoutMs ?? 10_000;
    this.#host = {
      log: this.#log,
      orderingTimeoutMs,
      synced: () => this.#synced,
      snapshot: (fleet) => this.#cache.get(fleet),
      attach: (s) => this.#attach(s),
      write: (_s, typeUrl, bytes, resources) => {
        this.#stats.bytesSent[typeUrl] += bytes.length;
        this.#stats.resourcesSent[typeUrl] += resources;
        this.#stats.responses++;
      },
      ack: (e) => this.#emit(this.#ackListeners, e),
      nack: (e) => this.#emit(this.#nackListeners, e),
    };
  }

  /**
   * Replaces the given types of a fleet's snapshot atomically; types not given stay as they are.
   * Each map holds the complete set of that type by resource name. Resources are encoded here,
   * once; an invalid one throws (naming fleet, type, resource and JSON path) and nothing changes.
   * Resource objects must not be mutated after being passed: an object passed again under the
   * same name is taken as unchanged and not re-encoded.
   */
  setSnapshot(fleet: string, resources: SnapshotInput): SnapshotChange {
    const change = this.#cache.set(fleet, resources);
    if (change.changed.length === 0) return change;
    this.#log.debug(
      { fleet, generation: change.generation, changed: change.changed.map((t) => TYPE_SHORT[t]) },
      'xDS snapshot updated',
    );
    for (const s of this.#byFleet.get(fleet) ?? []) s.pump();
    return change;
  }

  /** Forgets a fleet's snapshot; its connected proxies keep their config and get no updates. */
  deleteSnapshot(fleet: string): void {
    if (this.#cache.delete(fleet)) this.#log.info({ fleet }, 'xDS snapshot deleted');
  }

  /** The set version of a type in a fleet's snapshot (what SotW ACKs of the full set carry). */
  snapshotVersion(fleet: string, typeUrl: TypeUrl): string | undefined {
    return this.#cache.get(fleet)?.types.get(typeUrl)?.version;
  }

  /** Until called, requests are recorded but nothing is sent (the model is not complete yet). */
  markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    this.#log.info({ proxies: this.#sessions.size }, 'xDS server synced; serving snapshots');
    for (const s of this.#sessions) s.pump();
  }

  /** Binds 'unix:/path.sock' or 'host:port' (port 0 picks one); returns the port (0 for unix). */
  async listen(address: string): Promise<number> {
    protoRoot(); // parse the protos before the first stream arrives
    const server = (this.#server ??= this.#newServer());
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => {
        if (err) reject(err);
        else resolve(p);
      });
    });
    this.#log.info({ address, port }, 'xDS server listening');
    return address.startsWith('unix:') ? 0 : port;
  }

  /** Ends every stream (proxies reconnect elsewhere) and stops the server. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const [session, call] of this.#calls) {
      this.#drop(session);
      if (!call.cancelled) call.end();
    }
    if (!server) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000);
      server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  connections(fleet?: string): ProxyInfo[] {
    const sessions = fleet === undefined ? [...this.#sessions] : [...(this.#byFleet.get(fleet) ?? [])];
    return sessions.filter((s) => s.fleet !== undefined).map((s) => s.info());
  }

  stats(): XdsStats {
    return {
      bytesSent: { ...this.#stats.bytesSent },
      resourcesSent: { ...this.#stats.resourcesSent },
      responses: this.#stats.responses,
    };
  }

  /** Registers an ACK listener; returns a function that unregisters it. */
  onAck(cb: AckListener): () => void {
    this.#ackListeners.add(cb);
    return () => this.#ackListeners.delete(cb);
  }

  onNack(cb: AckListener): () => void {
    this.#nackListeners.add(cb);
    return () => this.#nackListeners.delete(cb);
  }

  /**
   * Resolves once a proxy of `fleet` has ACKed `typeUrl` with a matching response: a version string
   * matches the response's version_info exactly or as its snapshot part (`<version>+<subset>`), a
   * predicate is called with the ACK. ACKs that happened before the call count (the last ACK per
   * type and stream). Rejects after timeoutMs.
   */
  waitForAck(
    fleet: string,
    typeUrl: TypeUrl,
    match: string | ((event: AckEvent) => boolean),
    timeoutMs: number,
  ): Promise<void> {
    const ok = (e: AckEvent): boolean =>
      e.fleet === fleet &&
      e.typeUrl === typeUrl &&
      (typeof match === 'string' ? e.version === match || e.version.startsWith(`${match}+`) : match(e));
    for (const s of this.#byFleet.get(fleet) ?? []) {
      if (s.lastAcks().some(ok)) return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        const what = typeof match === 'string' ? `version ${match}` : 'the predicate';
        reject(
          new Error(
            `no ${TYPE_SHORT[typeUrl]} ACK matching ${what} from fleet ${fleet} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      const off = this.onAck((e) => {
        if (!ok(e)) return;
        clearTimeout(timer);
        off();
        resolve();
      });
    });
  }

  #emit(listeners: Set<AckListener>, event: AckEvent): void {
    for (const cb of [...listeners]) {
      try {
        cb(event);
      } catch (err) {
        this.#log.error({ err }, 'ACK/NACK listener threw');
      }
    }
  }

  #newServer(): grpc.Server {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
    });
    server.addService(adsServerService(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<SotwRequest, Buffer>) =>
        this.#serve('sotw', call, (s, r) => s.handleSotw(r)),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaRequest, Buffer>) =>
        this.#serve('delta', call, (s, r) => s.handleDelta(r)),
    });
    return server;
  }

  #serve<Req>(
    mode: 'sotw' | 'delta',
    call: grpc.ServerDuplexStream<Req, Buffer>,
    handle: (s: Session, req: Req) => void,
  ): void {
    const session = new Session(mode, this.#host, (bytes) => {
      if (!call.cancelled && !call.writableEnded) call.write(bytes);
    });
    this.#sessions.add(session);
    this.#calls.set(session, call);
    const done = (reason: string): void => {
      if (!this.#sessions.has(session)) return;
      this.#drop(session);
      this.#log.info({ fleet: session.fleet, nodeId: session.nodeId, mode, reason }, 'proxy disconnected');
    };
    call.on('data', (req: Req) => {
      try {
        handle(session, req);
      } catch (err) {
        this.#log.error({ err, fleet: session.fleet, nodeId: session.nodeId }, 'xDS request failed');
        done('internal error');
        call.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    call.on('end', () => {
      done('client closed stream');
      if (!call.writableEnded) call.end();
    });
    call.on('cancelled', () => done('cancelled'));
    call.on('error', (err: Error) => done(err.message));
    call.on('close', () => done('closed'));
  }

  #attach(session: Session): void {
    const fleet = session.fleet ?? '';
    let set = this.#byFleet.get(fleet);
    if (!set) {
      set = new Set();
      this.#byFleet.set(fleet, set);
    }
    set.add(session);
  }

  #drop(session: Session): void {
    session.close();
    this.#sessions.delete(session);
    this.#calls.delete(session);
    const fleet = session.fleet;
    if (fleet === undefined) return;
    const set = this.#byFleet.get(fleet);
    set?.delete(session);
    if (set?.size === 0) this.#byFleet.delete(fleet);
  }
}
