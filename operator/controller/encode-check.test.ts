import type { IngressIR, RouteIR } from '../translate/ir.ts';
import { encodeProblem, REASON_ENCODING_FAILED } from './encode-check.ts';

function ir(route: Partial<RouteIR>, cluster: object = {}): IngressIR {
  const r: RouteIR = {
    name: 'n/a/r0/p0',
    prefix: '/',
    headers: [],
    setHeaders: [],
    targets: [{ cluster: 'n/s:80', weight: 100, headers: [] }],
    acme: false,
    ...route,
  };
  return {
    key: 'n/a',
    hash: 'h',
    generation: 1,
    external: { vhosts: [{ host: 'a.example.com', owner: 'n/a', routes: [r], redirectHttp: true }], tls: [] },
    local: { vhosts: [], tls: [] },
    clusters: [{ name: 'n/s:80', kind: 'eds', http2: false, ...cluster }],
    secrets: [],
    services: [],
    probes: [],
  };
}

test('a well-formed IR encodes', () => {
  expect(encodeProblem(ir({ setHeaders: [{ name: 'X-A', value: '100%' }] }))).toBeUndefined();
});

test('a route whose header match is not a string is reported, naming the route', () => {
  // what translate let through before it checked types: the whole route table then failed to encode
  const bad = ir({ headers: [{ name: 'X-A', exact: 5 as unknown as string }] });
  expect(encodeProblem(bad)).toEqual({
    reason: REASON_ENCODING_FAILED,
    message: expect.stringContaining(
      'the Envoy configuration of route n/a/r0/p0 cannot be encoded: $.match.headers[0].string_match.exact: ',
    ) as string,
  });
  expect(encodeProblem(bad)?.message).toContain('expected string, got 5');
});

test('a cluster that cannot be encoded is reported', () => {
  const bad = ir({}, { kind: 'dns', dnsHost: 'x.example.com', dnsPort: 'eighty' });
  expect(encodeProblem(bad)?.message).toContain('cluster n/s:80');
});
