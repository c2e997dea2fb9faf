// Synthetic KIngresses and the Services/EndpointSlices they reference, shaped like what Knative
// Serving creates for a Route with two revisions (90/10 split, tag headers) and its cluster-local
// hosts. Shared by the benchmarks.
import type { EndpointSlice, Service } from '../operator/api/core.ts';
import { withClientIPDefaults, withHttpDefaults } from '../operator/api/knativegateway.ts';
import type { KIngress } from '../operator/api/kingress.ts';

export function ingress(i: number, gen = 1): KIngress {
  const ns = `ns${i % 50}`;
  return {
    metadata: { name: `app${i}`, namespace: ns, generation: gen, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      httpOption: 'Enabled',
      rules: [
        {
          hosts: [`app${i}.${ns}.example.com`],
          visibility: 'ExternalIP',
          http: {
            paths: [
              {
                splits: [
                  {
                    serviceNamespace: ns,
                    serviceName: `app${i}-1`,
                    servicePort: 80,
                    percent: 90,
                    appendHeaders: { 'Knative-Serving-Revision': `app${i}-1` },
                  },
                  {
                    serviceNamespace: ns,
                    serviceName: `app${i}-2`,
                    servicePort: 80,
                    percent: 10,
                    appendHeaders: { 'Knative-Serving-Revision': `app${i}-2-g${gen}` },
                  },
                ],
              },
            ],
          },
        },
        {
          hosts: [`app${i}.${ns}.svc.cluster.local`, `app${i}.${ns}.svc`, `app${i}.${ns}`],
          visibility: 'ClusterLocal',
          http: {
            paths: [
              { splits: [{ serviceNamespace: ns, serviceName: `app${i}-1`, servicePort: 80, percent: 100 }] },
            ],
          },
        },
      ],
    },
  };
}

export function objects(n: number) {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    for (const r of [1, 2]) {
      const ns = `ns${i % 50}`;
      services.push({
        metadata: { name: `app${i}-${r}`, namespace: ns },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 8012 }] },
      });
      slices.push({
        metadata: {
          name: `app${i}-${r}-x`,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': `app${i}-${r}` },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8012 }],
        // one address per (i, r) inside 198.18.0.0/15 (the range every kgw test address is in)
        endpoints: [{ addresses: [ipInTestRange(i * 4 + r)] }],
      });
    }
  }
  return { services, slices };
}

/** The n-th address of 198.18.0.0/15 (n < 131072). */
function ipInTestRange(n: number): string {
  return `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`;
}

/** The default edge settings of a fleet. */
const EDGE = { http: withHttpDefaults(undefined), clientIP: withClientIPDefaults(undefined) };

/** The two fleets of the sample gateway (the golden fleets' options). */
export const FLEETS = [
  {
    key: 'default/external',
    opts: {
      visibility: 'ExternalIP' as const,
      httpPort: 8080,
      httpsPort: 8443,
      accessLog: false as const,
      ...EDGE,
    },
  },
  {
    key: 'default/local',
    opts: {
      visibility: 'ClusterLocal' as const,
      httpPort: 8081,
      httpsPort: 8444,
      accessLog: false as const,
      ...EDGE,
    },
  },
];

export const CREATED = '2026-01-01T00:00:00Z';

export function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Nearest-rank percentile of a list of figures. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function sizes(defaults: number[]): number[] {
  const args = process.argv.slice(2).filter((a) => /^\d+$/.test(a));
  return args.length > 0 ? args.map(Number) : defaults;
}

/**
 * `n` calls of `send(i)` at `rate` per second, each started on its slot (open loop: a slow answer
 * does not delay the next request), at most `maxInFlight` at once; resolves when all have ended.
 * Latency figures of the dataplane and policy benches come from this one loop.
 */
export async function fixedRate(
  n: number,
  rate: number,
  send: (i: number) => Promise<void>,
  maxInFlight = 64,
): Promise<void> {
  const t0 = performance.now();
  const inflight = new Set<Promise<void>>();
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inflight.size >= maxInFlight) await Promise.race(inflight);
    const p: Promise<void> = send(i).finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
}
