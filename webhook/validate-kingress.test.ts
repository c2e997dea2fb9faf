import type { KnativeGateway } from '../operator/api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS, type KIngress } from '../operator/api/kingress.ts';
import { staticLookups } from './lookups.ts';
import { validateKIngress } from './validate-kingress.ts';

const gw = (name: string, spec: Record<string, unknown> = {}): KnativeGateway => ({
  metadata: { name, creationTimestamp: '2025-01-01T00:00:00Z' },
  spec: { fleets: [{ name: 'ext', visibility: 'ExternalIP' }], ...spec },
});

function ing(spec: unknown, extra: Partial<KIngress['metadata']> = {}, cls = KGW_INGRESS_CLASS): KIngress {
  return {
    metadata: {
      name: 'hello',
      namespace: 'default',
      annotations: { [INGRESS_CLASS_ANNOTATION]: cls },
      ...extra,
    },
    spec: spec as KIngress['spec'],
  };
}

const split = (o: Record<string, unknown> = {}) => ({
  serviceNamespace: 'default',
  serviceName: 'hello',
  servicePort: 80,
  ...o,
});
const good = (o: Record<string, unknown> = {}) => ({
  rules: [
    {
      hosts: ['hello.default.example.com'],
      visibility: 'ExternalIP',
      http: { paths: [{ splits: [split()] }] },
    },
  ],
  ...o,
});
const withPath = (path: Record<string, unknown>) =>
  good({ rules: [{ hosts: ['a.example.com'], http: { paths: [path] } }] });

const lookups = staticLookups({ gateways: [gw('main')] });

