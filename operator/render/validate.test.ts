// Every golden case, rendered for both fleets, must be accepted by a real Envoy
// (`envoy --mode validate`, the wheel installed by test/env/setup.sh), and every resource must
// survive the xDS encoder: encode → decode gives back the same JSON (an Any whose type is not
// loaded would silently lose its content).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateEnvoyConfig } from '../../test/env/envoy.ts';
import { decodeResource, encodeResource } from '../xds/protojson.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE, TYPE_SECRET } from '../xds/protos.ts';
import { goldenCases, goldenDir, loadCase, renderCaseFleets } from '../../test/support/golden-cases.ts';
import { staticBootstrap } from '../../test/support/static-bootstrap.ts';

const cases = goldenCases(readdirSync(goldenDir));
const fleetsOf = (name: string) => renderCaseFleets(loadCase(join(goldenDir, `${name}.yaml`)));

describe.each(cases)('case %s', (name) => {
  test.each(['external', 'local'])(
    'fleet %s passes envoy --mode validate',
    async (fleet) => {
      const f = fleetsOf(name).find((x) => x.fleet === fleet)!;
      const { ok, output } = await validateEnvoyConfig(staticBootstrap(f.res));
      expect({ ok, output: ok ? '' : output }).toEqual({ ok: true, output: '' });
    },
    30_000,
  );

  test('every resource round-trips through the xDS encoder', () => {
    for (const { res } of fleetsOf(name)) {
      const sets: [string, Map<string, object>][] = [
        [TYPE_LISTENER, res.listeners],
        [TYPE_ROUTE, res.routes],
        [TYPE_CLUSTER, res.clusters],
        [TYPE_ENDPOINT, res.endpoints],
        [TYPE_SECRET, res.secrets],
      ];
      for (const [type, m] of sets) {
        for (const json of m.values()) {
          expect(decodeResource(type, encodeResource(type, json))).toEqual(json);
        }
      }
    }
  });
});

test('a broken config is rejected by envoy --mode validate (the check can fail)', async () => {
  const f = fleetsOf('basics')[0]!;
  const bad = staticBootstrap(f.res) as { static_resources: { clusters: { connect_timeout?: string }[] } };
  bad.static_resources.clusters[0]!.connect_timeout = '-1s';
  const { ok } = await validateEnvoyConfig(bad);
  expect(ok).toBe(false);
});
