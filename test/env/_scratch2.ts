import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from './control-plane.ts';
for (let i = 0; i < 2; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-x-'));
  const cp = await startControlPlane({ dir });
  let t = Date.now();
  await cp.stop();
  console.log('stop', Date.now() - t);
  t = Date.now();
  rmSync(dir, { recursive: true, force: true });
  console.log('rm', Date.now() - t);
}
