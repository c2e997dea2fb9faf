// DomainClaimWriter on its own, with a recording fake of the API server that can refuse the writes
// of chosen objects: per-key retries (one claim the server keeps refusing holds up no other write
// and is written once the server takes it), backoff kept across recomputed plans, writes the plan
// no longer wants dropped, status writes once per change, nothing written while not leading.
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { waitUntil } from '../../test/env/proc.ts';
import {
  CLAIM_FOR_ANNOTATION,
  type ClaimPlan,
  type ClusterDomainClaim,
  type DomainMapping,
  type Verdict,
} from './domain-claim-plan.ts';
import { DomainClaimWriter, type DomainClaimWriterOptions } from './domain-claim-writer.ts';

const BOUND = { timeoutMs: 5_000, intervalMs: 5 };
const log = newLogger('test');

/** Records writes; refuses (500) those whose path contains a name in `refuse`. */
class FakeRest {
  readonly writes: string[] = [];
  readonly attempts: string[] = [];
  readonly refuse = new Set<string>();
  /** Answers with this status instead (e.g. 409), once per name. */
  readonly answer = new Map<string, number>();
  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const name =
      method === 'POST' ? (body as ClusterDomainClaim).metadata.name : (path.split('/').at(-1) ?? '');
    const target = name === 'status' ? (path.split('/').at(-2) ?? '') : name;
    const what = `${method} ${target}`;
    this.attempts.push(what);
    const status = this.answer.get(target);
    if (status !== undefined) {
      this.answer.delete(target);
      return Promise.reject(new ApiError(status, 'x', `${status} injected`, {}));
    }
    if (this.refuse.has(target)) return Promise.reject(new ApiError(500, 'x', '500 injected', {}));
    this.writes.push(what);
    return Promise.resolve({} as T);
  }
  get<T>(path: string): Promise<T> {
    return Promise.resolve({ metadata: { name: path.split('/').at(-1) }, spec: { namespace: 'other' } } as T);
  }
}

function claim(domain: string, namespace = 'a'): ClusterDomainClaim {
  return {
    metadata: { name: domain, annotations: { [CLAIM_FOR_ANNOTATION]: `${namespace}/${domain}` } },
    spec: { namespace },
  };
}

const ALLOWED: Verdict = { allowed: true, reason: 'Allowed', message: 'ok' };

function plan(p: Partial<ClaimPlan>): ClaimPlan {
  return { create: [], delete: [], verdicts: new Map(), withdraw: [], ...p };
}

function setup(extra: Partial<DomainClaimWriterOptions> = {}) {
  const rest = new FakeRest();
  const mappings = new Map<string, DomainMapping>();
  let leading = true;
  const w = new DomainClaimWriter({
    rest: rest as unknown as KubeRest,
    log,
    mapping: (k) => mappings.get(k),
    leading: () => leading,
    now: () => '2026-01-01T00:00:00Z',
    retryMs: 5,
    maxRetryMs: 20,
    ...extra,
  });
  return { rest, mappings, w, lead: (l: boolean) => (leading = l) };
}

const count = (list: string[], what: string) => list.filter((x) => x === what).length;

test('a claim the server keeps refusing is retried on its own; the others are written at once', async () => {
  const { rest, mappings, w } = setup();
  mappings.set('a/app.example.com', {
    metadata: { name: 'app.example.com', namespace: 'a', resourceVersion: '1' },
  });
  rest.refuse.add('bad.example.com');
  w.apply(
    plan({
      create: [claim('bad.example.com'), claim('good.example.com')],
      verdicts: new Map([['a/app.example.com', ALLOWED]]),
    }),
  );
  await waitUntil('the good writes', () => Promise.resolve(rest.writes.length === 2), BOUND);
  expect(rest.writes.sort()).toEqual(['PATCH app.example.com', 'POST good.example.com']);
  await waitUntil(
    'the refused claim tried again',
    () => Promise.resolve(count(rest.attempts, 'POST bad.example.com') >= 3),
    BOUND,
  );
  expect(w.stats.failures).toBeGreaterThanOrEqual(3);
  rest.refuse.clear(); // the server takes it now
  await waitUntil('the refused claim written', () => Promise.resolve(w.pending === 0), BOUND);
  expect(rest.writes.sort()).toEqual([
    'PATCH app.example.com',
    'POST bad.example.com',
    'POST good.example.com',
  ]);
  // the others were written once, not again with each retry of the refused one
  expect(count(rest.attempts, 'POST good.example.com')).toBe(1);
  expect(count(rest.attempts, 'PATCH app.example.com')).toBe(1);
  await w.stop();
});

