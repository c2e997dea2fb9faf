import type { EndpointSlice } from '../api/core.ts';
import type { ClusterIR, IngressIR } from '../translate/ir.ts';
import { awaitedBackends, ENDPOINT_WAIT_MS, EndpointWait } from './endpoint-wait.ts';

const cluster = (svc: string): ClusterIR => ({
  name: `ns/${svc}:80`,
  kind: 'eds',
  http2: false,
  endpoints: { namespace: 'ns', service: svc, port: { name: 'http' } },
});
const ir = (...svcs: string[]) => ({ clusters: svcs.map(cluster) }) as unknown as IngressIR;
const slice = (ready: boolean | undefined, addresses = ['198.18.0.9']): EndpointSlice =>
  ({
    endpoints: [{ addresses, conditions: ready === undefined ? {} : { ready } }],
  }) as unknown as EndpointSlice;

test('only new backends without a ready endpoint are awaited', () => {
  const slices: Record<string, EndpointSlice[]> = {
    a: [slice(true)],
    b: [],
    c: [slice(false)],
    d: [slice(undefined)], // no condition: ready
    e: [slice(true, [])],
  };
  const at = (_ns: string, svc: string) => slices[svc] ?? [];
  expect(awaitedBackends(ir('a'), ir('a', 'b', 'c', 'd', 'e'), at)).toEqual(['ns/b', 'ns/c', 'ns/e']);
  expect(awaitedBackends(ir('b'), ir('b'), at)).toEqual([]); // already served: nothing new to wait for
  const dns = { name: 'ext', kind: 'dns', http2: false } as ClusterIR;
  expect(awaitedBackends(ir(), { clusters: [dns] } as unknown as IngressIR, at)).toEqual([]);
});

test('a KIngress is held until the bound, then released; its waiters are found by Service', () => {
  let now = 0;
  const expired: string[] = [];
  const w = new EndpointWait(
    (k) => expired.push(k),
    () => now,
  );
  expect(w.hold('ns/a', ['ns/b'])).toBe(true);
  expect(w.waitingFor('ns/b')).toEqual(['ns/a']);
  now = ENDPOINT_WAIT_MS - 1;
  expect(w.hold('ns/a', ['ns/b'])).toBe(true);
  now = ENDPOINT_WAIT_MS;
  expect(w.hold('ns/a', ['ns/b'])).toBe(false);
  w.clear('ns/a');
  expect(w.waitingFor('ns/b')).toEqual([]);
  w.stop();
  expect(expired).toEqual([]); // cleared before its timer
});
