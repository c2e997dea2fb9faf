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

/** How many objects of each kind `createUnrelated` makes (2,000 in all). */
export const UNRELATED = { namespaces: 10, secrets: 600, configMaps: 600, pods: 500, services: 150 };

/**
 * A realistic cluster around kgw: objects it must not hold, in UNRELATED.namespaces app
 * namespaces (`bench-app-<i>`): Secrets with 2-4 KB of data each, ConfigMaps with ~1-2 KB, Pods
 * (Pending: the apiserver has no nodes), and Services with one EndpointSlice each (kgw watches
 * every Service and EndpointSlice of the cluster; Secrets as metadata only; ConfigMaps and Pods
 * not at all). Every object gets the managedFields the apiserver records on a create. Returns
 * how many objects of each kind were created (bounded: one request per object, 8 in flight).
 */
export async function createUnrelated(rest: KubeRest): Promise<Record<string, number>> {
  const counts: Record<string, number> = {
    secrets: 0,
    configMaps: 0,
    pods: 0,
    services: 0,
    endpointSlices: 0,
  };
  const nsOf = (i: number) => `bench-app-${i % UNRELATED.namespaces}`;
  for (let i = 0; i < UNRELATED.namespaces; i++) {
    const ns = nsOf(i);
    await rest.request('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns },
    });
    // the ServiceAccount admission plugin wants the default account, which no controller makes here
    await rest.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default' },
    });
  }
  // deterministic filler (the bench must not depend on randomness for its sizes)
  const filler = (i: number, bytes: number) =>
    Buffer.alloc(bytes, `${i}-kgw-bench-filler-`).toString('base64');
  const labels = (i: number) => ({ app: `app-${i}`, 'app.kubernetes.io/part-of': 'bench-unrelated' });
  const jobs: (() => Promise<void>)[] = [];
  for (let i = 0; i < UNRELATED.secrets; i++) {
    const ns = nsOf(i);
    jobs.push(async () => {
      await rest.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `secret-${i}`, labels: labels(i) },
        type: 'Opaque',
        data: { 'tls.crt': filler(i, 1500 + (i % 3) * 500), 'tls.key': filler(i + 1, 700) },
      });
      counts.secrets!++;
    });
  }
  for (let i = 0; i < UNRELATED.configMaps; i++) {
    const ns = nsOf(i);
    jobs.push(async () => {
      await rest.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `config-${i}`, labels: labels(i) },
        data: { 'app.yaml': filler(i, 800 + (i % 4) * 300), LOG_LEVEL: 'info' },
      });
      counts.configMaps!++;
    });
  }
  for (let i = 0; i < UNRELATED.pods; i++) {
    const ns = nsOf(i);
    jobs.push(async () => {
      await rest.request('POST', `/api/v1/namespaces/${ns}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `app-${i}`, labels: labels(i) },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'app',
              image: `registry.example.com/app-${i % 40}:1.${i % 7}`,
              ports: [{ containerPort: 8080 }],
              env: [{ name: 'CONFIG', value: `config-${i}` }],
              resources: { requests: { cpu: '100m', memory: '128Mi' } },
            },
          ],
        },
      });
      counts.pods!++;
    });
  }
  for (let i = 0; i < UNRELATED.services; i++) {
    const ns = nsOf(i);
    jobs.push(async () => {
      await rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: `app-${i}`, labels: labels(i) },
        spec: { selector: { app: `app-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
      });
      counts.services!++;
      await rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `app-${i}-1`, labels: { 'kubernetes.io/service-name': `app-${i}` } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080 }],
        endpoints: [0, 1, 2].map((k) => ({
          addresses: [`10.${(i >> 8) & 255}.${i & 255}.${k + 10}`],
          conditions: { ready: true },
          targetRef: { kind: 'Pod', namespace: ns, name: `app-${(i + k) % UNRELATED.pods}` },
        })),
      });
      counts.endpointSlices!++;
    });
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let j = next++; j < jobs.length; j = next++) await jobs[j]!();
    }),
  );
  return counts;
}
