// IngressPipeline on its own: a gateway with two fleets, an in-memory world for translation's
// lookups, and a recording snapshot target whose versions count the pushes of each type. No API
// server, no Envoy: what the pipeline pushes, which KIngress it reports what for, and how a NACK
// is paid for.
import type { EndpointSlice, Service } from '../api/core.ts';
import type { KnativeGateway } from '../api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION, KGW_INGRESS_CLASS, ingressKey, type KIngress } from '../api/kingress.ts';
import { newLogger } from '../log.ts';
import { FLEET_MEMBERS_CLUSTER } from '../render/bootstrap.ts';
import { withDefaults } from '../translate/defaults.ts';
import type { Lookups } from '../translate/lookups.ts';
import type { SnapshotInput } from '../xds/cache.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, TYPE_ROUTE, type TypeUrl } from '../xds/protos.ts';
import type { AckEvent } from '../xds/types.ts';
import { DependencyIndex } from './dependencies.ts';
import { EndpointWait } from './endpoint-wait.ts';
import { gatewayConfig } from './gateways.ts';
import { IngressPipeline } from './ingress-pipeline.ts';

const log = newLogger('test', 'silent');
const GW: KnativeGateway = {
  metadata: { name: 'g', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    fleets: [
      { name: 'ext', visibility: 'ExternalIP' },
      { name: 'local', visibility: 'ClusterLocal' },
    ],
    knative: { configure: false },
  },
};
const CONFIG = gatewayConfig(GW as never, log)!;
const FLEETS = ['g/ext', 'g/local'];

/**
 * Services with one ready endpoint each; `explode` makes the lookup throw (a kgw bug). Arrow
 * properties, not methods: translation gets the lookups spread into an object, as the engine's are.
 */
