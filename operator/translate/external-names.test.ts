import type { Service } from '../api/core.ts';
import { resolveBackend } from './backends.ts';
import { withGatewayDefaults } from '../api/knativegateway.ts';
import {
  gatewayExternalNamePolicy,
  REASON_NOT_ALLOWED,
  REASON_REFUSED,
  STRICT_POLICY,
  classifyHost,
  type ExternalNamePolicy,
} from './external-names.ts';
import { lookupsFromObjects } from './lookups.ts';

const ext = (ns: string, name: string, externalName: string, port = 80, portName = 'http'): Service => ({
  metadata: { namespace: ns, name },
  spec: { type: 'ExternalName', externalName, ports: [{ name: portName, port }] },
});
const clusterIP = (ns: string, name: string, port = 80, targetPort = 8080): Service => ({
  metadata: { namespace: ns, name },
  spec: { ports: [{ name: 'http', port, targetPort }] },
});

describe('classifyHost', () => {
  test.each([
    ['localhost', 'localhost'],
    ['LOCALHOST.', 'localhost'],
    ['foo.localhost', 'localhost'],
    ['localhost.localdomain', 'localhost'],
    ['127.0.0.1', 'IP address'],
    ['127.1', 'IP address'],
    ['2130706433', 'IP address'],
    ['0x7f000001', 'IP address'],
    ['a.0x7f000001', 'IP address'],
    ['169.254.169.254', 'IP address'],
    ['198.18.1.2', 'IP address'],
    ['kubernetes', 'single-label'],
    ['metadata', 'single-label'],
    ['metadata.google.internal', 'metadata'],
    ['instance-data.ec2.internal', 'metadata'],
    ['127-0-0-1.default.pod.cluster.local', 'cluster domain'],
    ['a.b.c.svc.cluster.local', '<service>.<namespace>.svc'],
    ['x.svc', '<service>.<namespace>.svc'],
    ['', 'empty'],
  ])('%s is refused (%s)', (host, why) => {
    const c = classifyHost(host, 'cluster.local');
    expect(c.kind).toBe('refused');
    expect(c.kind === 'refused' && c.why).toContain(why);
  });

  test('in-cluster Service names, with and without the cluster domain or trailing dot', () => {
    for (const h of ['web.shop.svc.cluster.local', 'web.shop.svc', 'Web.Shop.svc.cluster.local.']) {
      expect(classifyHost(h, 'cluster.local')).toEqual({ kind: 'service', namespace: 'shop', name: 'web' });
    }
    expect(classifyHost('web.shop.svc.corp.example', 'corp.example')).toEqual({
      kind: 'service',
      namespace: 'shop',
      name: 'web',
    });
  });

  test('names outside the cluster', () => {
    expect(classifyHost('api.example.com.', 'cluster.local')).toEqual({
      kind: 'external',
      host: 'api.example.com',
    });
    expect(classifyHost('web.shop', 'cluster.local')).toEqual({ kind: 'external', host: 'web.shop' });
  });
});

