// The sample KnativeGateway shipped in crds/samples/ and embedded in docs/configuration.md.
import {
  DEFAULT_INGRESS_CLASS,
  DEFAULT_NAMESPACE,
  GATEWAY_API_VERSION,
  GATEWAY_KIND,
  type KnativeGateway,
} from '../api/knativegateway.ts';

/** Gateway `default`: an ExternalIP fleet `external` and a ClusterLocal fleet `local`. */
export function sampleKnativeGateway(): KnativeGateway {
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: GATEWAY_KIND,
    metadata: { name: 'default' },
    spec: {
      ingressClass: DEFAULT_INGRESS_CLASS,
      namespace: DEFAULT_NAMESPACE,
      fleets: [
        { name: 'external', visibility: 'ExternalIP', replicas: 1 },
        { name: 'local', visibility: 'ClusterLocal', replicas: 1 },
      ],
    },
  };
}
