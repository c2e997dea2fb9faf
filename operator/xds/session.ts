// One ADS stream (one Envoy): subscriptions, what was sent, ACK/NACK bookkeeping and the pump that
// decides what to send next, for both state-of-the-world and delta streams. The ordering rules
// (make-before-break) live in ordering.ts; this module tracks the state they look at. What a type's
// next response would hold is worked out by session-desired.ts.
//
// Per type the session keeps `sent`: the resources the proxy has or is receiving, by name with
// their versions. SotW compares the content key (hash of names+versions) of what it would send now
// with what it last sent; delta diffs the two maps. At most one response per type is in flight: the
// next one waits for the ACK/NACK, and a NACKed response is never repeated (`sent` already holds
// it), so a proxy only hears again about a type once the snapshot or its subscription changes.
import type { Logger } from '../log.ts';
import { type CachedResource, type FleetSnapshot, type TypeSnapshot } from './cache.ts';
import { RETAINED_TYPES, listenersMayGo, mayRemove, type TypeView } from './ordering.ts';
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SCOPED_ROUTE,
  TYPE_SECRET,
  TYPE_SHORT,
  TYPE_URLS,
  isTypeUrl,
  type TypeUrl,
} from './protos.ts';
import type { AckEvent, NackInfo, ProxyInfo, StreamMode } from './types.ts';
import {
  encodeDeltaResponse,
  encodeSotwResponse,
  type DeltaRequest,
  type ErrorDetail,
  type NodeInfo,
  type SotwRequest,
} from './wire.ts';
import { EdsCoverage } from './eds-coverage.ts';
import {
  adoptRemoved,
  deltaWorkOf,
  desiredOf,
  noteDeltaSent,
  resendableOf,
  sentAll,
  sotwSent,
} from './session-desired.ts';
import {
  type DeltaWork,
  type Desired,
  type Entry,
  TypeState,
  WILDCARD_TYPES,
  resourcesOf,
} from './session-state.ts';
/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly log: Logger;
  readonly orderingTimeoutMs: number;
  synced(): boolean;
  snapshot(fleet: string): FleetSnapshot | undefined;
  /** Called once, when the first request names the node. */
  attach(session: Session): void;
  write(session: Session, typeUrl: TypeUrl, bytes: Buffer, resources: number): void;
  ack(event: AckEvent): void;
  nack(event: AckEvent): void;
}

export class Session {
  readonly mode: StreamMode;
  readonly connectedAt = new Date();
  readonly #host: SessionHost;
  readonly #send: (bytes: Buffer) => void;
  readonly #types = new Map<TypeUrl, TypeState>();
  #node: NodeInfo | undefined;
  #log: Logger;
  #nonce = 0;
  #closed = false;
  #toldUnknownFleet = false;
  #holdTimer: NodeJS.Timeout | undefined;
  #gateForced = false;
  readonly #edsCoverage = new EdsCoverage();

  constructor(mode: StreamMode, host: SessionHost, send: (bytes: Buffer) => void) {
    this.mode = mode;
    this.#host = host;
    this.#send = send;
    this.#log = host.log;
  }

  get fleet(): string | undefined {
    return this.#node?.cluster;
  }

  get nodeId(): string {
    return this.#node?.id ?? '';
  }

  close(): void {
    this.#closed = true;
    this.#release();
  }

  info(): ProxyInfo {
    const acked: Partial<Record<TypeUrl, string>> = {};
    let lastNack: NackInfo | undefined;
    for (const [t, st] of this.#types) {
      if (st.lastAck) acked[t] = st.lastAck.version;
      if (st.lastNack && (!lastNack || st.lastNack.at >= lastNack.at)) lastNack = st.lastNack;
    }
    const out: ProxyInfo = {
      nodeId: this.nodeId,
      fleet: this.fleet ?? '',
      mode: this.mode,
      userAgent: this.#node?.userAgent ?? '',
      connectedAt: this.connectedAt,
      acked,
    };
    if (lastNack) out.lastNack = lastNack;
    return out;
  }

