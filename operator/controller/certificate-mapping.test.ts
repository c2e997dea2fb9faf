import { KGW_CERTIFICATE_CLASS, type KnativeGateway } from '../api/knativegateway.ts';
import {
  certManagerCertificate,
  controlledBy,
  specDiffers,
  type CertManagerCertificate,
  type Challenge,
  type KCertificate,
  type SolverService,
} from './certificate-mapping.ts';
import {
  adler32,
  http01Challenges,
  kcertStatus,
  problemStatus,
  sameKCertStatus,
} from './certificate-status.ts';

function gateway(tls: KnativeGateway['spec']['tls']): KnativeGateway {
  return {
    metadata: { name: 'gw' },
    spec: { fleets: [{ name: 'external', visibility: 'ExternalIP' }], ...(tls ? { tls } : {}) },
  };
}

const gw = gateway({ externalIssuer: { name: 'letsencrypt' }, clusterLocalIssuer: { name: 'local-ca' } });

function kcert(over: Partial<KCertificate['spec']> = {}, labels?: Record<string, string>): KCertificate {
  return {
    metadata: {
      name: 'route-1234',
      namespace: 'ns',
      uid: 'uid-1',
      generation: 3,
      annotations: { 'networking.knative.dev/certificate.class': KGW_CERTIFICATE_CLASS, other: 'x' },
      labels: { 'serving.knative.dev/route': 'r', ...labels },
    },
    spec: { dnsNames: ['a.ns.example.com'], secretName: 'route-1234', ...over },
  };
}

function ok(r: ReturnType<typeof certManagerCertificate>): CertManagerCertificate {
  if ('problem' in r) throw new Error(`unexpected problem ${r.problem.reason}: ${r.problem.message}`);
  return r;
}

