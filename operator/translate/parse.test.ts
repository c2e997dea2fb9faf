import { parseIngressSpec } from './parse.ts';

const split = (extra: object = {}) => ({
  serviceNamespace: 'n',
  serviceName: 's',
  servicePort: 80,
  ...extra,
});
const path = (extra: object = {}) => ({ path: '/x', splits: [split()], ...extra });
const rule = (extra: object = {}) => ({ hosts: ['a.example.com'], http: { paths: [path()] }, ...extra });
const spec = (r: object = {}, extra: object = {}) => ({ rules: [rule(r)], ...extra });
const withPath = (p: object) => spec({ http: { paths: [path(p)] } });
const withSplit = (s: object) => withPath({ splits: [split(s)] });

function problems(s: unknown): string[] {
  const r = parseIngressSpec(s, 'n');
  return r.ok ? [] : r.problems;
}

test('a valid spec parses, with Knative defaults applied', () => {
  const r = parseIngressSpec(
    spec({ hosts: ['*.example.com', 'x.n', 'x.n.svc.cluster.local'] }, { httpOption: 'Enabled' }),
    'n',
  );
  expect(r).toEqual({
    ok: true,
    spec: {
      rules: [
        {
          hosts: ['*.example.com', 'x.n', 'x.n.svc.cluster.local'],
          visibility: 'ExternalIP',
          http: { paths: [{ path: '/x', splits: [{ ...split(), percent: 100 }] }] },
        },
      ],
      httpOption: 'Enabled',
    },
  });
});

test('unknown fields are dropped, known ones kept in order', () => {
  const r = parseIngressSpec({ ...spec({ extra: 1 }), tls: [], surprise: true }, 'n');
  expect(r.ok && Object.keys(r.spec)).toEqual(['tls', 'rules']);
  expect(r.ok && Object.keys(r.spec.rules![0]!)).toEqual(['hosts', 'visibility', 'http']);
});

// What used to pass the webhook's checks or translation and then broke something later (the
// encoder threw for the whole fleet's route table, or translate threw): every one is a problem now.
test.each<[string, unknown, string]>([
  [
    'a header match that is a number',
    withPath({ headers: { 'X-A': { exact: 5 } } }),
    'spec.rules[0].http.paths[0].headers.X-A.exact: must be a string, got 5',
  ],
  [
    'a header match without exact',
    withPath({ headers: { 'X-A': 'a' } }),
    'spec.rules[0].http.paths[0].headers.X-A.exact: must be a string, got undefined',
  ],
  ['hosts as a string', spec({ hosts: 'a.example.com' }), 'spec.rules[0].hosts: must be a list'],
  ['a host that is a number', spec({ hosts: [42] }), 'spec.rules[0].hosts[0]: must be a string, got 42'],
  [
    'an unknown visibility',
    spec({ visibility: 'Public' }),
    'spec.rules[0].visibility: must be ExternalIP or ClusterLocal, got "Public"',
  ],
  [
    'a visibility that is an object',
    spec({ visibility: {} }),
    'spec.rules[0].visibility: must be ExternalIP or ClusterLocal, got {}',
  ],
  [
    'paths as an object',
    spec({ http: { paths: {} } }),
    'spec.rules[0].http.paths: at least one path is required',
  ],
  [
    'a path that is a number',
    withPath({ path: 7 }),
    'spec.rules[0].http.paths[0].path: must be a string, got 7',
  ],
  [
    'appendHeaders as a list',
    withPath({ appendHeaders: ['a'] }),
    'spec.rules[0].http.paths[0].appendHeaders: must be a map of header names to values',
  ],
  [
    'a header value that is a number',
    withPath({ appendHeaders: { 'X-A': 1 } }),
    'spec.rules[0].http.paths[0].appendHeaders.X-A: must be a string, got 1',
  ],
  [
    'a servicePort that is a float',
    withSplit({ servicePort: 80.5 }),
    'servicePort: must be a port number from 1 to 65535 or a port name, got 80.5',
  ],
  [
    'a servicePort that is an object',
    withSplit({ servicePort: {} }),
    'servicePort: must be a port number from 1 to 65535 or a port name, got {}',
  ],
  [
    'a percent that is a string',
    withSplit({ percent: '100' }),
    'percent: must be an integer from 0 to 100, got "100"',
  ],
  [
    'a serviceName with a slash',
    withSplit({ serviceName: 'a/b' }),
    'serviceName: must be a Service name, got "a/b"',
  ],
  ['tls as an object', spec({}, { tls: {} }), 'spec.tls: must be a list'],
  [
    'a tls secretName that is a number',
    spec({}, { tls: [{ secretName: 1, secretNamespace: 'n' }] }),
    'spec.tls[0].secretName: must be a Secret name, got 1',
  ],
  [
    'httpOption as a boolean',
    spec({}, { httpOption: true }),
    'spec.httpOption: must be "", Enabled or Redirected, got true',
  ],
  ['rules as a string', { rules: 'x' }, 'spec.rules: at least one rule is required'],
  ['spec as a list', [], 'spec: must not be empty'],
])('%s', (_name, s, message) => {
  expect(problems(s).join('\n')).toContain(message);
});

