// globalSetup of the jest project `cluster`: installs and builds what the cluster needs
// (setup-node.sh: Debian packages, the Kubernetes binaries, crictl, CoreDNS, the test images) —
// ~0.2 s when everything is there, minutes of Go builds the first time (progress on stderr).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export default function globalSetup(): void {
  if (process.env.KGW_SKIP_SETUP === '1') return;
  const r = spawnSync('bash', [join(here, 'setup-node.sh')], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 60 * 60_000,
  });
  if (r.status !== 0) {
    throw new Error(
      `test/cluster/setup-node.sh failed (exit ${r.status ?? r.signal ?? r.error?.message ?? '?'}); see its output above`,
    );
  }
}
