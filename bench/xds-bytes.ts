// Benchmark (prints figures, asserts nothing): xDS bytes pushed per change. N KIngresses go
// through the incremental pipeline into a real XdsServer; a real grpc-js ADS client
// (test/support/ads-client.ts) subscribes the way Envoy does (LDS/CDS wildcard, then RDS and EDS by
// name), ACKs everything, and XdsServer.stats() is read before and after each change:
//   spec      one KIngress spec change (a split's header: new probe hash, new routes)
//   endpoint  one EndpointSlice change of a Service in use (must send EDS only)
//   policy    a RoutePolicy (API keys + a rate limit) attached to one KIngress's hosts
// for delta and state-of-the-world streams. Delta streams get the route tables as scoped routes (as
// kgw's fleets on delta xDS do): a change sends the scopes it touches; SotW streams get whole route
// tables. Also the server-side setSnapshot time (encoding).
//   node bench/xds-bytes.ts [N ...]      (default 1000 10000)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EndpointSlice } from '../operator/api/core.ts';
import { IncrementalGateway, snapshotOf } from '../operator/controller/incremental.ts';
import { newLogger } from '../operator/log.ts';
import type { FleetResources } from '../operator/render/fleet.ts';
import { translateIngress } from '../operator/translate/ingress.ts';
import { lookupsFromObjects, type Lookups } from '../operator/translate/lookups.ts';
import type { HostPolicyIR } from '../operator/translate/ir.ts';
import { AdsClient, isDelta, resourceNames, type AdsResponse } from '../test/support/ads-client.ts';
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SHORT,
  TYPE_URLS,
  TYPE_SCOPED_ROUTE,
  type TypeUrl,
} from '../operator/xds/protos.ts';
import { XdsServer } from '../operator/xds/server.ts';
import type { AckEvent, XdsStats } from '../operator/xds/types.ts';
import { CREATED, FLEETS, fmt, ingress, ms, objects, percentile, sizes } from './fixtures.ts';

const FLEET = FLEETS[0]!.key; // the external fleet

/** What a RoutePolicy with 100 API keys and a per-key rate limit puts on a host. */
const BENCH_POLICY: HostPolicyIR = {
  apiKeyAuth: {
    policy: 'ns7/bench',
    keySources: [{ header: 'x-ca-key' }],
    credentials: Array.from({ length: 100 }, (_, i) => ({
      client: `client${i}`,
      key: `key-${i}-0123456789abcdef`,
    })),
    forwardHeader: 'x-kgw-consumer',
    hideCredentials: false,
  },
  rateLimit: {
    policy: 'ns7/bench',
    responseHeaders: true,
    rules: [
      { name: 'per-key', key: { header: 'x-ca-key' }, each: { requests: 100, seconds: 60 }, limits: [] },
    ],
  },
};
const QUIET_MS = 300;
/** Spec changes measured per size and mode (`KGW_BENCH_CHANGES`). */
const CHANGES = Number(process.env.KGW_BENCH_CHANGES ?? 10);

/**
 * Drives one stream like Envoy until it is closed: ACK every response, follow CDS with EDS names
 * and LDS with RDS names (SotW) or an SRDS subscription with no names (delta: scoped listeners).
 */
async function drive(
  c: AdsClient,
  state: { eds: Set<string>; rds: Set<string>; scoped: boolean; closed: boolean },
): Promise<void> {
  for (let i = 0; i < 100_000 && !state.closed; i++) {
    let r: AdsResponse;
    try {
      r = await c.next(1000);
    } catch {
      continue; // nothing for a second; look again (bounded)
    }
    c.ack(r);
    const names = isDelta(r) ? r.resources.map((x) => x.name) : resourceNames(r);
    if (r.type_url === TYPE_CLUSTER) {
      const fresh = names.filter((n) => !state.eds.has(n));
      for (const n of fresh) state.eds.add(n);
      if (fresh.length > 0) c.subscribe(TYPE_ENDPOINT, isDelta(r) ? fresh : [...state.eds]);
    }
    if (r.type_url === TYPE_LISTENER && isDelta(r)) {
      // scoped listeners: Envoy subscribes to SRDS with no names (all scopes), once
      if (!state.scoped) c.subscribe(TYPE_SCOPED_ROUTE);
      state.scoped = true;
    } else if (r.type_url === TYPE_LISTENER) {
      // kgw's listeners name their route configuration after themselves (http, https).
      const fresh = names.filter((n) => !state.rds.has(n));
      for (const n of fresh) state.rds.add(n);
      if (fresh.length > 0) c.subscribe(TYPE_ROUTE, [...state.rds]);
    }
  }
}

/** Resolves once the stream has ACKed the fleet's current version of every type, then a quiet spell. */
async function settled(server: XdsServer, nodeId: string, mode: 'delta' | 'sotw'): Promise<void> {
  // delta streams take the route tables as scopes (SRDS), SotW ones as route configurations
  const routes = mode === 'delta' ? TYPE_SCOPED_ROUTE : TYPE_ROUTE;
  for (const t of [TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_LISTENER, routes] as TypeUrl[]) {
    const v = server.snapshotVersion(FLEET, t);
    if (v === undefined) continue;
    const match = (e: AckEvent) => e.nodeId === nodeId && (e.version === v || e.version.startsWith(`${v}+`));
    await server.waitForAck(FLEET, t, match, 120_000);
  }
  await new Promise((r) => setTimeout(r, QUIET_MS));
}

