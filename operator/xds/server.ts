// kgw's ADS server: one gRPC server serving both StreamAggregatedResources (state of the world) and
// DeltaAggregatedResources to Envoy fleets, from per-fleet snapshots (fleet = Envoy node.cluster).
// Resources are encoded once per change (cache.ts); each stream decides what to send (session.ts)
// under the make-before-break rules of ordering.ts. Nothing is sent before markSynced(). A Global
// fleet's rate-limit service (envoyproxy/ratelimit) uses the same endpoint for its RateLimitConfigs:
// its streams are told apart by their first request and served by rate-limit-configs.ts.
import * as grpc from '@grpc/grpc-js';
import { newLogger, type Logger } from '../log.ts';
import { subjectAltNames } from '../pki/ca.ts';
import { fleetFromUris } from '../pki/xds-tls.ts';
import { SnapshotCache, type SnapshotInput, type SnapshotChange } from './cache.ts';
import { TYPE_SHORT, TYPE_URLS, envoyRegistry, type TypeUrl } from './protos.ts';
import {
  RateLimitConfigs,
  TYPE_RATE_LIMIT_CONFIG,
  type CertificateWindow,
  type RateLimitServiceInfo,
  type RateLimitStream,
} from './rate-limit-configs.ts';
import { Session, type SessionHost } from './session.ts';
import { DirectoryCertificateProvider } from './tls.ts';
import { setVersionOfLabel, type AckEvent, type ProxyInfo, type XdsStats } from './types.ts';
import { adsServerService, type DeltaRequest, type SotwRequest } from './wire.ts';

export interface XdsServerOptions {
  log?: Logger;
  /** Longest time listeners/routes wait for clusters/endpoints to be ACKed first (default 10 s). */
  orderingTimeoutMs?: number;
}

/** Mutual TLS for one listening address (see operator/pki/xds-tls.ts and ./tls.ts). */
export interface XdsServerTlsOptions {
  /**
   * Credential directory: `tls.crt` + `tls.key` (the server's identity) and `ca.crt` (the CAs that
   * client certificates must chain to), in the `..data` layout of pki/xds-tls.ts or a mounted
   * Secret. Re-read every `refreshMs` and by reloadTls(); new material applies to new handshakes
   * without restarting the server.
   */
  dir: string;
  /** Default 5000 ms. */
  refreshMs?: number;
  /**
   * Serve a stream only the fleet its client certificate names (URI SAN
   * `spiffe://kgw/fleet/<gateway>/<fleet>`): a stream whose node.cluster differs, or a certificate
   * naming no fleet, ends with PERMISSION_DENIED. Default true.
   */
  enforceFleetIdentity?: boolean;
}

export interface XdsListenOptions {
  /** Without it: plaintext (meant for a unix socket only the operator's Envoys can reach). */
  tls?: XdsServerTlsOptions;
}

/** A stream refused by the fleet identity check (the last 100 are kept). */
export interface RefusedStream {
  /** The fleet the client certificate names; undefined when it names none. */
  certificateFleet: string | undefined;
  /** node.cluster of the first request. */
  requestedFleet: string | undefined;
  nodeId: string;
  reason: string;
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
  readonly #tlsProviders: DirectoryCertificateProvider[] = [];
  #enforceFleetIdentity = false;
  readonly #refused: RefusedStream[] = [];
  readonly #rateLimits: RateLimitConfigs;
  /** The streams of rate-limit services (not sessions: close() ends them too). */
  readonly #rateLimitCalls = new Set<grpc.ServerDuplexStream<unknown, Buffer>>();

  constructor(options: XdsServerOptions = {}) {
    this.#log = options.log ?? newLogger('xds');
    this.#rateLimits = new RateLimitConfigs(this.#log);
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

  /**
   * Replaces the RateLimitConfigs (name → JSON) served to a Global fleet's rate-limit service
   * (rate-limit-configs.ts); an invalid one throws and nothing changes. Returns whether they changed.
   */
  setRateLimitConfigs(fleet: string, configs: ReadonlyMap<string, object>): boolean {
    return this.#rateLimits.set(fleet, configs);
  }

  /** The connected rate-limit services (of one fleet, or all). */
  rateLimitServices(fleet?: string): RateLimitServiceInfo[] {
    return this.#rateLimits.connections(fleet);
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

  /**
   * Binds 'unix:/path.sock' or 'host:port' (port 0 picks one); returns the port (0 for unix).
   * With `tls`, clients must present a certificate from the directory's CA (mutual TLS).
   */
  async listen(address: string, opts: XdsListenOptions = {}): Promise<number> {
    envoyRegistry(); // load Envoy's descriptors before the first stream arrives
    let credentials = grpc.ServerCredentials.createInsecure();
    if (opts.tls) {
      const provider = new DirectoryCertificateProvider(opts.tls.dir, {
        refreshMs: opts.tls.refreshMs ?? 5000,
        log: this.#log,
      });
      await provider.reload(); // the first load must succeed: fail here, not at the first handshake
      credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
      this.#tlsProviders.push(provider);
      if (opts.tls.enforceFleetIdentity !== false) this.#enforceFleetIdentity = true;
    }
    const server = (this.#server ??= this.#newServer());
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address, credentials, (err, p) => {
        if (err) reject(err);
        else resolve(p);
      });
    });
    this.#log.info({ address, port, tls: opts.tls !== undefined }, 'xDS server listening');
    return address.startsWith('unix:') ? 0 : port;
  }

