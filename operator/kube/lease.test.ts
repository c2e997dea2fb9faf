// LeaderElector against a scripted in-memory Lease API (optimistic concurrency like the real
// apiserver: a PUT whose metadata.resourceVersion is stale answers 409): the 409 paths, the
// local-clock expiry rule with an injected clock, renew failures, release and stop. The real
// apiserver runs are in lease.apiserver.test.ts.
import { LeaderElector, microTime, type Lease, type LeaderElectorOptions, type LeaseRest } from './lease.ts';
import { ApiError, type Query } from './rest.ts';
import { captureLog } from '../../test/env/capture-log.ts';
import { waitUntil } from '../../test/env/proc.ts';

interface Call {
  method: string;
  path: string;
  body: Lease | undefined;
}

/** One-shot hook: runs before the matching call is served; may replace its answer. */
interface Hook {
  match: (c: Call) => boolean;
  run: (api: FakeLeaseApi, c: Call) => 'serve' | 'conflict' | 'fail' | 'hang';
}

function status(code: number, reason: string): ApiError {
  return new ApiError(code, reason, `${reason} (${code})`, { kind: 'Status', code, reason });
}

const clone = <T>(v: T): T => structuredClone(v);

class FakeLeaseApi implements LeaseRest {
  lease: Lease | undefined;
  private rv = 100;
  readonly calls: Call[] = [];
  readonly hooks: Hook[] = [];
  /** Every call (after hooks) fails with 500 or never answers until aborted. */
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  pending = 0;
  aborted = 0;
  readonly trace: string[] = [];

  /** Stores a Lease as if another client wrote it. */
  put(spec: Lease['spec']): void {
    this.lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'lease', namespace: 'ns', resourceVersion: String(++this.rv) },
      spec,
    };
  }

  writes(): Call[] {
    return this.calls.filter((c) => c.method !== 'GET');
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  request<T>(
    method: string,
    path: string,
    body?: unknown,
    _contentType?: string,
    _query?: Query,
    signal?: AbortSignal,
  ): Promise<T> {
    const call: Call = { method, path, body: body === undefined ? undefined : clone(body as Lease) };
    this.calls.push(call);
    this.trace.push(`${method}${method === 'PUT' ? ` holder=${call.body?.spec?.holderIdentity}` : ''}`);
    const i = this.hooks.findIndex((h) => h.match(call));
    let act: 'serve' | 'conflict' | 'fail' | 'hang' = this.mode === 'ok' ? 'serve' : this.mode;
    if (i >= 0) act = this.hooks.splice(i, 1)[0]!.run(this, call);
    if (act === 'hang') return this.hang<T>(signal);
    if (act === 'fail') return Promise.reject(status(500, 'InternalError'));
    if (act === 'conflict') return Promise.reject(status(409, 'Conflict'));
    // serve() throws ApiErrors the way the apiserver answers; the executor turns them into rejections
    return new Promise<T>((resolve) => resolve(this.serve(call) as T));
  }

  private hang<T>(signal: AbortSignal | undefined): Promise<T> {
    this.pending++;
    return new Promise<T>((_resolve, reject) => {
      const done = () => {
        this.pending--;
        this.aborted++;
        reject(new Error('aborted'));
      };
      if (!signal) throw new Error('request without a signal');
      if (signal.aborted) done();
      else signal.addEventListener('abort', done, { once: true });
    });
  }

  private serve(c: Call): Lease {
    if (c.method === 'GET') {
      if (!this.lease) throw status(404, 'NotFound');
      return clone(this.lease);
    }
    if (!c.body) throw new Error('write without body');
    if (c.method === 'POST') {
      if (this.lease) throw status(409, 'AlreadyExists');
      this.lease = { ...c.body, metadata: { ...c.body.metadata, resourceVersion: String(++this.rv) } };
      return clone(this.lease);
    }
    if (c.method === 'PUT') {
      if (!this.lease) throw status(404, 'NotFound');
      if (c.body.metadata.resourceVersion !== this.lease.metadata.resourceVersion)
        throw status(409, 'Conflict');
      this.lease = { ...c.body, metadata: { ...c.body.metadata, resourceVersion: String(++this.rv) } };
      return clone(this.lease);
    }
    throw new Error(`unexpected ${c.method}`);
  }
}

/** Polls `cond` every 5 ms for at most 10 s (waitUntil); an error it throws fails at once. */
const waitFor = (what: string, cond: () => boolean): Promise<true> =>
  waitUntil(what, () => Promise.resolve(cond()), { timeoutMs: 10_000, intervalMs: 5, retryIf: () => false });

const MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

describe('LeaderElector (scripted Lease API)', () => {
  let api: FakeLeaseApi;
  let clock: number;
  let changes: boolean[];
  const electors: LeaderElector[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (r: unknown) => void unhandled.push(r);

  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });
  beforeEach(() => {
    api = new FakeLeaseApi();
    clock = 1_000_000;
    changes = [];
  });
  afterEach(async () => {
    await Promise.all(electors.splice(0).map((e) => e.stop({ release: false })));
  });

  /** An elector on the fake API with a frozen injected clock (advance `clock` by hand). */
  function elector(opts: Partial<LeaderElectorOptions> = {}): LeaderElector {
    const e = new LeaderElector({
      rest: api,
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      leaseDurationSeconds: 3,
      renewDeadlineSeconds: 2,
      retryPeriodSeconds: 0.02,
      log: captureLog().log,
      now: () => clock,
      random: () => 0.5,
      ...opts,
    });
    e.onChange((l) => {
      changes.push(l);
      api.trace.push(`change:${l}`);
    });
    electors.push(e);
    return e;
  }

  it('creates a missing Lease, leads, and renews with the resourceVersion of its last write', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    await waitFor('three renewals', () => api.count('PUT') >= 3);
    expect(changes).toEqual([true]);
    expect(e.leader()).toBe('me');
    const post = api.calls.find((c) => c.method === 'POST');
    expect(post?.path).toBe('/apis/coordination.k8s.io/v1/namespaces/ns/leases');
    expect(post?.body?.spec).toMatchObject({
      holderIdentity: 'me',
      leaseDurationSeconds: 3,
      leaseTransitions: 0,
    });
    expect(post?.body?.spec?.renewTime).toMatch(MICRO);
    // a leader renews without reading first: the PUT carries the rv of its previous write
    const firstCalls = api.calls.slice(0, 4).map((c) => c.method);
    expect(firstCalls).toEqual(['GET', 'POST', 'PUT', 'PUT']);
    const puts = api.calls.filter((c) => c.method === 'PUT');
    expect(puts[0]?.path).toBe('/apis/coordination.k8s.io/v1/namespaces/ns/leases/lease');
    expect(puts.map((p) => Number(p.body?.metadata.resourceVersion))).toEqual(puts.map((_, i) => 101 + i));
    for (const p of puts) {
      expect(p.body?.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 0 });
      expect(p.body?.spec?.acquireTime).toBe(post?.body?.spec?.acquireTime);
      expect(p.body?.spec?.renewTime).toMatch(MICRO);
    }
  });

  it('microTime writes six fractional digits in UTC', () => {
    expect(microTime(new Date(Date.UTC(2026, 10, 22, 6, 0, 0, 7)))).toBe('2026-11-22T06:00:00.007000Z');
  });

  it('409 on create: another replica won; re-reads and follows without writing', async () => {
    api.hooks.push({
      match: (c) => c.method === 'POST',
      run: (a) => {
        a.put({ holderIdentity: 'other', leaseDurationSeconds: 3, renewTime: microTime(new Date()) });
        return 'serve'; // now exists → 409 AlreadyExists
      },
    });
    const e = elector();
    e.start();
    await waitFor('re-read and a few polls', () => api.count('GET') >= 6);
    expect(api.calls.slice(0, 3).map((c) => c.method)).toEqual(['GET', 'POST', 'GET']);
    expect(api.count('PUT')).toBe(0);
    expect(e.isLeader()).toBe(false);
    expect(e.leader()).toBe('other');
    expect(changes).toEqual([]);
  });

  it.each([
    ['in the distant past', '2000-01-01T00:00:00.000000Z'],
    ['in the future (clock skew)', '2100-01-01T00:00:00.000000Z'],
  ])(
    'takes over only after the record stayed unchanged for its leaseDuration on the local clock (remote renewTime %s)',
    async (_what, renewTime) => {
      // the record's own duration (5 s) counts, not the elector's (3 s)
      api.put({
        holderIdentity: 'other',
        leaseDurationSeconds: 5,
        acquireTime: renewTime,
        renewTime,
        leaseTransitions: 4,
      });
      const e = elector();
      e.start();
      const polls = async (n: number) => {
        const at = api.count('GET');
        await waitFor(`${n} more polls`, () => api.count('GET') >= at + n);
      };
      await polls(3);
      clock += 4_999;
      await polls(3);
      expect(api.count('PUT')).toBe(0);
      // the holder renews (a change, whatever its renewTime says): the local expiry clock restarts
      api.put({
        holderIdentity: 'other',
        leaseDurationSeconds: 5,
        acquireTime: renewTime,
        renewTime: renewTime.replace('00.000000Z', '01.000000Z'),
        leaseTransitions: 4,
      });
      await polls(3);
      clock += 4_999;
      await polls(3);
      expect(api.count('PUT')).toBe(0);
      expect(e.isLeader()).toBe(false);
      clock += 1;
      await waitFor('takeover', () => e.isLeader());
      const put = api.calls.find((c) => c.method === 'PUT');
      expect(put?.body?.spec).toMatchObject({
        holderIdentity: 'me',
        leaseDurationSeconds: 3,
        leaseTransitions: 5,
      });
      expect(put?.body?.spec?.acquireTime).not.toBe(renewTime);
      expect(put?.body?.spec?.acquireTime).toBe(put?.body?.spec?.renewTime);
      expect(changes).toEqual([true]);
    },
  );

  it('takes over an empty (released) holder at once and counts the transition', async () => {
    api.put({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    expect(api.calls.slice(0, 2).map((c) => c.method)).toEqual(['GET', 'PUT']);
    expect(api.lease?.spec).toMatchObject({
      holderIdentity: 'me',
      leaseTransitions: 3,
      leaseDurationSeconds: 3,
    });
  });

  it('409 on takeover: re-reads, never overwrites the other writer, follows the new holder', async () => {
    api.put({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 });
    api.hooks.push({
      match: (c) => c.method === 'PUT',
      run: (a) => {
        // another replica takes it between our GET and our PUT
        a.put({
          holderIdentity: 'other',
          leaseDurationSeconds: 3,
          renewTime: microTime(new Date()),
          leaseTransitions: 3,
        });
        return 'serve';
      },
    });
    const e = elector();
    e.start();
    await waitFor('re-read and a few polls', () => api.count('GET') >= 6);
    expect(api.calls.slice(0, 3).map((c) => c.method)).toEqual(['GET', 'PUT', 'GET']);
    expect(api.count('PUT')).toBe(1);
    expect(api.lease?.spec?.holderIdentity).toBe('other');
    expect(e.isLeader()).toBe(false);
    expect(e.leader()).toBe('other');
    expect(changes).toEqual([]);
  });

  it('409 on renew with another holder: steps down at once', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    api.put({
      holderIdentity: 'other',
      leaseDurationSeconds: 3,
      renewTime: microTime(new Date()),
      leaseTransitions: 1,
    });
    await waitFor('step-down', () => changes.length === 2);
    expect(changes).toEqual([true, false]);
    expect(e.isLeader()).toBe(false);
    expect(e.leader()).toBe('other');
    const puts = api.count('PUT');
    await waitFor('a few polls', () => api.count('GET') >= 6);
    expect(api.count('PUT')).toBe(puts);
  });

  it('409 on renew while the record still names us (our own write landed): keeps leading', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    const spec = api.lease?.spec;
    api.put({ ...spec, renewTime: microTime(new Date(Date.now() + 1)) });
    const gets = api.count('GET');
    await waitFor('re-read', () => api.count('GET') > gets);
    const puts = api.count('PUT');
    await waitFor('renewals after the conflict', () => api.count('PUT') >= puts + 2);
    expect(changes).toEqual([true]);
    expect(e.isLeader()).toBe(true);
    expect(api.lease?.spec).toMatchObject({ holderIdentity: 'me', leaseTransitions: 0 });
  });

  it('steps down when renewals fail for renewDeadline (local clock), not before', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    api.mode = 'fail';
    const puts = api.count('PUT');
    await waitFor('failed renewals', () => api.count('PUT') >= puts + 3);
    clock += 1_900; // the last successful write was sent at most at `clock` before the failures
    await waitFor('more failed renewals', () => api.count('PUT') >= puts + 6);
    expect(changes).toEqual([true]);
    expect(e.isLeader()).toBe(true);
    clock += 100;
    expect(e.isLeader()).toBe(false); // at once, without waiting for the loop
    await waitFor('step-down', () => changes.length === 2);
    expect(changes).toEqual([true, false]);
    // it keeps trying to (re)acquire as a follower: GET, not a blind PUT
    api.mode = 'ok';
    const gets = api.count('GET');
    await waitFor('a follower poll', () => api.count('GET') > gets);
    // the record still names it (nobody else wrote): it leads again via a renewal of its own record
    await waitFor('leading again', () => e.isLeader());
    expect(changes).toEqual([true, false, true]);
  });

  it('a hung apiserver: requests are aborted at the renew deadline and it steps down (real clock)', async () => {
    const e = elector({
      now: undefined,
      leaseDurationSeconds: 1,
      renewDeadlineSeconds: 0.3,
      retryPeriodSeconds: 0.05,
    });
    e.start();
    await waitFor('leading', () => e.isLeader());
    api.mode = 'hang';
    await waitFor('step-down', () => changes.length === 2);
    expect(changes).toEqual([true, false]);
    expect(e.isLeader()).toBe(false);
    await e.stop({ release: false });
    expect(api.pending).toBe(0);
    expect(api.aborted).toBeGreaterThan(0);
  });

  it('stop(): announces false first, then releases (holder "", duration 1 s)', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    await e.stop();
    expect(changes).toEqual([true, false]);
    expect(e.isLeader()).toBe(false);
    const last = api.trace.slice(-2);
    expect(last).toEqual(['change:false', 'PUT holder=']);
    expect(api.lease?.spec).toMatchObject({
      holderIdentity: '',
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    expect(api.lease?.spec?.renewTime).toMatch(MICRO);
    const n = api.calls.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(api.calls.length).toBe(n); // nothing runs after stop
    expect(e.leader()).toBeUndefined();
  });

  it('stop({ release: false }) leaves the record as it is', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    const writes = api.writes().length;
    await e.stop({ release: false });
    expect(changes).toEqual([true, false]);
    expect(api.writes().length).toBe(writes);
    expect(api.lease?.spec?.holderIdentity).toBe('me');
  });

  it('stop() during a hung renewal aborts it, awaits it, and releases with a fresh read after a 409', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    // the next renewal hangs, but (as with a lost answer) the write lands on the server
    api.hooks.push({
      match: (c) => c.method === 'PUT',
      run: (a) => {
        a.put({ ...a.lease?.spec, renewTime: microTime(new Date(Date.now() + 5)) });
        return 'hang';
      },
    });
    await waitFor('hung renewal', () => api.pending === 1);
    await e.stop();
    expect(api.pending).toBe(0);
    expect(changes).toEqual([true, false]);
    // release PUT with the stale rv → 409 → GET → release PUT again
    expect(api.trace.slice(-4)).toEqual(['change:false', 'PUT holder=', 'GET', 'PUT holder=']);
    expect(api.lease?.spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });

  it('release does not touch a Lease somebody else took', async () => {
    const e = elector();
    e.start();
    await waitFor('leading', () => e.isLeader());
    api.hooks.push({
      match: (c) => c.method === 'PUT',
      run: (a) => {
        a.put({
          holderIdentity: 'other',
          leaseDurationSeconds: 3,
          renewTime: microTime(new Date()),
          leaseTransitions: 1,
        });
        return 'hang';
      },
    });
    await waitFor('hung renewal', () => api.pending === 1);
    await e.stop();
    expect(api.lease?.spec?.holderIdentity).toBe('other');
    expect(api.trace.slice(-3)).toEqual(['change:false', 'PUT holder=', 'GET']);
  });

  it('a throwing onChange callback is logged, not thrown', async () => {
    const { log, lines } = captureLog();
    const e = elector({ log });
    e.onChange(() => {
      throw new Error('boom');
    });
    e.start();
    await waitFor('leading', () => e.isLeader());
    await e.stop({ release: false });
    expect(lines.filter((l) => l.msg === 'leader election callback failed')).toHaveLength(2);
    expect(lines.find((l) => l.msg === 'became leader')).toMatchObject({ lease: 'ns/lease', identity: 'me' });
  });

  it('rejects durations that break the safety rule', () => {
    const base = { rest: api, namespace: 'ns', name: 'l', identity: 'me', log: captureLog().log };
    expect(() => new LeaderElector({ ...base, renewDeadlineSeconds: 10 })).toThrow(/renewDeadline/);
    expect(() => new LeaderElector({ ...base, retryPeriodSeconds: 7 })).toThrow(/retryPeriod/);
    expect(() => new LeaderElector({ ...base, leaseDurationSeconds: 2.5 })).toThrow(/whole number/);
    expect(() => new LeaderElector({ ...base, identity: '' })).toThrow(/identity/);
    expect(() => new LeaderElector(base)).not.toThrow();
  });

  it('stop() before start() and twice is harmless', async () => {
    const e = elector();
    await e.stop();
    e.start();
    await waitFor('leading', () => e.isLeader());
    await Promise.all([e.stop(), e.stop()]);
    expect(changes).toEqual([true, false]);
  });
});