describe('certManagerCertificate', () => {
  test('same name, controller reference, copied metadata, issuer, secret template', () => {
    const c = ok(certManagerCertificate(kcert(), gw));
    expect(c).toEqual({
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: {
        name: 'route-1234',
        namespace: 'ns',
        labels: { 'serving.knative.dev/route': 'r' },
        annotations: { 'networking.knative.dev/certificate.class': KGW_CERTIFICATE_CLASS, other: 'x' },
        ownerReferences: [
          {
            apiVersion: 'networking.internal.knative.dev/v1alpha1',
            kind: 'Certificate',
            name: 'route-1234',
            uid: 'uid-1',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        commonName: 'a.ns.example.com',
        dnsNames: ['a.ns.example.com'],
        secretName: 'route-1234',
        issuerRef: { kind: 'ClusterIssuer', group: 'cert-manager.io', name: 'letsencrypt' },
        secretTemplate: { labels: { 'networking.internal.knative.dev/certificate-uid': 'uid-1' } },
      },
    });
    expect(controlledBy(c, kcert())).toBe(true);
    expect(controlledBy(c, { ...kcert(), metadata: { ...kcert().metadata, uid: 'other' } })).toBe(false);
  });

  test('issuer by certificate type', () => {
    const issuer = (labels?: Record<string, string>, g = gw) => {
      const r = certManagerCertificate(kcert({}, labels), g);
      return 'problem' in r ? r.problem.reason : r.spec.issuerRef.name;
    };
    expect(issuer()).toBe('letsencrypt');
    expect(issuer({ 'networking.knative.dev/certificate-type': 'external-domain' })).toBe('letsencrypt');
    expect(issuer({ 'networking.knative.dev/certificate-type': 'cluster-local-domain' })).toBe('local-ca');
    // clusterLocalIssuer defaults to externalIssuer
    const onlyExternal = gateway({ externalIssuer: { name: 'le' } });
    expect(issuer({ 'networking.knative.dev/certificate-type': 'cluster-local-domain' }, onlyExternal)).toBe(
      'le',
    );
    expect(issuer({ 'networking.knative.dev/certificate-type': 'system-internal' })).toBe('IssuerNotSet');
    expect(issuer({ 'networking.knative.dev/certificate-type': 'bogus' })).toBe('IssuerNotSet');
    expect(issuer(undefined, gateway(undefined))).toBe('IssuerNotSet');
    const r = certManagerCertificate(kcert(), undefined);
    expect('problem' in r && r.problem.reason).toBe('IssuerNotSet');
  });

  test('common name: 63 bytes fit; longer → k.<domain> prepended, or CommonNameTooLong', () => {
    const label = (n: number) => 'a'.repeat(n);
    const fits = `${label(63 - '.example.com'.length)}.example.com`;
    expect(fits).toHaveLength(63);
    expect(ok(certManagerCertificate(kcert({ dnsNames: [fits] }), gw)).spec.commonName).toBe(fits);

    const long = `${label(40)}.${label(30)}.example.com`;
    const shortened = ok(
      certManagerCertificate(kcert({ dnsNames: [long, 'b.example.com'], domain: 'example.com' }), gw),
    );
    expect(shortened.spec.commonName).toBe('k.example.com');
    expect(shortened.spec.dnsNames).toEqual(['k.example.com', long, 'b.example.com']);

    const reason = (spec: Partial<KCertificate['spec']>) => {
      const r = certManagerCertificate(kcert(spec), gw);
      return 'problem' in r ? r.problem.reason : 'ok';
    };
    expect(reason({ dnsNames: [long] })).toBe('CommonNameTooLong');
    expect(reason({ dnsNames: [long], domain: long })).toBe('CommonNameTooLong');
    expect(reason({ dnsNames: [long], domain: `${label(62)}.com` })).toBe('CommonNameTooLong');
    expect(reason({ dnsNames: [long], domain: `${label(57)}.com` })).toBe('ok'); // k. + 61 = 63
    expect(reason({ dnsNames: [] })).toBe('InvalidSpec');
    expect(reason({ dnsNames: ['a.com', ''] })).toBe('InvalidSpec');
    expect(reason({ secretName: '' })).toBe('InvalidSpec');
  });

  test('specDiffers looks only at the fields kgw sets', () => {
    const c = ok(certManagerCertificate(kcert(), gw));
    const existing = { ...c, spec: { ...c.spec, duration: '2160h' } };
    expect(specDiffers(existing, c)).toBe(false);
    const other = ok(certManagerCertificate(kcert({ dnsNames: ['b.ns.example.com'] }), gw));
    expect(specDiffers(existing, other)).toBe(true);
    expect(
      specDiffers(existing, ok(certManagerCertificate(kcert(), gateway({ externalIssuer: { name: 'x' } })))),
    ).toBe(true);
  });
});

describe('kcertStatus', () => {
  const now = new Date('2030-01-01T00:00:00Z');
  const base = ok(certManagerCertificate(kcert(), gw));
  const withStatus = (status: CertManagerCertificate['status']): CertManagerCertificate => ({
    ...base,
    status,
  });
  const ready = (s: ReturnType<typeof kcertStatus>) => s.conditions?.find((c) => c.type === 'Ready');
  const chal = [
    {
      url: 'http://a/.well-known/acme-challenge/t',
      serviceName: 's',
      serviceNamespace: 'ns',
      servicePort: 8089,
    },
  ];

  test('not created yet, no Ready condition → Unknown', () => {
    expect(ready(kcertStatus(undefined, now))).toMatchObject({ status: 'Unknown' });
    const s = kcertStatus(withStatus({}), now, { generation: 3, challenges: chal });
    expect(ready(s)).toMatchObject({ status: 'Unknown', reason: 'NoCertManagerCertCondition' });
    expect(s.observedGeneration).toBe(3);
    expect(s.http01Challenges).toEqual(chal);
  });

  test('Ready True → Ready True with notAfter, challenges cleared', () => {
    const s = kcertStatus(
      withStatus({
        conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }],
        notAfter: '2030-03-01T00:00:00Z',
        renewalTime: '2030-02-01T00:00:00Z',
      }),
      now,
      { generation: 3, challenges: chal },
    );
    expect(s).toEqual({
      observedGeneration: 3,
      notAfter: '2030-03-01T00:00:00Z',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now.toISOString() }],
      http01Challenges: [],
    });
  });

  test('Ready True past renewalTime → Renewing True and challenges', () => {
    const s = kcertStatus(
      withStatus({
        conditions: [{ type: 'Ready', status: 'True' }],
        notAfter: '2030-03-01T00:00:00Z',
        renewalTime: '2029-12-31T00:00:00Z',
      }),
      now,
      { challenges: chal },
    );
    expect(ready(s)?.status).toBe('True');
    expect(s.conditions?.find((c) => c.type === 'Renewing')).toMatchObject({ status: 'True' });
    expect(s.http01Challenges).toEqual(chal);
  });

  test('Unknown → Unknown with cert-manager reason', () => {
    const s = kcertStatus(
      withStatus({ conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Foo', message: 'm' }] }),
      now,
    );
    expect(ready(s)).toMatchObject({ status: 'Unknown', reason: 'Foo', message: 'm' });
  });

  test('False while issuing or never failed → Unknown; failed issuance → False', () => {
    const r = (status: CertManagerCertificate['status']) => ready(kcertStatus(withStatus(status), now));
    const notFound = {
      type: 'Ready',
      status: 'False' as const,
      reason: 'DoesNotExist',
      message: 'Issuing certificate',
    };
    expect(r({ conditions: [notFound, { type: 'Issuing', status: 'True' }] })?.status).toBe('Unknown');
    expect(r({ conditions: [notFound] })?.status).toBe('Unknown');
    expect(
      r({ conditions: [{ ...notFound, reason: 'InProgress' }], lastFailureTime: '2029-01-01T00:00:00Z' })
        ?.status,
    ).toBe('Unknown');
    expect(
      r({
        conditions: [notFound, { type: 'Issuing', status: 'True' }],
        lastFailureTime: '2029-01-01T00:00:00Z',
        failedIssuanceAttempts: 1,
      })?.status,
    ).toBe('Unknown');
    expect(
      r({
        conditions: [
          notFound,
          { type: 'Issuing', status: 'False', reason: 'Failed', message: 'issuer not ready' },
        ],
        lastFailureTime: '2029-01-01T00:00:00Z',
        failedIssuanceAttempts: 1,
      }),
    ).toMatchObject({ status: 'False', reason: 'Failed', message: 'issuer not ready' });
  });

  test('lastTransitionTime is kept while the status stays; sameKCertStatus', () => {
    const cm = withStatus({ conditions: [{ type: 'Ready', status: 'True' }] });
    const first = kcertStatus(cm, now, { generation: 1 });
    const later = new Date('2030-01-02T00:00:00Z');
    const again = kcertStatus(cm, later, { generation: 1, previous: first });
    expect(sameKCertStatus(first, again)).toBe(true);
    const flipped = kcertStatus(withStatus({ conditions: [{ type: 'Ready', status: 'Unknown' }] }), later, {
      generation: 1,
      previous: first,
    });
    expect(ready(flipped)?.lastTransitionTime).toBe(later.toISOString());
  });

  test('problemStatus keeps notAfter', () => {
    const s = problemStatus({ reason: 'NotOwned', message: 'm' }, 'False', now, {
      generation: 2,
      previous: { notAfter: 'x', conditions: [] },
    });
    expect(s).toEqual({
      observedGeneration: 2,
      notAfter: 'x',
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'NotOwned',
          message: 'm',
          lastTransitionTime: now.toISOString(),
        },
      ],
      http01Challenges: [],
    });
  });
});

