// test/cluster/build-images.sh reads two of kgw's constants out of the TypeScript sources with sed
// (it runs before any Node is set up): the Envoy image name and the Envoy uid. When a constant
// moves to another module, the cluster tier fails late; this runs the script's own lines and
// compares what they find with the constants.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ENVOY_IMAGE } from '../../operator/api/knativegateway.ts';
import { ENVOY_UID } from '../../operator/fleets/fleet-names.ts';

const repo = join(import.meta.dirname, '../..');

test('build-images.sh finds the Envoy image name and uid where the sources define them', () => {
  const script = readFileSync(join(repo, 'test/cluster/build-images.sh'), 'utf8').split('\n');
  const line = (name: string) => {
    const l = script.find((s) => s.startsWith(`${name}=$(sed -n `));
    expect(l).toBeDefined();
    return l!;
  };
  const r = spawnSync(
    'bash',
    ['-c', `set -e; ${line('envoy_name')}; ${line('envoy_uid')}; echo "$envoy_name"; echo "$envoy_uid"`],
    { env: { ...process.env, repo }, encoding: 'utf8' },
  );
  expect(r.status).toBe(0);
  expect(r.stdout.trim().split('\n')).toEqual([DEFAULT_ENVOY_IMAGE, String(ENVOY_UID)]);
});
