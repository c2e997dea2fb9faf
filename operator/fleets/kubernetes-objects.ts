// The Kubernetes objects of a KnativeGateway's fleets (the production fleet runtime): per fleet a
// ServiceAccount, a ConfigMap with the Envoy bootstrap, a Deployment, a Service, and optionally a
// HorizontalPodAutoscaler and a PodDisruptionBudget. Pure functions of the gateway and the xDS
// address; all objects share the fleet's name (`fleetServiceName`), carry kgw's three labels and
// an ownerReference to the gateway (controller: true), so the garbage collector removes them with
// the gateway. kubernetes-apply.ts writes them.
//
// Pod design:
// - Hardened: non-root (uid/gid 65532), read-only root filesystem, no capabilities, seccomp
//   RuntimeDefault, no privilege escalation, no service-account token (Envoy never calls the API).
// - Envoy's admin interface is a unix socket in the pod's memory-backed /tmp (mode 0600), never a
//   TCP port: a route to 127.0.0.1 (an ExternalName Service naming localhost, a DNS name that
//   resolves to loopback) finds nothing there.
// - Readiness: the bootstrap has one static listener on :19003 answering `GET /ready` (the
//   health_check filter, not passed through). Envoy opens listeners only once its initial xDS
//   fetch is done, and `initial_fetch_timeout: 0s` on LDS/CDS makes that wait unbounded (the
//   default would give up after 15 s and go live without configuration). So the probe answers
//   200 only after the pod received its configuration.
// - Termination: a preStop hook (perl from the image's essential perl-base, talking HTTP over the
//   admin socket, since the Envoy image has no curl) fails the health check, starts a graceful drain
//   (`drain_listeners?graceful&skip_exit` with `--drain-strategy immediate`: every response says
//   "Connection: close", HTTP/2 gets GOAWAY, listeners stay open for stragglers), then sleeps
//   drainSeconds; only then does the kubelet send SIGTERM. terminationGracePeriodSeconds is
//   drainSeconds + 10.
// - Metrics (fleet `metrics.enabled`): the bootstrap's stats listener (render/bootstrap.ts) on
//   metrics.port serves Envoy's /stats/prometheus and nothing else; the container port is named
//   `metrics`, the pod template carries the prometheus.io/{scrape,port,path} annotations and the
//   label LABEL_METRICS (for a PodMonitor; kgw creates no ServiceMonitor or PodMonitor, whose CRDs
//   may not exist). The fleet's Service does not publish the port. Like every listener it opens
//   once the first xDS configuration arrived.
// - The node id is the pod name (`--service-node $(POD_NAME)`); node.cluster `<gateway>/<fleet>`
//   selects the fleet's snapshot. A bootstrap change rolls the pods (hash annotation).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type {
  V1ConfigMap,
  V1Deployment,
  V1OwnerReference,
  V1PodDisruptionBudget,
  V1Service,
  V1ServiceAccount,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import {
  ENVOY_ADMIN_SOCKET,
  ENVOY_READY_PORT,
  GATEWAY_API_VERSION,
  GATEWAY_KIND,
  LABEL_METRICS,
  LABEL_VISIBILITY,
  METRICS_LABEL_VALUE,
  METRICS_PATH,
  fleetLabels,
  fleetServiceName,
  fleetXdsCluster,
  validateGateway,
  withGatewayDefaults,
  type KnativeGateway,
  type ResolvedFleet,
  type ResolvedGatewaySpec,
} from '../api/knativegateway.ts';
import {
  XDS_CLUSTER,
  renderBootstrap,
  renderXdsTlsSdsFiles,
  type XdsTlsBootstrap,
} from '../render/bootstrap.ts';
import { ADS_SOURCE, T, type Json } from '../render/types.ts';
import {
  ANNOTATION_BOOTSTRAP_HASH,
  BOOTSTRAP_DIR,
  BOOTSTRAP_KEY,
  ENVOY_CONTAINER,
  READY_LISTENER,
  READY_PATH,
  XDS_TLS_DIR,
  type XdsEndpoint,
  fleetXdsClientSecretName,
} from './fleet-names.ts';
import { podSpec } from './envoy-pod.ts';
export interface FleetObjectsOptions {
  xds: XdsEndpoint;
  /**
   * Mutual TLS to the xDS server: pods mount the Secret `<fleet>-xds-client` (fleetXdsClientSecretName,
   * written by the operator) at XDS_TLS_DIR, the ConfigMap carries the two SDS files next to the
   * bootstrap, and Envoy reloads the certificates when the Secret changes (no pod restart).
   */
  tls?: { serverName: string };
}

function xdsTlsBootstrap(tls: { serverName: string }): XdsTlsBootstrap {
  return { serverName: tls.serverName, credentialDir: XDS_TLS_DIR, sdsDir: BOOTSTRAP_DIR };
}

