// Benchmark (prints figures, asserts nothing): what kgw's per-Knative-Service metrics cost in the
// Envoy fleets (issue 12). Both fleets of the sample gateway are rendered for N KIngresses
// (fixtures.ts: external host, three cluster-local hosts, two revisions) and run in a real Envoy
// as a static bootstrap, twice: as kgw renders them (route stat prefixes, cluster stat names,
// stats tags), with the fleet and visibility as tags on every stat too ("kgw-with-fixed-tags", what
// kgw did at first), and with all of it removed ("plain": what Envoy counts anyway). Per variant
// and fleet:
// the series of a full scrape of /stats/prometheus, those of `?usedonly`, the scrape's bytes and
// time, and Envoy's RSS, read after the first stats flush. No request is sent: the counters a
// Service's first answers add (one per status class and code seen) come on top, see
// docs/observability.md.
//   node bench/stats.ts [N ...]      (default 1000)
import { renderFleet } from '../operator/render/fleet.ts';
import { statsTags } from '../operator/render/stats-names.ts';
import type { Json } from '../operator/render/types.ts';
import { resolveConflicts } from '../operator/translate/conflicts.ts';
import { translateIngress } from '../operator/translate/ingress.ts';
import type { IngressIR } from '../operator/translate/ir.ts';
import { lookupsFromObjects } from '../operator/translate/lookups.ts';
import { staticBootstrap } from '../test/support/static-bootstrap.ts';
import { startEnvoy } from '../test/env/envoy.ts';
import { rssOf } from './cluster.ts';
import { CREATED, FLEETS, fmt, ingress, objects, sizes } from './fixtures.ts';
import { backendData } from '../operator/translate/backend-data.ts';

function walk(node: unknown, visit: (o: Json) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit);
  else if (node && typeof node === 'object') {
    visit(node as Json);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

/** The bootstrap without kgw's stat names: no route stat_prefix, no alt_stat_name, no tags. */
function plain(config: Json): Json {
  const copy = structuredClone(config);
  walk(copy, (o) => {
    if ('match' in o && 'stat_prefix' in o) delete o.stat_prefix;
    delete o.alt_stat_name;
  });
  delete copy.stats_config;
  return copy;
}

const lines = (t: string) => t.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

for (const n of sizes([1000])) {
  const lookups = lookupsFromObjects(objects(n));
  const irs: IngressIR[] = [];
  for (let i = 0; i < n; i++) {
    const r = translateIngress(ingress(i), lookups);
    if (r.ok) irs.push(r.ir);
  }
  const { accepted } = resolveConflicts(irs.map((ir) => ({ ir, created: CREATED })));
  for (const f of FLEETS) {
    const res = renderFleet(f.opts, accepted, backendData(lookups));
    const base = staticBootstrap(res);
    // Listeners on loopback, ports chosen by the system (nothing else may bind 8080 meanwhile); the
    // clusters' endpoint addresses stay as rendered: nothing connects to them.
    for (const l of (base.static_resources as { listeners: Json[] }).listeners) {
      l.address = { socket_address: { address: '127.0.0.1', port_value: 0 } };
    }
    const kgw = { ...base, stats_config: { stats_tags: statsTags() } };
    // what kgw did first: the fleet and visibility as fixed tags on every stat
    const fixed = {
      ...base,
      stats_config: {
        stats_tags: [
          { tag_name: 'fleet', fixed_value: f.key },
          { tag_name: 'kgw_visibility', fixed_value: f.opts.visibility },
          ...statsTags(),
        ],
      },
    };
    for (const [variant, config] of [
      ['kgw', kgw],
      ['kgw-with-fixed-tags', fixed],
      ['plain', plain(kgw)],
    ] as const) {
      const envoy = await startEnvoy({
        config,
        id: `bench-stats-${variant}`,
        logLevel: 'warn',
        timeoutMs: 120_000,
      });
      try {
        await new Promise((r) => setTimeout(r, 6_000)); // one stats flush (5 s)
        const t0 = process.hrtime.bigint();
        const full = (await envoy.adminGet('/stats/prometheus')).body;
        const scrapeMs = Number(process.hrtime.bigint() - t0) / 1e6;
        const used = (await envoy.adminGet('/stats/prometheus?usedonly')).body;
        const series = lines(full);
        const service = series.filter((l) => l.includes('kgw_service="')).length;
        const revision = series.filter((l) => l.includes('kgw_revision="')).length;
        console.log(
          `bench stats n=${n} fleet=${f.key} variant=${variant} envoy_rss_mib=${rssOf(envoy.pid).toFixed(0)} ` +
            `series=${series.length} series_per_kingress=${fmt(series.length / n)} service_series=${service} ` +
            `revision_series=${revision} usedonly_series=${lines(used).length} scrape_bytes=${full.length} ` +
            `scrape_ms=${fmt(scrapeMs)}`,
        );
      } finally {
        await envoy.stop();
      }
    }
  }
}
