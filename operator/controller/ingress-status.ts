// KIngress status: from what the pipeline reports about a KIngress (a problem, a lost host, or
// the configuration it serves) to the status written on it. A served configuration is Ready only
// once every ready Envoy replica of the fleets it uses answers Knative's hash probe; until then it
// is Unknown (written only if probing takes longer than a grace period, so most changes cost one
// write). Writes go through a keyed work queue: one at a time per KIngress (a late Unknown never
// overtakes Ready) and retried with backoff when the API server fails them.
// It measures (StatusMetrics) the time from a generation's first report to Ready written, and every
// probe request that has to be retried.
import type { KIngress, LoadBalancerIngressStatus } from '../api/kingress.ts';
import type { Replica } from '../fleets/runtime.ts';
import type { EventObject, EventRecorder } from '../kube/events.ts';
import type { KubeRest } from '../kube/rest.ts';
import { WorkQueue } from '../kube/workqueue.ts';
import type { Logger } from '../log.ts';
import { desiredStatus, sameStatus, type Outcome } from '../status/conditions.ts';
import {
  probeAll,
  ProbeLimiter,
  type ProbeFailure,
  type ProbeRound,
  type ProbeTarget,
} from '../status/prober.ts';
import type { IngressIR } from '../translate/ir.ts';
import type { GatewayConfig } from './gateways.ts';
import { WrittenStatus } from './written.ts';

/** What the pipeline knows about one KIngress. */
export type StatusReport =
  | { kind: 'problem'; reason: string; message: string }
  | { kind: 'conflict'; host: string; owner: string }
  | { kind: 'served'; ir: IngressIR; gateway: GatewayConfig };

export interface IngressStatusOptions {
  rest: KubeRest;
  log: Logger;
  /** The KIngress as cached (undefined once deleted). */
  ingress(key: string): KIngress | undefined;
  /** The replicas of a fleet (`<gateway>/<fleet>`). */
  replicas(fleetKey: string): Replica[];
  now?: () => string;
  /** Records Ready / not-Ready transitions as Events on the KIngress. */
  events?: EventRecorder;
  /** How long a probe round may run before Unknown is written (default 1000 ms). */
  probingGraceMs?: number;
  /** Where time-to-ready and probe failures are reported (metrics.ts). */
  metrics?: StatusMetrics;
  /** Milliseconds of a monotonic clock, for time-to-ready (default performance.now). */
  clock?: () => number;
}

/** What the writer measures. */
export interface StatusMetrics {
  /** Seconds from a KIngress generation first reported to its Ready status written. */
  readySeconds(seconds: number): void;
  /** A probe request answered: ok, or why it must be retried. */
  probed(result: 'ok' | ProbeFailure): void;
}

/** Probe requests in flight at most (Envoy replicas answer locally; this is plenty). */
const PROBE_CONCURRENCY = 64;
const KINGRESS_API = '/apis/networking.internal.knative.dev/v1alpha1';

/** What a KIngress was found served as: its hash at its generation (the `verified` map's values). */
const servedAs = (ir: Pick<IngressIR, 'hash' | 'generation'>): string => `${ir.hash}@${ir.generation}`;

interface Probe {
  hash: string;
  generation: number;
  gateway: string;
  round: ProbeRound;
}

export class IngressStatusWriter {
  private readonly o: IngressStatusOptions;
  private leading = true;
  private closed = false;
  /** The served IR last reported per KIngress (a probe verdict applies while its hash matches). */
  private readonly served = new Map<string, IngressIR>();
  /**
   * Per KIngress, the `<hash>@<generation>` every replica was last found serving. A report of the
   * same configuration (after each status write, a Secret or gateway event) needs no new probes.
   */
  private readonly verified = new Map<string, string>();
  private readonly probes = new Map<string, Probe>();
  private readonly limiter = new ProbeLimiter(PROBE_CONCURRENCY);
  /** Our last status write per KIngress, until the watch shows it. */
  private readonly written = new WrittenStatus();
  /** The outcome to write per KIngress (the newest wins). */
  private readonly outcomes = new Map<string, Outcome>();
  private readonly queue: WorkQueue;
  /** Per KIngress, the generation not yet written Ready and when (clock) it was first reported. */
  private readonly firstSeen = new Map<string, { generation: number; at: number }>();

  constructor(o: IngressStatusOptions) {
    this.o = o;
    this.queue = new WorkQueue({ name: 'kingress-status', log: o.log, process: (k) => this.write(k) });
  }

  /** A watch event of the KIngress (our own writes show up here). */
  observe(key: string, obj: KIngress | undefined): void {
    this.written.observe(key, obj);
  }

  /** Starts (true) or stops (false) writing; a new leader probes everything afresh. */
  setLeading(leading: boolean): void {
    this.leading = leading;
    for (const p of this.probes.values()) p.round.cancel();
    this.probes.clear();
    this.firstSeen.clear();
    this.verified.clear();
  }

