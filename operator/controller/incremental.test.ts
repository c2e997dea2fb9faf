// Property-style test of the incremental pipeline: seeded random sequences of KIngress
// add/update/delete and Service, EndpointSlice and Secret changes, applied the way the engine
// applies them (re-translate the KIngresses that read a changed object, keep the last good IR
// when translation fails). After every step IncrementalGateway must give exactly what the
// from-scratch functions give (resolveConflicts + renderFleet over the same IRs and lookups),
// report every outcome change, and report every resource kind that changed.
import { join } from 'node:path';
import type { EndpointSlice, Secret, Service } from '../api/core.ts';
import type { IngressSpec, KIngress } from '../api/kingress.ts';
import {
  defaultCertificateProblem,
  renderFleet,
  type FleetRenderOptions,
  type FleetResources,
} from '../render/fleet.ts';
import { goldenDir, goldenFleets, loadCase } from '../../test/support/golden-cases.ts';
import { resolveConflicts } from '../translate/conflicts.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { ExternalNamePolicy } from '../translate/external-names.ts';
import type { IngressIR } from '../translate/ir.ts';
import type { Lookups } from '../translate/lookups.ts';
import { mulberry32, pick } from '../../test/support/prng.ts';
import { RESOURCE_KINDS } from '../render/assembler.ts';
import { IncrementalGateway } from './incremental.ts';
import { backendData } from '../translate/backend-data.ts';
import { byCodePoint } from '../order.ts';

const validCert = loadCase(join(goldenDir, 'tls-redirect.yaml')).secrets[0]!;

class World implements Lookups {
  readonly clusterDomain = 'cluster.local';
  /** b/ext names a Service of namespace a; a/dns names example.org. */
  readonly externalNames: ExternalNamePolicy = {
    namespaces: ['a'],
    services: [],
    hosts: [{ suffix: 'example.org', ports: [80] }],
    reservedPorts: [],
  };
  readonly services = new Map<string, Service>();
  readonly secrets = new Map<string, Secret>();
  readonly slices = new Map<string, EndpointSlice[]>();
  service(ns: string, n: string) {
    return this.services.get(`${ns}/${n}`);
  }
  secret(ns: string, n: string) {
    return this.secrets.get(`${ns}/${n}`);
  }
  endpointSlices(ns: string, svc: string) {
    return this.slices.get(`${ns}/${svc}`) ?? [];
  }
}

const SERVICES = ['a/s1', 'a/s2', 'b/s1', 'b/s2', 'b/ext', 'a/dns', 'a/missing'];
const SECRETS = ['a/cert', 'a/cert2', 'a/bad'];
const HOSTS = [
  'h1.example.com',
  'h2.example.com',
  'h3.example.com',
  'h4.example.com',
  'h5.example.com',
  'h6.example.com',
];
const KEYS = ['a/one', 'a/two', 'a/three', 'b/one', 'b/two', 'b/three', 'c/one'];
const TIMES = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'];

function randomService(rnd: () => number, key: string): Service | undefined {
  const [namespace = '', name = ''] = key.split('/');
  if (name === 'missing' || rnd() < 0.1) return undefined;
  const metadata = { name, namespace };
  if (name === 'ext') {
    return {
      metadata,
      spec: {
        type: 'ExternalName',
        externalName: 's1.a.svc.cluster.local',
        ports: [{ name: 'http', port: 80 }],
      },
    };
  }
  if (name === 'dns') {
    return { metadata, spec: { type: 'ExternalName', externalName: 'example.org', ports: [{ port: 80 }] } };
  }
  const portName = pick(rnd, ['http', 'h2c', '']);
  return {
    metadata,
    spec: {
      ports: [{ ...(portName ? { name: portName } : {}), port: 80, targetPort: pick(rnd, [8080, 8012]) }],
    },
  };
}

function randomSlices(rnd: () => number, key: string): EndpointSlice[] {
  const [namespace = '', name = ''] = key.split('/');
  return Array.from({ length: Math.floor(rnd() * 3) }, (_, i) => ({
    metadata: { name: `${name}-${i}`, namespace, labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: pick(rnd, ['http', 'h2c']), port: pick(rnd, [8080, 8012]) }],
    endpoints: Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => ({
      addresses: [`198.19.${Math.floor(rnd() * 3)}.${Math.floor(rnd() * 5)}`],
      conditions: { ready: rnd() < 0.8 },
    })),
  }));
}

function randomSecret(rnd: () => number, key: string): Secret | undefined {
  const [namespace = '', name = ''] = key.split('/');
  if (name === 'bad')
    return { metadata: { name, namespace }, data: { 'tls.crt': 'eA==', 'tls.key': 'eA==' } };
  if (rnd() < 0.15) return undefined;
  return { ...validCert, metadata: { name, namespace } }; // a new object: a changed Secret
}

