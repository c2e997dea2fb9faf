// The KnativeGateway CustomResourceDefinition, generated from the TypeBox schema of the API
// (api/knativegateway-spec-schema.ts and api/knativegateway-status-schema.ts, the one definition of
// its fields, defaults, limits and CEL rules) plus the root object and the printer columns.
import {
  CONDITION_READY,
  GATEWAY_API_VERSION,
  GATEWAY_CATEGORY,
  GATEWAY_CRD_NAME,
  GATEWAY_GROUP,
  GATEWAY_KIND,
  GATEWAY_LIST_KIND,
  GATEWAY_PLURAL,
  GATEWAY_SHORT_NAME,
  GATEWAY_SINGULAR,
  GATEWAY_VERSION,
  LABEL_GATEWAY,
  LIMITS,
} from '../api/knativegateway-constants.ts';
import { KnativeGatewaySpecSchema } from '../api/knativegateway-spec-schema.ts';
import { KnativeGatewayStatusSchema } from '../api/knativegateway-status-schema.ts';
import { rootProperties, type CustomResourceDefinition } from './crd.ts';
import { kubeSchema } from './kube-schema.ts';
import { obj, str } from './schema.ts';

export function knativeGatewayCrd(): CustomResourceDefinition {
  const root = obj(
    'KnativeGateway is a kgw instance: the Knative ingress class it serves, the Envoy fleets that ' +
      'serve it and the Knative Serving configuration it owns. kgw translates the KIngresses of that ' +
      'class into Envoy configuration for each fleet, runs and publishes each fleet, and reports the ' +
      'Services in KIngress status. The name ' +
      `(at most ${LIMITS.gatewayNameMaxLength} characters) is part of the names of the objects kgw ` +
      `creates for the fleets and the value of their ${LABEL_GATEWAY} label.`,
    {
      ...rootProperties(
        GATEWAY_KIND,
        GATEWAY_API_VERSION,
        str(`Name of the gateway, at most ${LIMITS.gatewayNameMaxLength} characters.`, {
          maxLength: LIMITS.gatewayNameMaxLength,
        }),
      ),
      spec: kubeSchema(KnativeGatewaySpecSchema),
      status: kubeSchema(KnativeGatewayStatusSchema),
    },
    { required: ['spec'] },
  );
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: GATEWAY_CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'kgw' } },
    spec: {
      group: GATEWAY_GROUP,
      names: {
        kind: GATEWAY_KIND,
        listKind: GATEWAY_LIST_KIND,
        plural: GATEWAY_PLURAL,
        singular: GATEWAY_SINGULAR,
        shortNames: [GATEWAY_SHORT_NAME],
        categories: [GATEWAY_CATEGORY],
      },
      scope: 'Cluster',
      versions: [
        {
          name: GATEWAY_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: root },
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].status`,
              description: `Status of the ${CONDITION_READY} condition.`,
            },
            {
              name: 'Fleets',
              type: 'string',
              jsonPath: '.status.readyFleets',
              description: 'Ready fleets out of all fleets.',
            },
            {
              name: 'Address',
              type: 'string',
              jsonPath: '.status.externalAddress',
              description: 'External address of the first ExternalIP fleet that has one.',
            },
            {
              name: 'Req/s',
              type: 'string',
              jsonPath: '.status.requestsPerSecond',
              description: 'Requests per second over the fleets with metrics enabled.',
            },
            {
              name: '5xx',
              type: 'string',
              jsonPath: '.status.errorRatio',
              description: 'Share of those requests answered 5xx.',
            },
            {
              name: 'Age',
              type: 'date',
              jsonPath: '.metadata.creationTimestamp',
              description: 'Time since the gateway was created.',
            },
            {
              name: 'Class',
              type: 'string',
              jsonPath: '.spec.ingressClass',
              description: 'Knative ingress class served.',
              priority: 1,
            },
          ],
        },
      ],
    },
  };
}