function diff(a: XdsStats, b: XdsStats): { total: number; byType: string; responses: number } {
  let total = 0;
  const parts: string[] = [];
  for (const t of TYPE_URLS) {
    const d = b.bytesSent[t] - a.bytesSent[t];
    total += d;
    parts.push(`${TYPE_SHORT[t].toLowerCase()}=${d}`);
  }
  return { total, byType: parts.join(' '), responses: b.responses - a.responses };
}

for (const n of sizes([1000, 10000])) {
  const base = lookupsFromObjects(objects(n));
  const sliceOverride = new Map<string, EndpointSlice[]>();
  let policyOn: string | undefined;
  const lookups: Lookups = {
    ...base,
    endpointSlices: (ns, svc) => sliceOverride.get(`${ns}/${svc}`) ?? base.endpointSlices(ns, svc),
    routePolicy: (key) => (key === policyOn ? BENCH_POLICY : undefined),
  };
  let gen = 2;
  let endpointRound = 0;
  for (const mode of ['delta', 'sotw'] as const) {
    const fleets = FLEETS.map((f) => ({ ...f, opts: { ...f.opts, scoped: mode === 'delta' } }));
    const gw = new IncrementalGateway(fleets, lookups);
    for (let i = 0; i < n; i++) {
      const r = translateIngress(ingress(i), lookups);
      if (r.ok) gw.set(r.ir, CREATED);
    }
    const dir = mkdtempSync(join(tmpdir(), 'kgw-bench-xds-'));
    const server = new XdsServer({ log: newLogger('xds', 'silent') });
    await server.listen(`unix:${join(dir, 'xds.sock')}`);
    const push = (changed: Map<string, Partial<FleetResources>>): number => {
      const t0 = process.hrtime.bigint();
      for (const [fleet, res] of changed) server.setSnapshot(fleet, snapshotOf(res));
      return ms(t0);
    };
    const initialPush = push(gw.flush().fleets);
    server.markSynced();
    const c = new AdsClient(`unix:${join(dir, 'xds.sock')}`, mode, { id: `bench-${mode}`, cluster: FLEET });
    const state = { eds: new Set<string>(), rds: new Set<string>(), scoped: false, closed: false };
    const t0 = process.hrtime.bigint();
    const before = server.stats();
    c.subscribe(TYPE_CLUSTER);
    c.subscribe(TYPE_LISTENER);
    const driving = drive(c, state);
    await settled(server, c.node.id, mode);
    const initial = diff(before, server.stats());
    const initialMs = ms(t0) - QUIET_MS;
    console.log(
      `bench xds n=${n} mode=${mode} change=initial bytes=${initial.total} ${initial.byType} responses=${initial.responses} ` +
        `sync_ms=${fmt(initialMs)} initial_setsnapshot_ms=${fmt(initialPush)}`,
    );

    // One KIngress spec change, CHANGES times (a different KIngress each time): bytes of the first,
    // and the p50/max of the assembly (gw.flush) and setSnapshot times over all of them.
    let s0 = server.stats();
    let gen7 = 1;
    let spec = { total: 0, byType: '', responses: 0 };
    const flushMs: number[] = [];
    const specMs: number[] = [];
    for (let k = 0; k < CHANGES; k++) {
      const changed = translateIngress(ingress(7 + k * 13, k === 0 ? (gen7 = gen++) : gen++), lookups);
      if (changed.ok) gw.set(changed.ir, CREATED);
      const tf = process.hrtime.bigint();
      const fleetsChanged = gw.flush().fleets;
      flushMs.push(ms(tf));
      specMs.push(push(fleetsChanged));
      await settled(server, c.node.id, mode);
      if (k === 0) spec = diff(s0, server.stats());
    }
    console.log(
      `bench xds n=${n} mode=${mode} change=spec bytes=${spec.total} ${spec.byType} responses=${spec.responses} ` +
        `flush_ms_p50=${fmt(percentile(flushMs, 50))} setsnapshot_ms_p50=${fmt(percentile(specMs, 50))} ` +
        `setsnapshot_ms_max=${fmt(Math.max(...specMs))} changes=${CHANGES}`,
    );

    // One endpoint change: the 10% revision of KIngress 7 gets another address.
    s0 = server.stats();
    endpointRound++;
    sliceOverride.set('ns7/app7-2', [
      {
        metadata: { name: 'app7-2-x', namespace: 'ns7', labels: { 'kubernetes.io/service-name': 'app7-2' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8012 }],
        endpoints: [{ addresses: ['198.19.7.2', `198.19.200.${endpointRound}`] }],
      },
    ]);
    gw.refreshEndpoints(['ns7/app7-2']);
    const epPush = push(gw.flush().fleets);
    await settled(server, c.node.id, mode);
    const ep = diff(s0, server.stats());
    console.log(
      `bench xds n=${n} mode=${mode} change=endpoint bytes=${ep.total} ${ep.byType} responses=${ep.responses} ` +
        `setsnapshot_ms=${fmt(epPush)}`,
    );
    // A RoutePolicy attached to (then, next round, removed from) KIngress 7's hosts.
    s0 = server.stats();
    policyOn = policyOn === undefined ? 'ns7/app7' : undefined;
    const withPolicy = translateIngress(ingress(7, gen7), lookups);
    if (withPolicy.ok) gw.set(withPolicy.ir, CREATED);
    const policyPush = push(gw.flush().fleets);
    await settled(server, c.node.id, mode);
    const pol = diff(s0, server.stats());
    console.log(
      `bench xds n=${n} mode=${mode} change=policy-${policyOn ? 'attached' : 'removed'} bytes=${pol.total} ${pol.byType} ` +
        `responses=${pol.responses} setsnapshot_ms=${fmt(policyPush)}`,
    );
    state.closed = true;
    c.close();
    await driving;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
