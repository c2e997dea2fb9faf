// The sample RoutePolicy shipped in crds/samples (also applied by the CRD's apiserver test).
import {
  KNATIVE_SERVING_GROUP,
  POLICY_API_VERSION,
  POLICY_KIND,
  type RoutePolicy,
} from '../api/routepolicy.ts';

export function sampleRoutePolicy(): RoutePolicy {
  return {
    apiVersion: POLICY_API_VERSION,
    kind: POLICY_KIND,
    metadata: { name: 'hello-api', namespace: 'default' },
    spec: {
      targetRefs: [{ group: KNATIVE_SERVING_GROUP, kind: 'Service', name: 'hello' }],
      apiKeyAuth: {
        keySources: [{ header: 'x-ca-key' }, { query: 'apikey' }],
        credentialsFrom: [{ secretRef: { name: 'hello-consumers' } }],
        allowedClients: ['consumer2'],
        forwardClientHeader: 'x-kgw-consumer',
      },
      ipAccess: { deny: ['203.0.113.0/24'] },
      cors: {
        allowOrigins: ['https://app.example.com'],
        allowMethods: ['GET', 'POST'],
        allowHeaders: ['content-type', 'x-ca-key'],
        maxAgeSeconds: 600,
      },
    },
  };
}
