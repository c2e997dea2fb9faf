// Vectors produced by Go's encoding/json (Go 1.26) marshalling structs with the JSON tags of
// Knative's IngressSpec, then SHA-256 over json + namespace + name: the exact hash the
// headers/probe conformance test recomputes.
import type { IngressSpec } from '../api/kingress.ts';
import { goJsonIngressSpec } from './go-json.ts';
import { ingressHash } from './hash.ts';

interface Vector {
  namespace: string;
  name: string;
  spec: IngressSpec;
  goJson: string;
  hash: string;
}

const vectors: Vector[] = [
  {
    namespace: 'serving-tests',
    name: 'basics',
    spec: {
      rules: [
        {
          hosts: ['basics.example.com'],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                splits: [
                  {
                    serviceNamespace: 'serving-tests',
                    serviceName: 'svc',
                    servicePort: 80,
                    percent: 100,
                  },
                ],
              },
            ],
          },
        },
      ],
      httpOption: 'Enabled',
    },
    goJson:
      '{"rules":[{"hosts":["basics.example.com"],"visibility":"ExternalIP","http":{"paths":[{"splits":[{"serviceNamespace":"serving-tests","serviceName":"svc","servicePort":80,"percent":100}]}]}}],"httpOption":"Enabled"}',
    hash: 'fe0b591c88211d177cd1af4f974c51bb53b2f96ea2cd85fd738d065cdd47ddbb',
  },
  {
    namespace: 'ns',
    name: 'all-fields',
    spec: {
      tls: [
        {
          hosts: ['a.example.com', 'b.example.com'],
          secretName: 's',
          secretNamespace: 'ns',
        },
      ],
      rules: [
        {
          hosts: ['a.example.com'],
          visibility: 'ClusterLocal',
          http: {
            paths: [
              {
                path: '/foo',
                rewriteHost: 'x.ns.svc.cluster.local',
                headers: {
                  Zeta: {
                    exact: 'z',
                  },
                  Alpha: {
                    exact: '<a&b>',
                  },
                },
                splits: [
                  {
                    serviceNamespace: 'ns',
                    serviceName: 'one',
                    servicePort: 'http2',
                    percent: 40,
                    appendHeaders: {
                      b: '2',
                      a: '1',
                    },
                  },
                  {
                    serviceNamespace: 'ns',
                    serviceName: 'two',
                    servicePort: 81,
                    percent: 60,
                  },
                ],
                appendHeaders: {
                  'K-Thing': 'v\u2028w',
                },
              },
            ],
          },
        },
      ],
      httpOption: 'Redirected',
    },
    goJson:
      '{"tls":[{"hosts":["a.example.com","b.example.com"],"secretName":"s","secretNamespace":"ns"}],"rules":[{"hosts":["a.example.com"],"visibility":"ClusterLocal","http":{"paths":[{"path":"/foo","rewriteHost":"x.ns.svc.cluster.local","headers":{"Alpha":{"exact":"\\u003ca\\u0026b\\u003e"},"Zeta":{"exact":"z"}},"splits":[{"serviceNamespace":"ns","serviceName":"one","servicePort":"http2","percent":40,"appendHeaders":{"a":"1","b":"2"}},{"serviceNamespace":"ns","serviceName":"two","servicePort":81,"percent":60}],"appendHeaders":{"K-Thing":"v\\u2028w"}}]}}],"httpOption":"Redirected"}',
    hash: '1cd98e91fa1a2cac2fb124c6b4657fd2e4b9d22a501830cf2755e3f13e1c84d3',
  },
  {
    namespace: 'n',
    name: 'zero',
    spec: {
      rules: [
        {
          http: {
            paths: [
              {
                splits: [
                  {
                    serviceNamespace: 'n',
                    serviceName: 's',
                    servicePort: 0,
                  },
                ],
              },
            ],
          },
        },
      ],
    },
    goJson:
      '{"rules":[{"http":{"paths":[{"splits":[{"serviceNamespace":"n","serviceName":"s","servicePort":0}]}]}}]}',
    hash: '42074f255b2a421989a8b7c7ab776437eeee45577b56ffdc5c676fda88e42bac',
  },
  {
    namespace: 'n',
    name: 'empty',
    spec: {},
    goJson: '{}',
    hash: 'b2f9c6855759ca9a086493a9becacdc9e86133f8f70ea0a200993e6f8fc60b13',
  },
];

describe('probe hash', () => {
  test.each(vectors.map((v) => [v.name, v] as const))('%s matches Go encoding/json + sha256', (_n, v) => {
    expect(goJsonIngressSpec(v.spec)).toBe(v.goJson);
    expect(ingressHash(v.spec, v.namespace, v.name)).toBe(v.hash);
  });

  test('hash changes with namespace, name and spec', () => {
    const v = vectors[0]!;
    const h = ingressHash(v.spec, v.namespace, v.name);
    expect(ingressHash(v.spec, v.namespace, v.name + 'x')).not.toBe(h);
    expect(ingressHash(v.spec, v.namespace + 'x', v.name)).not.toBe(h);
    expect(ingressHash({ ...v.spec, httpOption: 'Redirected' }, v.namespace, v.name)).not.toBe(h);
  });
});
