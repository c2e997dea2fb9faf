// Wires the operator together: API client, xDS server, fleet runtime, engine and (optionally)
// leader election. Used by the `kgw operator` command, the demo and the end-to-end tests.
//
// Runtimes: `local` runs each Envoy replica as a process in its own network namespace on this
// machine, xDS over unix sockets (demo, tests); `kubernetes` applies Deployments/Services/... per
// fleet and serves xDS on TCP for the pods (in a cluster).
//
// HA: with leaderElection every replica watches, translates and serves xDS; the Lease holder also
// runs the fleets and writes status. Locally, operator replicas share a work dir and a network:
// each serves xDS on its own socket, every Envoy knows all sockets (xdsPeers) and fails over; a
// new leader adopts the Envoy replicas the previous one started.
import { mkdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { IdleGc } from './idle-gc.ts';
import { http } from './node-http.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Engine } from './controller/engine.ts';
import { DomainClaimController } from './controller/domain-claims.ts';
import { CertificateController } from './controller/certificates.ts';
import { knativeOwner } from './controller/knative-config.ts';
import { gatewayConfig } from './controller/gateways.ts';
import type { FleetRuntime } from './fleets/runtime.ts';
import { LocalFleetRuntime } from './fleets/local.ts';
import { LocalNetwork } from './fleets/network.ts';
import type { Logger } from './log.ts';
import { LeaderElector } from './kube/lease.ts';
import { KubeRest } from './kube/rest.ts';
import { inClusterConnection, kubeconfigConnection } from './kube/config.ts';
import type { SnapshotInput } from './xds/cache.ts';
import { XdsServer } from './xds/server.ts';
import { httpScrape } from './controller/fleet-traffic.ts';
import { metricsRegistry, startMetricsServer, type OperatorMetrics } from './metrics.ts';
import { detectCertSource, startWebhookCerts } from '../webhook/certs.ts';
import { startCertManagerWebhookCerts } from '../webhook/cert-manager-certs.ts';
import { liveLookups, type LiveLookups } from '../webhook/lookups.ts';
import { startWebhookServer } from '../webhook/server.ts';
import { ensureNamespace } from './fleets/publish.ts';
import {
  LEADER_LEASE_NAME,
  OPERATOR_NAMESPACE,
  OPERATOR_PORTS,
  WEBHOOK_CERT_DIR,
  XDS_CA_SECRET,
} from './api/install.ts';
import { operatorXdsEndpoint } from './fleets/fleet-names.ts';
import { loadOrCreateXdsCa } from './pki/xds-ca-secret.ts';
import { XdsTls } from './pki/xds-tls.ts';

/** How often the xDS certificates are checked for renewal (renewed at 2/3 of their lifetime). */
const XDS_CERT_CHECK_MS = 60 * 60 * 1000;

export interface LeaderElectionOptions {
  namespace: string;
  /** Lease name (default kgw-operator-leader, which the RBAC names). */
  name?: string;
  /** Unique per operator process (default: host name + pid). */
  identity?: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
}

export interface OperatorOptions {
  /**
   * Fault injection for tests: rewrites each snapshot on its way to the xDS server. kgw refuses
   * everything it knows Envoy would reject, so the NACK handling (attribution, bisection, revert)
   * can only be exercised against a real Envoy by corrupting what it is sent. Never set in kgw.
   */
  snapshotFilter?: (fleet: string, resources: SnapshotInput) => SnapshotInput;
  /** How long watches may fail before the replica reports stale configuration (default 30 s). */
  staleAfterMs?: number;
  /** Window of the fleets' request rates in KnativeGateway status (default 30 s; fleet-traffic.ts). */
  trafficWindowMs?: number;
  /** Kubeconfig file; without it the in-cluster ServiceAccount is used. */
  kubeconfig?: string;
  runtime: 'local' | 'kubernetes';
  log: Logger;
  /** Local runtime: the Envoy binary. */
  envoyBin?: string;
  /** Local runtime: sockets, Envoy bootstraps and logs, replica state. */
  workDir: string;
  /** Local runtime: reuse a network of this process (tests share one with their backends). */
  network?: LocalNetwork;
  /** Local runtime: attach to the network 198.18.N.0/24 another process created. */
  networkSubnet?: number;
  envoyLogLevel?: string;
  /** Envoy's xDS flavour (default delta). */
  xdsProtocol?: 'delta' | 'sotw';
  /** Local runtime: this replica's xDS socket (default <workDir>/xds.sock). */
  xdsSocket?: string;
  /** Local runtime: every operator replica's xDS socket, given to Envoy (default: xdsSocket). */
  xdsPeers?: string[];
  /** Kubernetes runtime: xDS port (default 18000) and the address Envoys use to reach it. */
  xdsPort?: number;
  /**
   * Mutual TLS between Envoy and the xDS server (default true): a CA kept in the Secret
   * `kgw-xds-ca` of the operator namespace issues the server's and every fleet's certificates.
   */
  xdsTls?: boolean;
  /** Namespace of the operator (its Lease and the xDS CA Secret). Default kgw-system. */
  namespace?: string;
  /**
   * Admission webhooks (HTTPS) on this port (off when undefined). Certificates: `self` (kgw's own
   * CA in Secret kgw-webhook-certs, written to certDir, caBundle patched) or `mounted` (OLM's).
   */
  webhook?: {
    port: number;
    certDir?: string;
    /** `cert-manager`: a Certificate from `issuer`, CA injected by cert-manager's cainjector. */
    certSource?: 'self' | 'mounted' | 'cert-manager';
    issuer?: string;
    /**
     * On stop, /readyz fails at once and the webhooks keep answering this long before their port
     * closes, so the API server's calls stop reaching this replica first (the Service's endpoints
     * and kube-proxy take a moment to drop a terminating Pod; a closed port meanwhile fails every
     * admission with "connection refused"). Default: 5000 ms with runtime kubernetes, else 0.
     */
    drainMs?: number;
  };
  /** HTTP port for Prometheus /metrics (off when undefined). */
  metricsPort?: number;
  /** HTTP port for /healthz and /readyz (off when undefined). */
  healthPort?: number;
  leaderElection?: LeaderElectionOptions;
}

export interface RunningOperator {
  engine: Engine;
  claims: DomainClaimController;
  xds: XdsServer;
  network: LocalNetwork | undefined;
  elector: LeaderElector | undefined;
  /** Stops the operator; with keepFleets the Envoy replicas keep running for a successor. */
  stop(opts?: { keepFleets?: boolean }): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const rest = new KubeRest(o.kubeconfig ? kubeconfigConnection(o.kubeconfig) : inClusterConnection());
  mkdirSync(o.workDir, { recursive: true });
  const xds = new XdsServer({ log: o.log.child({ component: 'xds' }) });
  const namespace = o.namespace ?? o.leaderElection?.namespace ?? OPERATOR_NAMESPACE;
  const serverName = operatorXdsEndpoint(namespace).host;
  let tls: XdsTls | undefined;
  if (o.xdsTls !== false) {
    if (o.runtime === 'local') await ensureNamespace(rest, namespace);
    const ca = await loadOrCreateXdsCa({ rest, namespace, name: XDS_CA_SECRET, log: o.log });
    tls = await XdsTls.create(
      {
        serverNames: [serverName, `${serverName.split('.svc')[0]}.svc`],
        log: o.log.child({ component: 'xds-tls' }),
      },
      ca,
    );
  }
  const listenTls = async (address: string, dir: string): Promise<void> => {
    if (!tls) {
      await xds.listen(address);
      return;
    }
    await tls.writeServerDir(dir);
    await xds.listen(address, { tls: { dir } });
  };
  let runtime: FleetRuntime;
  let network: LocalNetwork | undefined;
  let ownNetwork = false;
  let listening: string;
  let refreshFleets: (() => Promise<void>) | undefined;
  if (o.runtime === 'local') {
    const xdsSocket = o.xdsSocket ?? join(o.workDir, 'xds.sock');
    rmSync(xdsSocket, { force: true });
    await listenTls(`unix:${xdsSocket}`, `${xdsSocket}.tls`);
    listening = xdsSocket;
    ownNetwork = !o.network && o.networkSubnet === undefined;
    network =
      o.network ??
      (o.networkSubnet !== undefined ? LocalNetwork.attach(o.networkSubnet) : await LocalNetwork.create());
    runtime = new LocalFleetRuntime({
      network,
      rest,
      envoyBin: o.envoyBin ?? 'envoy',
      xdsSocket,
      ...(o.xdsPeers ? { xdsSockets: o.xdsPeers } : {}),
      workDir: join(o.workDir, 'envoy'),
      log: o.log.child({ component: 'fleets' }),
      ...(o.envoyLogLevel ? { envoyLogLevel: o.envoyLogLevel } : {}),
      ...(o.xdsProtocol ? { xdsProtocol: o.xdsProtocol } : {}),
      ...(tls ? { xdsTls: { material: tls, serverName } } : {}),
    });
  } else {
    const port = o.xdsPort ?? OPERATOR_PORTS.xds;
    await listenTls(`0.0.0.0:${port}`, join(o.workDir, 'xds-server-tls'));
    listening = `0.0.0.0:${port}`;
    const { KubernetesFleetRuntime } = await import('./fleets/kubernetes.ts');
    const k8s = new KubernetesFleetRuntime({
      rest,
      log: o.log.child({ component: 'fleets' }),
      xds: operatorXdsEndpoint(namespace),
      ...(tls ? { xdsTls: { material: tls, serverName } } : {}),
      operatorNamespace: namespace,
    });
    runtime = k8s;
    refreshFleets = () => k8s.refresh();
  }
  // DomainMappings against the gateways' domainClaims policy (claims, verdicts; leader writes).
  // Its claim and namespace caches also decide which KIngress may serve which host.
  const claims: DomainClaimController = new DomainClaimController({
    rest,
    log: o.log.child({ component: 'domain-claims' }),
    gateways: () => engine.servedGateways(),
    leading: () => engine.isLeading(),
    invalidate: (refs) => engine.invalidate(refs),
  });
  // The metrics exist before the engine, which reports time-to-ready and probe failures into them;
  // their sources are read only when scraped.
  const m: OperatorMetrics | undefined =
    o.metricsPort !== undefined
      ? metricsRegistry({
          leading: () => engine.isLeading(),
          ingresses: () => engine.ingressSummary(),
          counters: () => engine.counters,
          xdsStats: () => xds.stats(),
          proxies: () => xds.connections(),
          staleness: () => engine.staleness(),
          fleetReplicas: () => engine.fleetReplicas(),
        })
      : undefined;
  const engine: Engine = new Engine({
    ...(m ? { statusMetrics: m.status } : {}),
    rest,
    log: o.log.child({ component: 'engine' }),
    // Envoys of the kubernetes runtime always speak delta; the local runtime's may speak SotW
    scoped: !(o.runtime === 'local' && o.xdsProtocol === 'sotw'),
    hostOwners: claims.hostOwners(),
    xds: {
      setSnapshot: (f, r) => xds.setSnapshot(f, o.snapshotFilter ? o.snapshotFilter(f, r) : r),
      markSynced: () => xds.markSynced(),
      snapshotVersion: (f, t) => xds.snapshotVersion(f, t),
      onAck: (cb) => xds.onAck(cb),
      onNack: (cb) => xds.onNack(cb),
      connections: () => xds.connections(),
      setRateLimitConfigs: (f, c) => xds.setRateLimitConfigs(f, c),
      rateLimitServices: () => xds.rateLimitServices(),
    },
    runtime,
    gatewayConfig: (obj) => gatewayConfig(obj, o.log),
    ...(o.staleAfterMs !== undefined ? { staleAfterMs: o.staleAfterMs } : {}),
    traffic: {
      scrape: httpScrape(),
      ...(o.trafficWindowMs !== undefined ? { windowMs: o.trafficWindowMs } : {}),
    },
    leading: o.leaderElection === undefined,
    onGatewaysChanged: () => {
      claims.kick();
      certificates.resync();
    },
  });
  claims.start();
  // KCertificates of kgw's class → cert-manager Certificates from the gateway that configures
  // Knative (certificate-class is one key of the one config-network).
  const certificates: CertificateController = new CertificateController({
    rest,
    log: o.log.child({ component: 'certificates' }),
    gateway: () => {
      const served = engine.servedGateways();
      const owner = knativeOwner(served);
      return served.find((g) => g.metadata.name === owner);
    },
    leading: () => engine.isLeading(),
  });
  certificates.start();
  let elector: LeaderElector | undefined;
  let metrics: Server | undefined;
  if (o.metricsPort !== undefined && m) {
    xds.onNack((e) => m.nack(e.fleet));
    metrics = await startMetricsServer(o.metricsPort, m.registry);
  }
  let ready = false;
  let stopping = false;
  // Not ready while cut off from the API server: in a cluster the replica leaves the operator
  // Service, so Envoys that (re)connect get a replica whose configuration is current.
  const health =
    o.healthPort !== undefined
      ? await startHealth(o.healthPort, () => ready && !stopping && engine.staleness() === undefined)
      : undefined;
  await engine.start();
  // Admission webhooks: every replica serves them (not only the leader). Their lookups read the
  // engine's KIngress and KnativeGateway caches, synced by now.
  let webhook: { close(): Promise<void> } | undefined;
  let webhookLookups: LiveLookups | undefined;
  let webhookCerts: { stop(): Promise<void> } | undefined;
  if (o.webhook) {
    const certSource = o.webhook.certSource ?? detectCertSource();
    const certDir =
      o.webhook.certDir ?? (o.runtime === 'kubernetes' ? WEBHOOK_CERT_DIR : join(o.workDir, 'webhook-certs'));
    const wlog = o.log.child({ component: 'webhook' });
    if (certSource === 'cert-manager') {
      if (!o.webhook.issuer) throw new Error('webhook certificates from cert-manager need an issuer');
      webhookCerts = await startCertManagerWebhookCerts({
        rest,
        log: wlog,
        issuer: o.webhook.issuer,
        namespace,
        certDir,
      });
    } else {
      webhookCerts = await startWebhookCerts({ certSource, rest, log: wlog, namespace, certDir });
    }
    webhookLookups = liveLookups({
      rest,
      log: wlog,
      shared: { ingresses: engine.ingresses, gateways: engine.gateways },
      // the claim and namespace caches translation reads: admission gives the same host verdicts
      hostOwners: claims.hostOwners(),
      // The policy part only: a claim of another namespace is reported by the validator itself.
      domainPolicy: (domain, ns, annotations) => {
        const v = claims.decide(domain, ns, annotations);
        if (v.allowed) return undefined;
        const claim = webhookLookups?.clusterDomainClaim(domain);
        if (claim !== undefined && claim !== 'unavailable' && claim.spec?.namespace !== ns) return undefined;
        return v.message;
      },
    });
    await webhookLookups.start();
    webhook = await startWebhookServer({ port: o.webhook.port, certDir, lookups: webhookLookups, log: wlog });
  }
  ready = true;
  if (o.leaderElection) {
    const le = o.leaderElection;
    elector = new LeaderElector({
      rest,
      namespace: le.namespace,
      name: le.name ?? LEADER_LEASE_NAME,
      identity: le.identity ?? `${hostname()}_${process.pid}`,
      log: o.log.child({ component: 'leader-election' }),
      ...(le.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: le.leaseDurationSeconds } : {}),
      ...(le.renewDeadlineSeconds !== undefined ? { renewDeadlineSeconds: le.renewDeadlineSeconds } : {}),
      ...(le.retryPeriodSeconds !== undefined ? { retryPeriodSeconds: le.retryPeriodSeconds } : {}),
    });
    elector.onChange((leading) => {
      engine.setLeading(leading);
      claims.kick();
      certificates.resync();
      if (!leading) void runtime.release?.();
    });
    elector.start();
  }
  const rotation = setInterval(() => {
    if (!tls?.needsRotation()) return;
    void tls
      .rotate()
      .then(() => refreshFleets?.())
      .catch((err: unknown) => o.log.error({ err: String(err) }, 'rotating xDS certificates failed'));
  }, XDS_CERT_CHECK_MS);
  rotation.unref();
  // one full GC when the operator goes quiet after a burst (idle-gc.ts; needs node --expose-gc)
  const idleGc = new IdleGc({ log: o.log.child({ component: 'idle-gc' }) });
  idleGc.start();
  o.log.info(
    {
      runtime: o.runtime,
      xdsTls: tls !== undefined,
      xds: listening,
      ...(network ? { subnet: `198.18.${network.subnet}.0/24` } : {}),
      leaderElection: o.leaderElection !== undefined,
    },
    'operator started',
  );
  return {
    engine,
    claims,
    xds,
    network,
    elector,
    async stop(opts = {}) {
      // Not ready at once; the webhooks keep answering for drainMs (see its doc) while the rest
      // stops. Step down first so a successor takes over at once; then stop writing and serving.
      stopping = true;
      const drainMs = o.webhook ? (o.webhook.drainMs ?? (o.runtime === 'kubernetes' ? 5000 : 0)) : 0;
      const drained = new Promise((r) => setTimeout(r, drainMs));
      clearInterval(rotation);
      idleGc.stop();
      await elector?.stop({ release: true });
      await engine.stop();
      await claims.stop();
      await certificates.stop();
      const keep = opts.keepFleets === true || elector !== undefined;
      await runtime.close({ keepReplicas: keep });
      await xds.close();
      if (metrics) await new Promise<void>((r) => metrics.close(() => r()));
      await drained;
      if (health) await new Promise<void>((r) => health.close(() => r()));
      await webhook?.close();
      await webhookLookups?.stop();
      await webhookCerts?.stop();
      rest.close();
      if (network && ownNetwork && !keep) await network.destroy();
    },
  };
}

/** /healthz: the process serves; /readyz: caches synced (the engine started) and webhooks serving. */
function startHealth(port: number, ready: () => boolean): Promise<Server> {
  const server = http.createServer((req, res) => {
    const ok = req.url === '/healthz' || (req.url === '/readyz' && ready());
    res.writeHead(ok ? 200 : req.url === '/readyz' ? 503 : 404, { 'content-type': 'text/plain' });
    res.end(ok ? 'ok\n' : 'not ready\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}
