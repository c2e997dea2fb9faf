// Names, paths and ports of a Kubernetes Envoy fleet that several modules share: where the pods
// find the operator's xDS server, the bootstrap's ConfigMap key and mount, the readiness and stats
// endpoints, the xDS client credentials' Secret and mount.
import { DEFAULT_CLUSTER_DOMAIN, DEFAULT_NAMESPACE, fleetServiceName } from '../api/knativegateway.ts';
import { OPERATOR_NAME, OPERATOR_PORTS } from '../api/install.ts';

/** The operator's xDS Service (name and port) that Envoy pods connect to. */
export const XDS_SERVICE_NAME = OPERATOR_NAME;
export const XDS_PORT = OPERATOR_PORTS.xds;
/** ConfigMap key and mount path of the bootstrap. */
export const BOOTSTRAP_KEY = 'envoy.json';
export const BOOTSTRAP_DIR = '/etc/envoy/kgw';
export const BOOTSTRAP_PATH = `${BOOTSTRAP_DIR}/${BOOTSTRAP_KEY}`;
export const ENVOY_CONTAINER = 'envoy';
/** Path of the readiness endpoint on ENVOY_READY_PORT. */
export const READY_PATH = '/ready';
export const READY_LISTENER = 'kgw-ready';
/** Name of the stats listener's container port (for a PodMonitor's podMetricsEndpoints). */
export const METRICS_PORT_NAME = 'metrics';
/** Pod template annotation: hash of the bootstrap, so a bootstrap change rolls the pods. */
export const ANNOTATION_BOOTSTRAP_HASH = 'operator.kgw.dev/bootstrap-hash';
/** uid and gid of the Envoy process (the conventional unprivileged "nonroot" user). */
export const ENVOY_UID = 65532;
/** terminationGracePeriodSeconds = drainSeconds + this. */
export const TERMINATION_GRACE_EXTRA_SECONDS = 10;

/** Where Envoy finds kgw's xDS server. */
export interface XdsEndpoint {
  /** A DNS name (STRICT_DNS cluster) or an IP address (STATIC cluster). */
  host: string;
  port: number;
}

/** `kgw-operator.<namespace>.svc.<clusterDomain>:18000`: the operator Service's xDS port. */
export function operatorXdsEndpoint(
  operatorNamespace: string = DEFAULT_NAMESPACE,
  clusterDomain: string = DEFAULT_CLUSTER_DOMAIN,
): XdsEndpoint {
  return { host: `${XDS_SERVICE_NAME}.${operatorNamespace}.svc.${clusterDomain}`, port: XDS_PORT };
}

/** Mount path of the fleet's xDS client credentials (Secret `<fleet>-xds-client`). */
export const XDS_TLS_DIR = '/etc/envoy/kgw-xds-tls';
export const XDS_TLS_VOLUME = 'xds-tls';

/** The Secret with a fleet's xDS client credentials: keys tls.crt, tls.key and ca.crt. */
export function fleetXdsClientSecretName(gateway: string, fleet: string): string {
  return `${fleetServiceName(gateway, fleet)}-xds-client`;
}
