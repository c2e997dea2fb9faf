// Generated hostile input (fast-check, fixed seed, bounded case count): KIngress specs built from
// valid shapes with any field replaced, now and then, by a value of the wrong type, a string Envoy
// would read as a format (`100%`, `%DOWNSTREAM_REMOTE_ADDRESS%`), control characters, oversized
// values, or arbitrary JSON; backends that are ExternalNames to localhost, another namespace or an
// allowed outside name; a valid and a junk Secret. Three invariants:
//   1. nothing escapes: parse, translate, the encode check and render never throw;
//   2. whatever kgw accepts, Envoy accepts: the rendered fleets pass `envoy --mode validate` (a
//      real Envoy) and every resource survives the xDS encoder;
//   3. one bad object never changes another's configuration: the routes, clusters and TLS chains of
//      a fixed set of good KIngresses are identical with and without the generated ones.
import { join } from 'node:path';
import fc from 'fast-check';
import type { EndpointSlice, Secret, Service } from '../api/core.ts';
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS, type KIngress } from '../api/kingress.ts';
import { encodeProblem } from '../controller/encode-check.ts';
import { validateEnvoyConfig } from '../../test/env/envoy.ts';
import { resolveConflicts, type Candidate } from '../translate/conflicts.ts';
import type { ExternalNamePolicy } from '../translate/external-names.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { IngressIR } from '../translate/ir.ts';
import { lookupsFromObjects, type Lookups } from '../translate/lookups.ts';
import { encodeMessageByBufbuild, encodeResource } from '../xds/protojson.ts';
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SECRET,
  messageType,
  typeNameOfUrl,
} from '../xds/protos.ts';
import { renderFleet, type FleetResources } from './fleet.ts';
import { goldenDir, goldenFleets, loadCase } from '../../test/support/golden-cases.ts';
import { staticBootstrap } from '../../test/support/static-bootstrap.ts';
import type { Json } from './types.ts';
import { backendData } from '../translate/backend-data.ts';

const SEED = 20261206;
/** Batches of generated KIngresses checked against a real Envoy, and KIngresses per batch. */
const ENVOY_RUNS = 80;
/** Batches checked for invariants 1 and 3 only (no Envoy: fast). */
const PURE_RUNS = 250;
const BATCH = 16;

const GEN = 'gen';
const GOOD = 'good';
const cert = loadCase(join(goldenDir, 'tls-redirect.yaml')).secrets[0]!;

function svc(namespace: string, name: string, spec: object): Service {
  return { metadata: { namespace, name }, spec };
}

function slice(namespace: string, service: string, addresses: unknown[]): EndpointSlice {
  return {
    metadata: { namespace, name: `${service}-1`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080 }],
    endpoints: [{ addresses }],
  } as EndpointSlice;
}