describe('validateKIngress', () => {
  test('a good KIngress passes', () => {
    expect(validateKIngress(ing(good()), undefined, lookups)).toEqual({ allowed: true });
  });

  test('good variants pass: single split without percent, weighted splits, tls in own namespace, ClusterLocal', () => {
    const spec = good({
      rules: [
        {
          hosts: ['hello.default.svc.cluster.local', 'hello.default.svc'],
          visibility: 'ClusterLocal',
          http: {
            paths: [
              { path: '/', splits: [split({ percent: 30 }), split({ percent: 70, servicePort: 'http2' })] },
              { splits: [split({ percent: undefined })] },
            ],
          },
        },
      ],
      tls: [{ hosts: ['hello.default.example.com'], secretName: 's', secretNamespace: 'default' }],
      httpOption: 'Redirected',
    });
    expect(validateKIngress(ing(spec), undefined, lookups).allowed).toBe(true);
  });

  test('KIngresses of classes kgw does not serve are allowed untouched', () => {
    expect(validateKIngress(ing({}, {}, 'istio.ingress.networking.knative.dev'), undefined, lookups)).toEqual(
      {
        allowed: true,
      },
    );
    const noClass: KIngress = { metadata: { name: 'x', namespace: 'default' }, spec: {} };
    expect(validateKIngress(noClass, undefined, lookups).allowed).toBe(true);
    // no gateway at all: kgw serves no class
    expect(validateKIngress(ing({}), undefined, staticLookups({})).allowed).toBe(true);
  });

  test('a custom ingress class of a gateway is judged', () => {
    const l = staticLookups({ gateways: [gw('other', { ingressClass: 'custom.example.com' })] });
    expect(validateKIngress(ing({}, {}, 'custom.example.com'), undefined, l).allowed).toBe(false);
    expect(validateKIngress(ing({}), undefined, l).allowed).toBe(true);
  });

  const bad: [string, unknown, string][] = [
    ['empty spec', {}, 'spec: must not be empty'],
    ['no rules', { httpOption: 'Enabled' }, 'spec.rules: at least one rule is required'],
    ['empty rule', { rules: [{}] }, 'spec.rules[0]: must not be empty'],
    ['rule without http', { rules: [{ hosts: ['a.example.com'] }] }, 'spec.rules[0].http: required'],
    [
      'no paths',
      { rules: [{ hosts: ['a.example.com'], http: { paths: [] } }] },
      'spec.rules[0].http.paths: at least one path is required',
    ],
    ['empty path', withPath({}), 'spec.rules[0].http.paths[0]: must not be empty'],
    [
      'no splits',
      withPath({ path: '/' }),
      'spec.rules[0].http.paths[0].splits: at least one split is required',
    ],
    ['empty split', withPath({ splits: [{}] }), 'spec.rules[0].http.paths[0].splits[0]: must not be empty'],
    [
      'percent > 100',
      withPath({ splits: [split({ percent: 101 })] }),
      'spec.rules[0].http.paths[0].splits[0].percent: must be an integer from 0 to 100, got 101',
    ],
    [
      'negative percent',
      withPath({ splits: [split({ percent: -1 }), split({ percent: 100 })] }),
      'splits[0].percent: must be an integer from 0 to 100, got -1',
    ],
    [
      'percent sum',
      withPath({ splits: [split({ percent: 40 }), split({ percent: 50 })] }),
      'spec.rules[0].http.paths[0].splits: traffic split percentages must total to 100, got 90',
    ],
    [
      'two splits without percent',
      withPath({ splits: [split(), split()] }),
      'traffic split percentages must total to 100, got 0',
    ],
    [
      'missing serviceNamespace',
      withPath({ splits: [split({ serviceNamespace: undefined })] }),
      'splits[0].serviceNamespace: required',
    ],
    [
      'foreign serviceNamespace',
      withPath({ splits: [split({ serviceNamespace: 'other' })] }),
      `splits[0].serviceNamespace: must be the KIngress's namespace "default", got "other"`,
    ],
    [
      'missing serviceName',
      withPath({ splits: [split({ serviceName: '' })] }),
      'splits[0].serviceName: required',
    ],
    [
      'missing servicePort',
      withPath({ splits: [split({ servicePort: undefined })] }),
      'splits[0].servicePort: required',
    ],
    [
      'zero servicePort',
      withPath({ splits: [split({ servicePort: 0 })] }),
      'splits[0].servicePort: required',
    ],
    [
      'servicePort out of range',
      withPath({ splits: [split({ servicePort: 70000 })] }),
      'splits[0].servicePort: must be a port number from 1 to 65535 or a port name',
    ],
    [
      'bad visibility',
      good({
        rules: [{ hosts: ['a.example.com'], visibility: 'Public', http: { paths: [{ splits: [split()] }] } }],
      }),
      'spec.rules[0].visibility: must be ExternalIP or ClusterLocal, got "Public"',
    ],
    [
      'bad httpOption',
      good({ httpOption: 'Disabled' }),
      'spec.httpOption: must be "", Enabled or Redirected, got "Disabled"',
    ],
    ['empty tls entry', good({ tls: [{}] }), 'spec.tls[0]: must not be empty'],
    [
      'tls without secretName',
      good({ tls: [{ hosts: ['a.example.com'], secretNamespace: 'default' }] }),
      'spec.tls[0].secretName: required',
    ],
    [
      'tls without secretNamespace',
      good({ tls: [{ secretName: 's' }] }),
      'spec.tls[0].secretNamespace: required',
    ],
    [
      'tls foreign secretNamespace',
      good({ tls: [{ secretName: 's', secretNamespace: 'kube-system' }] }),
      `spec.tls[0].secretNamespace: must be the KIngress's namespace "default", got "kube-system"`,
    ],
    [
      'invalid host',
      good({ rules: [{ hosts: ['Bad_Host'], http: { paths: [{ splits: [split()] }] } }] }),
      'spec.rules[0].hosts[0]: host "Bad_Host" is not a valid DNS name',
    ],
    [
      'non-string host',
      good({ rules: [{ hosts: [42], http: { paths: [{ splits: [split()] }] } }] }),
      'spec.rules[0].hosts[0]: must be a string',
    ],
    [
      'invalid tls host',
      good({ tls: [{ hosts: ['-x.example.com'], secretName: 's', secretNamespace: 'default' }] }),
      'spec.tls[0].hosts[0]: host "-x.example.com" is not a valid DNS name',
    ],
    [
      'invalid header name',
      withPath({ headers: { 'bad header': { exact: 'x' } }, splits: [split()] }),
      'spec.rules[0].http.paths[0].headers: header name "bad header" is not a valid HTTP header name',
    ],
    [
      'Host header',
      withPath({ appendHeaders: { Host: 'x' }, splits: [split()] }),
      'spec.rules[0].http.paths[0].appendHeaders: header "Host" cannot be set or matched; use rewriteHost',
    ],
    [
      'split header value with newline',
      withPath({ splits: [split({ appendHeaders: { 'X-A': 'a\nb' } })] }),
      'spec.rules[0].http.paths[0].splits[0].appendHeaders.X-A: has control characters',
    ],
    [
      'path without slash',
      withPath({ path: 'api', splits: [split()] }),
      'spec.rules[0].http.paths[0].path: "api" must start with "/"',
    ],
    [
      'invalid rewriteHost',
      withPath({ rewriteHost: 'a b', splits: [split()] }),
      'spec.rules[0].http.paths[0].rewriteHost: host "a b" is not a valid DNS name',
    ],
  ];
  test.each(bad)('%s is denied', (_name, spec, message) => {
    const v = validateKIngress(ing(spec), undefined, lookups);
    expect(v.allowed).toBe(false);
    expect(v.message).toContain(message);
  });

  test('several problems are all reported', () => {
    const v = validateKIngress(
      ing(withPath({ splits: [split({ serviceName: '', servicePort: 0 })] })),
      undefined,
      lookups,
    );
    expect(v.message).toBe(
      'spec.rules[0].http.paths[0].splits[0].serviceName: required; spec.rules[0].http.paths[0].splits[0].servicePort: required',
    );
  });

  describe('hosts already served by another KIngress of the class', () => {
    const other = (
      o: Partial<KIngress['metadata']> = {},
      cls = KGW_INGRESS_CLASS,
      visibility = 'ExternalIP',
    ) => ({
      ...ing(
        good({
          rules: [
            { hosts: ['hello.default.example.com'], visibility, http: { paths: [{ splits: [split()] }] } },
          ],
        }),
        { name: 'first', namespace: 'default', ...o },
        cls,
      ),
    });

    test("denied, without naming another namespace's KIngress", () => {
      const l = staticLookups({ gateways: [gw('main')], kingresses: [other({ namespace: 'team-a' })] });
      const v = validateKIngress(ing(good()), undefined, l);
      expect(v).toEqual({
        allowed: false,
        message:
          'spec.rules[0].hosts[0]: host "hello.default.example.com" (ExternalIP) is already served by a KIngress of another namespace of ingress class kgw.ingress.networking.knative.dev',
      });
      expect(v.message).not.toContain('team-a');
    });

    test('denied, naming the other KIngress of the same namespace', () => {
      const l = staticLookups({ gateways: [gw('main')], kingresses: [other({ namespace: 'default' })] });
      expect(validateKIngress(ing(good()), undefined, l).message).toContain(
        'is already served by KIngress default/first of ingress class',
      );
    });

    test('the object itself (UPDATE) does not conflict', () => {
      const self = ing(good());
      const l = staticLookups({ gateways: [gw('main')], kingresses: [self] });
      expect(validateKIngress(ing(good({ httpOption: 'Enabled' })), self, l).allowed).toBe(true);
    });

    test('a KIngress being deleted does not conflict', () => {
      const l = staticLookups({
        gateways: [gw('main')],
        kingresses: [other({ deletionTimestamp: '2025-01-01T00:00:00Z' })],
      });
      expect(validateKIngress(ing(good()), undefined, l).allowed).toBe(true);
    });

    test('another class or another visibility does not conflict', () => {
      const l = staticLookups({
        gateways: [gw('main')],
        kingresses: [
          other({}, 'istio.ingress.networking.knative.dev'),
          other({ name: 'local' }, KGW_INGRESS_CLASS, 'ClusterLocal'),
        ],
      });
      expect(validateKIngress(ing(good()), undefined, l).allowed).toBe(true);
    });

    test('a malformed cached KIngress does not break the check', () => {
      const broken = {
        metadata: {
          name: 'b',
          namespace: 'default',
          annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS },
        },
        spec: { rules: 'x' },
      };
      const l = {
        ...staticLookups({ gateways: [gw('main')] }),
        kingressesByHost: () => [broken as unknown as KIngress],
      };
      expect(validateKIngress(ing(good()), undefined, l).allowed).toBe(true);
    });
  });

  test('not an object', () => {
    expect(validateKIngress(null, undefined, lookups)).toEqual({
      allowed: false,
      message: 'object: must be a KIngress',
    });
  });
});
