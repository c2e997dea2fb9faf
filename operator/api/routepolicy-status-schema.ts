// RoutePolicy (policy.kgw.dev/v1alpha1), TypeBox schema: the status the operator writes (the
// Accepted and Programmed conditions, their reasons, the hosts the policy covers). The spec and the
// rest of the API are in api/routepolicy.ts, which re-exports this module.
import { Type, type Static } from '@sinclair/typebox';
import { Enum } from './schema-builders.ts';

export const POLICY_CONDITION_ACCEPTED = 'Accepted';
export const POLICY_CONDITION_PROGRAMMED = 'Programmed';

/** Reasons of Accepted=False. */
export const POLICY_REASONS = {
  accepted: 'Accepted',
  invalid: 'Invalid',
  targetNotFound: 'TargetNotFound',
  secretNotFound: 'SecretNotFound',
  invalidSecret: 'InvalidSecret',
  conflicted: 'Conflicted',
  revisionNotRouted: 'RevisionNotRouted',
  programmed: 'Programmed',
  pending: 'Pending',
  notProgrammed: 'NotProgrammed',
} as const;

const ConditionSchema = Type.Object(
  {
    type: Type.String({ description: `${POLICY_CONDITION_ACCEPTED} or ${POLICY_CONDITION_PROGRAMMED}.` }),
    status: Enum('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] as const }),
    reason: Type.String({ description: 'A CamelCase reason for the status.' }),
    message: Type.String({ description: 'What is wrong, for a person.' }),
    lastTransitionTime: Type.String({ description: 'When the status last changed.', format: 'date-time' }),
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The spec generation this condition is about.', minimum: 0 }),
    ),
  },
  { description: 'A condition (metav1.Condition).', additionalProperties: false },
);

export const RoutePolicyStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(
      Type.Integer({ description: 'The spec generation the status is about.', minimum: 0 }),
    ),
    conditions: Type.Optional(
      Type.Array(ConditionSchema, {
        description:
          `${POLICY_CONDITION_ACCEPTED}: the policy is valid, its targets and Secrets exist and no ` +
          `older policy sets the same feature on them. ${POLICY_CONDITION_PROGRAMMED}: every Envoy ` +
          'of the fleets serving its hosts runs it.',
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
    targets: Type.Optional(
      Type.Array(
        Type.Object(
          {
            kind: Type.String({ description: 'Kind of the target.' }),
            name: Type.String({ description: 'Name of the target.' }),
            hosts: Type.Array(Type.String({ description: 'A host.' }), {
              description: 'The hosts of this target the policy applies to.',
            }),
          },
          { description: 'A target and the hosts it covers.', additionalProperties: false },
        ),
        { description: 'The hosts the policy covers, per target: exactly what it protects.' },
      ),
    ),
    hostCount: Type.Optional(Type.Integer({ description: 'Number of hosts the policy covers.', minimum: 0 })),
  },
  { description: 'What kgw made of the policy.', additionalProperties: false },
);

export type RoutePolicyStatus = Static<typeof RoutePolicyStatusSchema>;
export type RoutePolicyCondition = NonNullable<RoutePolicyStatus['conditions']>[number];