/** A spec for a KIngress of `namespace`: its splits and certificates are in that namespace. */
function randomSpec(rnd: () => number, namespace: string): IngressSpec {
  const hosts = () => {
    const some = HOSTS.filter(() => rnd() < 0.2);
    return some.length > 0 ? some : [pick(rnd, HOSTS)];
  };
  // A missing Service (translation fails, the last good IR stays) now and then; namespace c has none.
  const names = (all: string[]) =>
    all.filter((k) => k.startsWith(`${namespace}/`)).map((k) => k.split('/')[1]!);
  const serviceNames = names(SERVICES.slice(0, -1));
  const rules = Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => ({
    hosts: hosts(),
    visibility: pick(rnd, ['ExternalIP', 'ClusterLocal'] as const),
    http: {
      paths: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => ({
        ...(rnd() < 0.3 ? { path: pick(rnd, ['/x', '/.well-known/acme-challenge/t']) } : {}),
        ...(rnd() < 0.2 ? { headers: { 'X-Tag': { exact: pick(rnd, ['a', 'b']) } } } : {}),
        ...(rnd() < 0.2 ? { appendHeaders: { 'X-Path': pick(rnd, ['1', '2']) } } : {}),
        splits: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => {
          const serviceName = rnd() < 0.1 || serviceNames.length === 0 ? 'missing' : pick(rnd, serviceNames);
          return {
            serviceNamespace: namespace,
            serviceName,
            servicePort: 80,
            percent: pick(rnd, [0, 30, 70, 100]),
            ...(rnd() < 0.3 ? { appendHeaders: { 'X-Split': pick(rnd, ['p', 'q']) } } : {}),
          };
        }),
      })),
    },
  }));
  const ruleHosts = rules.flatMap((r) => r.hosts);
  const tls =
    rnd() < 0.6
      ? [
          {
            hosts: ruleHosts.filter(() => rnd() < 0.7),
            secretName: pick(rnd, SECRETS).split('/')[1],
            secretNamespace: namespace,
          },
        ]
      : [];
  return { httpOption: pick(rnd, ['Enabled', 'Redirected'] as const), rules, tls };
}

/** Maps sorted by name (the order of a map keyed by resource name carries no meaning). */
function byName(m: ReadonlyMap<string, unknown>): [string, unknown][] {
  return [...m].sort(([a], [b]) => byCodePoint(a, b));
}

function canonical(r: FleetResources): Record<string, unknown> {
  return {
    // Listener and route table order is what renderFleet produces (http first).
    listeners: [...r.listeners],
    routes: [...r.routes],
    clusters: byName(r.clusters),
    endpoints: byName(r.endpoints),
    secrets: byName(r.secrets),
  };
}

const fleets: { key: string; opts: FleetRenderOptions }[] = [
  ...Object.entries(goldenFleets).map(([key, opts]) => ({ key, opts })),
  // Default certificates: one that comes and goes (and is also a KIngress certificate), one invalid.
  { key: 'external-default', opts: { ...goldenFleets.external!, defaultCertificate: { secret: 'a/cert2' } } },
  { key: 'local-default', opts: { ...goldenFleets.local!, defaultCertificate: { secret: 'a/bad' } } },
  // scoped (delta fleets): every exact host its own scope, kept up to date one KIngress at a time
  {
    key: 'external-scoped',
    opts: { ...goldenFleets.external!, defaultCertificate: { secret: 'a/cert2' }, scoped: true },
  },
  { key: 'local-scoped', opts: { ...goldenFleets.local!, scoped: true } },
];

