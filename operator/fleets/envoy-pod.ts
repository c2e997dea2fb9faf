// The pod template of a Kubernetes Envoy fleet: the Envoy container (image, arguments, ports,
// resources, readiness on the ready listener, a preStop hook that drains before Envoy stops,
// an unprivileged read-only root), its volumes (bootstrap ConfigMap, xDS client credentials)
// and the scheduling a fleet asks for. Pure.
import type { V1Container, V1PodSpec, V1TopologySpreadConstraint } from '@kubernetes/client-node';
import { ENVOY_ADMIN_SOCKET, ENVOY_READY_PORT, type ResolvedFleet } from '../api/knativegateway.ts';
import {
  BOOTSTRAP_DIR,
  BOOTSTRAP_PATH,
  ENVOY_CONTAINER,
  ENVOY_UID,
  METRICS_PORT_NAME,
  READY_PATH,
  TERMINATION_GRACE_EXTRA_SECONDS,
  XDS_TLS_DIR,
  XDS_TLS_VOLUME,
} from './fleet-names.ts';

export function podSpec(
  name: string,
  labels: Record<string, string>,
  fleet: ResolvedFleet,
  xdsTlsSecret: string | undefined,
): V1PodSpec {
  const p = fleet.placement;
  const spec: V1PodSpec = {
    serviceAccountName: name,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: fleet.envoy.drainSeconds + TERMINATION_GRACE_EXTRA_SECONDS,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: ENVOY_UID,
      runAsGroup: ENVOY_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [envoyContainer(fleet, xdsTlsSecret !== undefined)],
    volumes: [
      { name: 'bootstrap', configMap: { name } },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
      ...(xdsTlsSecret !== undefined ? [{ name: XDS_TLS_VOLUME, secret: { secretName: xdsTlsSecret } }] : []),
    ],
  };
  if (Object.keys(p.nodeSelector).length > 0) spec.nodeSelector = { ...p.nodeSelector };
  if (p.tolerations.length > 0) spec.tolerations = p.tolerations.map((t) => ({ ...t }));
  // The affinity and spread constraints were validated as JSON objects only; the API server checks
  // their shape when it validates the Deployment.
  if (p.affinity !== undefined) spec.affinity = structuredClone(p.affinity);
  if (p.topologySpreadConstraints.length > 0) {
    spec.topologySpreadConstraints = p.topologySpreadConstraints.map((c) => {
      const copy = structuredClone(c) as unknown as V1TopologySpreadConstraint;
      if (copy.labelSelector === undefined) copy.labelSelector = { matchLabels: { ...labels } };
      return copy;
    });
  }
  if (p.priorityClassName !== undefined) spec.priorityClassName = p.priorityClassName;
  return spec;
}

function envoyContainer(fleet: ResolvedFleet, xdsTls: boolean): V1Container {
  return {
    name: ENVOY_CONTAINER,
    image: fleet.envoy.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['envoy'],
    args: envoyArgs(fleet),
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
    ],
    ports: [
      { name: 'http', containerPort: fleet.ports.http, protocol: 'TCP' },
      { name: 'https', containerPort: fleet.ports.https, protocol: 'TCP' },
      { name: 'ready', containerPort: ENVOY_READY_PORT, protocol: 'TCP' },
      ...(fleet.metrics.enabled
        ? [{ name: METRICS_PORT_NAME, containerPort: fleet.metrics.port, protocol: 'TCP' }]
        : []),
    ],
    readinessProbe: {
      httpGet: { path: READY_PATH, port: 'ready', scheme: 'HTTP' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      successThreshold: 1,
      failureThreshold: 2,
    },
    // No liveness probe: an Envoy waiting for a control plane that is down is not broken, and
    // restarting it would throw away the configuration it keeps serving. A crashed Envoy exits.
    lifecycle: { preStop: { exec: { command: preStopCommand(fleet.envoy.drainSeconds) } } },
    resources: {
      ...(Object.keys(fleet.resources.requests).length > 0
        ? { requests: quantities(fleet.resources.requests) }
        : {}),
      ...(Object.keys(fleet.resources.limits).length > 0
        ? { limits: quantities(fleet.resources.limits) }
        : {}),
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: ENVOY_UID,
      runAsGroup: ENVOY_UID,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: 'bootstrap', mountPath: BOOTSTRAP_DIR, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      // A directory mount (not subPath): the kubelet swaps `..data`, Envoy's watched_directory sees it.
      ...(xdsTls ? [{ name: XDS_TLS_VOLUME, mountPath: XDS_TLS_DIR, readOnly: true }] : []),
    ],
  };
}

/** Resource quantities as strings (the API server takes `2` and `"2"` alike; the types want strings). */
function quantities(m: Record<string, number | string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
}

/** Envoy's command-line arguments (after `envoy`). `$(POD_NAME)` is expanded by the kubelet. */
export function envoyArgs(fleet: ResolvedFleet): string[] {
  return [
    '--config-path',
    BOOTSTRAP_PATH,
    '--service-node',
    '$(POD_NAME)',
    '--log-level',
    fleet.envoy.logLevel,
    '--concurrency',
    String(fleet.envoy.concurrency),
    '--drain-time-s',
    String(fleet.envoy.drainSeconds),
    '--drain-strategy',
    'immediate',
    '--disable-hot-restart',
  ];
}

/**
 * The preStop hook: fail the health check, start a graceful drain through the admin socket, wait
 * drainSeconds. bash cannot open a unix socket, so the two POSTs are a few lines of perl
 * (IO::Socket::UNIX is in perl-base, which Debian and Ubuntu images always have), bounded by a 5 s
 * alarm each. Failures to reach the admin (no perl, no socket, Envoy stuck) never skip the wait.
 */
export function preStopCommand(drainSeconds: number, adminSocket: string = ENVOY_ADMIN_SOCKET): string[] {
  const perl = [
    'use IO::Socket::UNIX;',
    'for my $p (@ARGV[1..$#ARGV]) {',
    '  my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $ARGV[0]);',
    '  if (!$s) { print "kgw preStop: $ARGV[0]: $!\\n"; next }',
    '  local $SIG{ALRM} = sub { die "timeout\\n" }; alarm 5;',
    '  my $st = eval { print $s "POST $p HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n"; <$s> };',
    '  alarm 0; $st = $@ if !defined $st; $st =~ s/\\s+$//;',
    '  print "kgw preStop: POST $p: $st\\n";',
    '}',
  ].join(' ');
  const script = [
    `if command -v perl >/dev/null 2>&1; then`,
    `  perl -e '${perl}' -- "$0" /healthcheck/fail '/drain_listeners?graceful&skip_exit'`,
    `else echo 'kgw preStop: no perl in the image: not draining'; fi`,
    `sleep ${drainSeconds}`,
  ].join('\n');
  return ['/bin/sh', '-c', script, adminSocket];
}