const services: Service[] = [GOOD, GEN].flatMap((ns) => [
  svc(ns, 'web', { ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
  svc(ns, 'grpc', { ports: [{ name: 'h2c', port: 81, targetPort: 8081 }] }),
  svc(ns, 'to-localhost', { type: 'ExternalName', externalName: 'localhost', ports: [{ port: 19000 }] }),
  svc(ns, 'to-other-ns', { type: 'ExternalName', externalName: 'web.elsewhere.svc.cluster.local' }),
  svc(ns, 'to-own-ns', {
    type: 'ExternalName',
    externalName: `web.${ns}.svc.cluster.local`,
    ports: [{ port: 80 }],
  }),
  svc(ns, 'to-outside', { type: 'ExternalName', externalName: 'api.example.net', ports: [{ port: 443 }] }),
  svc(ns, 'odd', { ports: 'x' }),
]);
const slices: EndpointSlice[] = [GOOD, GEN].flatMap((ns) => [
  slice(ns, 'web', ['198.18.9.1', '198.18.9.2']),
  slice(ns, 'grpc', ['198.18.9.3', '127.0.0.1', 42, '169.254.169.254']),
]);
const secrets: Secret[] = [GOOD, GEN].flatMap((ns) => [
  { ...cert, metadata: { name: 'cert', namespace: ns } },
  {
    metadata: { name: 'junk', namespace: ns },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'eA==', 'tls.key': '' },
  },
]);
const policy: ExternalNamePolicy = {
  namespaces: [],
  services: [],
  hosts: [{ suffix: 'example.net', ports: [443] }],
  reservedPorts: [8080, 8443, 8081, 8444, 19003],
};
const lookups: Lookups = lookupsFromObjects({ services, slices, secrets }, 'cluster.local', policy);

// --- generators -------------------------------------------------------------------------------
// Every choice is an unbiased draw (fast-check's bias towards small and extreme values would bend
// the weights below and make far more values nasty than intended).

/** One of the arbitraries, picked with the given weights. */
function weighted<T>(...choices: [number, fc.Arbitrary<T>][]): fc.Arbitrary<T> {
  const total = choices.reduce((n, [w]) => n + w, 0);
  return fc.noBias(fc.integer({ min: 0, max: total - 1 })).chain((draw) => {
    let r = draw;
    for (const [w, arb] of choices) {
      if (r < w) return arb;
      r -= w;
    }
    return choices[0]![1];
  });
}

/** One of the values, with equal chances. */
function anyOf<T>(...values: T[]): fc.Arbitrary<T> {
  return fc.noBias(fc.integer({ min: 0, max: values.length - 1 })).map((i) => values[i]!);
}

/** Strings that have broken proxies: format strings, CRLF, huge, non-ASCII, path tricks. */
const nastyString = anyOf(
  '',
  '/',
  '100%',
  '%DOWNSTREAM_REMOTE_ADDRESS%',
  '%',
  '%%',
  'a\r\nInjected: 1',
  'nul\u0000',
  'ünïcødé',
  '😀',
  'a b',
  ':authority',
  'Host',
  'x'.repeat(16385),
  '%'.repeat(8193),
  '/../..',
  '/a?b#c',
  '*',
  '-1',
  'localhost',
);
const json = fc.anything({ maxDepth: 2, maxKeys: 3 });
/**
 * Usually `good`; 0.5% of the time a nasty string, 0.2% any JSON at all (a KIngress has some 40 such
 * fields, so about a quarter of the generated KIngresses carry at least one).
 */
function sometimes<T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return weighted<unknown>([993, good], [5, nastyString], [2, json]);
}
const host = weighted<string>(
  [30, fc.noBias(fc.nat({ max: 99_999 })).map((n) => `h${n}.gen.example.org`)],
  [
    2,
    anyOf('a.gen.example.org', '*.gen.example.org', 'good-0.example.com', 'x.gen.svc.cluster.local', 'x.gen'),
  ],
  [1, fc.string({ maxLength: 12 })],
);
const headerName = weighted([20, anyOf('X-A', 'X-Tag', 'K-Original-Host', 'x_b')], [1, nastyString]);
const headerValue = weighted([6, fc.string({ maxLength: 16 })], [1, nastyString]);
const headerMap = fc.dictionary(headerName, sometimes(headerValue), { maxKeys: 3 });
const matchMap = fc.dictionary(headerName, sometimes(fc.record({ exact: headerValue })), { maxKeys: 2 });
/** A backend: mostly ones that resolve, sometimes a refused ExternalName, a missing Service, … */
const backend = weighted<object>(
  [8, fc.constant({ serviceName: 'web', servicePort: 80 })],
  [4, fc.constant({ serviceName: 'grpc', servicePort: 'h2c' })],
  [3, fc.constant({ serviceName: 'to-own-ns', servicePort: 80 })],
  [3, fc.constant({ serviceName: 'to-outside', servicePort: 443 })],
  [
    1,
    fc.record({
      serviceName: anyOf('to-localhost', 'to-other-ns', 'odd', 'missing', 'web'),
      servicePort: anyOf<number | string>(80, 19000, 'http', 0, 70000, 80.5),
    }),
  ],
);
const optional = <T>(arb: fc.Arbitrary<T>, percent: number) =>
  weighted<T | undefined>([percent, arb], [100 - percent, fc.constant(undefined)]);
const splitOf = (percent: number | undefined) =>
  fc
    .record({
      serviceNamespace: sometimes(weighted([100, fc.constant(GEN)], [1, anyOf(GOOD, 'kube-system')])),
      backend,
      appendHeaders: optional(sometimes(headerMap), 30),
    })
    .chain(({ backend: b, appendHeaders, ...rest }) =>
      sometimes(
        fc.constant({
          ...rest,
          ...b,
          ...(percent !== undefined ? { percent } : {}),
          ...(appendHeaders !== undefined ? { appendHeaders } : {}),
        }),
      ),
    );
