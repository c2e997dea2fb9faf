// Benchmark (prints figures, asserts nothing): the pure pipeline for N KIngresses and the two
// fleets of a gateway. Full: translate all, then build host claims + both fleets incrementally
// (and, for comparison, the from-scratch resolveConflicts + renderFleet). One change: translate
// one KIngress + claims + re-render of what it touched, as the engine does per flush. Also the
// cost the xDS layer pays per change today: encoding the whole changed route table.
//   node bench/translate.ts [N ...]      (default 1000 10000)
import { IncrementalGateway } from '../operator/controller/incremental.ts';
import { renderFleet } from '../operator/render/fleet.ts';
import { resolveConflicts } from '../operator/translate/conflicts.ts';
import { translateIngress } from '../operator/translate/ingress.ts';
import type { IngressIR } from '../operator/translate/ir.ts';
import { lookupsFromObjects } from '../operator/translate/lookups.ts';
import { encodeResource } from '../operator/xds/protojson.ts';
import { TYPE_ROUTE } from '../operator/xds/protos.ts';
import { CREATED, FLEETS, fmt, ingress, ms, objects, percentile, sizes } from './fixtures.ts';
import { backendData } from '../operator/translate/backend-data.ts';

const CHANGES = 40;

for (const n of sizes([1000, 10000])) {
  // Services for n + CHANGES KIngresses: the extra ones are added one at a time below.
  const lookups = lookupsFromObjects(objects(n + CHANGES));
  const ings = Array.from({ length: n }, (_, i) => ingress(i));

  let t0 = process.hrtime.bigint();
  const irs: IngressIR[] = [];
  for (const ing of ings) {
    const r = translateIngress(ing, lookups);
    if (r.ok) irs.push(r.ir);
  }
  const fullTranslate = ms(t0);
  t0 = process.hrtime.bigint();
  for (const ing of ings) translateIngress(ing, lookups);
  const fullTranslateWarm = ms(t0);

  // From scratch first (both share the per-IR vhost memo: whichever runs first renders them).
  t0 = process.hrtime.bigint();
  const { accepted } = resolveConflicts(irs.map((ir) => ({ ir, created: CREATED })));
  for (const f of FLEETS) renderFleet(f.opts, accepted, backendData(lookups));
  const scratch = ms(t0);

  t0 = process.hrtime.bigint();
  const gw = new IncrementalGateway(FLEETS, lookups);
  for (const ir of irs) gw.set(ir, CREATED);
  gw.flush();
  const fullAssemble = ms(t0);

  // One spec change (a split's header: a new hash and new routes, same backends).
  const change: number[] = [];
  const tables: object[] = [];
  const kinds = new Set<string>();
  for (let k = 0; k < CHANGES; k++) {
    const changed = ingress((k * 7919) % n, 2 + k);
    t0 = process.hrtime.bigint();
    const r = translateIngress(changed, lookups);
    if (r.ok) gw.set(r.ir, CREATED);
    const res = gw.flush();
    change.push(ms(t0));
    for (const [, kindsOf] of res.fleets) for (const kind of Object.keys(kindsOf)) kinds.add(kind);
    const table = res.fleets.get(FLEETS[0]!.key)?.routes?.get('http');
    if (table && tables.length < 10) tables.push(table);
  }
  // What the xDS layer pays per change today: encoding the whole changed route table.
  const encode = tables.map((table) => {
    t0 = process.hrtime.bigint();
    encodeResource(TYPE_ROUTE, table);
    return ms(t0);
  });
  // One new KIngress (new Services: new clusters and endpoints as well).
  const add: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const fresh = ingress(n + k);
    t0 = process.hrtime.bigint();
    const r = translateIngress(fresh, lookups);
    if (r.ok) gw.set(r.ir, CREATED);
    gw.flush();
    add.push(ms(t0));
  }
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `bench translate n=${n} full_translate_ms=${fmt(fullTranslate)} full_translate_warm_ms=${fmt(fullTranslateWarm)} ` +
      `full_claims_assemble_ms=${fmt(fullAssemble)} scratch_resolve_render_ms=${fmt(scratch)} ` +
      `change_p50_ms=${fmt(percentile(change, 50))} change_p95_ms=${fmt(percentile(change, 95))} ` +
      `change_kinds=${[...kinds].sort().join('+')} add_p50_ms=${fmt(percentile(add, 50))} add_p95_ms=${fmt(percentile(add, 95))} ` +
      `route_table_encode_p50_ms=${fmt(percentile(encode, 50))} bench_rss_mib=${rss.toFixed(0)}`,
  );
}