  /** What to report for a KIngress now (a newer report replaces an older one). */
  report(key: string, r: StatusReport): void {
    if (!this.leading || this.closed) return;
    const ing = this.o.ingress(key);
    if (!ing) return;
    this.noteSeen(key, ing);
    if (r.kind !== 'served') {
      // not served as it is: a later good configuration with the same hash is probed afresh
      this.cancel(key);
      this.served.delete(key);
      this.verified.delete(key);
      this.enqueue(key, r);
      return;
    }
    const { ir, gateway } = r;
    this.served.set(key, ir);
    const probe = this.probes.get(key);
    if (probe?.hash === ir.hash && probe.generation === ir.generation) return; // already probing it
    this.cancel(key);
    const ready: Outcome = {
      kind: 'ready',
      generation: ir.generation,
      public: lbStatus(gateway, 'ExternalIP'),
      private: lbStatus(gateway, 'ClusterLocal'),
    };
    if (this.verified.get(key) === servedAs(ir)) {
      // every replica already served exactly this: (re)write Ready without probing again
      this.enqueue(key, ready);
      return;
    }
    const targets = this.targets(gateway, ir);
    const missing = this.replicasMissing(gateway, ir);
    if (targets.length === 0 || missing) {
      // No replica to probe right now (it is probed when one becomes ready): a KIngress already
      // Ready for this generation stays so instead of flapping to Unknown.
      if (!missing) this.enqueue(key, ready);
      else if (!this.readyFor(key)) this.enqueue(key, { kind: 'probing' });
      return;
    }
    const m = this.o.metrics;
    const round = probeAll(targets, ir.hash, undefined, this.limiter, m && ((result) => m.probed(result)));
    this.probes.set(key, { hash: ir.hash, generation: ir.generation, gateway: gateway.name, round });
    let settled = false;
    void round.done.then((ok) => {
      settled = true;
      if (this.probes.get(key)?.round === round) this.probes.delete(key);
      // The verdict is about what Envoy serves, which the hash pins: a re-report of an equal IR
      // (a gateway or Secret event) must not void it, or the KIngress would stay Unknown.
      const current = this.served.get(key);
      if (!ok || this.closed || !current) return;
      if (current.hash !== ir.hash || current.generation !== ir.generation) return;
      this.verified.set(key, servedAs(ir));
      this.enqueue(key, ready);
    });
    if (this.readyFor(key)) return; // Ready for this generation: no flap to Unknown
    // Unknown only if the round is still running after the grace period: most rounds finish
    // within it, so a change costs one status write instead of two.
    setTimeout(() => {
      if (settled || this.closed || this.probes.get(key)?.round !== round) return;
      this.enqueue(key, { kind: 'probing' });
    }, this.o.probingGraceMs ?? 1000).unref();
  }

  /** The KIngress is not ours any more (deleted, another class): nothing more is written. */
  forget(key: string): void {
    this.cancel(key);
    this.served.delete(key);
    this.verified.delete(key);
    this.outcomes.delete(key);
    this.firstSeen.delete(key);
    this.queue.forget(key);
  }

  /** New configuration reached a replica of the gateway: its probe rounds retry at once. */
  poke(gateway: string): void {
    for (const p of this.probes.values()) if (p.gateway === gateway) p.round.poke();
  }

  /** Drops the running probe round of one KIngress: the next report probes it anew. */
  restartProbe(key: string): void {
    this.cancel(key);
  }

  /** Drops the running probe rounds (of a gateway's KIngresses, or all): they are probed anew. */
  restartProbes(gateway?: string): string[] {
    const restarted: string[] = [];
    for (const [k, p] of this.probes) {
      if (gateway !== undefined && p.gateway !== gateway) continue;
      p.round.cancel();
      this.probes.delete(k);
      restarted.push(k);
    }
    return restarted;
  }

  /**
   * A replica of `gateway` became ready: returns which of the gateway's KIngresses (`served`) must
   * be reported again to be probed on it. Those are the ones whose probe round was running (it is
   * restarted, so it includes the new replica) and those not Ready for their generation. A
   * KIngress already Ready is not probed again: no verdict could change its status (Ready never
   * flaps back to Unknown for the same generation), and at 10k KIngresses every readiness blip of
   * a busy Envoy re-probed the whole gateway.
   */
  replicaBecameReady(gateway: string, served: Iterable<string>): string[] {
    const again = new Set(this.restartProbes(gateway));
    for (const k of served) if (!again.has(k) && !this.readyFor(k)) again.add(k);
    return [...again];
  }

