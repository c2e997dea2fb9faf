// Leader election through a coordination.k8s.io/v1 Lease, for operator HA: every replica runs a
// LeaderElector and serves xDS from its own watches; only the elector that leads writes status.
// The protocol follows the idea of client-go's leaderelection package (written from scratch):
//
// - Followers GET the Lease every retryPeriod·(1 + 0.2·random) and remember, on the LOCAL monotonic
//   clock, when they last saw its record (holder, durations, times, transitions) change. A holder
//   counts as gone only once the record has stayed unchanged for the record's leaseDurationSeconds
//   since that local observation. The remote renewTime is never compared with the local clock, so
//   clock skew between replicas cannot cause an early takeover.
// - A missing Lease is created (POST; a 409 means another replica created it first: re-read).
//   Every update is a PUT carrying metadata.resourceVersion, so a 409 means somebody else wrote
//   since our read: we re-read and never overwrite blindly.
// - The leader renews (PUT renewTime) every retryPeriod. It steps down (onChange(false)) once
//   renewDeadlineSeconds have passed since it SENT its last successful write: a request still in
//   flight at that moment is aborted. That write reached the server no earlier than it was sent
//   and every other replica observes it no earlier than that, so no other replica can take over
//   before leaseDuration after it; renewDeadline < leaseDuration leaves leaseDuration −
//   renewDeadline (3 s with the defaults) for timer lateness and clock-rate differences. isLeader()
//   also checks the deadline itself, so it turns false on time even if a timer fires late.
// - stop() stops the loop, aborts and awaits the in-flight request, announces onChange(false) and
//   then (release: true) writes holderIdentity "" and leaseDurationSeconds 1, so a follower takes
//   over at its next retry instead of waiting for expiry.
//
// Failover bound with the defaults (leaseDuration 10 s, renewDeadline 7 s, retryPeriod 2 s,
// jitter ≤ 20 % ⇒ a follower polls at most P = 2.4 s apart, plus request time):
//   the leader dies at D; its last write was committed at some W ≤ D;
//   a follower first reads that record at O ≤ W + P ≤ D + 2.4 s;
//   the record then counts as expired at O + 10 s, and a follower that sees a lease held by
//   someone else sleeps min(next poll, expiry) — it wakes exactly at expiry rather than up to a
//   whole poll later — and then takes over with one GET and one PUT:
//   failover ≤ D + P + leaseDuration + request time = D + 12.4 s + a few ms ≤ 15 s.
// (client-go's 1.2 jitter factor would allow P = 4.4 s and, without waking at expiry, 18.8 s.)
// Each attempt's requests are bounded by max(retryPeriod, renewDeadline/2) = 3.5 s, so a slow or
// hung apiserver can stretch P by at most that; with a healthy apiserver requests take milliseconds.
// A graceful stop (release) hands over within one follower poll: ≤ P = 2.4 s.
//
// Identity must be unique per process (e.g. pod name + random suffix): a replica whose identity
// is already the holder renews the record as its own.
//
// RBAC: coordination.k8s.io leases — get, create, update — in the Lease's namespace.
import type { Logger } from '../log.ts';
import { ApiError, type KubeRest } from './rest.ts';
import { abortableSleep } from './reflector.ts';

/** The part of KubeRest the elector uses (a KubeRest satisfies it; tests pass scripted fakes). */
export type LeaseRest = Pick<KubeRest, 'request'>;

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [k: string]: unknown;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: LeaseSpec;
}

export interface LeaderElectorOptions {
  rest: LeaseRest;
  namespace: string;
  name: string;
  /** Unique per process. */
  identity: string;
  /** Whole seconds, written to the Lease. Default 10. */
  leaseDurationSeconds?: number;
  /** A leader that could not renew for this long steps down. Must be < leaseDurationSeconds. Default 7. */
  renewDeadlineSeconds?: number;
  /** Poll/renew period. Must be < renewDeadlineSeconds. Default 2. */
  retryPeriodSeconds?: number;
  log: Logger;
  /** Monotonic milliseconds for all local duration measurement. Default performance.now. */
  now?: () => number;
  /** Uniform [0, 1) source for the follower poll jitter. Default Math.random. */
  random?: () => number;
}

