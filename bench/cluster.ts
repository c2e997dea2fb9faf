// Helpers for the benchmarks that run against the real test environment (kube-apiserver + etcd,
// the operator in this process, real Envoy fleets and a real backend; see test/e2e/harness.ts):
// create many KIngresses quickly, wait until the operator has made them Ready, read RSS.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import {
  INGRESS_CLASS_ANNOTATION,
  KGW_INGRESS_CLASS,
  type IngressSpec,
  type KIngress,
} from '../operator/api/kingress.ts';
import type { KubeRest } from '../operator/kube/rest.ts';
import { isReady } from '../operator/status/conditions.ts';
import { withDefaults } from '../operator/translate/defaults.ts';
import { ingressPath, TEST_NAMESPACE } from '../test/e2e/harness.ts';
import type { ControlPlane } from '../test/env/control-plane.ts';

export function benchSpec(host: string, service: string): IngressSpec {
  return {
    rules: [
      {
        hosts: [host],
        visibility: 'ExternalIP',
        http: {
          paths: [
            {
              splits: [
                {
                  serviceNamespace: TEST_NAMESPACE,
                  serviceName: service,
                  servicePort: 80,
                  percent: 100,
                  appendHeaders: { 'Knative-Serving-Revision': `${service}-1` },
                },
              ],
            },
          ],
        },
      },
    ],
  };
}

/**
 * Creates KIngresses `<prefix><from..to-1>` with `concurrency` requests in flight, over one
 * keep-alive TLS agent (thousands of objects; a TLS handshake per request would dominate).
 */
export async function createMany(
  cp: ControlPlane,
  prefix: string,
  from: number,
  to: number,
  service: string,
  concurrency = 32,
): Promise<void> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, ca: cp.caPem });
  const server = new URL(cp.server);
  const post = (body: object) =>
    new Promise<void>((resolve, reject) => {
      const payload = JSON.stringify(body);
      const req = https.request(
        {
          agent,
          method: 'POST',
          hostname: server.hostname,
          port: server.port,
          path: ingressPath(TEST_NAMESPACE),
          headers: {
            Authorization: `Bearer ${cp.token}`,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(payload),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            (res.statusCode ?? 0) < 300
              ? resolve()
              : reject(new Error(`POST ingress: ${res.statusCode} ${Buffer.concat(chunks).toString()}`)),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error('POST ingress: timeout')));
      req.on('error', reject);
      req.end(payload);
    });
  let next = from;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < to; i = next++) {
      const name = `${prefix}${i}`;
      const spec = withDefaults(benchSpec(`${name}.bench.example.com`, service));
      spec.httpOption = 'Enabled';
      await post({
        apiVersion: 'networking.internal.knative.dev/v1alpha1',
        kind: 'Ingress',
        metadata: {
          name,
          namespace: TEST_NAMESPACE,
          annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS },
        },
        spec,
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, () => worker()));
  } finally {
    agent.destroy();
  }
}

/**
 * Polls (every 1-3 s, bounded) until at least `count` KIngresses of the namespace are Ready;
 * `onPoll` hears the count after each poll that falls short (for progress lines).
 */
export async function waitReadyCount(
  rest: KubeRest,
  count: number,
  timeoutMs: number,
  onPoll?: (ready: number) => Promise<void>,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let ready = 0;
  for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
    const list = await rest.get<{ items: KIngress[] }>(ingressPath(TEST_NAMESPACE));
    ready = list.items.filter(isReady).length;
    if (ready >= count) return ready;
    await onPoll?.(ready);
    await new Promise((r) => setTimeout(r, count > 2000 ? 3000 : 1000));
  }
  throw new Error(`only ${ready} of ${count} KIngresses Ready after ${timeoutMs} ms`);
}

/** RSS and heap of this process (the operator runs in it), in MiB. */
export function memory(): { rss: number; heap: number } {
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
}

/** RSS of another process, in MiB (Linux). */
/** A `/proc/<pid>/status` field in kB, as MiB (NaN when missing). */
function statusMib(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) / 1024;
}

export function rssOf(pid: number): number {
  return statusMib(pid, 'VmRSS');
}

/** RSS split: anonymous memory (heaps, malloc) and file-backed pages (mostly the node binary). */
export function rssParts(pid: number): string {
  return `rss_anon_mib=${statusMib(pid, 'RssAnon').toFixed(0)} rss_file_mib=${statusMib(pid, 'RssFile').toFixed(0)}`;
}