test.each<[string, unknown, string]>([
  [
    'a host with upper case',
    spec({ hosts: ['Bad_Host.example.com'] }),
    'spec.rules[0].hosts[0]: host "Bad_Host.example.com" is not a valid DNS name',
  ],
  [
    'a wildcard in the middle',
    spec({ hosts: ['a.*.example.com'] }),
    'spec.rules[0].hosts[0]: host "a.*.example.com" is not a valid DNS name',
  ],
  [
    'a label over 63 characters',
    spec({ hosts: [`${'a'.repeat(64)}.example.com`] }),
    'has a label longer than 63 characters',
  ],
  ['a rule without hosts', spec({ hosts: [] }), 'spec.rules[0].hosts: at least one host is required'],
  [
    'a rule with hosts left out',
    spec({ hosts: undefined }),
    'spec.rules[0].hosts: at least one host is required',
  ],
  [
    'a path without a slash',
    withPath({ path: 'x' }),
    'spec.rules[0].http.paths[0].path: "x" must start with "/"',
  ],
  [
    'a path with a space',
    withPath({ path: '/a b' }),
    'may contain only visible ASCII characters other than "?" and "#"',
  ],
  [
    'a path with a query',
    withPath({ path: '/a?b=1' }),
    'may contain only visible ASCII characters other than "?" and "#"',
  ],
  [
    'a path over 2048 characters',
    withPath({ path: `/${'a'.repeat(2048)}` }),
    'is longer than 2048 characters',
  ],
  [
    'a pseudo-header',
    withPath({ appendHeaders: { ':authority': 'v' } }),
    'spec.rules[0].http.paths[0].appendHeaders: header name ":authority" is not a valid HTTP header name',
  ],
  [
    'matching on Host',
    withPath({ headers: { Host: { exact: 'x' } } }),
    'spec.rules[0].http.paths[0].headers: header "Host" cannot be set or matched; use rewriteHost',
  ],
  [
    'a header name with a space',
    withSplit({ appendHeaders: { 'Bad Header': 'v' } }),
    'splits[0].appendHeaders: header name "Bad Header" is not a valid HTTP header name',
  ],
  [
    'header injection',
    withPath({ appendHeaders: { Ok: 'a\r\nInjected: 1' } }),
    'spec.rules[0].http.paths[0].appendHeaders.Ok: has control characters',
  ],
  [
    'a NUL in a header match',
    withPath({ headers: { 'X-A': { exact: 'a\u0000' } } }),
    'headers.X-A.exact: has control characters',
  ],
  [
    'a header value over 16 KiB',
    withSplit({ appendHeaders: { 'X-A': 'x'.repeat(16385) } }),
    "appendHeaders.X-A: is longer than Envoy's limit of 16384 bytes",
  ],
  [
    'a header value over 16 KiB once % is escaped',
    withSplit({ appendHeaders: { 'X-A': '%'.repeat(8193) } }),
    "is longer than Envoy's limit of 16384 bytes ('%' counts twice)",
  ],
  [
    '1000 headers added to a request',
    withPath({ appendHeaders: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`h${i}`, 'v'])) }),
    "has more than 999 headers (Envoy's limit is 1000)",
  ],
  [
    'path and split headers together over the limit',
    withPath({
      appendHeaders: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`p${i}`, 'v'])),
      splits: [
        split({ appendHeaders: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`s${i}`, 'v'])) }),
      ],
    }),
    'adds more than 999 headers to a request',
  ],
  [
    'a rewriteHost that is not a host',
    withPath({ rewriteHost: 'not a host' }),
    'spec.rules[0].http.paths[0].rewriteHost: host "not a host" is not a valid DNS name',
  ],
  [
    'a bad tls host',
    spec({}, { tls: [{ hosts: ['bad host'], secretName: 's', secretNamespace: 'n' }] }),
    'spec.tls[0].hosts[0]: host "bad host" is not a valid DNS name',
  ],
  [
    'a servicePort name with upper case',
    withSplit({ servicePort: 'HTTP' }),
    'servicePort: must be a port number from 1 to 65535 or a port name, got "HTTP"',
  ],
  [
    'another namespace',
    withSplit({ serviceNamespace: 'kube-system' }),
    `serviceNamespace: must be the KIngress's namespace "n", got "kube-system"`,
  ],
  ['no serviceNamespace', withSplit({ serviceNamespace: '' }), 'serviceNamespace: required'],
  [
    "another namespace's Secret",
    spec({}, { tls: [{ secretName: 's', secretNamespace: 'kube-system' }] }),
    `spec.tls[0].secretNamespace: must be the KIngress's namespace "n", got "kube-system"`,
  ],
])('%s is a problem', (_name, s, message) => {
  expect(problems(s).join('\n')).toContain(message);
});

test('header values with % and 16 KiB are accepted: render escapes them', () => {
  expect(
    problems(withSplit({ appendHeaders: { 'X-A': '100%', 'X-B': '%DOWNSTREAM_REMOTE_ADDRESS%' } })),
  ).toEqual([]);
  expect(problems(withSplit({ appendHeaders: { 'X-A': 'x'.repeat(16384) } }))).toEqual([]);
  expect(problems(withSplit({ appendHeaders: { 'X-A': '%'.repeat(8192) } }))).toEqual([]);
});

test('every problem is listed, each with its path', () => {
  expect(problems(withSplit({ serviceName: '', servicePort: 0 }))).toEqual([
    'spec.rules[0].http.paths[0].splits[0].serviceName: required',
    'spec.rules[0].http.paths[0].splits[0].servicePort: required',
  ]);
});
