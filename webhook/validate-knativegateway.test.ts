import type { KnativeGateway } from '../operator/api/knativegateway.ts';
import { staticLookups, type StaticLookupsData } from './lookups.ts';
import { referencedIssuers, servedClasses, validateKnativeGateway } from './validate-knativegateway.ts';

const gw = (
  name: string,
  spec: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
): KnativeGateway => ({
  metadata: { name, ...meta },
  spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], ...spec },
});
const older = (name: string, spec: Record<string, unknown> = {}, t = '2025-01-01T00:00:00Z') =>
  gw(name, spec, { creationTimestamp: t });
const L = (d: StaticLookupsData = {}) => staticLookups({ clusterIssuers: [], ...d });

describe('validateKnativeGateway', () => {
  test('the first gateway passes without warnings', () => {
    expect(validateKnativeGateway(gw('main'), undefined, L())).toEqual({ allowed: true });
  });

  test('a second gateway with the same (default) ingress class is denied, naming the first', () => {
    const v = validateKnativeGateway(
      gw('second', { knative: { configure: false } }),
      undefined,
      L({ gateways: [older('main')] }),
    );
    expect(v).toEqual({
      allowed: false,
      message:
        'spec.ingressClass: ingress class "kgw.ingress.networking.knative.dev" is already served by KnativeGateway "main"; set a different spec.ingressClass',
    });
  });

  test('an explicit class equal to another gateway default is denied too', () => {
    const v = validateKnativeGateway(
      gw('second', { ingressClass: 'kgw.ingress.networking.knative.dev', knative: { configure: false } }),
      undefined,
      L({ gateways: [older('main')] }),
    );
    expect(v.allowed).toBe(false);
  });

  test('a different class passes; the object itself (UPDATE) is not "another gateway"', () => {
    const l = L({ gateways: [older('main')] });
    expect(
      validateKnativeGateway(
        gw('second', { ingressClass: 'b.example.com', knative: { configure: false } }),
        undefined,
        l,
      ),
    ).toEqual({
      allowed: true,
    });
    expect(validateKnativeGateway(older('main', { namespace: 'edge' }), older('main'), l)).toEqual({
      allowed: true,
    });
  });

  test('on UPDATE a conflict the gateway already had is a warning, not a denial', () => {
    const v = validateKnativeGateway(
      older('second', { knative: { configure: false } }, '2025-02-01T00:00:00Z'),
      older('second', {}, '2025-02-01T00:00:00Z'),
      L({ gateways: [older('main')] }),
    );
    expect(v.allowed).toBe(true);
    expect(v.warnings?.[0]).toContain('is already served by KnativeGateway "main"');
  });

  test('on UPDATE the older of two gateways with one class gets no warning (it holds the class)', () => {
    const main = older('main');
    const younger = older('second', { knative: { configure: false } }, '2025-02-01T00:00:00Z');
    expect(validateKnativeGateway(main, main, L({ gateways: [main, younger] }))).toEqual({ allowed: true });
  });

  test('a gateway being deleted does not hold its class (warning)', () => {
    const v = validateKnativeGateway(
      gw('second', { knative: { configure: false } }),
      undefined,
      L({ gateways: [gw('main', {}, { deletionTimestamp: '2025-01-02T00:00:00Z' })] }),
    );
    expect(v).toEqual({
      allowed: true,
      warnings: ['spec.ingressClass: KnativeGateway "main" with the same class is being deleted'],
    });
  });

  test('fleets of two gateways published as the same Service are denied', () => {
    // gateway "a-b" fleet "c" and gateway "a" fleet "b-c" both become Service kgw-a-b-c
    const v = validateKnativeGateway(
      gw('a', {
        ingressClass: 'two.example.com',
        knative: { configure: false },
        fleets: [{ name: 'b-c', visibility: 'ExternalIP' }],
      }),
      undefined,
      L({ gateways: [older('a-b', { fleets: [{ name: 'c', visibility: 'ExternalIP' }] })] }),
    );
    expect(v.allowed).toBe(false);
    expect(v.message).toMatch(
      /^spec\.fleets: fleets .* would all be published as Service kgw-system\/kgw-a-b-c \(KnativeGateway "a-b"\)$/,
    );
  });

  test('domainClaims.rules without domains.default: warning that Knative-generated hosts must then match a rule', () => {
    const rules = [{ domains: ['apps.example.net'] }];
    const v = validateKnativeGateway(gw('main', { domainClaims: { rules } }), undefined, L());
    expect(v).toEqual({
      allowed: true,
      warnings: [
        "spec.domainClaims.rules: spec.domains.default is not set, so kgw does not know the domain of the hosts Knative generates for Routes (<name>.<namespace>.<domain>): each of them must then match a rule, or its KIngress gets Ready=False, HostNotAllowed. Set spec.domains.default to config-domain's domain (kgw then writes config-domain), or add that domain to a rule",
      ],
    });
    // with the domain known, or without rules, nothing to say
    expect(
      validateKnativeGateway(
        gw('main', { domainClaims: { rules }, domains: { default: 'example.com' } }),
        undefined,
        L(),
      ),
    ).toEqual({ allowed: true });
    expect(
      validateKnativeGateway(gw('main', { domainClaims: { autoCreate: true } }), undefined, L()),
    ).toEqual({
      allowed: true,
    });
  });

  test('knative.configure while another gateway configures Knative: warning', () => {
    const v = validateKnativeGateway(
      gw('second', { ingressClass: 'b.example.com' }),
      undefined,
      L({ gateways: [older('main')] }),
    );
    expect(v).toEqual({
      allowed: true,
      warnings: [
        'spec.knative.configure: KnativeGateway "main" already configures Knative; only the oldest gateway with knative.configure does (set it to false here)',
      ],
    });
  });

  test('the oldest configurer itself gets no such warning on UPDATE', () => {
    const main = older('main');
    const v = validateKnativeGateway(
      main,
      main,
      L({ gateways: [main, older('second', { ingressClass: 'b.example.com' }, '2025-03-01T00:00:00Z')] }),
    );
    expect(v).toEqual({ allowed: true });
  });

  test('referenced ClusterIssuers: missing → warning; cert-manager absent → warning; present → nothing', () => {
    const tls = {
      tls: {
        externalIssuer: { name: 'letsencrypt' },
        clusterLocalIssuer: { name: 'local-ca' },
        defaultCertificate: { issuer: { name: 'dns01' } },
      },
    };
    const v = validateKnativeGateway(gw('main', tls), undefined, L({ clusterIssuers: ['local-ca'] }));
    expect(v).toEqual({
      allowed: true,
      warnings: [
        'spec.tls.externalIssuer.name: cert-manager ClusterIssuer "letsencrypt" does not exist (yet); no certificate is issued until it does',
        'spec.tls.defaultCertificate.issuer.name: cert-manager ClusterIssuer "dns01" does not exist (yet); no certificate is issued until it does',
      ],
    });
    const absent = validateKnativeGateway(
      gw('main', { tls: { externalIssuer: { name: 'le' } } }),
      undefined,
      L({ clusterIssuers: undefined }),
    );
    expect(absent.warnings).toEqual([
      'spec.tls.externalIssuer.name: ClusterIssuer "le" cannot be checked: cert-manager (cert-manager.io/v1 ClusterIssuer) is not installed',
    ]);
    expect(
      validateKnativeGateway(
        gw('main', { tls: { externalIssuer: { name: 'local-ca' } } }),
        undefined,
        L({ clusterIssuers: ['local-ca'] }),
      ),
    ).toEqual({
      allowed: true,
    });
  });

  test('referencedIssuers is defensive about shapes', () => {
    expect(
      referencedIssuers({
        spec: { tls: { externalIssuer: 'x', defaultCertificate: { issuer: { name: 3 } } } },
      }),
    ).toEqual([]);
    expect(referencedIssuers(null)).toEqual([]);
  });

  test('servedClasses skips gateways being deleted', () => {
    expect([
      ...servedClasses([older('a'), gw('b', { ingressClass: 'b.example.com' }, { deletionTimestamp: 'x' })]),
    ]).toEqual(['kgw.ingress.networking.knative.dev']);
  });
});
