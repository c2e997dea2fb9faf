// A fleet's default (fallback) certificate: Envoy's default filter chain on the HTTPS listener,
// certificate over SDS, same `https` route table; a missing or invalid Secret leaves the fleet
// without the chain and is reported. FleetAssembler follows Secret changes: a renewal changes only
// the SDS Secret (no listener change, so no drain), appearance/disappearance the listener.
import { join } from 'node:path';
import type { Secret } from '../api/core.ts';
import type { KIngress } from '../api/kingress.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { IngressIR } from '../translate/ir.ts';
import type { Lookups } from '../translate/lookups.ts';
import { FleetAssembler } from './assembler.ts';
import {
  defaultCertificateProblem,
  renderFleet,
  type FleetRenderOptions,
  type FleetResources,
} from './fleet.ts';
import { goldenDir, goldenFleets, loadCase } from '../../test/support/golden-cases.ts';
import { DEFAULT_CHAIN } from './listener.ts';
import type { Json } from './types.ts';
import { backendData } from '../translate/backend-data.ts';

const certCase = loadCase(join(goldenDir, 'default-certificate.yaml'));
const wildcard = certCase.secrets.find((s) => s.metadata.name === 'wildcard')!;
const own = certCase.secrets.find((s) => s.metadata.name === 'cert')!;

class World implements Lookups {
  readonly clusterDomain = 'cluster.local';
  readonly secrets = new Map<string, Secret>();
  service(ns: string, name: string) {
    return ns === 'ns' && name === 'app'
      ? { metadata: { name, namespace: ns }, spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] } }
      : undefined;
  }
  secret(ns: string, n: string) {
    return this.secrets.get(`${ns}/${n}`);
  }
  endpointSlices() {
    return [];
  }
}

const DEFAULT = 'kgw-system/wildcard';
const opts: FleetRenderOptions = { ...goldenFleets.external!, defaultCertificate: { secret: DEFAULT } };

function ingress(name: string, tlsSecret?: string): IngressIR {
  const host = `${name}.example.com`;
  const ing: KIngress = {
    metadata: { name, namespace: 'ns', generation: 1 },
    spec: {
      rules: [
        {
          hosts: [host],
          visibility: 'ExternalIP',
          http: { paths: [{ splits: [{ serviceNamespace: 'ns', serviceName: 'app', servicePort: 80 }] }] },
        },
      ],
      ...(tlsSecret ? { tls: [{ hosts: [host], secretName: tlsSecret, secretNamespace: 'ns' }] } : {}),
    },
  };
  const r = translateIngress(ing, world);
  if (!r.ok) throw new Error(r.problem.message);
  return r.ir;
}

const world = new World();
function reset(): void {
  world.secrets.clear();
  world.secrets.set(DEFAULT, { ...wildcard, metadata: { name: 'wildcard', namespace: 'kgw-system' } });
  world.secrets.set('ns/own', { ...own, metadata: { name: 'own', namespace: 'ns' } });
}
beforeEach(reset);

function https(res: FleetResources): Json | undefined {
  return res.listeners.get('https');
}

function sdsNames(chain: unknown): string[] {
  const c = chain as {
    transport_socket: {
      typed_config: { common_tls_context: { tls_certificate_sds_secret_configs: { name: string }[] } };
    };
  };
  return c.transport_socket.typed_config.common_tls_context.tls_certificate_sds_secret_configs.map(
    (s) => s.name,
  );
}

function canonical(r: FleetResources) {
  const sorted = (m: ReadonlyMap<string, unknown>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    listeners: [...r.listeners],
    routes: [...r.routes],
    clusters: sorted(r.clusters),
    endpoints: sorted(r.endpoints),
    secrets: sorted(r.secrets),
  };
}