describe('IncrementalGateway', () => {
  test('reports default certificate Secrets and fleet problems', () => {
    const world = new World();
    const gw = new IncrementalGateway(fleets, world);
    expect([...gw.defaultCertificateSecrets].sort()).toEqual(['a/bad', 'a/cert2']);
    gw.flush();
    expect([...gw.fleetProblems()].map(([k, p]) => [k, p.map((x) => x.reason)])).toEqual([
      ['external-default', ['SecretNotFound']],
      ['local-default', ['SecretNotFound']],
      ['external-scoped', ['SecretNotFound']],
    ]);
    world.secrets.set('a/cert2', { ...validCert, metadata: { name: 'cert2', namespace: 'a' } });
    gw.refreshSecrets(['a/cert2']);
    const { fleets: changed } = gw.flush();
    expect([...changed.keys()]).toEqual(['external-default', 'external-scoped']);
    expect(Object.keys(changed.get('external-default')!).sort()).toEqual(['listeners', 'routes', 'secrets']);
    // scoped: no route configuration comes with the https listener (and no scope: no KIngress yet)
    expect(Object.keys(changed.get('external-scoped')!).sort()).toEqual(['listeners', 'secrets']);
    expect([...gw.fleetProblems().keys()]).toEqual(['local-default']);
  });

  test.each([1, 2, 3, 4, 5, 6])(
    'equals the from-scratch functions after random changes (seed %i)',
    (seed) => {
      const rnd = mulberry32(seed);
      const world = new World();
      for (const s of SERVICES) {
        const svc = randomService(rnd, s);
        if (svc) world.services.set(s, svc);
        world.slices.set(s, randomSlices(rnd, s));
      }
      for (const s of SECRETS) {
        const sec = randomSecret(rnd, s);
        if (sec) world.secrets.set(s, sec);
      }
      const gw = new IncrementalGateway(fleets, world);
      const ingresses = new Map<string, KIngress>();
      const good = new Map<string, { ir: IngressIR; created: string }>();
      let lastOutcomes = new Map<string, string>();
      const lastTaken = new Map<string, Record<string, string>>();

      const retranslate = (key: string) => {
        const ing = ingresses.get(key);
        if (!ing) {
          good.delete(key);
          gw.delete(key);
          return;
        }
        const res = translateIngress(ing, world);
        const created = ing.metadata.creationTimestamp ?? '';
        if (res.ok) good.set(key, { ir: res.ir, created });
        const g = good.get(key);
        if (g) gw.set(g.ir, g.created); // a failed translation keeps the last good IR
      };
      const readers = (ref: string) =>
        [...ingresses.keys()].filter((k) => {
          const ing = ingresses.get(k)!;
          const ns = ing.metadata.namespace ?? '';
          const reads = new Set(good.get(k)?.ir.services ?? []);
          for (const r of ing.spec.rules ?? [])
            for (const p of r.http?.paths ?? [])
              for (const s of p.splits) reads.add(`${s.serviceNamespace || ns}/${s.serviceName}`);
          for (const t of ing.spec.tls ?? []) reads.add(`${t.secretNamespace || ns}/${t.secretName ?? ''}`);
          return reads.has(ref);
        });

      let kindsReported = 0;
      for (let step = 0; step < 250; step++) {
        const batch = 1 + Math.floor(rnd() * 3);
        for (let b = 0; b < batch; b++) {
          const op = rnd();
          if (op < 0.55) {
            const key = pick(rnd, KEYS);
            const [namespace = '', name = ''] = key.split('/');
            const old = ingresses.get(key);
            ingresses.set(key, {
              metadata: {
                name,
                namespace,
                generation: (old?.metadata.generation ?? 0) + 1,
                creationTimestamp: old?.metadata.creationTimestamp ?? pick(rnd, TIMES),
              },
              spec: randomSpec(rnd, namespace),
            });
            retranslate(key);
          } else if (op < 0.7) {
            const key = pick(rnd, KEYS);
            ingresses.delete(key);
            retranslate(key);
          } else if (op < 0.8) {
            const s = pick(rnd, SERVICES);
            const svc = randomService(rnd, s);
            if (svc) world.services.set(s, svc);
            else world.services.delete(s);
            for (const k of readers(s)) retranslate(k);
          } else if (op < 0.9) {
            const s = pick(rnd, SERVICES);
            world.slices.set(s, randomSlices(rnd, s));
            gw.refreshEndpoints([s]);
          } else {
            const s = pick(rnd, SECRETS);
            const sec = randomSecret(rnd, s);
            if (sec) world.secrets.set(s, sec);
            else world.secrets.delete(s);
            for (const k of readers(s)) retranslate(k);
            gw.refreshSecrets([s]);
          }
        }

        const { outcomes, fleets: changedFleets } = gw.flush();
        const want = resolveConflicts([...good.values()]);
        const nowOutcomes = new Map<string, string>();
        for (const a of want.accepted) nowOutcomes.set(a.key, 'accepted');
        for (const [k, c] of want.conflicts) nowOutcomes.set(k, `conflict ${c.host} ${c.owner}`);
        for (const k of good.keys()) {
          const c = gw.conflict(k);
          expect([k, gw.isAccepted(k) ? 'accepted' : `conflict ${c?.host} ${c?.owner}`]).toEqual([
            k,
            nowOutcomes.get(k),
          ]);
        }
        for (const k of new Set([...nowOutcomes.keys(), ...lastOutcomes.keys()])) {
          if (nowOutcomes.get(k) !== lastOutcomes.get(k)) expect([k, outcomes.has(k)]).toEqual([k, true]);
        }
        lastOutcomes = nowOutcomes;

        for (const { key, opts } of fleets) {
          const got = canonical(gw.resources(key)!);
          expect(got).toEqual(canonical(renderFleet(opts, want.accepted, backendData(world))));
          const problem = defaultCertificateProblem(opts, backendData(world));
          expect(gw.fleetProblems().get(key) ?? []).toEqual(problem ? [problem] : []);
          // Every kind that changed since the previous flush was reported as changed.
          const reported = changedFleets.get(key) ?? {};
          const now = Object.fromEntries(RESOURCE_KINDS.map((k) => [k, JSON.stringify(got[k])]));
          const before = lastTaken.get(key);
          for (const kind of RESOURCE_KINDS) {
            if (kind in reported) kindsReported++;
            else if (before) expect([kind, now[kind]]).toEqual([kind, before[kind]]);
          }
          lastTaken.set(key, now);
        }
      }
      expect(kindsReported).toBeGreaterThan(100); // the sequence exercised real changes
    },
  );
});