describe('resolveBackend with ExternalName Services', () => {
  const policy: ExternalNamePolicy = {
    namespaces: ['shared'],
    services: ['kgw-system/kgw-default-local'],
    hosts: [{ suffix: 'example.com', ports: [443, 80] }],
    reservedPorts: [8080, 8443, 19003],
  };
  const services = [
    ext('team-a', 'admin', 'localhost', 19000),
    ext('team-a', 'ip', '127.0.0.1'),
    ext('team-a', 'meta', 'metadata.google.internal'),
    ext('team-a', 'own', 'web.team-a.svc.cluster.local'),
    ext('team-a', 'other', 'web.team-b.svc.cluster.local'),
    ext('team-a', 'shared', 'db.shared.svc.cluster.local'),
    ext('team-a', 'fleet', 'kgw-default-local.kgw-system.svc.cluster.local', 80, 'http2'),
    ext('team-a', 'chain', 'own.team-a.svc.cluster.local'),
    ext('team-a', 'to-other', 'hop.team-a.svc.cluster.local'),
    ext('team-a', 'hop', 'web.team-b.svc'),
    ext('team-a', 'loop', 'loop.team-a.svc.cluster.local'),
    ext('team-a', 'api', 'api.example.com', 443),
    ext('team-a', 'api-80', 'api.example.com', 80),
    ext('team-a', 'api-odd', 'api.example.com', 9000),
    ext('team-a', 'api-own-port', 'api.example.com', 8080),
    ext('team-a', 'elsewhere', 'api.example.org', 443),
    ext('team-a', 'to-bad', 'bad.team-a.svc.cluster.local'),
    ext('team-a', 'bad', 'localhost'),
    clusterIP('team-a', 'web'),
    clusterIP('team-b', 'web'),
    clusterIP('shared', 'db'),
    clusterIP('kgw-system', 'kgw-default-local', 80, 8081),
  ];
  const lookups = lookupsFromObjects({ services }, 'cluster.local', policy);
  const portOf = (name: string): number =>
    services.find((x) => x.metadata.name === name)?.spec?.ports?.[0]?.port ?? 80;
  const resolve = (name: string, port: number | string = portOf(name)) =>
    resolveBackend(lookups, 'team-a', name, port);
  const problem = (name: string, port: number | string = portOf(name)) => {
    const r = resolve(name, port);
    if (r.ok) throw new Error(`${name} resolved to ${JSON.stringify(r.cluster)}`);
    return r.problem;
  };

  test('the admin-port attack is refused with a clear reason', () => {
    expect(problem('admin')).toEqual({
      reason: REASON_REFUSED,
      message:
        'Service team-a/admin is an ExternalName for "localhost", which kgw does not route to: it names this host (localhost)',
    });
    expect(problem('ip').reason).toBe(REASON_REFUSED);
    expect(problem('meta').reason).toBe(REASON_REFUSED);
  });

  test('same namespace, allowed namespaces and the fleet Services are followed to EDS', () => {
    for (const [name, target] of [
      ['own', 'team-a/web'],
      ['shared', 'shared/db'],
      ['fleet', 'kgw-system/kgw-default-local'],
      ['chain', 'team-a/web'],
    ] as const) {
      const r = resolve(name);
      if (!r.ok) throw new Error(r.problem.message);
      expect(r.cluster.kind).toBe('eds');
      expect(r.cluster.name).toBe(`team-a/${name}:80`);
      const ep = r.cluster.endpoints;
      expect(`${ep?.namespace}/${ep?.service}`).toBe(target);
    }
    const fleet = resolve('fleet');
    expect(fleet.ok && fleet.cluster.http2).toBe(true); // port named http2 on the ExternalName
  });

  test("another tenant's namespace is not reachable, directly or through a chain", () => {
    expect(problem('other').reason).toBe(REASON_NOT_ALLOWED);
    expect(problem('other').message).toContain('points into namespace team-b');
    const viaHop = problem('to-other');
    expect(viaHop.reason).toBe(REASON_NOT_ALLOWED);
    expect(viaHop.message).toContain(
      'Service team-a/hop is an ExternalName for "web.team-b.svc" (reached from team-a/to-other)',
    );
    expect(problem('to-bad').reason).toBe(REASON_REFUSED);
  });

  test('a loop of ExternalNames ends after a bounded number of hops', () => {
    expect(problem('loop').message).toContain('more than 4 ExternalName Services in a row');
  });

  test('names outside the cluster need the gateway to allow the suffix and the port', () => {
    const r = resolve('api', 'http'); // by port name
    expect(r.ok && r.cluster).toEqual({
      name: 'team-a/api:443',
      kind: 'dns',
      http2: false,
      dnsHost: 'api.example.com',
      dnsPort: 443,
    });
    expect(resolve('api-80').ok).toBe(true);
    expect(problem('api-odd').message).toContain('allows example.com only on ports 443, 80');
    expect(problem('api-own-port')).toMatchObject({ reason: REASON_REFUSED });
    expect(problem('api-own-port').message).toContain('port 8080 is one Envoy itself listens on');
    expect(problem('elsewhere').reason).toBe(REASON_NOT_ALLOWED);
  });

  test('without a policy only the own namespace is reachable and nothing outside the cluster', () => {
    const strict = lookupsFromObjects({ services }, 'cluster.local', STRICT_POLICY);
    expect(resolveBackend(strict, 'team-a', 'own', 'http').ok).toBe(true);
    for (const name of ['shared', 'fleet', 'api']) {
      const r = resolveBackend(strict, 'team-a', name, portOf(name));
      expect(!r.ok && r.problem.reason).toBe(REASON_NOT_ALLOWED);
    }
  });
});

test("a gateway's reserved ports: every fleet's listener ports, enabled stats ports, readiness", () => {
  const spec = withGatewayDefaults({
    fleets: [
      { name: 'pub', visibility: 'ExternalIP', metrics: { enabled: true } },
      { name: 'priv', visibility: 'ClusterLocal', metrics: { enabled: false, port: 9200 } },
    ],
  });
  expect(gatewayExternalNamePolicy('default', spec).reservedPorts).toEqual([
    8080, 8443, 9091, 8081, 8444, 19003,
  ]);
});