export interface StopOptions {
  /** Leader only: hand the Lease over at once (holder "" and duration 1 s). Default true. */
  release?: boolean;
}

/** Followers poll every retryPeriod · (1 + JITTER · random()). */
export const JITTER = 0.2;
/** Shortest sleep of the loop, so that no path can spin. */
const MIN_SLEEP_MS = 10;

const API = '/apis/coordination.k8s.io/v1';

/** A Kubernetes MicroTime: RFC3339 with exactly six fractional digits, UTC. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** What "the record changed" compares: every field the protocol reads or writes. */
function recordKey(spec: LeaseSpec | undefined): string {
  const s = spec ?? {};
  return JSON.stringify([
    s.holderIdentity ?? '',
    s.leaseDurationSeconds ?? null,
    s.acquireTime ?? null,
    s.renewTime ?? null,
    s.leaseTransitions ?? null,
  ]);
}

function isStatus(err: unknown, status: number): boolean {
  return err instanceof ApiError && err.status === status;
}

type Outcome = 'leading' | 'held' | 'failed';

export class LeaderElector {
  private readonly rest: LeaseRest;
  private readonly namespace: string;
  private readonly name: string;
  private readonly identity: string;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly requestTimeoutMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly listeners: ((leading: boolean) => void)[] = [];

  private running = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  private leading = false;
  /** Local time at which the last successful write of ours was sent. */
  private renewedAt = 0;
  /** The Lease as last read or written (carries the resourceVersion for the next PUT). */
  private last: Lease | undefined;
  private observedKey: string | undefined;
  /** Local time at which the record was last seen to change. */
  private observedAt = 0;

  constructor(opts: LeaderElectorOptions) {
    this.rest = opts.rest;
    this.namespace = opts.namespace;
    this.name = opts.name;
    this.identity = opts.identity;
    this.leaseDurationSeconds = opts.leaseDurationSeconds ?? 10;
    const renewDeadline = opts.renewDeadlineSeconds ?? 7;
    const retry = opts.retryPeriodSeconds ?? 2;
    if (!opts.identity) throw new Error('LeaderElector: identity must not be empty');
    if (!Number.isInteger(this.leaseDurationSeconds) || this.leaseDurationSeconds < 1)
      throw new Error('LeaderElector: leaseDurationSeconds must be a whole number ≥ 1');
    if (!(retry > 0 && retry < renewDeadline && renewDeadline < this.leaseDurationSeconds))
      throw new Error(
        'LeaderElector: need 0 < retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds',
      );
    this.renewDeadlineMs = renewDeadline * 1000;
    this.retryMs = retry * 1000;
    this.requestTimeoutMs = Math.max(this.retryMs, this.renewDeadlineMs / 2);
    this.log = opts.log;
    this.now = opts.now ?? (() => performance.now());
    this.random = opts.random ?? Math.random;
  }

  private get leaseRef(): string {
    return `${this.namespace}/${this.name}`;
  }

  private get path(): string {
    return `${API}/namespaces/${encodeURIComponent(this.namespace)}/leases/${encodeURIComponent(this.name)}`;
  }

  /** Starts the election loop (no-op while running; after stop(), once its promise resolved). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = undefined;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  /**
   * Stops the loop, aborts and awaits the in-flight request, fires onChange(false) if leading,
   * then (release, the default) hands the Lease over. Never rejects.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    if (this.stopping) return this.stopping;
    if (!this.running) return Promise.resolve();
    this.running = false;
    this.abort.abort();
    this.stopping = (async () => {
      await this.loop;
      if (this.leading) this.stepDown('stopped');
      if (opts.release ?? true) await this.release();
    })();
    return this.stopping;
  }

  /** True while this replica leads and its last renewal is within the renew deadline. */
  isLeader(): boolean {
    return this.leading && this.now() < this.renewedAt + this.renewDeadlineMs;
  }

  /** The holder identity as last observed; undefined when unknown or released. */
  leader(): string | undefined {
    return this.last?.spec?.holderIdentity || undefined;
  }