test('a plan recomputed unchanged keeps a failed write’s backoff; a changed write goes at once', async () => {
  const { rest, w } = setup({ retryMs: 60_000, maxRetryMs: 60_000 });
  rest.refuse.add('bad.example.com');
  const p = plan({ create: [claim('bad.example.com')] });
  w.apply(p);
  await waitUntil('one failure', () => Promise.resolve(w.stats.failures === 1), BOUND);
  for (let i = 0; i < 5; i++) w.apply(plan({ create: [claim('bad.example.com')] }));
  await w.idle();
  expect(count(rest.attempts, 'POST bad.example.com')).toBe(1); // waits for its retry
  rest.refuse.clear();
  w.apply(plan({ create: [claim('bad.example.com', 'b')] })); // another namespace now: written at once
  await waitUntil('the changed write', () => Promise.resolve(rest.writes.length === 1), BOUND);
  expect(w.pending).toBe(0);
  await w.stop();
});

test('a write the plan no longer wants is dropped, retry and all', async () => {
  const { rest, w } = setup({ retryMs: 60_000, maxRetryMs: 60_000 });
  rest.refuse.add('gone.example.com');
  w.apply(plan({ create: [claim('gone.example.com')] }));
  await waitUntil('one failure', () => Promise.resolve(w.stats.failures === 1), BOUND);
  expect(w.pending).toBe(1);
  w.apply(plan({}));
  expect(w.pending).toBe(0);
  await w.stop();
});

test('conflicts and missing objects are not retried; a status is written once per change', async () => {
  const { rest, mappings, w } = setup();
  const dm: DomainMapping = { metadata: { name: 'm.example.com', namespace: 'a', resourceVersion: '7' } };
  mappings.set('a/m.example.com', dm);
  rest.answer.set('taken.example.com', 409); // POST conflict: re-read, left as it is
  rest.answer.set('old.example.com', 404); // DELETE of a claim already gone
  const verdicts = new Map([['a/m.example.com', ALLOWED]]);
  const old = {
    ...claim('old.example.com'),
    metadata: { name: 'old.example.com', uid: 'u', resourceVersion: '3' },
  };
  w.apply(plan({ create: [claim('taken.example.com')], delete: [old], verdicts }));
  await waitUntil('all done', () => Promise.resolve(w.pending === 0), BOUND);
  expect(w.stats.failures).toBe(0);
  expect(rest.writes).toEqual(['PATCH m.example.com']);
  // the watch has not shown the write yet: the same verdict is not written again
  w.apply(plan({ verdicts }));
  expect(w.pending).toBe(0);
  // the mapping now carries it: nothing to write; another verdict is written
  mappings.set('a/m.example.com', {
    ...dm,
    metadata: { ...dm.metadata, resourceVersion: '8' },
    status: { conditions: [{ type: 'DomainClaimPolicy', status: 'True', reason: 'Allowed', message: 'ok' }] },
  });
  w.apply(plan({ verdicts }));
  expect(w.pending).toBe(0);
  const denied: Verdict = { allowed: false, reason: 'DomainClaimPolicyDenied', message: 'no' };
  w.apply(plan({ verdicts: new Map([['a/m.example.com', denied]]) }));
  await waitUntil('the new verdict', () => Promise.resolve(rest.writes.length === 2), BOUND);
  await w.stop();
});

test('nothing is written while not leading', async () => {
  const { rest, w, lead } = setup();
  lead(false);
  w.apply(plan({ create: [claim('x.example.com')], delete: [claim('y.example.com')] }));
  await w.idle();
  expect(rest.attempts).toEqual([]);
  expect(w.pending).toBe(0);
  await w.stop();
});
