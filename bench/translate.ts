// Benchmark (prints figures, asserts nothing): translate + conflict resolution + render of N
// KIngresses for one fleet, full and after changing one KIngress.
//   node bench/translate.ts [N ...]      (default 1000 10000)
import type { Service, EndpointSlice } from '../operator/api/core.ts';
import type { KIngress } from '../operator/api/kingress.ts';
import { renderFleet } from '../operator/render/fleet.ts';
import { resolveConflicts, type Candidate } from '../operator/translate/conflicts.ts';
import { translateIngress } from '../operator/translate/ingress.ts';
import type { IngressIR } from '../operator/translate/ir.ts';
import { lookupsFromObjects } from '../operator/translate/lookups.ts';

function ingress(i: number, gen = 1): KIngress {
  const ns = `ns${i % 50}`;
  return {
    metadata: { name: `app${i}`, namespace: ns, generation: gen, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      httpOption: 'Enabled',
      rules: [
        {
          hosts: [`app${i}.${ns}.example.com`],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                splits: [
                  {
                    serviceNamespace: ns,
                    serviceName: `app${i}-1`,
                    servicePort: 80,
                    percent: 90,
                    appendHeaders: { 'Knative-Serving-Revision': `app${i}-1` },
                  },
                  {
                    serviceNamespace: ns,
                    serviceName: `app${i}-2`,
                    servicePort: 80,
                    percent: 10,
                    appendHeaders: { 'Knative-Serving-Revision': `app${i}-2-g${gen}` },
                  },
                ],
              },
            ],
          },
        },
        {
          hosts: [`app${i}.${ns}.svc.cluster.local`, `app${i}.${ns}.svc`, `app${i}.${ns}`],
          visibility: 'ClusterLocal',
          http: {
            paths: [
              { splits: [{ serviceNamespace: ns, serviceName: `app${i}-1`, servicePort: 80, percent: 100 }] },
            ],
          },
        },
      ],
    },
  };
}

function objects(n: number) {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    for (const r of [1, 2]) {
      const ns = `ns${i % 50}`;
      services.push({
        metadata: { name: `app${i}-${r}`, namespace: ns },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] },
      });
      slices.push({
        metadata: {
          name: `app${i}-${r}-x`,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': `app${i}-${r}` },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8012 }],
        endpoints: [{ addresses: [`10.${(i >> 8) & 255}.${i & 255}.${r}`] }],
      });
    }
  }
  return { services, slices };
}

const opts = { visibility: 'ExternalIP' as const, httpPort: 8080, httpsPort: 8443, accessLog: false };

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

for (const n of (process.argv.slice(2).length ? process.argv.slice(2) : ['1000', '10000']).map(Number)) {
  const lookups = lookupsFromObjects(objects(n));
  const ings = Array.from({ length: n }, (_, i) => ingress(i));
  let t0 = process.hrtime.bigint();
  const irs = new Map<string, IngressIR>();
  for (const ing of ings) {
    const r = translateIngress(ing, lookups);
    if (r.ok) irs.set(`${ing.metadata.namespace}/${ing.metadata.name}`, r.ir);
  }
  const tTranslate = ms(t0);
  t0 = process.hrtime.bigint();
  const cands = (): Candidate[] => [...irs.values()].map((ir) => ({ ir, created: '2026-01-01T00:00:00Z' }));
  const { accepted } = resolveConflicts(cands());
  renderFleet(opts, accepted, lookups);
  const tAssemble = ms(t0);

  // One change: re-translate one KIngress, re-resolve and re-assemble (memoised vhosts).
  const changes: number[] = [];
  for (let k = 0; k < 20; k++) {
    const changed = ingress(k * 7, 2 + k);
    t0 = process.hrtime.bigint();
    const r = translateIngress(changed, lookups);
    if (r.ok) irs.set(`${changed.metadata.namespace}/${changed.metadata.name}`, r.ir);
    const res = resolveConflicts(cands());
    renderFleet(opts, res.accepted, lookups);
    changes.push(ms(t0));
  }
  changes.sort((a, b) => a - b);
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `translate n=${n}: full translate ${tTranslate.toFixed(1)} ms, full resolve+render ${tAssemble.toFixed(1)} ms, ` +
      `one change (translate+resolve+render) median ${changes[10]?.toFixed(2)} ms p95 ${changes[19]?.toFixed(2)} ms, rss ${rss.toFixed(0)} MiB`,
  );
}
