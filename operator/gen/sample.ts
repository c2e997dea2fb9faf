// The sample KnativeGateways shipped in crds/samples/ and embedded in docs/configuration.md: a
// minimal one and one that sets (nearly) every field.
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

/**
 * Gateway `edge`: an autoscaled public fleet behind a network load balancer, spread over zones,
 * with a disruption budget and JSON access logs; a fixed-size cluster-local fleet; route domains
 * and the Knative settings kgw writes.
 */
export function fullSampleKnativeGateway(): KnativeGateway {
  return {
    apiVersion: GATEWAY_API_VERSION,
    kind: GATEWAY_KIND,
    metadata: { name: 'edge' },
    spec: {
      ingressClass: DEFAULT_INGRESS_CLASS,
      namespace: DEFAULT_NAMESPACE,
      clusterDomain: 'cluster.local',
      fleets: [
        {
          name: 'public',
          visibility: 'ExternalIP',
          autoscaling: { minReplicas: 2, maxReplicas: 10, targetCPUUtilizationPercentage: 70 },
          podDisruptionBudget: { minAvailable: 1 },
          resources: {
            requests: { cpu: '500m', memory: '256Mi' },
            limits: { cpu: '2', memory: '1Gi' },
          },
          service: {
            type: 'LoadBalancer',
            annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' },
            externalTrafficPolicy: 'Local',
            httpPort: 80,
            httpsPort: 443,
          },
          placement: {
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'ingress', effect: 'NoSchedule' }],
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'topology.kubernetes.io/zone',
                whenUnsatisfiable: 'ScheduleAnyway',
              },
            ],
            priorityClassName: 'system-cluster-critical',
          },
          envoy: { logLevel: 'info', drainSeconds: 45 },
          accessLog: { enabled: true, format: 'json' },
          metrics: { enabled: true, port: 9091 },
          tracing: {
            enabled: true,
            collector: { host: 'otel-collector.observability.svc.cluster.local', port: 4317 },
            samplingPercent: 5,
          },
        },
        {
          name: 'private',
          visibility: 'ClusterLocal',
          replicas: 2,
          podDisruptionBudget: { maxUnavailable: '50%' },
          placement: {
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  {
                    weight: 100,
                    podAffinityTerm: {
                      topologyKey: 'kubernetes.io/hostname',
                      labelSelector: {
                        matchLabels: {
                          'operator.kgw.dev/gateway': 'edge',
                          'operator.kgw.dev/fleet': 'private',
                        },
                      },
                    },
                  },
                ],
              },
            },
          },
          envoy: { concurrency: 2 },
        },
      ],
      domains: {
        default: 'example.com',
        selectors: [{ domain: 'internal.example.com', selector: { 'example.com/audience': 'internal' } }],
        template: '{{.Name}}-{{.Namespace}}.{{.Domain}}',
      },
      knative: {
        configure: true,
        namespace: 'knative-serving',
        httpProtocol: 'Redirected',
        externalDomainTLS: 'Enabled',
        autocreateClusterDomainClaims: true,
      },
      tls: {
        externalIssuer: { name: 'letsencrypt' },
        defaultCertificate: { issuer: { name: 'letsencrypt-dns01' } },
      },
      domainClaims: {
        rules: [
          { domains: ['apps.example.com'] },
          { domains: ['example.com'], namespaceSelector: { matchLabels: { 'example.com/tenant': 'true' } } },
        ],
      },
      externalNames: {
        allowedNamespaces: ['shared-services'],
        allowedHosts: [{ suffix: 'api.example.net', ports: [443] }],
      },
    },
  };
}
