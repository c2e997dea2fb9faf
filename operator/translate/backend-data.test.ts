// BackendData over the Lookups: EndpointSlices → endpoints, TLS Secrets → checked certificates,
// checked once per Secret object (the cache replaces the object on change).
import { join } from 'node:path';
import type { EndpointSlice, Secret } from '../api/core.ts';
import { goldenDir, loadCase } from '../../test/support/golden-cases.ts';
import { backendData } from './backend-data.ts';
import type { ClusterIR } from './ir.ts';

const certCase = loadCase(join(goldenDir, 'default-certificate.yaml'));
const wildcard = certCase.secrets.find((s) => s.metadata.name === 'wildcard')!;

function world() {
  const secrets = new Map<string, Secret>();
  const slices: EndpointSlice[] = [];
  let secretReads = 0;
  const data = backendData({
    secret: (ns, n) => {
      secretReads++;
      return secrets.get(`${ns}/${n}`);
    },
    endpointSlices: (ns, svc) =>
      slices.filter(
        (s) => s.metadata.namespace === ns && s.metadata.labels?.['kubernetes.io/service-name'] === svc,
      ),
  });
  return { secrets, slices, data, reads: () => secretReads };
}

const eds: ClusterIR = {
  name: 'apps/web:80',
  kind: 'eds',
  http2: false,
  endpoints: { namespace: 'apps', service: 'web', port: { name: 'http', targetPort: 8080 } },
};

describe('backendData', () => {
  test('a certificate is decoded and checked once per Secret object', () => {
    const w = world();
    w.secrets.set('kgw-system/wildcard', wildcard);
    const a = w.data.certificate('kgw-system/wildcard');
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.certificateChain).toContain('BEGIN CERTIFICATE');
    expect(a.privateKey).toContain('PRIVATE KEY');
    expect(w.data.certificate('kgw-system/wildcard')).toBe(a); // same object: no second check
    expect(w.reads()).toBe(2); // the Secret is still read each time: a change is seen at once
    w.secrets.set('kgw-system/wildcard', { ...wildcard, metadata: { ...wildcard.metadata } });
    const b = w.data.certificate('kgw-system/wildcard');
    expect(b).not.toBe(a);
    expect(b).toEqual(a);
  });

  test('a missing or invalid Secret gives the reason, not a certificate', () => {
    const w = world();
    expect(w.data.certificate('ns/gone')).toEqual({
      ok: false,
      problem: { reason: 'SecretNotFound', message: 'TLS Secret ns/gone does not exist' },
    });
    w.secrets.set('ns/half', {
      metadata: { name: 'half', namespace: 'ns' },
      data: { 'tls.crt': wildcard.data!['tls.crt']! },
    });
    expect(w.data.certificate('ns/half')).toMatchObject({ ok: false, problem: { reason: 'SecretInvalid' } });
  });

  test("an EDS cluster's endpoints come from its Service's slices; a DNS cluster has none", () => {
    const w = world();
    w.slices.push({
      metadata: { name: 'web-1', namespace: 'apps', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080 }],
      endpoints: [{ addresses: ['198.18.0.2', '127.0.0.1'] }, { addresses: ['198.18.0.1'] }],
    });
    expect(w.data.endpoints(eds)).toEqual([
      { address: '198.18.0.1', port: 8080 },
      { address: '198.18.0.2', port: 8080 },
    ]);
    expect(
      w.data.endpoints({ name: 'x', kind: 'dns', http2: false, dnsHost: 'example.com', dnsPort: 80 }),
    ).toEqual([]);
  });
});
