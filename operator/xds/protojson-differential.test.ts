// Differential test, kept only while the old hand-written codec (legacy-protojson*.ts over the
// .proto files of @grpc/grpc-js-xds) still exists: every rendered resource of every golden case
// (both fleets) and every sample is encoded by the old codec and by the new one (@bufbuild/protobuf
// over the Envoy 1.40 descriptors), and the bytes are compared. Where the bytes differ, the decoded
// messages are compared too, and the difference is listed with its cause.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FLEETS, ingress, objects } from '../../bench/fixtures.ts';
import { renderFleet, type FleetResources } from '../render/fleet.ts';
import { goldenCases, goldenDir, loadCase, renderCaseFleets } from '../render/golden-cases.ts';
import { translateIngress } from '../translate/ingress.ts';
import { lookupsFromObjects } from '../translate/lookups.ts';
import { decodeResource as legacyDecode, encodeResource as legacyEncode } from './legacy-protojson.ts';
import { decodeResource, encodeResource } from './protojson.ts';
import { ANY_TYPES, TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE, TYPE_SECRET } from './protos.ts';
import {
  anySample,
  sampleCluster,
  sampleListener,
  sampleLoadAssignment,
  sampleRoute,
  sampleSecret,
} from './samples.ts';

interface Resource {
  source: string;
  type: string;
  json: object;
}

function resourcesOf(source: string, res: FleetResources): Resource[] {
  const sets: [string, Map<string, object>][] = [
    [TYPE_LISTENER, res.listeners],
    [TYPE_ROUTE, res.routes],
    [TYPE_CLUSTER, res.clusters],
    [TYPE_ENDPOINT, res.endpoints],
    [TYPE_SECRET, res.secrets],
  ];
  return sets.flatMap(([type, m]) =>
    [...m].map(([key, json]) => ({ source: `${source}/${key}`, type, json })),
  );
}

function goldenResources(): Resource[] {
  return goldenCases(readdirSync(goldenDir)).flatMap((name) =>
    renderCaseFleets(loadCase(join(goldenDir, `${name}.yaml`))).flatMap(({ fleet, res }) =>
      resourcesOf(`${name}/${fleet}`, res),
    ),
  );
}

/** The benchmarks' synthetic gateway (bench/fixtures.ts) with 50 KIngresses, both fleets. */
function fixtureResources(): Resource[] {
  const lookups = lookupsFromObjects(objects(50));
  const irs = Array.from({ length: 50 }, (_, i) => translateIngress(ingress(i), lookups)).flatMap((r) =>
    r.ok ? [r.ir] : [],
  );
  return FLEETS.flatMap((f) => resourcesOf(`fixtures/${f.key}`, renderFleet(f.opts, irs, lookups)));
}

const samples: Resource[] = [
  { source: 'sample listener', type: TYPE_LISTENER, json: sampleListener },
  { source: 'sample route', type: TYPE_ROUTE, json: sampleRoute },
  { source: 'sample cluster', type: TYPE_CLUSTER, json: sampleCluster },
  { source: 'sample load assignment', type: TYPE_ENDPOINT, json: sampleLoadAssignment },
  { source: 'sample secret', type: TYPE_SECRET, json: sampleSecret },
  ...ANY_TYPES.map((t) => ({
    source: `sample ${t} in a listener filter`,
    type: TYPE_LISTENER,
    json: { name: 'l', listener_filters: [{ name: 'x', typed_config: anySample(t) }] },
  })),
];

test.each([
  ['every golden resource', goldenResources],
  ['every sample', () => samples],
  ['the benchmark fixtures', fixtureResources],
])('old and new encoder give the same bytes for %s', (label, make) => {
  const resources = make();
  const byType = new Map<string, number>();
  const differences: string[] = [];
  let bytes = 0;
  for (const r of resources) {
    const old = legacyEncode(r.type, structuredClone(r.json));
    const now = encodeResource(r.type, structuredClone(r.json));
    bytes += now.length;
    byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    if (!old.equals(now)) {
      const same =
        JSON.stringify(decodeResource(r.type, old)) === JSON.stringify(decodeResource(r.type, now));
      differences.push(
        `${r.source}: bytes differ (${old.length} vs ${now.length}), decoded ${same ? 'equal' : 'differ'}`,
      );
    }
    // and both decoders read the bytes back to the same JSON
    expect(decodeResource(r.type, now)).toEqual(legacyDecode(r.type, now));
  }
  console.log(
    `differential, ${label}: ${resources.length} resources (${[...byType].map(([t, n]) => `${t.slice(t.lastIndexOf('.') + 1)} ${n}`).join(', ')}), ` +
      `${bytes} bytes, ${differences.length} differences${differences.length ? `:\n${differences.join('\n')}` : ''}`,
  );
  expect(resources.length).toBeGreaterThan(20);
  expect(differences).toEqual([]);
});
