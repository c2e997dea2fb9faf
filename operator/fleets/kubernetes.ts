// Kubernetes fleet runtime (production): each fleet is a Deployment of Envoy pods behind a Service,
// rendered by kubernetes-objects.ts and written owner-safely by kubernetes-apply.ts (server-side
// apply, only kgw's fields, never an object kgw did not create). The objects carry an
// ownerReference to their KnativeGateway, so the garbage collector removes them with it; this
// runtime never deletes a fleet because a gateway disappeared from `apply()`'s input.
//
// - apply(): per gateway, render and apply; skipped when the rendered objects equal those of the
//   last successful apply and no owned object drifted since. One gateway's failure does not stop
//   the others; its problems are kept for `problems(gateway)` (KnativeGateway status) and the
//   gateway is retried with backoff.
// - Where: kgw never creates a namespace, and may manage fleet objects only where an admin bound
//   the ClusterRole kgw-fleet-manager to its ServiceAccount (the release manifest does so in the
//   operator's namespace, the default fleet namespace). Before applying, each fleet namespace is
//   checked (it exists; a SelfSubjectAccessReview says kgw may patch Deployments there); if not,
//   nothing is written for that gateway and FleetsReady says NamespaceNotFound or
//   FleetNamespaceForbidden with the command that fixes it. A 403 during the apply (a partial
//   grant) is reported the same way. Other gateways are unaffected.
// - Drift: reflectors on kgw-labelled Deployments and Services. When one of a known gateway's
//   objects is deleted, or a field kgw renders changes (compared with what the API server returned
//   from kgw's own apply, so defaults, status and fields others own never count), the gateway is
//   re-applied after a short debounce. A periodic resync re-applies everything (it also catches
//   drift of the kinds not watched: ConfigMap, ServiceAccount, HPA, PDB).
// - Replicas: kgw-labelled Pods grouped by fleet (kubernetes-replicas.ts). Drift comparison:
//   kubernetes-drift.ts; the namespace checks: kubernetes-preflight.ts; the problem messages:
//   kubernetes-problems.ts; the xDS client-certificate Secrets: kubernetes-xds-secrets.ts.
// - Publishing is Kubernetes' job here: the rendered Service has a selector.
import { createHash } from 'node:crypto';
import {
  DEFAULT_NAMESPACE,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { operatorServiceAccount, type ServiceAccountRef } from '../kube/access.ts';
import { Reflector, type KubeObject, type ReflectorEvent } from '../kube/reflector.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Logger } from '../log.ts';
import type { XdsTls } from '../pki/xds-tls.ts';
import type { XdsEndpoint } from './fleet-names.ts';
import { applyGatewayFleets, describeRef, objectPath, type FleetApplyResult } from './kubernetes-apply.ts';
import {
  RecordingClient,
  WATCHED,
  hasDrifted,
  trackedObjects,
  type TrackedObject,
} from './kubernetes-drift.ts';
import { fleetObjectList, renderGatewayObjects } from './kubernetes-objects.ts';
import { preflight } from './kubernetes-preflight.ts';
import { summarizeProblems } from './kubernetes-problems.ts';
import { PodReplicas } from './kubernetes-replicas.ts';
import { applyXdsClientSecrets, xdsClientSecrets } from './kubernetes-xds-secrets.ts';
import type { FleetDef, FleetRuntime, GatewayFleetProblem, Replica } from './runtime.ts';

export interface KubernetesRuntimeOptions {
  rest: KubeRest;
  log: Logger;
  /** Where the fleets' Envoys reach kgw's xDS server (`operatorXdsEndpoint()` in a cluster). */
  xds: XdsEndpoint;
  /**
   * Mutual TLS to the xDS server: each fleet gets a client-certificate Secret (owned by its
   * gateway) that its pods mount; `serverName` is what Envoy checks the server certificate for.
   */
  xdsTls?: { material: XdsTls; serverName: string };
  /** The operator's namespace (of its ServiceAccount, named in fix-it commands). Default kgw-system. */
  operatorNamespace?: string;
  /** The operator's ServiceAccount name (default: POD_SERVICE_ACCOUNT, else kgw-operator). */
  serviceAccountName?: string;
  /** Every gateway is re-applied this often (default 300). */
  resyncSeconds?: number;
  /** Wait after a drift event before re-applying, so a burst costs one apply (default 1000). */
  driftDebounceMs?: number;
  /** First retry delay after a failed apply; doubles up to the resync period (default 5000). */
  retryMs?: number;
}

/**
 * Longest wait before checking again a namespace that is missing or where kgw may not act: the
 * admin's fix (create the namespace, bind the role) is not watched, so it is polled.
 */
export const PREFLIGHT_RETRY_CAP_MS = 30_000;

/** `app.kubernetes.io/managed-by=kgw`: everything kgw creates for fleets. */
export const MANAGED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY_KGW}`;
export const DEFAULT_RESYNC_SECONDS = 300;
export const DEFAULT_DRIFT_DEBOUNCE_MS = 1000;
export const DEFAULT_RETRY_MS = 5000;

interface GatewayState {
  name: string;
  /** The latest gateway object `apply()` was given (drift re-applies use it). */
  gw: KnativeGateway;
  /** Hash of the objects rendered at the last apply ('' if rendering failed). */
  fingerprint: string;
  /** The last apply had no problems. */
  ok: boolean;
  problems: GatewayFleetProblem[];
  /** Watched objects of the last apply, by REST path. */
  tracked: Map<string, TrackedObject>;
  /** An owned object changed or went away since the last apply. */
  drifted: boolean;
  applying: boolean;
  /** Events arrived during an apply: check the store once it is done. */
  recheck: boolean;
  /** Paths deleted while applying. */
  deletedWhileApplying: Set<string>;
  driftTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  retryMs: number;
}

type WatchedObject = KubeObject & { metadata: { labels?: Record<string, string> } };

export class KubernetesFleetRuntime implements FleetRuntime {
  private readonly rest: KubeRest;
  private readonly log: Logger;
  private readonly xds: XdsEndpoint;
  private readonly xdsTls: KubernetesRuntimeOptions['xdsTls'];
  private readonly operatorNamespace: string;
  private readonly sa: ServiceAccountRef;
  private readonly resyncMs: number;
  private readonly debounceMs: number;
  private readonly retryMs: number;
  private readonly states = new Map<string, GatewayState>();
  private readonly pods: PodReplicas;
  private readonly watched: { kind: string; apiVersion: string; reflector: Reflector<WatchedObject> }[];
  private resyncTimer: NodeJS.Timeout | undefined;
  private started: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(opts: KubernetesRuntimeOptions) {
    this.rest = opts.rest;
    this.log = opts.log;
    this.xds = opts.xds;
    this.xdsTls = opts.xdsTls;
    this.operatorNamespace = opts.operatorNamespace ?? DEFAULT_NAMESPACE;
    this.sa = {
      namespace: this.operatorNamespace,
      name: opts.serviceAccountName ?? operatorServiceAccount().name,
    };
    this.resyncMs = (opts.resyncSeconds ?? DEFAULT_RESYNC_SECONDS) * 1000;
    this.debounceMs = opts.driftDebounceMs ?? DEFAULT_DRIFT_DEBOUNCE_MS;
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.pods = new PodReplicas(opts.rest, MANAGED_SELECTOR, opts.log);
    this.watched = WATCHED.map((w) => {
      const reflector = new Reflector<WatchedObject>(opts.rest, {
        path: w.path,
        labelSelector: MANAGED_SELECTOR,
        log: opts.log,
      });
      reflector.onEvent((e) => this.onWatchedEvent(w.apiVersion, w.kind, e));
      return { kind: w.kind, apiVersion: w.apiVersion, reflector };
    });
  }

  /** Starts the reflectors and the resync timer; resolves once the Pod, Deployment and Service caches are synced. */
  start(): Promise<void> {
    if (this.started === undefined) {
      this.pods.start();
      for (const w of this.watched) w.reflector.start();
      this.resyncTimer = setInterval(() => this.resync(), this.resyncMs);
      this.resyncTimer.unref();
      this.started = Promise.all([this.pods.synced, ...this.watched.map((w) => w.reflector.synced)]).then(
        () => {
          this.log.info({ pods: this.pods.size }, 'kubernetes fleet runtime caches synced');
        },
      );
    }
    return this.started;
  }

  onChange(cb: (fleetKey: string) => void): void {
    this.pods.onChange(cb);
  }

  replicas(fleetKey: string): Replica[] {
    return this.pods.replicas(fleetKey);
  }

  /** The fleet Service's load balancer address (IP or host name), once the cloud assigned one. */
  address(fleetKey: string): string | undefined {
    const services = this.watched.find((w) => w.kind === 'Service')?.reflector.store;
    for (const svc of services?.values() ?? []) {
      const labels = svc.metadata.labels ?? {};
      if (`${labels[LABEL_GATEWAY]}/${labels[LABEL_FLEET]}` !== fleetKey) continue;
      const lb = (svc as { status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } } })
        .status?.loadBalancer?.ingress?.[0];
      return lb?.ip ?? lb?.hostname;
    }
    return undefined;
  }

  problems(gateway: string): GatewayFleetProblem[] {
    return (this.states.get(gateway)?.problems ?? []).map((p) => ({ ...p }));
  }

  /**
   * Applies every gateway's fleet objects (`fleets` is derived from the same gateways and not
   * needed). Gateways no longer in `gateways` are forgotten, never deleted: the garbage collector
   * removes a deleted gateway's objects, and an ignored gateway keeps its fleets.
   */
  async apply(_fleets: FleetDef[], gateways: ReadonlyMap<string, KnativeGateway>): Promise<void> {
    if (this.closed) return;
    void this.start().catch(() => undefined);
    for (const [name, st] of this.states) {
      if (!gateways.has(name)) {
        this.clearTimers(st);
        this.states.delete(name);
        this.log.info({ gateway: name }, 'gateway no longer served; leaving its fleet objects in place');
      }
    }
    await this.enqueue(async () => {
      for (const gw of gateways.values()) await this.applyGateway(gw, false);
    });
  }

  /** Re-applies every gateway (after the xDS certificates rotated). */
  async refresh(): Promise<void> {
    await this.enqueue(async () => {
      for (const st of [...this.states.values()]) await this.applyGateway(st.gw, true);
    });
  }

  /** Stops the reflectors and timers. Never deletes anything (keepReplicas is irrelevant here). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const st of this.states.values()) this.clearTimers(st);
    await this.chain.catch(() => undefined);
    await Promise.all([this.pods.stop(), ...this.watched.map((w) => w.reflector.stop())]);
  }

  // --- applying ---------------------------------------------------------------------------------

  /** Runs `fn` after everything queued before it: applies never interleave. */
  private enqueue(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch((err: unknown) => {
      this.log.error({ err: String(err) }, 'fleet apply failed');
    });
    return this.chain;
  }

  private clearTimers(st: GatewayState): void {
    if (st.driftTimer) clearTimeout(st.driftTimer);
    if (st.retryTimer) clearTimeout(st.retryTimer);
    st.driftTimer = undefined;
    st.retryTimer = undefined;
  }

  private state(gw: KnativeGateway): GatewayState {
    const name = gw.metadata.name;
    let st = this.states.get(name);
    if (st === undefined) {
      st = {
        name,
        gw,
        fingerprint: '',
        ok: false,
        problems: [],
        tracked: new Map(),
        drifted: false,
        applying: false,
        recheck: false,
        deletedWhileApplying: new Set(),
        retryMs: this.retryMs,
      };
      this.states.set(name, st);
    }
    st.gw = gw;
    return st;
  }

  /**
   * Re-applies a gateway apply() still passes in, with the latest object it passed (drift, retry,
   * resync); a forgotten gateway is left alone.
   */
  private async reapply(name: string, force: boolean): Promise<void> {
    const st = this.states.get(name);
    if (st !== undefined) await this.applyGateway(st.gw, force);
  }

  /** Renders and applies one gateway; `force` skips the unchanged-input check. */
  private async applyGateway(gw: KnativeGateway, force: boolean): Promise<void> {
    if (this.closed) return;
    const name = gw.metadata.name;
    const log = this.log.child({ gateway: name });
    const st = this.state(gw);
    let rendered;
    try {
      rendered = renderGatewayObjects(gw, {
        xds: this.xds,
        ...(this.xdsTls ? { tls: { serverName: this.xdsTls.serverName } } : {}),
      });
    } catch (err) {
      st.fingerprint = '';
      st.ok = false;
      st.tracked = new Map();
      st.problems = [
        { reason: 'FleetObjectsNotApplied', message: err instanceof Error ? err.message : String(err) },
      ];
      log.warn({ problems: st.problems.map((p) => p.message) }, 'cannot render fleet objects');
      return;
    }
    const objects = rendered.flatMap(fleetObjectList);
    const secrets = await xdsClientSecrets(this.xdsTls, gw, rendered);
    const fingerprint = createHash('sha256')
      .update(JSON.stringify(objects))
      .update(JSON.stringify(secrets))
      .digest('hex');
    if (!force && st.ok && !st.drifted && st.fingerprint === fingerprint) return;

    const refused: GatewayFleetProblem[] = [];
    for (const ns of [...new Set(rendered.map((r) => r.namespace))].sort()) {
      const p = await preflight(this.rest, ns, this.sa);
      if (p !== undefined) refused.push(p);
    }
    if (refused.length > 0) {
      const same = JSON.stringify(refused) === JSON.stringify(st.problems);
      st.problems = refused;
      st.ok = false;
      st.fingerprint = fingerprint;
      st.tracked = new Map();
      if (!same) log.warn({ problems: refused.map((p) => p.message) }, 'cannot apply fleet objects here');
      this.clearTimers(st);
      this.scheduleRetry(st, PREFLIGHT_RETRY_CAP_MS);
      return;
    }

    if (st.driftTimer) clearTimeout(st.driftTimer);
    if (st.retryTimer) clearTimeout(st.retryTimer);
    st.driftTimer = undefined;
    st.retryTimer = undefined;
    st.applying = true;
    st.recheck = false;
    st.drifted = false;
    st.deletedWhileApplying.clear();
    const client = new RecordingClient(this.rest);
    let result: FleetApplyResult = { applied: [], deleted: [], skippedFleets: [], problems: [] };
    let problems: GatewayFleetProblem[];
    try {
      const secretProblems = await applyXdsClientSecrets(this.rest, secrets);
      result = await applyGatewayFleets(client, gw, rendered);
      problems = summarizeProblems([...secretProblems, ...result.problems], this.sa);
    } catch (err) {
      // applyGatewayFleets reports API errors per object: this is something unexpected.
      problems = [
        {
          reason: 'FleetObjectsNotApplied',
          message: `applying fleet objects failed: ${err instanceof Error ? err.message : String(err)}`,
        },
      ];
    } finally {
      st.applying = false;
    }
    st.problems = problems;
    st.ok = problems.length === 0;
    st.fingerprint = fingerprint;

    st.tracked = trackedObjects(objects, client);

    const changed = result.applied.filter((a) => a.action !== 'unchanged').map((a) => describeRef(a.ref));
    if (changed.length > 0 || result.deleted.length > 0) {
      log.info({ changed, deleted: result.deleted.map(describeRef), forced: force }, 'applied fleet objects');
    } else {
      log.debug({ forced: force }, 'fleet objects up to date');
    }
    if (st.ok) {
      st.retryMs = this.retryMs;
    } else {
      log.warn(
        { problems: st.problems.map((p) => p.message) },
        'problems applying fleet objects; retrying later',
      );
      this.scheduleRetry(st);
    }
    if (st.recheck) this.recheck(st);
  }

  private scheduleRetry(st: GatewayState, capMs: number = this.resyncMs): void {
    if (this.closed) return;
    const cap = Math.min(capMs, this.resyncMs);
    const delay = Math.min(st.retryMs, cap);
    st.retryMs = Math.min(st.retryMs * 2, cap);
    st.retryTimer = setTimeout(() => {
      st.retryTimer = undefined;
      void this.enqueue(() => this.reapply(st.name, true));
    }, delay);
    st.retryTimer.unref();
  }

  private resync(): void {
    if (this.closed) return;
    const names = [...this.states.keys()];
    this.log.debug({ gateways: names.length }, 'periodic fleet resync');
    void this.enqueue(async () => {
      for (const name of names) await this.reapply(name, true);
    });
  }

  // --- drift --------------------------------------------------------------------------------------

  private onWatchedEvent(apiVersion: string, kind: string, e: ReflectorEvent<WatchedObject>): void {
    const gateway = e.obj.metadata.labels?.[LABEL_GATEWAY];
    if (gateway === undefined) return;
    const st = this.states.get(gateway);
    if (st === undefined) return;
    const path = objectPath({
      apiVersion,
      kind,
      namespace: e.obj.metadata.namespace ?? '',
      name: e.obj.metadata.name,
    });
    const t = st.tracked.get(path);
    if (st.applying) {
      // The apply's own writes may arrive before their answers: judge once it is done.
      st.recheck = true;
      if (e.type === 'delete') st.deletedWhileApplying.add(path);
      return;
    }
    if (t === undefined) return;
    if (e.type === 'delete' || hasDrifted(t, e.obj)) {
      this.log.info(
        {
          gateway,
          kind,
          namespace: e.obj.metadata.namespace,
          name: e.obj.metadata.name,
          deleted: e.type === 'delete',
        },
        'fleet object changed by someone else; re-applying',
      );
      this.markDrifted(st);
    }
  }

  /** After an apply during which events arrived: compare the caches with what was applied. */
  private recheck(st: GatewayState): void {
    st.recheck = false;
    for (const [path, t] of st.tracked) {
      const live = this.watched[t.watched]?.reflector.store.get(t.key);
      const drifted = live === undefined ? st.deletedWhileApplying.has(path) : hasDrifted(t, live);
      if (drifted) {
        this.markDrifted(st);
        return;
      }
    }
  }

  private markDrifted(st: GatewayState): void {
    st.drifted = true;
    if (st.driftTimer || this.closed) return;
    st.driftTimer = setTimeout(() => {
      st.driftTimer = undefined;
      void this.enqueue(() => this.reapply(st.name, false));
    }, this.debounceMs);
    st.driftTimer.unref();
  }
}
