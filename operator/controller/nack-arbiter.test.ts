// NackArbiter against a fake pipeline: pushes, ACKs and NACKs as an Envoy would answer them,
// including the bisection of a burst down to the one KIngress Envoy rejects.
import { newLogger } from '../log.ts';
import type { IngressIR } from '../translate/ir.ts';
import { TYPE_CLUSTER, TYPE_ROUTE, type TypeUrl } from '../xds/protos.ts';
import type { AckEvent } from '../xds/types.ts';
import { NackArbiter, type NackHost } from './nack-arbiter.ts';

const ir = (key: string, hash = 'h'): IngressIR => ({ key, hash }) as unknown as IngressIR;

/** The pipeline's view: what is pushed for each KIngress, what Envoy accepted, what is held. */
class FakeHost implements NackHost {
  readonly goodIRs = new Map<string, IngressIR>();
  readonly servedIRs = new Map<string, IngressIR>();
  readonly heldIRs = new Map<string, IngressIR>();
  readonly rejected = new Map<string, string>();
  readonly retried: string[] = [];
  wakes = 0;
  good(k: string) {
    return this.goodIRs.get(k);
  }
  accepted(k: string, i: IngressIR) {
    this.servedIRs.set(k, i);
  }
  revert(k: string) {
    const s = this.servedIRs.get(k);
    if (s) this.goodIRs.set(k, s);
    else this.goodIRs.delete(k);
  }
  hold(k: string, i: IngressIR) {
    this.heldIRs.set(k, i);
  }
  reject(k: string, message: string) {
    this.rejected.set(k, message);
  }
  retry(k: string) {
    const i = this.heldIRs.get(k);
    if (!i) return false;
    this.heldIRs.delete(k);
    this.goodIRs.set(k, i);
    this.retried.push(k);
    return true;
  }
  wake() {
    this.wakes++;
  }
}

const ev = (typeUrl: TypeUrl, version: string, error?: string): AckEvent =>
  ({ fleet: 'g/ext', typeUrl, version, nodeId: 'envoy-0', ...(error ? { error } : {}) }) as AckEvent;

let host: FakeHost;
let arbiter: NackArbiter;
let version = 0;
beforeEach(() => {
  host = new FakeHost();
  arbiter = new NackArbiter(host, newLogger('test'), 50);
  version = 0;
});
afterEach(() => arbiter.stop());

/** Pushes the current IRs of `keys` as one RDS version; returns the version. */
function push(keys: string[], type: TypeUrl = TYPE_ROUTE): string {
  const v = String(++version);
  arbiter.pushed('g/ext', type, v, new Map(keys.map((k) => [k, host.goodIRs.get(k)!])));
  return v;
}

test('an ACK makes the pushed IR the one a later NACK reverts to', () => {
  host.goodIRs.set('n/a', ir('n/a', 'v1'));
  arbiter.onAck(ev(TYPE_ROUTE, push(['n/a'])));
  expect(host.servedIRs.get('n/a')?.hash).toBe('v1');
  host.goodIRs.set('n/a', ir('n/a', 'v2'));
  arbiter.onNack(ev(TYPE_ROUTE, push(['n/a']), 'bad route'));
  expect(host.goodIRs.get('n/a')?.hash).toBe('v1'); // reverted
  expect(host.rejected.get('n/a')).toBe('Envoy envoy-0 rejected the RDS update: bad route');
});

test('a change accepted in one type and rejected in another is not taken as served', () => {
  host.goodIRs.set('n/a', ir('n/a', 'v1'));
  const cds = push(['n/a'], TYPE_CLUSTER);
  const rds = push(['n/a'], TYPE_ROUTE);
  arbiter.onAck(ev(TYPE_CLUSTER, cds));
  expect(host.servedIRs.has('n/a')).toBe(false); // RDS still pending
  arbiter.onNack(ev(TYPE_ROUTE, rds, 'no'));
  expect(host.goodIRs.has('n/a')).toBe(false); // never accepted: withdrawn
  expect(host.rejected.has('n/a')).toBe(true);
});

test('a burst is bisected until the NACK names the one bad KIngress; the others are served', () => {
  const keys = ['n/a', 'n/b', 'n/c', 'n/d', 'n/e'];
  const bad = 'n/d';
  for (const k of keys) host.goodIRs.set(k, ir(k));
  // Envoy: any update carrying the bad KIngress is rejected as a whole
  const answer = (pushedKeys: string[]) => {
    const v = push(pushedKeys);
    if (pushedKeys.includes(bad)) arbiter.onNack(ev(TYPE_ROUTE, v, 'header too long'));
    else arbiter.onAck(ev(TYPE_ROUTE, v));
  };
  answer(keys);
  expect(host.rejected.size).toBe(0); // several suspects: held, not rejected
  expect([...host.heldIRs.keys()].sort()).toEqual(keys);
  for (let round = 0; round < 10 && host.heldIRs.size > 0; round++) {
    const before = host.retried.length;
    arbiter.releaseGroup();
    answer(host.retried.slice(before));
  }
  expect([...host.rejected.keys()]).toEqual([bad]);
  expect([...host.servedIRs.keys()].sort()).toEqual(keys.filter((k) => k !== bad));
  expect(host.heldIRs.size).toBe(0);
});