describe('default certificate (renderFleet)', () => {
  test('a fallback chain with the default certificate over SDS, next to the SNI chains', () => {
    const res = renderFleet(opts, [ingress('own', 'own'), ingress('wild')], backendData(world));
    const l = https(res) as { filter_chains: Json[]; default_filter_chain: Json };
    expect(l.filter_chains.map((c) => c.name)).toEqual(['ns/own']);
    expect(l.default_filter_chain.name).toBe(DEFAULT_CHAIN);
    expect(l.default_filter_chain.filter_chain_match).toBeUndefined();
    expect(sdsNames(l.default_filter_chain)).toEqual([DEFAULT]);
    // Same HCM (same `https` route table) as the SNI chains.
    expect(l.default_filter_chain.filters).toEqual(l.filter_chains[0]!.filters);
    // The https route table serves the wildcard-covered host that has no certificate of its own.
    const table = res.routes.get('https') as { virtual_hosts: { domains: string[] }[] };
    expect(table.virtual_hosts.flatMap((v) => v.domains)).toContain('wild.example.com');
    expect([...res.secrets.keys()].sort()).toEqual([DEFAULT, 'ns/own']);
    expect(defaultCertificateProblem(opts, backendData(world))).toBeUndefined();
  });

  test('no KIngress TLS: an HTTPS listener with only the default chain', () => {
    const res = renderFleet(opts, [ingress('wild')], backendData(world));
    const l = https(res) as Json;
    expect(l.filter_chains).toBeUndefined();
    expect(sdsNames(l.default_filter_chain)).toEqual([DEFAULT]);
    expect([...res.secrets.keys()]).toEqual([DEFAULT]);
    expect(res.routes.has('https')).toBe(true);
  });

  test('without the option nothing changes', () => {
    const irs = [ingress('own', 'own'), ingress('wild')];
    const withOpt = renderFleet(opts, irs, backendData(world));
    const without = renderFleet(goldenFleets.external!, irs, backendData(world));
    const { default_filter_chain: _dropped, ...rest } = https(withOpt)!;
    expect(rest).toEqual(https(without));
    expect([...without.secrets.keys()]).toEqual(['ns/own']);
    expect(
      renderFleet(goldenFleets.external!, [ingress('wild')], backendData(world)).listeners.has('https'),
    ).toBe(false);
    expect(defaultCertificateProblem(goldenFleets.external!, backendData(world))).toBeUndefined();
  });

  test('a missing Secret: no fallback chain, the fleet still serves, the problem is reported', () => {
    world.secrets.delete(DEFAULT);
    const res = renderFleet(opts, [ingress('own', 'own'), ingress('wild')], backendData(world));
    const l = https(res) as Json;
    expect(l.default_filter_chain).toBeUndefined();
    expect((l.filter_chains as Json[]).map((c) => c.name)).toEqual(['ns/own']);
    expect([...res.secrets.keys()]).toEqual(['ns/own']);
    expect(res.routes.has('http')).toBe(true);
    expect(defaultCertificateProblem(opts, backendData(world))).toEqual({
      reason: 'SecretNotFound',
      message: `default certificate: TLS Secret ${DEFAULT} does not exist`,
    });
    // Without KIngress TLS there is then no HTTPS listener at all.
    expect(https(renderFleet(opts, [ingress('wild')], backendData(world)))).toBeUndefined();
  });

  test('an invalid Secret or a malformed reference is not served and is reported', () => {
    world.secrets.set(DEFAULT, {
      ...wildcard,
      data: { 'tls.crt': wildcard.data!['tls.crt']!, 'tls.key': own.data!['tls.key']! },
    });
    expect(defaultCertificateProblem(opts, backendData(world))?.reason).toBe('SecretInvalid');
    const res = renderFleet(opts, [ingress('wild')], backendData(world));
    expect(https(res)).toBeUndefined();
    expect(res.secrets.size).toBe(0);
    const bad: FleetRenderOptions = { ...opts, defaultCertificate: { secret: 'wildcard' } };
    expect(defaultCertificateProblem(bad, backendData(world))?.reason).toBe('DefaultCertificateInvalid');
    expect(https(renderFleet(bad, [ingress('wild')], backendData(world)))).toBeUndefined();
  });
});