  /** Last ACK per type on this stream (for waitForAck). */
  lastAcks(): AckEvent[] {
    return [...this.#types.values()].flatMap((st) => (st.lastAck ? [st.lastAck] : []));
  }

  // -------------------------------------------------------------------------------------------
  // requests

  handleSotw(req: SotwRequest): void {
    if (!this.#identify(req.node)) return;
    const t = this.#typeOf(req.type_url);
    if (!t) return;
    const st = this.#state(t);
    if (req.response_nonce !== '' && st.lastNonce !== undefined) {
      if (req.response_nonce !== st.lastNonce) {
        this.#log.debug({ ...this.#ids(t), nonce: req.response_nonce }, 'stale xDS request ignored');
        return;
      }
      this.#answer(t, st, req.response_nonce, req.error_detail);
    } else {
      // First request for the type on this stream (a nonce from an earlier stream means nothing
      // here): always answered with the current state.
      st.sentKey = undefined;
      st.pending = undefined;
    }
    st.subscribed = true;
    const names = req.resource_names;
    st.setNames(
      names.filter((n) => n !== '*'),
      names.includes('*') || (names.length === 0 && WILDCARD_TYPES.includes(t)),
    );
    this.pump();
  }

  handleDelta(req: DeltaRequest): void {
    if (!this.#identify(req.node)) return;
    const t = this.#typeOf(req.type_url);
    if (!t) return;
    const st = this.#state(t);
    if (req.response_nonce !== '') {
      if (!this.#answer(t, st, req.response_nonce, req.error_detail)) {
        this.#log.debug({ ...this.#ids(t), nonce: req.response_nonce }, 'stale delta ACK/NACK ignored');
      }
    }
    const first = !st.subscribed;
    const wasWildcard = st.wildcard;
    let wildcard = st.wildcard;
    if (first) {
      st.subscribed = true;
      st.initialPending = true;
      if (req.resource_names_subscribe.length === 0 && WILDCARD_TYPES.includes(t)) wildcard = true;
      for (const [name, version] of Object.entries(req.initial_resource_versions))
        st.sent.set(name, { version });
      st.sentRev++;
    }
    // The request's (un)subscriptions are changes: applied in place, O(the request).
    let changed = false;
    for (const n of req.resource_names_subscribe) {
      if (n === '*') wildcard = true;
      else if (!st.names.has(n)) {
        st.names.add(n);
        changed = true;
      }
    }
    for (const n of req.resource_names_unsubscribe) {
      if (n === '*') wildcard = false;
      else if (st.names.delete(n)) changed = true;
    }
    if (wildcard !== st.wildcard) {
      st.wildcard = wildcard;
      changed = true;
    }
    if (changed) st.subRev++;
    // Unsubscribed resources are forgotten by the proxy: never send their removal. Only the
    // names unsubscribed can leave the scope, unless it stopped being a wildcard.
    const leaving =
      first || (wasWildcard && !wildcard) ? [...st.sent.keys()] : req.resource_names_unsubscribe;
    for (const n of leaving) {
      if (st.sent.has(n) && !st.inScope(n)) {
        st.sent.delete(n);
        st.nacked.delete(n);
        st.sentRev++;
      }
    }
    this.pump();
  }

  #identify(node: NodeInfo | undefined): boolean {
    if (this.#closed) return false;
    if (this.#node) return true;
    if (!node) this.#log.warn({ mode: this.mode }, 'first xDS request carries no node; using an empty fleet');
    this.#node = node ?? { id: '', cluster: '', userAgent: '' };
    this.#log = this.#host.log.child({ fleet: this.#node.cluster, nodeId: this.#node.id });
    this.#host.attach(this);
    this.#log.info({ mode: this.mode, userAgent: this.#node.userAgent }, 'proxy connected');
    return true;
  }

  #typeOf(typeUrl: string): TypeUrl | undefined {
    if (isTypeUrl(typeUrl)) return typeUrl;
    this.#log.debug({ typeUrl }, 'request for a type kgw does not serve ignored');
    return undefined;
  }

  #state(t: TypeUrl): TypeState {
    let st = this.#types.get(t);
    if (!st) {
      st = new TypeState();
      this.#types.set(t, st);
    }
    return st;
  }

  #ids(t: TypeUrl): { typeUrl: TypeUrl; type: string } {
    return { typeUrl: t, type: TYPE_SHORT[t] };
  }

  /** Applies an ACK/NACK of the in-flight response; false if `nonce` is not that response. */
  #answer(t: TypeUrl, st: TypeState, nonce: string, error: ErrorDetail | undefined): boolean {
    const p = st.pending;
    if (!p || p.nonce !== nonce) return false;
    st.pending = undefined;
    const event: AckEvent = {
      fleet: this.fleet ?? '',
      nodeId: this.nodeId,
      typeUrl: t,
      version: p.label,
      nonce,
      resourceNames: p.names,
    };
    if (this.mode === 'delta') event.removed = p.removed;
    if (error) {
      st.lastAnswerAck = false;
      for (const n of p.names) st.nacked.add(n);
      if (p.previous) {
        // Envoy rejected the whole response and kept what it had: so does `sent`
        for (const [n, e] of p.previous) {
          if (e) st.sent.set(n, e);
          else st.sent.delete(n);
        }
        st.sentRev++;
        st.holdFor = p.from;
      }
      event.error = error.message;
      st.lastNack = {
        typeUrl: t,
        version: p.label,
        nonce,
        error: error.message,
        resourceNames: p.names,
        at: new Date(),
      };
      this.#log.warn(
        { ...this.#ids(t), version: p.label, error: error.message },
        'proxy rejected xDS update (NACK)',
      );
      this.#host.nack(event);
    } else {
      // SotW: an ACK accepts the whole state. Delta: only the resources of this response (but
      // after a NACK `sent` went back to what Envoy kept, so an ACK then accepts the whole state).
      if (this.mode === 'sotw' || p.previous) st.nacked.clear();
      else for (const n of p.names) st.nacked.delete(n);
      st.lastAnswerAck = st.nacked.size === 0;
      if (st.lastAnswerAck) st.ackedGeneration = Math.max(st.ackedGeneration, p.generation);
      st.lastAck = event;
      this.#log.debug({ ...this.#ids(t), version: p.label }, 'proxy ACKed xDS update');
      this.#host.ack(event);
    }
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // the pump

  /** Sends whatever the current snapshot, subscriptions and ordering rules allow. */
  pump(): void {
    const fleet = this.fleet;
    if (this.#closed || fleet === undefined || !this.#host.synced()) return;
    const snap = this.#host.snapshot(fleet);
    if (!snap) {
      if (!this.#toldUnknownFleet)
        this.#log.info('no snapshot for this fleet yet; proxy gets nothing until one is set');
      this.#toldUnknownFleet = true;
      return;
    }
    const gen = snap.generation;
    for (const t of RETAINED_TYPES) adoptRemoved(this.#types.get(t), snap.types.get(t), gen);
    for (const t of TYPE_URLS) this.#refreshAcked(t, snap, gen);
    const viewOf = (t: TypeUrl): TypeView => this.#view(t, snap);
    for (const t of RETAINED_TYPES) this.#dropRetained(t, viewOf);
    for (const t of [TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_SECRET] as const) this.#maybeSend(t, snap);
    const lr = [TYPE_LISTENER, TYPE_ROUTE, TYPE_SCOPED_ROUTE] as const;
    if (this.#gateForced || listenersMayGo(viewOf, this.#edsCovered(snap))) {
      this.#gateForced = false;
      this.#release();
      for (const t of lr) this.#maybeSend(t, snap);
    } else if (lr.some((t) => this.#hasWork(t, snap))) {
      this.#hold();
    } else {
      this.#release();
    }
  }

  #hold(): void {
    if (this.#holdTimer) return;
    this.#log.debug('listeners/routes held until clusters and endpoints are acknowledged');
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      if (this.#closed) return;
      this.#log.warn(
        { timeoutMs: this.#host.orderingTimeoutMs },
        'clusters/endpoints not acknowledged in time; sending listeners/routes anyway',
      );
      this.#gateForced = true;
      this.pump();
    }, this.#host.orderingTimeoutMs);
    this.#holdTimer.unref();
  }

  #release(): void {
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
  }

  #hasWork(t: TypeUrl, snap: FleetSnapshot): boolean {
    const st = this.#types.get(t);
    const ts = snap.types.get(t);
    if (!st?.subscribed || !ts) return false;
    const desired = desiredOf(st, ts);
    if (resendableOf(st, desired).length > 0) return true;
    if (this.mode === 'sotw') return !sotwSent(st, desired);
    if (st.holdFor === ts) return false;
    const w = deltaWorkOf(st, desired);
    return st.initialPending || w.updates.length > 0 || w.removals.length > 0;
  }

  /**
   * Envoy re-creates a cluster whose config changed and keeps the new one warming until it gets
   * the cluster's load assignment again, even if that did not change (Envoy does not re-request
   * it). So after pushing modified EDS clusters, their load assignments are queued for resending.
   */
  #noteModifiedClusters(previous: ReadonlyMap<string, Entry>, pushed: Iterable<CachedResource>): void {
    const endpoints = this.#types.get(TYPE_ENDPOINT);
    if (!endpoints?.subscribed) return;
    for (const res of pushed) {
      const before = previous.get(res.name);
      if (res.edsName !== undefined && before !== undefined && before.version !== res.version) {
        endpoints.resend.add(res.edsName);
      }
    }
  }

  #view(t: TypeUrl, snap: FleetSnapshot): TypeView {
    const st = this.#types.get(t);
    return {
      subscribed: st?.subscribed ?? false,
      inSnapshot: snap.types.has(t),
      pending: st?.pending !== undefined,
      upToDate: !this.#hasWork(t, snap),
      lastAnswerAck: st?.lastAnswerAck ?? true,
      ackedGeneration: st?.ackedGeneration ?? 0,
      retained: st?.retained.size ?? 0,
    };
  }

  /** A type whose current content the proxy has ACKed counts as ACKed at this generation. */
  #refreshAcked(t: TypeUrl, snap: FleetSnapshot, gen: number): void {
    const st = this.#types.get(t);
    if (!st?.subscribed || st.pending || !st.lastAnswerAck || !snap.types.has(t)) return;
    if (!this.#hasWork(t, snap)) st.ackedGeneration = gen;
  }

  #dropRetained(t: TypeUrl, viewOf: (t: TypeUrl) => TypeView): void {
    const st = this.#types.get(t);
    if (!st || st.retained.size === 0) return;
    for (const [name, r] of [...st.retained]) {
      if (!mayRemove(t, r.since, viewOf)) continue;
      st.retained.delete(name);
      st.retainedRev++;
      this.#log.debug({ ...this.#ids(t), name }, 'removing resource no longer referenced by the proxy');
    }
  }