class World implements Lookups {
  readonly clusterDomain = 'cluster.local';
  readonly services = new Set<string>();
  explode = '';
  service = (ns: string, name: string): Service | undefined => {
    if (name === this.explode) throw new Error('lookup exploded');
    if (!this.services.has(`${ns}/${name}`)) return undefined;
    return {
      metadata: { name, namespace: ns },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    };
  };
  secret() {
    return undefined;
  }
  endpointSlices(ns: string, svc: string): EndpointSlice[] {
    if (!this.services.has(`${ns}/${svc}`)) return [];
    return [
      {
        metadata: { name: `${svc}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': svc } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080 }],
        endpoints: [{ addresses: ['198.18.0.10'], conditions: { ready: true } }],
      },
    ];
  }
}

/** Records every push; versions are per fleet and type, bumped when a push carries the type. */
class Target {
  readonly pushes: { fleet: string; types: TypeUrl[]; input: SnapshotInput }[] = [];
  private readonly versions = new Map<string, number>();
  setSnapshot(fleet: string, input: SnapshotInput): void {
    const types = Object.keys(input) as TypeUrl[];
    for (const t of types) this.versions.set(`${fleet} ${t}`, (this.versions.get(`${fleet} ${t}`) ?? 0) + 1);
    this.pushes.push({ fleet, types, input });
  }
  snapshotVersion(fleet: string, t: TypeUrl): string | undefined {
    const v = this.versions.get(`${fleet} ${t}`);
    return v === undefined ? undefined : String(v);
  }
  /** Route names (virtual host domains) the last route push to `fleet` carried. */
  domains(fleet: string): string[] {
    const last = [...this.pushes].reverse().find((p) => p.fleet === fleet && p.input[TYPE_ROUTE]);
    const routes = [...(last?.input[TYPE_ROUTE]?.values() ?? [])] as {
      virtual_hosts?: { domains?: string[] }[];
    }[];
    return routes.flatMap((r) => (r.virtual_hosts ?? []).flatMap((v) => v.domains ?? [])).sort();
  }
}

function kingress(
  name: string,
  host: string,
  service: string,
  cls = KGW_INGRESS_CLASS,
  generation = 1,
): KIngress {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name,
      namespace: 'ns',
      generation,
      creationTimestamp: '2026-01-01T00:00:00Z',
      annotations: { [INGRESS_CLASS_ANNOTATION]: cls },
    },
    spec: withDefaults({
      rules: [
        {
          hosts: [host],
          visibility: 'ExternalIP',
          http: { paths: [{ splits: [{ serviceNamespace: 'ns', serviceName: service, servicePort: 80 }] }] },
        },
      ],
    }),
  };
}

function setup() {
  const world = new World();
  const target = new Target();
  const store = new Map<string, KIngress>();
  const calls = { statusChanged: [] as string[], forgotten: [] as string[], restartProbe: [] as string[] };
  const counters = { pushes: 0, pushMs: 0 };
  const pipeline = new IngressPipeline({
    log,
    xds: target,
    lookups: world,
    ingress: (k) => store.get(k),
    deps: new DependencyIndex(() => undefined),
    secretPending: () => false,
    endpointWait: new EndpointWait(() => undefined),
    policyPrint: () => '',
    statusChanged: (k) => calls.statusChanged.push(k),
    forgotten: (k) => calls.forgotten.push(k),
    restartProbe: (k) => calls.restartProbe.push(k),
    ignored: () => undefined,
    wake: () => undefined,
    counters,
  });
  pipeline.setGateways([CONFIG]);
  running.push(pipeline);
  const put = (ing: KIngress) => store.set(ingressKey(ing), ing);
  const flush = (...keys: string[]) =>
    pipeline.flush(
      keys,
      (ing) =>
        ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION] === KGW_INGRESS_CLASS ? CONFIG : undefined,
      new Set(),
      new Set(),
    );
  const nack = (fleet: string, typeUrl: TypeUrl, message: string): AckEvent => ({
    fleet,
    nodeId: `${fleet}-0`,
    typeUrl,
    version: target.snapshotVersion(fleet, typeUrl) ?? '',
    nonce: '1',
    resourceNames: [],
    error: message,
  });
  const ack = (fleet: string, typeUrl: TypeUrl): AckEvent => ({
    ...nack(fleet, typeUrl, ''),
    error: undefined,
  });
  return { world, target, store, calls, counters, pipeline, put, flush, nack, ack };
}

const running: IngressPipeline[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.stop();
});

test('a KIngress of the gateway class is translated and pushed to every fleet, and reported served', () => {
  const t = setup();
  t.world.services.add('ns/hello');
  t.put(kingress('hello', 'hello.ns.example.com', 'hello'));
  t.flush('ns/hello');
  expect(new Set(t.target.pushes.map((p) => p.fleet))).toEqual(new Set(FLEETS));
  expect(t.target.pushes.every((p) => p.types.includes(TYPE_CLUSTER))).toBe(true);
  expect(t.target.domains('g/ext')).toContain('hello.ns.example.com');
  expect(t.counters.pushes).toBe(t.target.pushes.length);
  expect(t.calls.statusChanged).toContain('ns/hello');
  expect(t.pipeline.statusReport('ns/hello', CONFIG)?.kind).toBe('served');
  expect([...t.pipeline.keys()]).toEqual(['ns/hello']);
  expect(t.pipeline.servedOn('g')).toEqual(['ns/hello']);
  expect(t.pipeline.gatewayOfFleet('g/local')).toBe('g');
});

test('a KIngress of another class is not served; one that moves to another class is withdrawn and forgotten', () => {
  const t = setup();
  t.world.services.add('ns/hello');
  t.put(kingress('other', 'other.ns.example.com', 'hello', 'someone.else'));
  t.flush('ns/other');
  expect(t.pipeline.has('ns/other')).toBe(false);
  expect(t.target.domains('g/ext')).not.toContain('other.ns.example.com');

  t.put(kingress('hello', 'hello.ns.example.com', 'hello'));
  t.flush('ns/hello');
  expect(t.target.domains('g/ext')).toContain('hello.ns.example.com');
  t.put(kingress('hello', 'hello.ns.example.com', 'hello', 'someone.else'));
  t.flush('ns/hello');
  expect(t.pipeline.has('ns/hello')).toBe(false);
  expect(t.calls.forgotten).toEqual(['ns/hello']);
  expect(t.target.domains('g/ext')).not.toContain('hello.ns.example.com');
});

test('a KIngress whose translation throws gets its own problem; the others are still pushed', () => {
  const t = setup();
  t.world.services.add('ns/hello');
  t.world.services.add('ns/boom');
  t.world.explode = 'boom';
  t.put(kingress('bad', 'bad.ns.example.com', 'boom'));
  t.put(kingress('hello', 'hello.ns.example.com', 'hello'));
  t.flush('ns/bad', 'ns/hello');
  const bad = t.pipeline.statusReport('ns/bad', CONFIG);
  expect(bad?.kind === 'problem' && [bad.reason, bad.message.includes('lookup exploded')]).toEqual([
    'InternalError',
    true,
  ]);
  expect(t.target.domains('g/ext')).toContain('hello.ns.example.com');
  expect(t.target.domains('g/ext')).not.toContain('bad.ns.example.com');
});

test('a failed change keeps the last good config served', () => {
  const t = setup();
  t.world.services.add('ns/hello');
  t.put(kingress('hello', 'hello.ns.example.com', 'hello'));
  t.flush('ns/hello');
  t.world.explode = 'hello';
  t.put(kingress('hello', 'hello.ns.example.com', 'hello', KGW_INGRESS_CLASS, 2));
  t.flush('ns/hello');
  expect(t.pipeline.statusReport('ns/hello', CONFIG)?.kind).toBe('problem');
  expect(t.target.domains('g/ext')).toContain('hello.ns.example.com');
});

test('a NACK of the only change is paid by its KIngress: EnvoyRejected, its accepted config back', () => {
  const t = setup();
  t.world.services.add('ns/hello');
  t.world.services.add('ns/v2');
  t.put(kingress('hello', 'hello.ns.example.com', 'hello'));
  t.flush('ns/hello');
  for (const f of FLEETS)
    for (const type of [TYPE_CLUSTER, TYPE_LISTENER, TYPE_ROUTE] as TypeUrl[])
      t.pipeline.onAck(t.ack(f, type));
  const pushed = t.target.pushes.length;

  // generation 2 moves to another Service; Envoy rejects its route table
  t.put(kingress('hello', 'hello.ns.example.com', 'v2', KGW_INGRESS_CLASS, 2));
  t.flush('ns/hello');
  expect(t.target.pushes.length).toBeGreaterThan(pushed);
  t.pipeline.onNack(t.nack('g/ext', TYPE_ROUTE, 'header value too long'));
  t.flush(); // the revert is pushed with the next flush
  const report = t.pipeline.statusReport('ns/hello', CONFIG);
  expect(
    report?.kind === 'problem' && [report.reason, report.message.includes('header value too long')],
  ).toEqual(['EnvoyRejected', true]);
  expect(t.calls.restartProbe).toContain('ns/hello');
  // the accepted generation 1 routes to hello again
  const last = [...t.target.pushes].reverse().find((p) => p.fleet === 'g/ext' && p.input[TYPE_ROUTE]);
  expect(JSON.stringify([...(last?.input[TYPE_ROUTE]?.values() ?? [])])).toContain('hello');
  expect(JSON.stringify([...(last?.input[TYPE_ROUTE]?.values() ?? [])])).not.toContain('ns/v2');

  // the same generation flushed again is not pushed again; a new generation is
  const before = t.target.pushes.length;
  t.flush('ns/hello');
  expect(t.target.pushes.length).toBe(before);
  expect(t.pipeline.statusReport('ns/hello', CONFIG)?.kind).toBe('problem');
  t.put(kingress('hello', 'hello.ns.example.com', 'hello', KGW_INGRESS_CLASS, 3));
  t.flush('ns/hello');
  expect(t.pipeline.statusReport('ns/hello', CONFIG)?.kind).toBe('served');
});

test('a SharedEvenly fleet gets its ready replicas as kgw-fleet-members, also after the gateways are set again', () => {
  const t = setup();
  const shared = gatewayConfig(
    {
      ...GW,
      spec: {
        ...GW.spec,
        fleets: [
          { name: 'ext', visibility: 'ExternalIP', policy: { rateLimitSharing: 'SharedEvenly' } },
          { name: 'local', visibility: 'ClusterLocal' },
        ],
      },
    } as never,
    log,
  )!;
  const members = (fleet: string): string[] | undefined => {
    const last = [...t.target.pushes].reverse().find((p) => p.fleet === fleet && p.input[TYPE_ENDPOINT]);
    const cla = last?.input[TYPE_ENDPOINT]?.get(FLEET_MEMBERS_CLUSTER) as
      | {
          endpoints?: {
            lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[];
          }[];
        }
      | undefined;
    return (
      cla &&
      (cla.endpoints ?? []).flatMap((l) =>
        l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address),
      )
    );
  };
  // reported before the gateway asks for SharedEvenly: kept for it
  t.pipeline.setFleetMembers('g/ext', ['198.18.0.2', '198.18.0.1']);
  t.pipeline.setGateways([shared]);
  t.flush();
  expect(members('g/ext')).toEqual(['198.18.0.1', '198.18.0.2']);
  expect(members('g/local')).toBeUndefined();
  t.pipeline.setFleetMembers('g/ext', ['198.18.0.2']);
  t.flush();
  expect(members('g/ext')).toEqual(['198.18.0.2']);
  // fresh incremental state: the members come again with the first push
  const before = t.target.pushes.length;
  t.pipeline.setGateways([shared]);
  t.flush();
  expect(t.target.pushes.slice(before).some((p) => p.fleet === 'g/ext' && p.input[TYPE_ENDPOINT])).toBe(true);
  expect(members('g/ext')).toEqual(['198.18.0.2']);
});
