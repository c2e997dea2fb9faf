// FleetAssembler: built one KIngress at a time it gives what renderFleet gives for every golden
// case, and take() reports only the kinds a change touched (an endpoint change: EDS only; a
// route change: routes only). The random-sequence property test is controller/incremental.test.ts.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasClass, KGW_INGRESS_CLASS } from '../api/kingress.ts';
import { resolveConflicts } from '../translate/conflicts.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { IngressIR } from '../translate/ir.ts';
import { lookupsFromObjects, type Lookups } from '../translate/lookups.ts';
import { mulberry32 } from '../../test/support/prng.ts';
import type { KIngress } from '../api/kingress.ts';
import { FleetAssembler } from './assembler.ts';
import { renderFleet, type FleetResources } from './fleet.ts';
import type { Json } from './types.ts';
import {
  caseFleets,
  caseLookups,
  goldenCases,
  goldenDir,
  goldenFleets,
  loadCase,
} from '../../test/support/golden-cases.ts';
import { backendData } from '../translate/backend-data.ts';

function sortedMaps(r: FleetResources) {
  const sorted = (m: ReadonlyMap<string, unknown>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
  return {
    listeners: [...r.listeners],
    routes: [...r.routes],
    scopes: sorted(r.scopes),
    clusters: sorted(r.clusters),
    endpoints: sorted(r.endpoints),
    secrets: sorted(r.secrets),
  };
}

/** A spec change that keeps the backends (a header: new hash in the probe routes), translated. */
function specChange(ing: KIngress, lookups: Lookups): { changed: KIngress; res: { ir: IngressIR } } {
  const changed = structuredClone(ing);
  changed.metadata.generation = (changed.metadata.generation ?? 0) + 1;
  const path = changed.spec.rules?.[0]?.http?.paths[0];
  if (!path) throw new Error('case has no path');
  path.appendHeaders = { ...path.appendHeaders, 'X-Changed': 'yes' };
  const res = translateIngress(changed, lookups);
  if (!res.ok) throw new Error('translation failed');
  return { changed, res };
}

describe('FleetAssembler', () => {
  test.each(goldenCases(readdirSync(goldenDir)))('equals renderFleet for golden case %s', (name) => {
    const objs = loadCase(join(goldenDir, `${name}.yaml`));
    const lookups = lookupsFromObjects(objs);
    const candidates = objs.ingresses
      .filter((i) => hasClass(i, KGW_INGRESS_CLASS))
      .flatMap((i) => {
        const r = translateIngress(i, lookups);
        return r.ok ? [{ ir: r.ir, created: i.metadata.creationTimestamp ?? '' }] : [];
      });
    const { accepted } = resolveConflicts(candidates);
    for (const fleet of Object.values(caseFleets(objs))) {
      for (const opts of [
        fleet,
        { ...fleet, scoped: true },
        { ...fleet, rateLimitSharing: 'SharedEvenly' as const },
      ]) {
        const a = new FleetAssembler(opts, backendData(lookups));
        // Insertion order must not matter: add in reverse key order.
        for (const ir of [...accepted].reverse()) a.set(ir);
        expect(sortedMaps(a.resources())).toEqual(
          sortedMaps(renderFleet(opts, accepted, backendData(lookups))),
        );
      }
    }
  });

  test('the same IR renders per rate-limit sharing mode (PerReplica first, then SharedEvenly)', () => {
    const objs = loadCase(join(goldenDir, 'policies.yaml'));
    const lookups = caseLookups(objs);
    const irs = objs.ingresses.flatMap((i) => {
      const r = translateIngress(i, lookups);
      return r.ok ? [r.ir] : [];
    });
    const shared = (sharing: 'PerReplica' | 'SharedEvenly') => {
      const a = new FleetAssembler(
        { ...goldenFleets.external!, rateLimitSharing: sharing },
        backendData(lookups),
      );
      for (const ir of irs) a.set(ir);
      return JSON.stringify([...a.resources().routes.values()]).includes('"local_cluster_rate_limit":{}');
    };
    expect([shared('PerReplica'), shared('SharedEvenly'), shared('PerReplica')]).toEqual([
      false,
      true,
      false,
    ]);
  });

  test('a bulk load in random order with replacements and deletions equals renderFleet', () => {
    const rnd = mulberry32(7);
    const services = Array.from({ length: 20 }, (_, i) => ({
      metadata: { name: `s${i}`, namespace: 'ns' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    }));
    const lookups = lookupsFromObjects({ services });
    const mk = (i: number, gen: number): IngressIR => {
      const ing: KIngress = {
        metadata: { name: `k${i}`, namespace: 'ns', generation: gen },
        spec: {
          rules: [
            {
              hosts: [`k${i}.example.com`],
              http: {
                paths: [
                  {
                    splits: [
                      { serviceNamespace: 'ns', serviceName: `s${Math.floor(rnd() * 20)}`, servicePort: 80 },
                    ],
                  },
                ],
              },
            },
          ],
        },
      };
      const r = translateIngress(ing, lookups);
      if (!r.ok) throw new Error(r.problem.message);
      return r.ir;
    };
    const a = new FleetAssembler(goldenFleets.external!, backendData(lookups));
    const live = new Map<string, IngressIR>();
    for (let step = 0; step < 3; step++) {
      // > 64 inserts per batch (the bulk path), in random order, with some replaced and deleted.
      for (let n = 0; n < 150; n++) {
        const i = Math.floor(rnd() * 200);
        if (rnd() < 0.2) {
          a.delete(`ns/k${i}`);
          live.delete(`ns/k${i}`);
        } else {
          const ir = mk(i, step + 1);
          a.set(ir);
          live.set(ir.key, ir);
        }
      }
      const accepted = [...live.values()].sort((x, y) => (x.key < y.key ? -1 : 1));
      expect(sortedMaps(a.resources())).toEqual(
        sortedMaps(renderFleet(goldenFleets.external!, accepted, backendData(lookups))),
      );
    }
  });

  test('take() reports only what a change touched', () => {
    const objs = loadCase(join(goldenDir, 'dispatch.yaml'));
    const slices = [...objs.slices];
    const lookups = lookupsFromObjects({ ...objs, slices });
    const irs: IngressIR[] = objs.ingresses.flatMap((i) => {
      const r = translateIngress(i, lookups);
      return r.ok ? [r.ir] : [];
    });
    expect(irs.length).toBeGreaterThan(0);
    const a = new FleetAssembler(goldenFleets.external!, backendData(lookups));
    for (const ir of irs) a.set(ir);
    expect(Object.keys(a.take()).sort()).toEqual(['clusters', 'endpoints', 'listeners', 'routes', 'secrets']);
    expect(Object.keys(a.take())).toEqual([]);

    // The same IR again, or an equal re-translation: nothing to send.
    const first = irs[0]!;
    a.set(first);
    const again = translateIngress(objs.ingresses[0]!, lookups);
    if (!again.ok) throw new Error('re-translation failed');
    a.set(again.ir);
    expect(Object.keys(a.take())).toEqual([]);

    // A spec change that keeps the backends (new hash in the probe routes): routes only.
    const { res } = specChange(objs.ingresses[0]!, lookups);
    a.set(res.ir);
    expect(Object.keys(a.take())).toEqual(['routes']);

    // An endpoint change of a Service in use: endpoints only.
    const cluster = [...a.resources().endpoints.keys()][0]!;
    const svc = first.clusters.find((c) => c.name === cluster)?.endpoints;
    if (!svc) throw new Error('no EDS cluster');
    const lookups2 = lookupsFromObjects({
      ...objs,
      slices: [
        ...slices,
        {
          metadata: {
            name: 'extra',
            namespace: svc.namespace,
            labels: { 'kubernetes.io/service-name': svc.service },
          },
          addressType: 'IPv4',
          ports: [{ name: svc.port.name, port: svc.port.targetPort ?? 8080 }],
          endpoints: [{ addresses: ['198.19.9.9'] }],
        },
      ],
    });
    Object.assign(lookups, { endpointSlices: (ns: string, svc: string) => lookups2.endpointSlices(ns, svc) });
    a.refreshEndpoints([`${svc.namespace}/${svc.service}`]);
    expect(Object.keys(a.take())).toEqual(['endpoints']);
    expect(JSON.stringify(a.resources().endpoints.get(cluster))).toContain('198.19.9.9');

    // Removing every KIngress leaves the HTTP listener and an empty route table.
    for (const ir of irs) a.delete(ir.key);
    const empty = a.resources();
    expect([...empty.listeners.keys()]).toEqual(['http']);
    expect(empty.routes.get('http')).toEqual({ name: 'http', virtual_hosts: [] });
    expect(empty.clusters.size + empty.endpoints.size + empty.secrets.size).toBe(0);
  });

  test('scoped: a spec change sends its scopes only; there are no route configurations', () => {
    const objs = loadCase(join(goldenDir, 'dispatch.yaml'));
    const lookups = lookupsFromObjects(objs);
    const irs: IngressIR[] = objs.ingresses.flatMap((i) => {
      const r = translateIngress(i, lookups);
      return r.ok ? [r.ir] : [];
    });
    const a = new FleetAssembler({ ...goldenFleets.external!, scoped: true }, backendData(lookups));
    for (const ir of irs) a.set(ir);
    const first = a.take();
    expect(Object.keys(first).sort()).toEqual([
      'clusters',
      'endpoints',
      'listeners',
      'routes',
      'scopes',
      'secrets',
    ]);
    expect(first.routes?.size).toBe(0);
    const before = new Map(a.resources().scopes);
    expect(before.size).toBeGreaterThan(1);

    const { changed, res } = specChange(objs.ingresses[0]!, lookups);
    a.set(res.ir);
    expect(Object.keys(a.take())).toEqual(['scopes']);
    const after = a.resources().scopes;
    const touched = [...after].filter(([n, v]) => before.get(n) !== v).map(([n]) => n);
    // only the changed KIngress's scopes are new objects (the xDS cache encodes and sends only those)
    const owner = `${changed.metadata.namespace}~${changed.metadata.name}~`;
    expect(touched.length).toBeGreaterThan(0);
    for (const n of touched) expect(n).toMatch(new RegExp(`^https?/${owner}`));
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());

    // A deleted KIngress takes its scopes away; the last one leaves none.
    a.delete(res.ir.key);
    expect(Object.keys(a.take())).toContain('scopes');
    expect([...a.resources().scopes.keys()].some((n) => n.includes(owner))).toBe(false);
    for (const ir of irs) a.delete(ir.key);
    expect(a.resources().scopes.size).toBe(0);
    expect(a.resources().routes.size).toBe(0);
  });

  test('scoped: wildcard hosts share one wildcard scope per listener, rebuilt when one changes', () => {
    const objs = loadCase(join(goldenDir, 'dispatch.yaml'));
    const lookups = lookupsFromObjects(objs);
    const base = objs.ingresses[0]!;
    const wild = (name: string, host: string): IngressIR => {
      const ing = structuredClone(base);
      ing.metadata.name = name;
      for (const r of ing.spec.rules ?? []) r.hosts = [host];
      const res = translateIngress(ing, lookups);
      if (!res.ok) throw new Error(`translation failed: ${JSON.stringify(res)}`);
      return res.ir;
    };
    const a = new FleetAssembler({ ...goldenFleets.external!, scoped: true }, backendData(lookups));
    a.set(wild('w1', '*.apps.example.com'));
    a.take();
    const scope = a.resources().scopes.get('http/*');
    expect(scope?.key).toEqual({ fragments: [{ string_key: 'http' }, { string_key: '*' }] });
    const domains = () =>
      (
        (a.resources().scopes.get('http/*')?.route_configuration as { virtual_hosts: Json[] })
          .virtual_hosts ?? []
      ).map((v) => (v.domains as string[])[0]);
    expect(domains()).toEqual(['*.apps.example.com']);
    a.set(wild('w2', '*.example.com'));
    expect(Object.keys(a.take())).toEqual(['scopes']);
    expect(domains()).toEqual(['*.apps.example.com', '*.example.com']);
    a.delete(`${base.metadata.namespace}/w1`);
    a.take();
    expect(domains()).toEqual(['*.example.com']);
    a.delete(`${base.metadata.namespace}/w2`);
    a.take();
    expect(a.resources().scopes.has('http/*')).toBe(false);
  });
});