  /** Every load assignment needed by an EDS cluster the proxy accepted is subscribed. */
  #edsCovered(snap: FleetSnapshot): boolean {
    const clusters = this.#types.get(TYPE_CLUSTER);
    const cds = snap.types.get(TYPE_CLUSTER);
    const eds = snap.types.get(TYPE_ENDPOINT);
    if (!clusters?.subscribed || !clusters.lastAnswerAck || !cds || !eds) return true;
    return this.#edsCoverage.covered(clusters, cds, eds, this.#types.get(TYPE_ENDPOINT));
  }

  #maybeSend(t: TypeUrl, snap: FleetSnapshot): void {
    const st = this.#types.get(t);
    const ts = snap.types.get(t);
    if (!st?.subscribed || !ts || st.pending) return;
    const desired = desiredOf(st, ts);
    const again = resendableOf(st, desired);
    if (this.mode === 'sotw') {
      if (!sotwSent(st, desired) || again.length > 0) this.#sendSotw(t, st, desired, snap.generation);
      return;
    }
    if (st.holdFor === ts) return; // the content Envoy just rejected: wait for a new snapshot
    st.holdFor = undefined;
    const work = deltaWorkOf(st, desired);
    if (again.length > 0) {
      const updating = new Set(work.updates.map((r) => r.name));
      const extra = again.filter((r) => !updating.has(r.name));
      this.#sendDelta(
        t,
        st,
        desired,
        { updates: [...work.updates, ...extra], removals: work.removals },
        snap.generation,
        ts,
      );
    } else if (st.initialPending || work.updates.length > 0 || work.removals.length > 0) {
      this.#sendDelta(t, st, desired, work, snap.generation, ts);
    }
  }

  #sendSotw(t: TypeUrl, st: TypeState, desired: Desired, gen: number): void {
    const nonce = String(++this.#nonce);
    const chunks: Buffer[] = [];
    for (const e of desired.entries.values()) if (e.res) chunks.push(e.res.sotwChunk);
    const bytes = encodeSotwResponse({ version_info: desired.label, type_url: t, nonce }, chunks);
    st.pending = {
      nonce,
      label: desired.label,
      generation: gen,
      names: [...desired.entries.keys()],
      removed: [],
    };
    st.lastNonce = nonce;
    st.sentKey = desired.key;
    st.sentExact = desired.exact;
    if (t === TYPE_CLUSTER) this.#noteModifiedClusters(st.sent, resourcesOf(desired));
    st.sent = new Map(desired.entries);
    st.sentRev++;
    st.resend.clear();
    this.#log.debug({ ...this.#ids(t), version: desired.label, resources: chunks.length, nonce }, 'xDS push');
    this.#host.write(this, t, bytes, chunks.length);
    this.#send(bytes);
  }

  #sendDelta(
    t: TypeUrl,
    st: TypeState,
    desired: Desired,
    work: DeltaWork,
    gen: number,
    from: TypeSnapshot,
  ): void {
    const nonce = String(++this.#nonce);
    const bytes = encodeDeltaResponse(
      { system_version_info: desired.label, type_url: t, nonce, removed_resources: work.removals },
      work.updates.map((r) => r.deltaChunk),
    );
    if (t === TYPE_CLUSTER) this.#noteModifiedClusters(st.sent, work.updates);
    const previous = new Map<string, Entry | undefined>();
    for (const r of work.updates) previous.set(r.name, st.sent.get(r.name));
    for (const n of work.removals) if (!previous.has(n)) previous.set(n, st.sent.get(n));
    for (const r of work.updates) st.sent.set(r.name, { version: r.version, res: r });
    st.resend.clear();
    for (const n of work.removals) {
      st.sent.delete(n);
      st.nacked.delete(n);
    }
    st.sentRev++;
    noteDeltaSent(st, st.sentRev - 1, work.removals);
    sentAll(st, desired); // `work` is all that `desired` needed
    st.initialPending = false;
    const names = work.updates.map((r) => r.name);
    st.pending = {
      nonce,
      label: desired.label,
      generation: gen,
      names,
      removed: work.removals,
      previous,
      from,
    };
    st.lastNonce = nonce;
    this.#log.debug(
      {
        ...this.#ids(t),
        version: desired.label,
        updated: names.length,
        removed: work.removals.length,
        nonce,
      },
      'delta xDS push',
    );
    this.#host.write(this, t, bytes, names.length);
    this.#send(bytes);
  }
}