  /** Called with true when this replica starts leading and false when it stops. */
  onChange(cb: (leading: boolean) => void): void {
    this.listeners.push(cb);
  }

  private emit(leading: boolean): void {
    for (const cb of this.listeners) {
      try {
        cb(leading);
      } catch (err) {
        this.log.error({ err, lease: this.leaseRef }, 'leader election callback failed');
      }
    }
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    const level = reason === 'stopped' ? 'info' : 'warn';
    this.log[level]({ lease: this.leaseRef, identity: this.identity, reason }, 'stopped leading');
    this.emit(false);
  }

  private won(sentAt: number, stop: AbortSignal): void {
    this.renewedAt = sentAt;
    if (this.leading || stop.aborted) return;
    this.leading = true;
    this.log.info({ lease: this.leaseRef, identity: this.identity }, 'became leader');
    this.emit(true);
  }

  /** Records a read or written Lease; a changed record restarts the local expiry clock. */
  private observe(lease: Lease): void {
    const before = this.last?.spec?.holderIdentity ?? '';
    this.last = lease;
    const key = recordKey(lease.spec);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = this.now();
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== before && holder !== this.identity)
      this.log.info({ lease: this.leaseRef, holder: holder || undefined }, 'lease holder changed');
  }

  private durationMs(spec: LeaseSpec | undefined): number {
    const d = spec?.leaseDurationSeconds;
    return (typeof d === 'number' && d > 0 ? d : this.leaseDurationSeconds) * 1000;
  }

  /** Local time at which the last observed record expires if it stays unchanged. */
  private expiresAt(): number {
    return this.observedAt + this.durationMs(this.last?.spec);
  }

  private jitteredRetry(): number {
    return this.retryMs * (1 + JITTER * this.random());
  }

  private async run(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      let delay: number;
      try {
        delay = await this.step(stop);
      } catch (err) {
        // step() handles request errors itself; this guards the loop against a bug
        this.log.error({ err, lease: this.leaseRef }, 'leader election step failed');
        delay = this.jitteredRetry();
      }
      if (stop.aborted) break;
      await abortableSleep(Math.max(MIN_SLEEP_MS, delay), stop);
    }
  }

  /** One round; returns how long to sleep before the next. */
  private async step(stop: AbortSignal): Promise<number> {
    const started = this.now();
    if (this.leading) {
      const deadline = this.renewedAt + this.renewDeadlineMs;
      if (started >= deadline) {
        this.stepDown('renew deadline passed');
        return this.jitteredRetry();
      }
      const outcome = await this.attempt(stop, Math.min(deadline - started, this.requestTimeoutMs));
      if (stop.aborted) return 0;
      if (outcome === 'held') {
        this.stepDown('lease taken by another holder');
        return this.sleepWhileHeld();
      }
      const now = this.now();
      const nextDeadline = this.renewedAt + this.renewDeadlineMs;
      if (outcome === 'failed' && now >= nextDeadline) {
        this.stepDown('renew deadline passed');
        return this.jitteredRetry();
      }
      const next = started + this.retryMs - now;
      return outcome === 'failed' ? Math.min(next, nextDeadline - now) : next;
    }
    const outcome = await this.attempt(stop, this.requestTimeoutMs);
    if (outcome === 'leading') return started + this.retryMs - this.now();
    if (outcome === 'held') return this.sleepWhileHeld();
    return this.jitteredRetry();
  }

  /** A follower wakes at the next poll or exactly when the observed record expires, if sooner. */
  private sleepWhileHeld(): number {
    return Math.min(this.jitteredRetry(), this.expiresAt() - this.now());
  }

  /**
   * Reads the Lease (unless leading: then our last write's resourceVersion is current unless
   * somebody wrote since, which the PUT's 409 tells), creates it, takes it over when its holder
   * is empty or expired, or renews it. Never throws.
   */
  private async attempt(stop: AbortSignal, timeoutMs: number): Promise<Outcome> {
    const ac = new AbortController();
    const onStop = () => ac.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => ac.abort(), Math.max(1, timeoutMs));
    timer.unref();
    const signal = ac.signal;
    try {
      let current = this.leading ? this.last : undefined;
      if (!current) {
        try {
          current = await this.get(signal);
        } catch (err) {
          if (!isStatus(err, 404)) throw err;
          return await this.create(stop, signal);
        }
        this.observe(current);
      }
      const holder = current.spec?.holderIdentity ?? '';
      if (holder && holder !== this.identity && this.now() < this.expiresAt()) return 'held';
      return await this.update(current, stop, signal);
    } catch (err) {
      if (stop.aborted) return 'failed';
      const msg = signal.aborted ? `no answer within ${Math.round(timeoutMs)} ms` : String(err);
      this.log.warn(
        { lease: this.leaseRef, identity: this.identity, leading: this.leading, err: msg },
        'lease request failed',
      );
      return 'failed';
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }

  private get(signal: AbortSignal): Promise<Lease> {
    return this.rest.request<Lease>('GET', this.path, undefined, undefined, undefined, signal);
  }

  private async create(stop: AbortSignal, signal: AbortSignal): Promise<Outcome> {
    const t = microTime(new Date());
    const body: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.leaseDurationSeconds,
        acquireTime: t,
        renewTime: t,
        leaseTransitions: 0,
      },
    };
    const sentAt = this.now();
    try {
      const created = await this.rest.request<Lease>(
        'POST',
        `${API}/namespaces/${encodeURIComponent(this.namespace)}/leases`,
        body,
        undefined,
        undefined,
        signal,
      );
      this.observe(created);
      this.won(sentAt, stop);
      return 'leading';
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      this.log.info({ lease: this.leaseRef }, 'lease created by another replica first, re-reading');
      this.observe(await this.get(signal));
      return this.leader() && this.leader() !== this.identity ? 'held' : 'failed';
    }
  }

  private async update(current: Lease, stop: AbortSignal, signal: AbortSignal): Promise<Outcome> {
    const old = current.spec ?? {};
    const ours = old.holderIdentity === this.identity;
    const t = microTime(new Date());
    const spec: LeaseSpec = {
      ...old,
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      acquireTime: ours && old.acquireTime ? old.acquireTime : t,
      renewTime: t,
      leaseTransitions: ours ? (old.leaseTransitions ?? 0) : (old.leaseTransitions ?? 0) + 1,
    };
    const sentAt = this.now();
    try {
      const updated = await this.rest.request<Lease>(
        'PUT',
        this.path,
        { ...current, spec },
        undefined,
        undefined,
        signal,
      );
      if (!ours)
        this.log.info(
          { lease: this.leaseRef, identity: this.identity, previous: old.holderIdentity || undefined },
          'took over lease',
        );
      this.observe(updated);
      this.won(sentAt, stop);
      return 'leading';
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
      // somebody wrote since our read: re-read, and decide again next round
      this.log.info(
        { lease: this.leaseRef, identity: this.identity },
        'lease changed concurrently, re-reading',
      );
      this.observe(await this.get(signal));
      const holder = this.leader();
      return holder && holder !== this.identity ? 'held' : 'failed';
    }
  }

  /** Hands the Lease over if the record we last saw names us; at most two PUTs, bounded in time. */
  private async release(): Promise<void> {
    for (let i = 0; i < 2 && this.last?.spec?.holderIdentity === this.identity; i++) {
      const current: Lease = this.last;
      const t = microTime(new Date());
      const spec: LeaseSpec = {
        ...current.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: t,
        renewTime: t,
      };
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), this.requestTimeoutMs);
      timer.unref();
      try {
        const updated = await this.rest.request<Lease>(
          'PUT',
          this.path,
          { ...current, spec },
          undefined,
          undefined,
          ac.signal,
        );
        this.observe(updated);
        this.log.info({ lease: this.leaseRef, identity: this.identity }, 'released lease');
        return;
      } catch (err) {
        if (!isStatus(err, 409)) {
          this.log.warn({ lease: this.leaseRef, err: String(err) }, 'lease release failed');
          return;
        }
        // our aborted renewal may have landed after all: re-read and release again if still ours
        try {
          this.observe(await this.get(ac.signal));
        } catch (err2) {
          this.log.warn({ lease: this.leaseRef, err: String(err2) }, 'lease release failed');
          return;
        }
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