describe('default certificate (FleetAssembler)', () => {
  test('follows the Secret: renewal changes SDS only; loss and return change the listener', () => {
    world.secrets.delete(DEFAULT);
    const a = new FleetAssembler(opts, backendData(world));
    const irs = [ingress('wild')];
    for (const ir of irs) a.set(ir);
    const check = () =>
      expect(canonical(a.resources())).toEqual(canonical(renderFleet(opts, irs, backendData(world))));
    check();
    expect(a.problems().map((p) => p.reason)).toEqual(['SecretNotFound']);
    expect(a.resources().listeners.has('https')).toBe(false);
    a.take();

    // The Secret appears (issued): HTTPS listener, route table and SDS Secret.
    world.secrets.set(DEFAULT, { ...wildcard, metadata: { name: 'wildcard', namespace: 'kgw-system' } });
    a.refreshSecrets([DEFAULT]);
    check();
    expect(a.problems()).toEqual([]);
    expect(Object.keys(a.take()).sort()).toEqual(['listeners', 'routes', 'secrets']);

    // Renewal: a new Secret object, still valid: only the SDS Secret changes (no listener drain).
    world.secrets.set(DEFAULT, { ...wildcard, metadata: { name: 'wildcard', namespace: 'kgw-system' } });
    a.refreshSecrets([DEFAULT]);
    check();
    expect(Object.keys(a.take())).toEqual(['secrets']);

    // Unrelated Secrets are ignored.
    a.refreshSecrets(['ns/unrelated']);
    expect(Object.keys(a.take())).toEqual([]);

    // Deleted: the listener goes (no KIngress TLS), the problem is reported.
    world.secrets.delete(DEFAULT);
    a.refreshSecrets([DEFAULT]);
    check();
    expect(a.problems().map((p) => p.reason)).toEqual(['SecretNotFound']);
    expect(Object.keys(a.take()).sort()).toEqual(['listeners', 'routes', 'secrets']);
  });

  test('with KIngress TLS: loss of the default certificate changes the listener, not the routes', () => {
    const a = new FleetAssembler(opts, backendData(world));
    const irs = [ingress('own', 'own'), ingress('wild')];
    for (const ir of irs) a.set(ir);
    a.take();
    world.secrets.set(DEFAULT, { ...wildcard, data: {} });
    a.refreshSecrets([DEFAULT]);
    expect(canonical(a.resources())).toEqual(canonical(renderFleet(opts, irs, backendData(world))));
    expect(Object.keys(a.take()).sort()).toEqual(['listeners', 'secrets']);
    expect(a.problems().map((p) => p.reason)).toEqual(['SecretInvalid']);
  });

  test('a Secret that is both the default certificate and a KIngress certificate', () => {
    const shared: FleetRenderOptions = { ...opts, defaultCertificate: { secret: 'ns/own' } };
    const a = new FleetAssembler(shared, backendData(world));
    const withTls = ingress('own', 'own');
    let irs = [withTls, ingress('wild')];
    for (const ir of irs) a.set(ir);
    expect(canonical(a.resources())).toEqual(canonical(renderFleet(shared, irs, backendData(world))));
    // The KIngress goes: the Secret stays served for the default chain.
    a.delete(withTls.key);
    irs = irs.slice(1);
    expect(canonical(a.resources())).toEqual(canonical(renderFleet(shared, irs, backendData(world))));
    expect([...a.resources().secrets.keys()]).toEqual(['ns/own']);
    // Invalid now: not served at all, neither as the default nor for a KIngress that still
    // references it (its SNI chain is left out; renderFleet does the same).
    world.secrets.set('ns/own', { ...own, metadata: { name: 'own', namespace: 'ns' }, data: {} });
    a.refreshSecrets(['ns/own']);
    expect(canonical(a.resources())).toEqual(canonical(renderFleet(shared, irs, backendData(world))));
    expect(a.resources().secrets.size).toBe(0);
    a.set(withTls); // its last good translation
    irs = [withTls, ...irs];
    expect(canonical(a.resources())).toEqual(canonical(renderFleet(shared, irs, backendData(world))));
    expect(a.resources().secrets.size).toBe(0);
    a.delete(withTls.key);
    irs = irs.slice(1);
    expect(canonical(a.resources())).toEqual(canonical(renderFleet(shared, irs, backendData(world))));
    expect(a.resources().secrets.size).toBe(0);
  });
});
