// ACME HTTP-01 challenge paths under httpOption Redirected: the plain-HTTP route table of an
// external fleet routes `/.well-known/acme-challenge/…` paths to their backends and redirects
// everything else; the HTTPS table, cluster-local fleets and non-Redirected KIngresses are
// unaffected by the exception.
import { join } from 'node:path';
import type { HTTPIngressPath, HTTPOption, KIngress } from '../api/kingress.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { IngressIR } from '../translate/ir.ts';
import { lookupsFromObjects } from '../translate/lookups.ts';
import { renderFleet } from './fleet.ts';
import { goldenDir, goldenFleets, loadCase } from '../../test/support/golden-cases.ts';
import type { Json } from './types.ts';
import { backendData } from '../translate/backend-data.ts';

const CHALLENGE = '/.well-known/acme-challenge/tok123';
const cert = loadCase(join(goldenDir, 'tls-redirect.yaml')).secrets[0]!;
const lookups = lookupsFromObjects({
  services: ['app', 'solver'].map((name) => ({
    metadata: { name, namespace: 'ns' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  })),
  // a certificate is served only when its Secret exists and is valid
  secrets: [{ ...cert, metadata: { name: 'c', namespace: 'ns' } }],
});

function ir(httpOption: HTTPOption, paths: HTTPIngressPath[]): IngressIR {
  const ing: KIngress = {
    metadata: { name: 'k', namespace: 'ns', generation: 1 },
    spec: {
      httpOption,
      rules: [{ hosts: ['k.example.com'], visibility: 'ExternalIP', http: { paths } }],
    },
  };
  const r = translateIngress(ing, lookups);
  if (!r.ok) throw new Error(r.problem.message);
  return r.ir;
}

const withChallenge: HTTPIngressPath[] = [
  { path: CHALLENGE, splits: [{ serviceNamespace: 'ns', serviceName: 'solver', servicePort: 80 }] },
  { splits: [{ serviceNamespace: 'ns', serviceName: 'app', servicePort: 80 }] },
];

interface Route {
  name: string;
  match: { prefix: string; headers?: unknown[] };
  route?: { cluster?: string };
  redirect?: { https_redirect?: boolean };
}

function table(irs: IngressIR[], fleet: 'external' | 'local', name: 'http' | 'https'): Route[] {
  const res = renderFleet(goldenFleets[fleet]!, irs, backendData(lookups));
  const rc = res.routes.get(name) as { virtual_hosts: Json[] } | undefined;
  if (!rc) throw new Error(`no route table ${name}`);
  return rc.virtual_hosts.flatMap((vh) => vh.routes as Route[]);
}

/** Where a request to `path` (without probe headers) goes: the first matching route. */
function target(routes: Route[], path: string): string {
  const r = routes.find((x) => !x.match.headers && path.startsWith(x.match.prefix));
  if (!r) return 'none';
  return r.redirect ? 'redirect' : (r.route?.cluster ?? 'weighted');
}

describe('ACME HTTP-01 challenge paths', () => {
  test('the translation marks challenge paths (and their probe copies) as ACME', () => {
    const routes = ir('Redirected', withChallenge).external.vhosts[0]!.routes;
    expect(routes.map((r) => [r.prefix, r.acme])).toEqual([
      [CHALLENGE, true],
      ['/', false],
      [CHALLENGE, true],
      ['/', false],
    ]);
  });

  test('Redirected: the challenge path is served on plain HTTP, everything else redirected', () => {
    const http = table([ir('Redirected', withChallenge)], 'external', 'http');
    expect(target(http, CHALLENGE)).toBe('ns/solver:80');
    expect(target(http, '/other')).toBe('redirect');
    expect(target(http, '/')).toBe('redirect');
    expect(target(http, '/.well-known/acme-challenge/another')).toBe('redirect');
    // The challenge route (and its probe copy) come before the catch-all redirect.
    expect(http.map((r) => r.name)).toEqual(['ns/k/r0/p0/probe', 'ns/k/r0/p0', 'ns/k/redirect']);
    expect(http.at(-1)).toEqual({
      name: 'ns/k/redirect',
      match: { prefix: '/' },
      redirect: { https_redirect: true },
    });
  });

  test('Redirected without a challenge path: plain HTTP is one redirect', () => {
    const http = table([ir('Redirected', withChallenge.slice(1))], 'external', 'http');
    expect(http.map((r) => r.name)).toEqual(['ns/k/redirect']);
  });

  test('the HTTPS route table is unchanged by the exception', () => {
    const base = ir('Redirected', withChallenge);
    // Any TLS entry gives the fleet its HTTPS listener and route table.
    const tls: IngressIR = {
      ...base,
      external: { ...base.external, tls: [{ hosts: ['k.example.com'], secret: 'ns/c', owner: 'ns/k' }] },
    };
    const https = table([tls], 'external', 'https');
    expect(https.map((r) => r.name)).toEqual([
      'ns/k/r0/p0/probe',
      'ns/k/r0/p1/probe',
      'ns/k/r0/p0',
      'ns/k/r0/p1',
    ]);
    expect(target(https, CHALLENGE)).toBe('ns/solver:80');
    expect(target(https, '/other')).toBe('ns/app:80');
    expect(https.some((r) => r.redirect)).toBe(false);
  });

  test('a KIngress that is not Redirected is unchanged: every path served on plain HTTP', () => {
    for (const opt of ['Enabled', ''] as const) {
      const one = ir(opt, withChallenge);
      const http = table([one], 'external', 'http');
      expect(http.some((r) => r.redirect)).toBe(false);
      expect(target(http, CHALLENGE)).toBe('ns/solver:80');
      expect(target(http, '/other')).toBe('ns/app:80');
      expect(one.external.vhosts.every((vh) => !vh.redirectHttp)).toBe(true);
    }
  });

  test('cluster-local fleets are never redirected', () => {
    const http = table([ir('Redirected', withChallenge)], 'local', 'http');
    expect(target(http, CHALLENGE)).toBe('ns/solver:80');
    expect(target(http, '/other')).toBe('ns/app:80');
  });
});