describe('http01Challenges', () => {
  test('adler32 matches Go hash/adler32', () => {
    // values from Go: adler32.Checksum([]byte(s))
    expect(adler32('')).toBe(1);
    expect(adler32('Wikipedia')).toBe(0x11e60398);
    expect(adler32('a.ns.example.com')).toBe(adler32('a.ns.example.com'));
  });

  test('solver Services are followed to their Challenge', () => {
    const cm = ok(certManagerCertificate(kcert({ dnsNames: ['a.ns.example.com', 'b.ns.example.com'] }), gw));
    const svc = (name: string, domain: string, challenge: string, ns = 'ns'): SolverService => ({
      metadata: {
        name,
        namespace: ns,
        labels: {
          'acme.cert-manager.io/http01-solver': 'true',
          'acme.cert-manager.io/http-domain': String(adler32(domain)),
        },
        ownerReferences: [
          { apiVersion: 'acme.cert-manager.io/v1', kind: 'Challenge', name: challenge, uid: 'u' },
        ],
      },
      spec: { ports: [{ port: 8089, targetPort: 8089 }] },
    });
    const ch = (name: string, dnsName: string, token: string, ns = 'ns'): Challenge => ({
      metadata: { name, namespace: ns },
      spec: { dnsName, token, type: 'HTTP-01' },
    });
    const out = http01Challenges(
      cm,
      [
        svc('cm-acme-http-solver-b', 'b.ns.example.com', 'ch-b'),
        svc('cm-acme-http-solver-a', 'a.ns.example.com', 'ch-a'),
        svc('elsewhere', 'a.ns.example.com', 'ch-a', 'other'),
        svc('orphan', 'a.ns.example.com', 'missing'),
      ],
      [ch('ch-a', 'a.ns.example.com', 'tokA'), ch('ch-b', 'b.ns.example.com', 'tokB')],
    );
    expect(out).toEqual([
      {
        url: 'http://a.ns.example.com/.well-known/acme-challenge/tokA',
        serviceName: 'cm-acme-http-solver-a',
        serviceNamespace: 'ns',
        servicePort: 8089,
      },
      {
        url: 'http://b.ns.example.com/.well-known/acme-challenge/tokB',
        serviceName: 'cm-acme-http-solver-b',
        serviceNamespace: 'ns',
        servicePort: 8089,
      },
    ]);
    expect(http01Challenges(cm, [], [])).toEqual([]);
  });
});
