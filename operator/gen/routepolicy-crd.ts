// The RoutePolicy CRD, generated from the TypeBox schema in api/routepolicy.ts (the one definition
// of the API), made a Kubernetes structural schema in kgw's key order by gen/kube-schema.ts
// (kubeSchema, as for the KnativeGateway CRD).
import {
  POLICY_API_VERSION,
  POLICY_CONDITION_ACCEPTED,
  POLICY_CONDITION_PROGRAMMED,
  POLICY_CRD_NAME,
  POLICY_GROUP,
  POLICY_KIND,
  POLICY_LIST_KIND,
  POLICY_PLURAL,
  POLICY_SHORT_NAME,
  POLICY_SINGULAR,
  POLICY_VERSION,
  RoutePolicySpecSchema,
  RoutePolicyStatusSchema,
} from '../api/routepolicy.ts';
import { GATEWAY_CATEGORY } from '../api/knativegateway.ts';
import { rootProperties, type CustomResourceDefinition } from './crd.ts';
import { kubeSchema } from './kube-schema.ts';
import { obj, str } from './schema.ts';

export function routePolicyCrd(): CustomResourceDefinition {
  const root = obj(
    'RoutePolicy sets traffic policy (API-key auth, IP access, CORS, rate limits) on a Knative Service, Route or ' +
      'DomainMapping of its namespace, on every host Knative gives it: external, cluster-local, tag ' +
      'hosts and DomainMappings. kgw enforces it in the Envoy fleets serving those hosts.',
    {
      ...rootProperties(POLICY_KIND, POLICY_API_VERSION, str('Name of the policy.', { maxLength: 253 })),
      spec: kubeSchema(RoutePolicySpecSchema),
      status: kubeSchema(RoutePolicyStatusSchema),
    },
    { required: ['spec'] },
  );
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: POLICY_CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'kgw' } },
    spec: {
      group: POLICY_GROUP,
      names: {
        kind: POLICY_KIND,
        listKind: POLICY_LIST_KIND,
        plural: POLICY_PLURAL,
        singular: POLICY_SINGULAR,
        shortNames: [POLICY_SHORT_NAME],
        categories: [GATEWAY_CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: POLICY_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: root },
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: POLICY_CONDITION_ACCEPTED,
              type: 'string',
              jsonPath: `.status.conditions[?(@.type=="${POLICY_CONDITION_ACCEPTED}")].status`,
              description: `Status of the ${POLICY_CONDITION_ACCEPTED} condition.`,
            },
            {
              name: POLICY_CONDITION_PROGRAMMED,
              type: 'string',
              jsonPath: `.status.conditions[?(@.type=="${POLICY_CONDITION_PROGRAMMED}")].status`,
              description: `Status of the ${POLICY_CONDITION_PROGRAMMED} condition.`,
            },
            {
              name: 'Targets',
              type: 'string',
              jsonPath: '.spec.targetRefs[*].name',
              description: 'Names of the targets.',
            },
            {
              name: 'Hosts',
              type: 'integer',
              jsonPath: '.status.hostCount',
              description: 'Number of hosts the policy covers.',
            },
            {
              name: 'Age',
              type: 'date',
              jsonPath: '.metadata.creationTimestamp',
              description: 'Time since the policy was created.',
            },
          ],
        },
      ],
    },
  };
}
