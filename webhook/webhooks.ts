// kgw's validating admission webhooks: names, paths, rules and failure policies. The webhook
// server (server.ts) serves each on its path, certs.ts patches the plain install's configuration,
// and the generator (operator/gen/webhooks.ts) renders the same list as the
// ValidatingWebhookConfiguration and the CSV's webhookdefinitions.
//
// Choices, for all of them: CREATE and UPDATE only (a DELETE has nothing to validate, and blocking
// deletes while kgw is down would strand objects); no /status (kgw writes status itself);
// sideEffects None (validation only reads informer caches); admissionReviewVersions [v1] only;
// matchPolicy Equivalent. timeoutSeconds stays far below the apiserver's 30 s cap because handlers
// answer from caches: a slow answer means kgw is unhealthy, and the failure policy should decide
// quickly instead of holding the client's request.
import type { V1RuleWithOperations } from '@kubernetes/client-node';
import { GATEWAY_GROUP, GATEWAY_PLURAL, GATEWAY_VERSION } from '../operator/api/knativegateway.ts';
import { ROUTING_RULES_ANNOTATION } from '../operator/translate/routing-rules.ts';

/** Name of the plain install's ValidatingWebhookConfiguration (OLM generates its own names). */
export const WEBHOOK_CONFIGURATION_NAME = 'kgw-validation';

export interface KgwWebhook {
  /** Fully qualified webhook name; also the CSV's generateName. */
  name: string;
  /** Path the webhook server serves it on. */
  path: string;
  rules: V1RuleWithOperations[];
  failurePolicy: 'Fail' | 'Ignore';
  timeoutSeconds: number;
  /** Why this failure policy and timeout (rendered as a comment). */
  why: string;
  /** A namespaced resource: the plain install skips system namespaces (OLM derives its own selector). */
  namespaced: boolean;
  /** CEL conditions on the request: the apiserver calls the webhook only when all hold. */
  matchConditions?: { name: string; expression: string }[];
  /**
   * Left out of the OLM bundle, and why: OLM's webhookdefinitions cannot carry matchConditions, and
   * without them every write of the resource would call kgw.
   */
  notInOlmBundle?: string;
}

export const WEBHOOKS: readonly KgwWebhook[] = [
  {
    name: 'kingress.validation.kgw.dev',
    path: '/validate/kingress',
    rules: [
      {
        apiGroups: ['networking.internal.knative.dev'],
        apiVersions: ['v1alpha1'],
        resources: ['ingresses'],
        operations: ['CREATE', 'UPDATE'],
        scope: 'Namespaced',
      },
    ],
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    why:
      'Fail: KIngresses are written by Knative Serving, which retries; while kgw is down a route change ' +
      'waits (Envoy keeps serving the last good config) instead of an invalid KIngress slipping in. ' +
      'Timeout 5 seconds: answers come from informer caches.',
    namespaced: true,
  },
  {
    name: 'domainmapping.validation.kgw.dev',
    path: '/validate/domainmapping',
    rules: [
      {
        apiGroups: ['serving.knative.dev'],
        apiVersions: ['v1beta1'],
        resources: ['domainmappings'],
        operations: ['CREATE', 'UPDATE'],
        scope: 'Namespaced',
      },
    ],
    failurePolicy: 'Ignore',
    timeoutSeconds: 3,
    why:
      'Ignore: DomainMappings belong to Knative Serving and its own webhook validates them; kgw adds an ' +
      'early answer for the domain claim policy, which the reconciler enforces anyway (status). ' +
      'Timeout 3 seconds: with Ignore, the most a DomainMapping write waits while kgw is down.',
    namespaced: true,
  },
  {
    name: 'knativegateway.validation.kgw.dev',
    path: '/validate/knativegateway',
    rules: [
      {
        apiGroups: [GATEWAY_GROUP],
        apiVersions: [GATEWAY_VERSION],
        resources: [GATEWAY_PLURAL],
        operations: ['CREATE', 'UPDATE'],
        scope: 'Cluster',
      },
    ],
    failurePolicy: 'Fail',
    timeoutSeconds: 5,
    why:
      "Fail: kgw's own API, reconciled by the same process, so nothing acts on a change while it is down; " +
      'cross-object checks (one gateway per ingress class) must not be bypassed. Timeout 5 seconds: cache lookups.',
    namespaced: false,
  },
  {
    name: 'routing-rules.validation.kgw.dev',
    path: '/validate/routing-rules',
    rules: [
      {
        apiGroups: ['serving.knative.dev'],
        apiVersions: ['v1'],
        resources: ['services'],
        operations: ['CREATE', 'UPDATE'],
        scope: 'Namespaced',
      },
    ],
    failurePolicy: 'Ignore',
    timeoutSeconds: 3,
    why:
      `Only Knative Services carrying the ${ROUTING_RULES_ANNOTATION} annotation are sent (matchConditions): ` +
      'others never wait for kgw. Ignore: Knative Services must never be blocked while kgw is down; kgw ' +
      'still ignores a bad annotation and reports it as a RoutingRulesIgnored Event. Timeout 3 seconds: ' +
      'with Ignore, the most such a write waits while kgw is down.',
    namespaced: true,
    matchConditions: [
      {
        name: 'has-routing-rules',
        expression: `has(object.metadata.annotations) && '${ROUTING_RULES_ANNOTATION}' in object.metadata.annotations`,
      },
    ],
    notInOlmBundle:
      'OLM webhookdefinitions cannot carry matchConditions: every Knative Service write would call kgw',
  },
];