  /** Whether the freshest known status of the KIngress is Ready for its current generation. */
  readyFor(key: string): boolean {
    const ing = this.o.ingress(key);
    if (!ing) return false;
    const cur = this.written.current(key, ing);
    return (
      cur?.observedGeneration === ing.metadata.generation &&
      (cur?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
    );
  }

  async stop(): Promise<void> {
    this.closed = true;
    for (const p of this.probes.values()) p.round.cancel();
    this.probes.clear();
    await this.queue.stop();
  }

  private cancel(key: string): void {
    this.probes.get(key)?.round.cancel();
    this.probes.delete(key);
  }

  private enqueue(key: string, outcome: Outcome): void {
    this.outcomes.set(key, outcome);
    this.queue.add(key);
  }

  private async write(key: string): Promise<void> {
    const outcome = this.outcomes.get(key);
    const cached = this.o.ingress(key);
    if (!this.leading || this.closed || !outcome || !cached) return;
    // Decide against the freshest status (the cache lags our own writes).
    const ing = { ...cached, status: this.written.current(key, cached) };
    const status = desiredStatus(ing, outcome, (this.o.now ?? (() => new Date().toISOString()))());
    if (!sameStatus(ing.status, status)) {
      const ns = ing.metadata.namespace ?? '';
      const res = await this.o.rest.request<KIngress | undefined>(
        'PATCH',
        `${KINGRESS_API}/namespaces/${ns}/ingresses/${ing.metadata.name}/status`,
        { status },
        'application/merge-patch+json',
      );
      const rv = res?.metadata?.resourceVersion;
      if (rv) this.written.record(key, rv, res.status ?? status);
      this.o.log.info({ namespace: ns, name: ing.metadata.name, outcome: outcome.kind }, 'status written');
      this.recordTransition(ing, status);
      this.measureReady(key, status);
    }
    if (this.outcomes.get(key) === outcome) this.outcomes.delete(key);
  }

  /** Starts the time-to-ready clock of a generation not seen before (unless it is Ready already). */
  private noteSeen(key: string, ing: KIngress): void {
    const generation = ing.metadata.generation ?? 0;
    if (this.firstSeen.get(key)?.generation === generation) return;
    if (this.readyFor(key)) this.firstSeen.delete(key);
    else this.firstSeen.set(key, { generation, at: this.clock() });
  }

  /** Reports the time-to-ready once Ready is written for the generation first seen. */
  private measureReady(key: string, status: NonNullable<KIngress['status']>): void {
    const seen = this.firstSeen.get(key);
    const ready = status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!seen || !ready || status.observedGeneration !== seen.generation) return;
    this.firstSeen.delete(key);
    this.o.metrics?.readySeconds((this.clock() - seen.at) / 1000);
  }

  private clock(): number {
    return (this.o.clock ?? (() => performance.now()))();
  }

  /** An Event when Ready turns True, or False with another reason (Unknown while probing is not one). */
  private recordTransition(ing: KIngress, status: NonNullable<KIngress['status']>): void {
    const ready = (s: KIngress['status']) => s?.conditions?.find((c) => c.type === 'Ready');
    const before = ready(ing.status);
    const after = ready(status);
    if (!this.o.events || !after || after.status === 'Unknown') return;
    if (before?.status === after.status && before.reason === after.reason) return;
    const obj = kingressEventObject(ing);
    if (after.status === 'True') {
      this.o.events.record(obj, 'Normal', 'Ready', 'served by every ready Envoy replica of its fleets');
    } else {
      this.o.events.record(obj, 'Warning', after.reason ?? 'NotReady', after.message ?? 'not served');
    }
  }

  private replicasMissing(g: GatewayConfig, ir: IngressIR): boolean {
    const vis = new Set(ir.probes.map((p) => p.visibility));
    return g.fleets
      .filter((f) => vis.has(f.visibility))
      .some((f) => this.o.replicas(f.key).filter((r) => r.ready).length === 0);
  }

  private targets(g: GatewayConfig, ir: IngressIR): ProbeTarget[] {
    const out: ProbeTarget[] = [];
    for (const p of ir.probes) {
      for (const f of g.fleets.filter((x) => x.visibility === p.visibility)) {
        for (const r of this.o.replicas(f.key)) {
          if (!r.ready) continue;
          out.push({
            address: r.address,
            port: p.tls ? f.ports.https : f.ports.http,
            host: p.host,
            tls: p.tls,
            ...(f.clientIP.proxyProtocol ? { proxyProtocol: true } : {}),
          });
        }
      }
    }
    return out;
  }
}

/** Where a visibility's fleet is reached in the cluster (KIngress status load balancers). */
function lbStatus(g: GatewayConfig, visibility: 'ExternalIP' | 'ClusterLocal'): LoadBalancerIngressStatus[] {
  const f = g.fleets.find((x) => x.visibility === visibility);
  return f ? [{ domainInternal: `${f.serviceName}.${f.namespace}.svc.${g.clusterDomain}` }] : [];
}

/** A KIngress as the object of an Event. */
export function kingressEventObject(ing: KIngress): EventObject {
  return {
    apiVersion: 'networking.internal.knative.dev/v1alpha1',
    kind: 'Ingress',
    metadata: {
      name: ing.metadata.name,
      ...(ing.metadata.namespace !== undefined ? { namespace: ing.metadata.namespace } : {}),
      ...(ing.metadata.uid !== undefined ? { uid: ing.metadata.uid } : {}),
    },
  };
}
