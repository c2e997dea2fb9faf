import type { IngressSpec } from '../api/kingress.ts';
import { specProblem } from './validate.ts';

const base = (
  over: Partial<IngressSpec['rules'] extends (infer R)[] | undefined ? R : never> = {},
): IngressSpec => ({
  rules: [
    {
      hosts: ['a.example.com'],
      http: {
        paths: [{ path: '/x', splits: [{ serviceNamespace: 'n', serviceName: 's', servicePort: 80 }] }],
      },
      ...over,
    },
  ],
});

test('a valid spec has no problem', () => {
  expect(specProblem(base())).toBeUndefined();
  expect(specProblem(base({ hosts: ['*.example.com', 'x.ns', 'x.ns.svc.cluster.local'] }))).toBeUndefined();
});

test.each([
  [
    base({ hosts: ['Bad_Host.example.com'] }),
    'spec.rules[0].hosts[0]: host "Bad_Host.example.com" is not a valid DNS name',
  ],
  [
    base({ hosts: ['a.*.example.com'] }),
    'spec.rules[0].hosts[0]: host "a.*.example.com" is not a valid DNS name',
  ],
  [
    base({ http: { paths: [{ path: 'x', splits: [] }] } }),
    'spec.rules[0].http.paths[0].path: "x" must start with "/"',
  ],
  [
    base({ http: { paths: [{ appendHeaders: { ':authority': 'v' }, splits: [] }] } }),
    'spec.rules[0].http.paths[0].appendHeaders: header name ":authority" is not a valid HTTP header name',
  ],
  [
    base({ http: { paths: [{ headers: { Host: { exact: 'x' } }, splits: [] }] } }),
    'spec.rules[0].http.paths[0].headers: header "Host" cannot be set or matched; use rewriteHost',
  ],
  [
    base({
      http: {
        paths: [
          {
            splits: [
              {
                serviceNamespace: 'n',
                serviceName: 's',
                servicePort: 80,
                appendHeaders: { 'Bad Header': 'v' },
              },
            ],
          },
        ],
      },
    }),
    'spec.rules[0].http.paths[0].splits[0].appendHeaders: header name "Bad Header" is not a valid HTTP header name',
  ],
  [
    base({ http: { paths: [{ appendHeaders: { Ok: 'a\r\nInjected: 1' }, splits: [] }] } }),
    'spec.rules[0].http.paths[0].appendHeaders: value of header "Ok" has control characters',
  ],
  [
    base({ http: { paths: [{ rewriteHost: 'not a host', splits: [] }] } }),
    'spec.rules[0].http.paths[0].rewriteHost: host "not a host" is not a valid DNS name',
  ],
  [
    { tls: [{ hosts: ['bad host'], secretName: 's' }], rules: base().rules },
    'spec.tls[0].hosts[0]: host "bad host" is not a valid DNS name',
  ],
])('%#: %s', (spec, message) => {
  expect(specProblem(spec)).toEqual({ reason: 'InvalidSpec', message });
});
