// Benchmark (prints figures, asserts nothing): the xDS encoder (operator/xds/protojson.ts).
//   start     a fresh `node` process: import the encoder and encode one listener (the Envoy
//             descriptors are loaded on first use), median of 5 processes
//   full      every resource of both fleets for N KIngresses, from objects the encoder has not
//             seen (no reused bytes): ms, then again from fresh copies (warm code), and MB/s of
//             protobuf output of that second pass
//   change    the external fleet's route table again after one virtual host changed (the others
//             are the same objects: their bytes are reused), p50 of 20
//   node bench/encode.ts [N ...]      (default 1000 10000)
import { spawnSync } from 'node:child_process';
import { renderFleet } from '../operator/render/fleet.ts';
import { translateIngress } from '../operator/translate/ingress.ts';
import type { IngressIR } from '../operator/translate/ir.ts';
import { lookupsFromObjects } from '../operator/translate/lookups.ts';
import { encodeResource } from '../operator/xds/protojson.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE } from '../operator/xds/protos.ts';
import { FLEETS, fmt, ingress, ms, objects, percentile, sizes } from './fixtures.ts';
import { backendData } from '../operator/translate/backend-data.ts';

const START_RUNS = 5;
const CHANGES = 20;

function startFigures(): { importMs: number; firstEncodeMs: number } {
  const script = `
    const t0 = performance.now();
    const { encodeResource } = await import('./operator/xds/protojson.ts');
    const { sampleListener } = await import('./test/support/xds-samples.ts');
    const t1 = performance.now();
    encodeResource('${TYPE_LISTENER}', sampleListener);
    const t2 = performance.now();
    console.log(JSON.stringify({ importMs: t1 - t0, firstEncodeMs: t2 - t1 }));`;
  const runs: { importMs: number; firstEncodeMs: number }[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: new URL('..', import.meta.url).pathname,
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`start probe failed: ${r.stderr}`);
    runs.push(
      JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { importMs: number; firstEncodeMs: number },
    );
  }
  return {
    importMs: percentile(
      runs.map((r) => r.importMs),
      50,
    ),
    firstEncodeMs: percentile(
      runs.map((r) => r.firstEncodeMs),
      50,
    ),
  };
}

const start = startFigures();
console.log(
  `bench encode start import_ms=${fmt(start.importMs)} first_encode_ms=${fmt(start.firstEncodeMs)} ` +
    `to_first_encode_ms=${fmt(start.importMs + start.firstEncodeMs)}`,
);

for (const n of sizes([1000, 10000])) {
  const lookups = lookupsFromObjects(objects(n));
  const irs: IngressIR[] = [];
  for (let i = 0; i < n; i++) {
    const r = translateIngress(ingress(i), lookups);
    if (r.ok) irs.push(r.ir);
  }
  const sets = FLEETS.map((f) => renderFleet(f.opts, irs, backendData(lookups)));
  const all = sets.flatMap((res) =>
    (
      [
        [TYPE_LISTENER, res.listeners],
        [TYPE_ROUTE, res.routes],
        [TYPE_CLUSTER, res.clusters],
        [TYPE_ENDPOINT, res.endpoints],
      ] as const
    ).flatMap(([type, m]) => [...m.values()].map((json) => ({ type, json: structuredClone(json) }))),
  );
  const again = all.map((r) => ({ type: r.type, json: structuredClone(r.json) }));
  let bytes = 0;
  let t0 = process.hrtime.bigint();
  for (const r of all) bytes += encodeResource(r.type, r.json).length;
  const full = ms(t0);
  t0 = process.hrtime.bigint();
  for (const r of again) encodeResource(r.type, r.json);
  const fullAgain = ms(t0);

  const table = structuredClone(sets[0]?.routes.get('http')) as { virtual_hosts: object[] } | undefined;
  const change: number[] = [];
  if (table) {
    encodeResource(TYPE_ROUTE, table);
    for (let k = 0; k < CHANGES; k++) {
      const vhosts = [...table.virtual_hosts];
      const i = (k * 7919) % vhosts.length;
      vhosts[i] = structuredClone(vhosts[i]) as object;
      table.virtual_hosts = vhosts;
      t0 = process.hrtime.bigint();
      encodeResource(TYPE_ROUTE, { ...table });
      change.push(ms(t0));
    }
  }
  console.log(
    `bench encode n=${n} resources=${all.length} bytes=${bytes} full_ms=${fmt(full)} full_again_ms=${fmt(fullAgain)} ` +
      `full_again_mb_per_s=${fmt(bytes / 2 ** 20 / (fullAgain / 1000))} ` +
      `route_table_change_p50_ms=${fmt(percentile(change, 50))} rss_mib=${(process.memoryUsage().rss / 2 ** 20).toFixed(0)}`,
  );
}
