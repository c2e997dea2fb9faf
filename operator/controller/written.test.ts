import type { IngressStatus, KIngress } from '../api/kingress.ts';
import { WrittenStatus } from './written.ts';

const ready: IngressStatus = { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True' }] };
const probing: IngressStatus = { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'Unknown' }] };
const obj = (rv: string, status?: IngressStatus): KIngress => ({
  metadata: { name: 'x', namespace: 'ns', resourceVersion: rv, generation: 1 },
  spec: {},
  ...(status ? { status } : {}),
});

describe('WrittenStatus', () => {
  test('our last write wins over a cache that has not seen it yet', () => {
    const w = new WrittenStatus();
    // The cache shows an earlier Ready (rv 10); we then wrote "probing" (rv 11).
    w.record('ns/x', '11', probing);
    expect(w.current('ns/x', obj('10', ready))).toBe(probing);
    // The event of an older write does not clear it; the event of ours does.
    w.observe('ns/x', obj('10', ready));
    expect(w.current('ns/x', obj('10', ready))).toBe(probing);
    w.observe('ns/x', obj('11', probing));
    expect(w.size).toBe(0);
    expect(w.current('ns/x', obj('11', probing))).toBe(probing);
  });

  test('a cache newer than our write (another writer, a relist) is taken as is', () => {
    const w = new WrittenStatus();
    w.record('ns/x', '11', probing);
    expect(w.current('ns/x', obj('12', ready))).toBe(ready);
    expect(w.size).toBe(0);
  });

  test('deletion forgets the write', () => {
    const w = new WrittenStatus();
    w.record('ns/x', '11', probing);
    w.observe('ns/x', undefined);
    expect(w.size).toBe(0);
  });
});
