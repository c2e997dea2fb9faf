// Benchmark (prints figures, asserts nothing): what a RoutePolicy with API-key auth and a rate
// limit adds to each request. Real kube-apiserver + etcd, the operator in this process, real Envoy
// fleets and a real backend (the e2e harness); a bounded Node client on this machine sends
// requests at a fixed rate to one Envoy, alternating between a host without a policy and one
// with a policy (keys from a Secret, a per-key limit far above the rate) so that both see the same
// machine load, and prints p50/p99/max latency of each.
//   node bench/policy.ts [--rate 200] [--requests 2000]
import { parseArgs } from 'node:util';
import { newLogger } from '../operator/log.ts';
import { httpRequest } from '../test/backends/client.ts';
import {
  createIngress,
  ensureNamespace,
  publicGateway,
  startEnv,
  startTestBackend,
  waitReady,
} from '../test/e2e/harness.ts';
import { fixedRate, fmt, percentile } from './fixtures.ts';

const { values } = parseArgs({
  options: { rate: { type: 'string', default: '200' }, requests: { type: 'string', default: '2000' } },
});
const RATE = Math.min(Math.max(Number(values.rate), 1), 2000);
const N = Math.min(Math.max(Number(values.requests), 10), 20_000);
const NS = 'bench-policy';
const HOST = `hello.${NS}.example.com`;
const PLAIN = `plain.${NS}.example.com`;

const env = await startEnv({ log: newLogger('bench', 'silent') });
try {
  await ensureNamespace(env.rest, NS);
  await startTestBackend(env, { name: 'hello', namespace: NS });
  await createIngress(
    env,
    'hello',
    {
      rules: [
        {
          hosts: [HOST],
          visibility: 'ExternalIP',
          http: {
            paths: [
              { splits: [{ serviceNamespace: NS, serviceName: 'hello', servicePort: 80, percent: 100 }] },
            ],
          },
        },
      ],
    },
    NS,
  );
  await createIngress(
    env,
    'plain',
    {
      rules: [
        {
          hosts: [PLAIN],
          visibility: 'ExternalIP',
          http: {
            paths: [
              { splits: [{ serviceNamespace: NS, serviceName: 'hello', servicePort: 80, percent: 100 }] },
            ],
          },
        },
      ],
    },
    NS,
  );
  await waitReady(env, 'plain', NS);
  // the policy targets Route hello: the KIngress carries the Route's label as Knative sets it
  await env.rest.request(
    'PATCH',
    `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${NS}/ingresses/hello`,
    { metadata: { labels: { 'serving.knative.dev/route': 'hello' } } },
    'application/merge-patch+json',
  );
  const gw = await publicGateway(env, await waitReady(env, 'hello', NS));

  /**
   * N requests at RATE per second (each starts on its slot; at most 64 in flight), alternating the
   * plain host and the policy host; latencies in ms of each.
   */
  async function phase(key: Record<string, string>): Promise<{ plain: number[]; policy: number[] }> {
    const out = { plain: [] as number[], policy: [] as number[] };
    let bad = 0;
    await fixedRate(N, RATE, async (i) => {
      const withPolicy = i % 2 === 1;
      const s = performance.now();
      const res = await httpRequest({
        address: gw.address,
        port: gw.port,
        host: withPolicy ? HOST : PLAIN,
        headers: withPolicy ? key : {},
        timeoutMs: 10_000,
      });
      (withPolicy ? out.policy : out.plain).push(performance.now() - s);
      if (res.status !== 200) bad++;
    });
    if (bad > 0) console.log(`bench policy: ${bad} of ${N} answers were not 200`);
    out.plain.sort((a, b) => a - b);
    out.policy.sort((a, b) => a - b);
    return out;
  }
  const line = (name: string, l: number[]) =>
    console.log(
      `bench policy host=${name} rate=${RATE}/s requests=${l.length} p50_ms=${fmt(percentile(l, 50))} ` +
        `p99_ms=${fmt(percentile(l, 99))} max_ms=${fmt(l[l.length - 1] ?? 0)}`,
    );

  await env.rest.request('POST', `/api/v1/namespaces/${NS}/secrets`, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'keys', namespace: NS },
    stringData: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`client${i}`, `key-${i}-bench`])),
  });
  await env.rest.request('POST', `/apis/policy.kgw.dev/v1alpha1/namespaces/${NS}/routepolicies`, {
    apiVersion: 'policy.kgw.dev/v1alpha1',
    kind: 'RoutePolicy',
    metadata: { name: 'p', namespace: NS },
    spec: {
      targetRefs: [{ kind: 'Route', name: 'hello' }],
      apiKeyAuth: {
        keySources: [{ header: 'x-ca-key' }],
        credentialsFrom: [{ secretRef: { name: 'keys' } }],
      },
      rateLimit: {
        rules: [{ name: 'per-key', key: { header: 'x-ca-key' }, requests: 1_000_000, per: 'Second' }],
      },
    },
  });
  const headers = { 'x-ca-key': 'key-42-bench' };
  for (let i = 0; i < 200; i++) {
    const r = await httpRequest({ address: gw.address, port: gw.port, host: HOST });
    if (r.status === 401) break; // the policy is in force
    await new Promise((res) => setTimeout(res, 100));
  }
  await phase(headers); // warm-up: connections, caches
  const { plain, policy } = await phase(headers);
  line('no-policy', plain);
  line('apiKeyAuth+rateLimit', policy);
  console.log(
    `bench policy added_p50_ms=${fmt(percentile(policy, 50) - percentile(plain, 50))} ` +
      `added_p99_ms=${fmt(percentile(policy, 99) - percentile(plain, 99))}`,
  );
} finally {
  await env.stop();
}
