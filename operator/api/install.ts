// The names, namespace, paths and ports the running operator and its install share: the release
// manifest and the OLM bundle (operator/gen/operator-install.ts, rbac.ts) declare them, and the
// operator (run.ts, cli.ts) and its webhooks (webhook/) use them. They live here, not in the
// build-time generator, so the shipped code does not import operator/gen/.
import { DEFAULT_NAMESPACE } from './knativegateway.ts';

/** Namespace of the plain install (OLM installs into the namespace the admin picks; suggested: this). */
export const OPERATOR_NAMESPACE = DEFAULT_NAMESPACE;
/** Deployment, ServiceAccount, (Cluster)Role(Binding)s, PodDisruptionBudget and xDS Service. */
export const OPERATOR_NAME = 'kgw-operator';
/**
 * Service in front of the webhook port. OLM always names it `<deploymentName>-service` and deletes
 * and re-creates it with only the webhook port, which is why xDS and metrics have their own Service
 * (OPERATOR_NAME): one DNS name per purpose in both install modes.
 */
export const WEBHOOK_SERVICE_NAME = `${OPERATOR_NAME}-service`;
/** Lease used for leader election (issue 3: one leader writes status). */
export const LEADER_LEASE_NAME = `${OPERATOR_NAME}-leader`;
/** Secret (operator namespace) holding the webhook serving certificate kgw manages in plain installs. */
export const WEBHOOK_CERT_SECRET = 'kgw-webhook-certs';
/** Secret (operator namespace) holding the CA kgw manages for xDS mTLS with the Envoy fleets. */
export const XDS_CA_SECRET = 'kgw-xds-ca';
/** Where the webhook server reads tls.crt/tls.key: OLM's (and controller-runtime's) default path. */
export const WEBHOOK_CERT_DIR = '/tmp/k8s-webhook-server/serving-certs';

/** Container ports of the operator. */
export const OPERATOR_PORTS = {
  /** Envoy fleets connect here for ADS (gRPC). */
  xds: 18000,
  /** Admission webhooks (HTTPS). */
  webhook: 9443,
  /** Prometheus metrics (HTTP, /metrics). */
  metrics: 9090,
  /** Probes (HTTP): /healthz (the process works) and /readyz (caches synced, webhook serving). */
  health: 8081,
} as const;