/** The objects of one fleet. All have the same name and namespace. */
export interface FleetObjects {
  fleet: string;
  name: string;
  namespace: string;
  serviceAccount: V1ServiceAccount;
  configMap: V1ConfigMap;
  deployment: V1Deployment;
  service: V1Service;
  /** Only with `autoscaling`. */
  horizontalPodAutoscaler?: V2HorizontalPodAutoscaler;
  /** Only with `podDisruptionBudget`. */
  podDisruptionBudget?: V1PodDisruptionBudget;
}

/** A rendered object: apiVersion, kind and metadata are always set. */
export interface FleetObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: V1OwnerReference[];
  };
}

/** The kinds kgw creates per fleet, in apply order (what others depend on comes first). */
export const FLEET_KINDS = [
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts' },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets' },
] as const;

/** The controller ownerReference to the gateway (needs its uid). */
export function gatewayOwnerReference(gw: KnativeGateway): V1OwnerReference {
  const uid = gw.metadata.uid;
  if (uid === undefined || uid === '') {
    throw new Error(`KnativeGateway ${gw.metadata.name} has no metadata.uid: read it from the API server`);
  }
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: GATEWAY_KIND,
    name: gw.metadata.name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The objects of every fleet of a valid gateway, in spec order. Throws when the gateway is
 * invalid (`validateGateway`) or has no uid.
 */
export function renderGatewayObjects(gw: KnativeGateway, opts: FleetObjectsOptions): FleetObjects[] {
  const errs = validateGateway(gw);
  if (errs.length > 0) throw new Error(`KnativeGateway ${gw.metadata.name} is invalid: ${errs.join('; ')}`);
  const spec = withGatewayDefaults(gw.spec);
  return spec.fleets.map((f) => renderFleetObjects(gw, spec, f, opts));
}

/** Every object of a fleet in apply order (ServiceAccount, ConfigMap, Deployment, Service, HPA, PDB). */
export function fleetObjectList(fo: FleetObjects): FleetObject[] {
  const list: unknown[] = [fo.serviceAccount, fo.configMap, fo.deployment, fo.service];
  if (fo.horizontalPodAutoscaler) list.push(fo.horizontalPodAutoscaler);
  if (fo.podDisruptionBudget) list.push(fo.podDisruptionBudget);
  return list as FleetObject[];
}

export function renderFleetObjects(
  gw: KnativeGateway,
  spec: ResolvedGatewaySpec,
  fleet: ResolvedFleet,
  opts: FleetObjectsOptions,
): FleetObjects {
  const gateway = gw.metadata.name;
  const name = fleetServiceName(gateway, fleet.name);
  const namespace = spec.namespace;
  const labels = fleetLabels(gateway, fleet.name);
  const metadata = (): FleetObject['metadata'] => ({
    name,
    namespace,
    labels: { ...labels },
    ownerReferences: [gatewayOwnerReference(gw)],
  });
  const bootstrapJson = `${JSON.stringify(fleetBootstrap(gateway, fleet, opts.xds, opts.tls), null, 2)}\n`;
  const sdsFiles = opts.tls
    ? Object.fromEntries(
        Object.entries(renderXdsTlsSdsFiles(xdsTlsBootstrap(opts.tls))).map(([file, json]) => [
          file,
          `${JSON.stringify(json, null, 2)}\n`,
        ]),
      )
    : {};
  const bootstrapHash = createHash('sha256')
    .update(bootstrapJson + Object.values(sdsFiles).join(''))
    .digest('hex')
    .slice(0, 16);

  const serviceAccount: V1ServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: metadata(),
    automountServiceAccountToken: false,
  };
  const configMap: V1ConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: metadata(),
    data: { [BOOTSTRAP_KEY]: bootstrapJson, ...sdsFiles },
  };
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(),
    spec: {
      // With autoscaling the HorizontalPodAutoscaler owns the count: kgw leaves the field out.
      ...(fleet.autoscaling ? {} : { replicas: fleet.replicas }),
      selector: { matchLabels: { ...labels } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: {
          // with metrics: what a PodMonitor selects, and the visibility its series are labelled with
          labels: {
            ...labels,
            ...(fleet.metrics.enabled
              ? { [LABEL_METRICS]: METRICS_LABEL_VALUE, [LABEL_VISIBILITY]: fleet.visibility }
              : {}),
          },
          annotations: {
            [ANNOTATION_BOOTSTRAP_HASH]: bootstrapHash,
            'kubectl.kubernetes.io/default-container': ENVOY_CONTAINER,
            ...(fleet.metrics.enabled ? prometheusAnnotations(fleet.metrics.port) : {}),
          },
        },
        spec: podSpec(
          name,
          labels,
          fleet,
          opts.tls ? fleetXdsClientSecretName(gateway, fleet.name) : undefined,
        ),
      },
    },
  };
  const service: V1Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      ...metadata(),
      ...(Object.keys(fleet.service.annotations).length > 0
        ? { annotations: { ...fleet.service.annotations } }
        : {}),
    },
    spec: {
      type: fleet.service.type,
      selector: { ...labels },
      ports: [
        { name: 'http', protocol: 'TCP', port: fleet.service.httpPort, targetPort: 'http' },
        { name: 'https', protocol: 'TCP', port: fleet.service.httpsPort, targetPort: 'https' },
      ],
      ...(fleet.service.externalTrafficPolicy !== undefined
        ? { externalTrafficPolicy: fleet.service.externalTrafficPolicy }
        : {}),
      ...(fleet.service.loadBalancerClass !== undefined
        ? { loadBalancerClass: fleet.service.loadBalancerClass }
        : {}),
    },
  };
  const out: FleetObjects = {
    fleet: fleet.name,
    name,
    namespace,
    serviceAccount,
    configMap,
    deployment,
    service,
  };
  if (fleet.autoscaling) {
    out.horizontalPodAutoscaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: metadata(),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
        minReplicas: fleet.autoscaling.minReplicas,
        maxReplicas: fleet.autoscaling.maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              target: {
                type: 'Utilization',
                averageUtilization: fleet.autoscaling.targetCPUUtilizationPercentage,
              },
            },
          },
        ],
      },
    };
  }
  const pdb = fleet.podDisruptionBudget;
  if (pdb) {
    out.podDisruptionBudget = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: metadata(),
      spec: {
        selector: { matchLabels: { ...labels } },
        ...(pdb.minAvailable !== undefined ? { minAvailable: pdb.minAvailable } : {}),
        ...(pdb.maxUnavailable !== undefined ? { maxUnavailable: pdb.maxUnavailable } : {}),
        // Pods that are not ready (e.g. no config yet) never block a node drain.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    };
  }
  return out;
}