/** Splits whose percents add up (as Knative writes them) but now and then do not. */
const splits = weighted<unknown[]>(
  [4, fc.tuple(splitOf(undefined))],
  [3, fc.tuple(splitOf(100))],
  [3, fc.tuple(splitOf(50), splitOf(50))],
  [2, fc.tuple(splitOf(70), splitOf(30), splitOf(0))],
  [1, fc.tuple(splitOf(60), splitOf(60))],
);
const path = fc
  .record({
    path: optional(sometimes(anyOf('/', '/api', '/.well-known/acme-challenge/t', '/a/b')), 50),
    rewriteHost: optional(sometimes(anyOf('web.gen.svc.cluster.local', 'rewritten.example.org')), 15),
    headers: optional(sometimes(matchMap), 20),
    splits: sometimes(splits),
    appendHeaders: optional(sometimes(headerMap), 30),
  })
  .map(dropUndefined);
const rule = fc
  .record({
    hosts: sometimes(fc.array(host, { minLength: 1, maxLength: 3 })),
    visibility: optional(sometimes(anyOf('ExternalIP', 'ClusterLocal', '')), 70),
    http: sometimes(fc.record({ paths: sometimes(fc.array(path, { minLength: 1, maxLength: 2 })) })),
  })
  .map(dropUndefined);
const tls = fc.record({
  hosts: sometimes(fc.array(host, { maxLength: 2 })),
  secretName: sometimes(weighted([8, fc.constant('cert')], [1, anyOf('junk', 'missing')])),
  secretNamespace: sometimes(weighted([20, fc.constant(GEN)], [1, fc.constant(GOOD)])),
});
const spec = sometimes(
  fc
    .record({
      rules: sometimes(fc.array(rule, { minLength: 1, maxLength: 2 })),
      tls: optional(sometimes(fc.array(tls, { maxLength: 2 })), 30),
      httpOption: optional(sometimes(anyOf('Enabled', 'Redirected', '')), 80),
    })
    .map(dropUndefined),
);

/** The object without its undefined fields (as JSON from the API server would be). */
function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function kingress(namespace: string, name: string, created: string, s: unknown): KIngress {
  return {
    metadata: {
      namespace,
      name,
      generation: 1,
      creationTimestamp: created,
      annotations: { [INGRESS_CLASS_ANNOTATION]: KGW_INGRESS_CLASS },
    },
    spec: s as KIngress['spec'],
  };
}

/** The good KIngresses: older than any generated one, so a generated host never takes theirs. */
const good: KIngress[] = [0, 1, 2].map((i) =>
  kingress(GOOD, `good-${i}`, '2020-01-01T00:00:00Z', {
    rules: [
      {
        hosts: [`good-${i}.example.com`],
        visibility: i === 2 ? 'ClusterLocal' : 'ExternalIP',
        http: {
          paths: [
            {
              path: '/',
              appendHeaders: { 'X-Good': `${i}` },
              splits: [
                {
                  serviceNamespace: GOOD,
                  serviceName: i === 1 ? 'grpc' : 'web',
                  servicePort: i === 1 ? 81 : 80,
                },
              ],
            },
          ],
        },
      },
    ],
    ...(i === 0
      ? { tls: [{ hosts: ['good-0.example.com'], secretName: 'cert', secretNamespace: GOOD }] }
      : {}),
    httpOption: 'Enabled',
  }),
);
const batch = fc
  .array(spec, { minLength: BATCH, maxLength: BATCH })
  .map((specs) =>
    specs.map((s, i) => kingress(GEN, `gen-${i}`, `2021-01-01T00:00:${String(i).padStart(2, '0')}Z`, s)),
  );

// --- the pipeline under test ----------------------------------------------------------------------

interface Outcome {
  accepted: IngressIR[];
  /** Refused by translation or the encode check. */
  refused: number;
  /** Translated, but every host taken by an older KIngress (DomainConflict). */
  conflicted: number;
  fleets: { fleet: string; res: FleetResources }[];
}