test('a group nobody answers lets the next one go after the timeout', async () => {
  for (const k of ['n/a', 'n/b']) host.goodIRs.set(k, ir(k));
  arbiter.onNack(ev(TYPE_ROUTE, push(['n/a', 'n/b']), 'x'));
  arbiter.releaseGroup(); // first half pushed, no answer comes
  expect(host.retried).toEqual(['n/a']);
  arbiter.releaseGroup(); // still waiting
  expect(host.retried).toEqual(['n/a']);
  const wakes = host.wakes;
  await new Promise((r) => setTimeout(r, 120));
  expect(host.wakes).toBeGreaterThan(wakes);
  arbiter.releaseGroup();
  expect(host.retried).toEqual(['n/a', 'n/b']);
});

test('a NACK of a version sent before the blamed ones were reverted does not blame its own changes alone', () => {
  // a (bad) and b go out in version 1; c in version 2, built before Envoy's answer to 1: it still
  // carries a's bad route, so Envoy rejects 2 as well, for a's sake
  for (const k of ['n/a', 'n/b', 'n/c']) host.goodIRs.set(k, ir(k));
  const v1 = push(['n/a', 'n/b']);
  const v2 = push(['n/c']);
  arbiter.onNack(ev(TYPE_ROUTE, v1, 'bad route'));
  arbiter.onNack(ev(TYPE_ROUTE, v2, 'bad route'));
  expect([...host.rejected.keys()]).toEqual([]);
  expect([...host.heldIRs.keys()].sort()).toEqual(['n/a', 'n/b', 'n/c']);
  // retried one group at a time, c alone among them: Envoy accepts c once a's route is gone
  const answer = (accept: (k: string) => boolean) => {
    arbiter.releaseGroup();
    const group = host.retried.splice(0);
    const v = push(group);
    if (group.every(accept)) arbiter.onAck(ev(TYPE_ROUTE, v));
    else arbiter.onNack(ev(TYPE_ROUTE, v, 'bad route'));
    return group;
  };
  const bad = (k: string) => k !== 'n/a';
  for (let i = 0; i < 8 && answer(bad).length > 0; i++);
  expect([...host.rejected.keys()]).toEqual(['n/a']);
  expect([...host.servedIRs.keys()].sort()).toEqual(['n/b', 'n/c']);
});

test('the same across fleets: a version another fleet rejects for a change blamed already blames nobody alone', () => {
  for (const k of ['n/a', 'n/b', 'n/c']) host.goodIRs.set(k, ir(k));
  const pushTo = (fleet: string, keys: string[]) => {
    const v = String(++version);
    arbiter.pushed(fleet, TYPE_ROUTE, v, new Map(keys.map((k) => [k, host.goodIRs.get(k)!])));
    return v;
  };
  const nack = (fleet: string, v: string) => arbiter.onNack({ ...ev(TYPE_ROUTE, v, 'bad route'), fleet });
  const ack = (fleet: string, v: string) => arbiter.onAck({ ...ev(TYPE_ROUTE, v), fleet });
  // a (bad) and b reach both fleets; c follows in both before any answer
  const e1 = pushTo('g/ext', ['n/a', 'n/b']);
  const l1 = pushTo('g/loc', ['n/a', 'n/b']);
  const e2 = pushTo('g/ext', ['n/c']);
  const l2 = pushTo('g/loc', ['n/c']);
  nack('g/ext', e1); // a and b held
  nack('g/loc', l1); // nothing left to blame: settled by the first NACK
  nack('g/loc', l2); // still carries a's route: c must not be rejected for it
  nack('g/ext', e2);
  expect([...host.rejected.keys()]).toEqual([]);
  // retries, one group at a time, answered by both fleets: a's group is rejected, the rest served
  for (let i = 0; i < 10; i++) {
    arbiter.releaseGroup();
    const group = host.retried.splice(0);
    if (group.length === 0) break;
    const [ve, vl] = [pushTo('g/ext', group), pushTo('g/loc', group)];
    if (group.includes('n/a')) {
      nack('g/ext', ve);
      nack('g/loc', vl);
    } else {
      ack('g/ext', ve);
      ack('g/loc', vl);
    }
  }
  expect([...host.rejected.keys()]).toEqual(['n/a']);
  expect([...host.servedIRs.keys()].sort()).toEqual(['n/b', 'n/c']);
});

test('a response labelled <version>+<hash> (a subset, or retained resources beside the snapshot) answers for <version>', () => {
  host.goodIRs.set('n/a', ir('n/a', 'v1'));
  host.goodIRs.set('n/b', ir('n/b', 'v1'));
  const cds = push(['n/a'], TYPE_CLUSTER);
  const rds = push(['n/a']);
  // retained clusters beside the snapshot (make-before-break): the CDS response is labelled v+hash
  arbiter.onAck(ev(TYPE_CLUSTER, `${cds}+0a1b2c3d`));
  arbiter.onAck(ev(TYPE_ROUTE, rds));
  expect(host.servedIRs.get('n/a')?.hash).toBe('v1');
  host.goodIRs.set('n/b', ir('n/b', 'v2'));
  arbiter.onNack(ev(TYPE_ROUTE, `${push(['n/b'])}+ffee0011`, 'bad route'));
  expect(host.rejected.has('n/b')).toBe(true);
});
