// HostClaims (incremental) against resolveConflicts (from scratch): after every step of seeded
// random add/update/delete sequences both must agree on the accepted set and on every conflict,
// and drainChanged() must list every KIngress whose outcome changed.
import { HostClaims, resolveConflicts, type Candidate, type Conflict } from './conflicts.ts';
import type { IngressIR, VirtualHostIR } from './ir.ts';
import { mulberry32, pick } from '../../test/support/prng.ts';

function ir(key: string, external: string[], local: string[]): IngressIR {
  const vh = (host: string): VirtualHostIR => ({ host, owner: key, routes: [], redirectHttp: false });
  return {
    key,
    hash: '',
    generation: 1,
    external: { vhosts: external.map(vh), tls: [] },
    local: { vhosts: local.map(vh), tls: [] },
    clusters: [],
    secrets: [],
    services: [],
    probes: [],
  };
}

function outcomes(accepted: IngressIR[], conflicts: Map<string, Conflict>): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of accepted) out.set(a.key, 'accepted');
  for (const [k, c] of conflicts) out.set(k, `${c.host} ${c.owner}`);
  return out;
}

describe('resolveConflicts', () => {
  test('the oldest claimant wins; a loser claims nothing, so a younger one may win its other host', () => {
    const { accepted, conflicts } = resolveConflicts([
      { ir: ir('b/second', ['shared', 'other'], []), created: '2026-01-02' },
      { ir: ir('a/first', ['shared'], []), created: '2026-01-01' },
      { ir: ir('c/third', ['other'], []), created: '2026-01-03' },
    ]);
    expect(accepted.map((a) => a.key)).toEqual(['a/first', 'c/third']);
    expect([...conflicts]).toEqual([['b/second', { host: 'shared', owner: 'a/first' }]]);
  });
});

describe('HostClaims', () => {
  test('when the owner goes away the next claimant wins, and a cascade follows', () => {
    const claims = new HostClaims();
    claims.set(ir('a/first', ['shared'], []), '2026-01-01');
    claims.set(ir('b/second', ['shared', 'other'], []), '2026-01-02');
    claims.set(ir('c/third', ['other'], []), '2026-01-03');
    expect(claims.accepted().map((a) => a.key)).toEqual(['a/first', 'c/third']);
    expect(claims.conflict('b/second')).toEqual({ host: 'shared', owner: 'a/first' });
    expect([...claims.drainChanged()].sort()).toEqual(['a/first', 'b/second', 'c/third']);

    claims.delete('a/first');
    expect(claims.accepted().map((a) => a.key)).toEqual(['b/second']);
    expect(claims.conflict('c/third')).toEqual({ host: 'other', owner: 'b/second' });
    expect([...claims.drainChanged()].sort()).toEqual(['a/first', 'b/second', 'c/third']);

    // Replacing an IR without changing its outcome reports nothing.
    claims.set(ir('b/second', ['shared', 'other'], ['x']), '2026-01-02');
    expect([...claims.drainChanged()]).toEqual([]);
  });

  test('ties on creation time are broken by namespace/name; visibilities are separate', () => {
    const claims = new HostClaims();
    claims.set(ir('b/x', ['h'], []), 't');
    claims.set(ir('a/x', ['h'], []), 't');
    claims.set(ir('c/x', [], ['h']), 't');
    expect(claims.accepted().map((a) => a.key)).toEqual(['a/x', 'c/x']);
    expect(claims.conflict('b/x')).toEqual({ host: 'h', owner: 'a/x' });
  });

  test.each([1, 2, 3, 4, 5])('matches resolveConflicts after random changes (seed %i)', (seed) => {
    const rnd = mulberry32(seed);
    const keys = ['a/one', 'a/two', 'b/one', 'b/three', 'c/four', 'c/five', 'd/six', 'd/seven', 'e/eight'];
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', '*'];
    const times = ['2026-01-01', '2026-01-02', '2026-01-03'];
    const live = new Map<string, Candidate>();
    const claims = new HostClaims();
    let previous = new Map<string, string>();
    for (let step = 0; step < 400; step++) {
      // Each step is a small batch (the engine flushes several changes at once).
      const batch = 1 + Math.floor(rnd() * 3);
      for (let b = 0; b < batch; b++) {
        const key = pick(rnd, keys);
        const existing = live.get(key);
        if (existing && rnd() < 0.3) {
          live.delete(key);
          claims.delete(key);
          continue;
        }
        const some = () => hosts.filter(() => rnd() < 0.3);
        const cand = {
          ir: ir(key, some(), some()),
          // Updates keep the creation time; a re-created KIngress gets a new one.
          created: existing?.created ?? pick(rnd, times),
        };
        live.set(key, cand);
        claims.set(cand.ir, cand.created);
      }
      const want = resolveConflicts([...live.values()]);
      expect(claims.accepted().map((a) => a.key)).toEqual(want.accepted.map((a) => a.key));
      expect([...claims.conflicts()].sort()).toEqual([...want.conflicts].sort());
      const now = outcomes(want.accepted, want.conflicts);
      const changed = claims.drainChanged();
      for (const k of new Set([...now.keys(), ...previous.keys()])) {
        if (now.get(k) !== previous.get(k)) expect([k, changed.has(k)]).toEqual([k, true]);
      }
      previous = now;
    }
  });
});