/** translate (+ encode check) → conflicts → renderFleet per golden fleet; throws only on a kgw bug. */
function pipeline(ingresses: KIngress[]): Outcome {
  const candidates: Candidate[] = [];
  let refused = 0;
  for (const ing of ingresses) {
    const r = translateIngress(ing, lookups);
    const problem = r.ok ? encodeProblem(r.ir) : undefined;
    if (r.ok && !problem) candidates.push({ ir: r.ir, created: ing.metadata.creationTimestamp ?? '' });
    else refused++;
  }
  const { accepted, conflicts } = resolveConflicts(candidates);
  const fleets = Object.entries(goldenFleets).map(([fleet, opts]) => ({
    fleet,
    res: renderFleet(opts, accepted, backendData(lookups)),
  }));
  return { accepted, refused, conflicted: conflicts.size, fleets };
}

/** What belongs to the good KIngresses in a fleet's resources. */
function goodPart(res: FleetResources): Json {
  const mine = (name: unknown) => typeof name === 'string' && name.startsWith(`${GOOD}/`);
  const vhosts = [...res.routes.values()].map((rc) => ({
    name: rc.name,
    vhosts: ((rc.virtual_hosts as Json[] | undefined) ?? []).filter((v) => mine(v.name)),
  }));
  const chains = [...res.listeners.values()].flatMap((l) =>
    ((l.filter_chains as Json[] | undefined) ?? []).filter((c) => mine(c.name)),
  );
  const clusters = [...res.clusters.entries()].filter(([n]) => mine(n));
  const endpoints = [...res.endpoints.entries()].filter(([n]) => mine(n));
  return { vhosts, chains, clusters, endpoints };
}

const goodOnly = pipeline(good);

test('the good KIngresses alone are accepted and served (the baseline of invariant 3)', () => {
  expect(goodOnly.accepted.map((ir) => ir.key)).toEqual(['good/good-0', 'good/good-1', 'good/good-2']);
});

test('invariants 1 and 3 over generated KIngresses: nothing throws, the good ones are untouched', () => {
  let accepted = 0;
  let refused = 0;
  let conflicted = 0;
  fc.assert(
    fc.property(batch, (generated) => {
      const out = pipeline([...good, ...generated]);
      accepted += out.accepted.length - good.length;
      refused += out.refused;
      conflicted += out.conflicted;
      for (const [i, f] of out.fleets.entries()) {
        expect(goodPart(f.res)).toEqual(goodPart(goodOnly.fleets[i]!.res));
      }
    }),
    { seed: SEED, numRuns: PURE_RUNS },
  );
  // the generator must exercise both sides (kgw accepts a good share and refuses a good share)
  const total = PURE_RUNS * BATCH;
  expect(accepted + refused + conflicted).toBe(total);
  expect(accepted).toBeGreaterThan(total * 0.2);
  expect(refused).toBeGreaterThan(total * 0.2);
});

test('invariant 2 over generated KIngresses: whatever kgw accepts, a real Envoy accepts', async () => {
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(batch, async (generated) => {
      const out = pipeline([...good, ...generated]);
      accepted += out.accepted.length - good.length;
      for (const { fleet, res } of out.fleets) {
        const sets: [string, Map<string, Json>][] = [
          [TYPE_LISTENER, res.listeners],
          [TYPE_ROUTE, res.routes],
          [TYPE_CLUSTER, res.clusters],
          [TYPE_ENDPOINT, res.endpoints],
          [TYPE_SECRET, res.secrets],
        ];
        // the direct encoder writes exactly bufbuild's bytes (protojson-fast.ts)
        for (const [type, m] of sets)
          for (const r of m.values())
            expect(
              encodeResource(type, r).equals(encodeMessageByBufbuild(messageType(typeNameOfUrl(type)), r)),
            ).toBe(true);
        const { ok, output } = await validateEnvoyConfig(staticBootstrap(res));
        expect({ fleet, ok, output: ok ? '' : output.slice(0, 2000) }).toEqual({
          fleet,
          ok: true,
          output: '',
        });
      }
    }),
    { seed: SEED, numRuns: ENVOY_RUNS },
  );
  expect(accepted).toBeGreaterThan(ENVOY_RUNS * BATCH * 0.2);
}, 600_000);
