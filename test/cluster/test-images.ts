// The test images build-test-images.sh makes (pause: the Pod sandbox; echo: an HTTP server on
// :8080 answering `hello from <hostname> <method> <path>`), as docker-archive tarballs under
// <cache>/test-images-<first 12 hex of the script's sha256>/, the same key the script uses.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../env/paths.ts';

const here = dirname(fileURLToPath(import.meta.url));

export const PAUSE_IMAGE = 'localhost/kgw-test/pause:1';
export const ECHO_IMAGE = 'localhost/kgw-test/echo:1';

export interface TestImages {
  dir: string;
  /** tarball of localhost/kgw-test/pause:1 */
  pause: string;
  /** tarball of localhost/kgw-test/echo:1 */
  echo: string;
}

/** Paths of the test image tarballs; throws (pointing at setup-node.sh) when they are not built. */
export function testImages(): TestImages {
  const script = readFileSync(join(here, 'build-test-images.sh'));
  const hash = createHash('sha256').update(script).digest('hex').slice(0, 12);
  const dir = join(cacheDir(), `test-images-${hash}`);
  const images = { dir, pause: join(dir, 'pause.tar'), echo: join(dir, 'echo.tar') };
  for (const f of [images.pause, images.echo]) {
    if (!existsSync(f)) throw new Error(`test image ${f} not built: run \`bash test/cluster/setup-node.sh\``);
  }
  return images;
}