/** The annotations Prometheus' conventional pod discovery rules read. */
export function prometheusAnnotations(port: number): Record<string, string> {
  return {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': String(port),
    'prometheus.io/path': METRICS_PATH,
  };
}

/**
 * The Envoy bootstrap of a fleet's pods: `renderBootstrap` (shared with the local runtime) with the
 * admin on its unix socket, xDS over TCP, and what a pod needs on top: LDS/CDS waiting for their
 * first answer without a timeout, the readiness listener, and HTTP/2 keepalives on the xDS
 * connection so a vanished control plane is noticed.
 */
export function fleetBootstrap(
  gateway: string,
  fleet: ResolvedFleet,
  xds: XdsEndpoint,
  tls?: { serverName: string },
): Json {
  const b = renderBootstrap({
    // Replaced per pod by --service-node $(POD_NAME).
    nodeId: fleetServiceName(gateway, fleet.name),
    fleet: fleetXdsCluster(gateway, fleet.name),
    xds: { address: xds.host, port: xds.port },
    admin: { pipe: ENVOY_ADMIN_SOCKET },
    delta: true,
    ...(tls ? { tls: xdsTlsBootstrap(tls) } : {}),
    maxHeapMiB: fleet.envoy.maxHeapMiB,
    ...(fleet.metrics.enabled ? { stats: { port: fleet.metrics.port } } : {}),
    fleetMembers: fleet.rateLimitSharing === 'SharedEvenly',
  });
  const dynamic = b.dynamic_resources as Json;
  dynamic.lds_config = { ...ADS_SOURCE, initial_fetch_timeout: '0s' };
  dynamic.cds_config = { ...ADS_SOURCE, initial_fetch_timeout: '0s' };
  const statics = b.static_resources as { clusters: Json[]; listeners?: Json[] };
  const cluster = statics.clusters.find((c) => c.name === XDS_CLUSTER);
  if (cluster === undefined) throw new Error(`renderBootstrap produced no ${XDS_CLUSTER} cluster`);
  // A STATIC cluster needs an IP address; a Service name is resolved (and re-resolved) by DNS.
  cluster.type = isIP(xds.host) === 0 ? 'STRICT_DNS' : 'STATIC';
  cluster.typed_extension_protocol_options = {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': T.httpProtocolOptions,
      explicit_http_config: {
        http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '5s' } },
      },
    },
  };
  statics.listeners = [readyListener(), ...(statics.listeners ?? [])];
  return b;
}

/** The static readiness listener: `GET /ready` → 200 (503 after /healthcheck/fail), else 404. */
function readyListener(): Json {
  return {
    name: READY_LISTENER,
    address: { socket_address: { address: '0.0.0.0', port_value: ENVOY_READY_PORT } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': T.hcm,
              stat_prefix: 'kgw_ready',
              route_config: {
                name: READY_LISTENER,
                virtual_hosts: [
                  {
                    name: READY_LISTENER,
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, direct_response: { status: 404 } }],
                  },
                ],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.health_check',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck',
                    pass_through_mode: false,
                    headers: [{ name: ':path', string_match: { exact: READY_PATH } }],
                  },
                },
                { name: 'envoy.filters.http.router', typed_config: { '@type': T.router } },
              ],
            },
          },
        ],
      },
    ],
  };
}
