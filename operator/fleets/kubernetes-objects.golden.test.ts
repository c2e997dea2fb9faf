// Golden-file tests for the Kubernetes fleet objects: every test/golden/fleets/<case>.yaml (a
// KnativeGateway as read from the API server) is rendered with renderGatewayObjects and compared
// with <case>.golden.yaml (all objects of all fleets, in apply order). Regenerate with
// `npm run golden:update` (KGW_UPDATE_GOLDEN=1), which also removes golden files whose case is gone.
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KnativeGateway } from '../api/knativegateway.ts';
import { fleetObjectList, renderGatewayObjects } from './kubernetes-objects.ts';
import { operatorXdsEndpoint, type XdsEndpoint } from './fleet-names.ts';

const dir = join(import.meta.dirname, '../../test/golden/fleets');
const update = process.env.KGW_UPDATE_GOLDEN === '1';
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.golden.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();
/** Cases rendered with another xDS address than the operator Service's default. */
const XDS: Record<string, XdsEndpoint> = { 'long-names': { host: '198.19.96.10', port: 18000 } };

function renderGoldenCase(name: string): string {
  const gw = parse(readFileSync(join(dir, `${name}.yaml`), 'utf8')) as KnativeGateway;
  const objects = renderGatewayObjects(gw, { xds: XDS[name] ?? operatorXdsEndpoint() }).flatMap(
    fleetObjectList,
  );
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}

describe('golden fleet objects', () => {
  test('every case has a golden file and no golden file is stale', () => {
    const goldens = readdirSync(dir).filter((f) => f.endsWith('.golden.yaml'));
    const stale = goldens.filter((g) => !cases.includes(g.replace(/\.golden\.yaml$/, '')));
    if (update) for (const s of stale) unlinkSync(join(dir, s));
    else expect(stale).toEqual([]);
    expect(cases).toEqual(['full', 'long-names', 'sample']);
  });

  test.each(cases)('golden %s', (name) => {
    const actual = renderGoldenCase(name);
    const goldenFile = join(dir, `${name}.golden.yaml`);
    if (update) writeFileSync(goldenFile, actual);
    expect(existsSync(goldenFile)).toBe(true);
    expect(actual).toBe(readFileSync(goldenFile, 'utf8'));
  });
});