  /**
   * Re-reads every TLS credential directory now (instead of waiting for the next periodic read);
   * resolves true when any new material was applied. New handshakes use it; open streams stay.
   */
  async reloadTls(): Promise<boolean> {
    const changed = await Promise.all(this.#tlsProviders.map((p) => p.reload()));
    return changed.some((c) => c);
  }

  /** Streams refused by the fleet identity check, oldest first (at most the last 100). */
  refusedStreams(): RefusedStream[] {
    return this.#refused.map((r) => ({ ...r }));
  }

  /** Ends every stream (proxies reconnect elsewhere) and stops the server. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const [session, call] of this.#calls) {
      this.#drop(session);
      if (!call.cancelled) call.end();
    }
    for (const call of [...this.#rateLimitCalls]) if (!call.cancelled) call.end();
    this.#rateLimitCalls.clear();
    for (const p of this.#tlsProviders.splice(0)) p.close();
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
      (typeof match === 'string' ? setVersionOfLabel(e.version) === match : match(e));
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
    // Over TLS, the fleet the client certificate names; checked against the first request's node.
    const auth = this.#enforceFleetIdentity ? call.getAuthContext() : undefined;
    const tlsPeer = auth?.transportSecurityType === 'ssl';
    const certificateFleet = tlsPeer
      ? fleetFromUris(subjectAltNames(auth.sslPeerCertificate?.subjectaltname, 'URI'))
      : undefined;
    let identified = !tlsPeer;
    let refused = false;
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
    // A rate-limit service (its first request asks for RateLimitConfig) is served apart from the
    // Envoys: its fleet is node.id.
    let rateLimit: RateLimitStream | undefined;
    let seen = false;
    call.on('data', (req: Req) => {
      const first = !seen;
      seen = true;
      const node = (req as { node?: { id: string; cluster: string } }).node;
      const rls =
        first && mode === 'sotw' && (req as { type_url?: string }).type_url === TYPE_RATE_LIMIT_CONFIG;
      if (!identified) {
        identified = true;
        const requested = rls ? node?.id : node?.cluster;
        if (certificateFleet === undefined || requested !== certificateFleet) {
          refused = true;
          this.#refuse(session, call, {
            certificateFleet,
            requestedFleet: requested,
            nodeId: node?.id ?? '',
            reason:
              certificateFleet === undefined
                ? 'client certificate names no fleet'
                : `client certificate is for fleet ${certificateFleet}`,
          });
          return;
        }
      }
      if (refused) return; // ignore what the refused stream still sends
      if (rls && rateLimit === undefined) {
        this.#drop(session);
        rateLimit = this.#rateLimits.open(
          node?.id ?? '',
          (bytes) => {
            if (!call.cancelled && !call.writableEnded) call.write(bytes);
          },
          certificateWindow(auth?.sslPeerCertificate),
        );
        const stream = rateLimit;
        this.#rateLimitCalls.add(call);
        const closed = (): void => {
          this.#rateLimitCalls.delete(call);
          this.#rateLimits.close(stream);
        };
        for (const ev of ['end', 'cancelled', 'error', 'close'] as const) call.on(ev, closed);
      }
      try {
        if (rateLimit) rateLimit.handle(req as SotwRequest);
        else handle(session, req);
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

  #refuse(session: Session, call: grpc.ServerDuplexStream<unknown, Buffer>, r: RefusedStream): void {
    this.#drop(session);
    this.#refused.push(r);
    if (this.#refused.length > 100) this.#refused.shift();
    this.#log.warn(
      { fleet: r.requestedFleet, nodeId: r.nodeId, certificateFleet: r.certificateFleet, reason: r.reason },
      'xDS stream refused: fleet does not match the client certificate',
    );
    const status: Partial<grpc.StatusObject> = {
      code: grpc.status.PERMISSION_DENIED,
      details: `${r.reason}; node.cluster is ${r.requestedFleet ?? '(none)'}`,
    };
    // A server stream's 'error' event sets the status it ends with (grpc-js server-call.js).
    call.emit('error', status);
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

/** A peer certificate's validity (`valid_from`/`valid_to`, e.g. `Jan  6 10:00:00 2027 GMT`) as RFC 3339. */
export function certificateWindow(
  cert: { valid_from?: string; valid_to?: string } | undefined,
): CertificateWindow {
  const iso = (s: string | undefined): string | undefined => {
    const t = s === undefined || s === '' ? NaN : Date.parse(s);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  };
  const notBefore = iso(cert?.valid_from);
  const notAfter = iso(cert?.valid_to);
  return { ...(notBefore ? { notBefore } : {}), ...(notAfter ? { notAfter } : {}) };
}
