// kgw's validating admission webhooks (issue 4 implements the handlers): one list, rendered as the
// ValidatingWebhookConfiguration of the plain install and as the CSV's webhookdefinitions for OLM.
//
// Choices, for all three: CREATE and UPDATE only (a DELETE has nothing to validate, and blocking
// deletes while kgw is down would strand objects); no /status (kgw writes status itself);
// sideEffects None (validation only reads informer caches); admissionReviewVersions [v1] only;
// matchPolicy Equivalent. timeoutSeconds stays far below the apiserver's 30 s cap because handlers
// answer from caches: a slow answer means kgw is unhealthy, and the failure policy should decide
// quickly instead of holding the client's request.
import type {
  V1LabelSelector,
  V1RuleWithOperations,
  V1ValidatingWebhook,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import {
  GATEWAY_GROUP,
  GATEWAY_PLURAL,
  GATEWAY_VERSION,
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
} from '../api/knativegateway.ts';

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
];

/**
 * Namespaces the plain install never intercepts: kube-system and kgw's own (a webhook must not be
 * able to block the pods that serve it). The label is set by the apiserver on every namespace.
 */
export function namespaceSelector(operatorNamespace: string): V1LabelSelector {
  return {
    matchExpressions: [
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', operatorNamespace] },
    ],
  };
}

export function validatingWebhook(
  w: KgwWebhook,
  service: { name: string; namespace: string; port: number },
): V1ValidatingWebhook {
  const out: V1ValidatingWebhook = {
    name: w.name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: w.failurePolicy,
    matchPolicy: 'Equivalent',
    timeoutSeconds: w.timeoutSeconds,
    // No caBundle: kgw fills it in (issue 4) once its webhook server has a certificate. Until then
    // the apiserver cannot call the webhook and applies the failure policy.
    clientConfig: { service: { ...service, path: w.path } },
    rules: w.rules.map((r) => ({ ...r })),
  };
  if (w.namespaced) out.namespaceSelector = namespaceSelector(service.namespace);
  return out;
}

/**
 * kgw's ValidatingWebhookConfiguration. It always carries `app.kubernetes.io/managed-by: kgw`:
 * the operator fills in caBundle only on a configuration with that label (it never writes to what
 * it did not create), so without it a plain install would reject every KIngress with an unknown
 * certificate authority.
 */
export function validatingWebhookConfiguration(
  service: { name: string; namespace: string; port: number },
  labels: Record<string, string>,
): V1ValidatingWebhookConfiguration {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: WEBHOOK_CONFIGURATION_NAME, labels: { ...labels, [LABEL_MANAGED_BY]: MANAGED_BY_KGW } },
    webhooks: WEBHOOKS.map((w) => validatingWebhook(w, service)),
  };
}

/** The CSV's `webhookdefinitions[]` entry (operator-framework/api WebhookDescription). */
export interface CsvWebhookDefinition {
  generateName: string;
  type: 'ValidatingAdmissionWebhook' | 'MutatingAdmissionWebhook' | 'ConversionWebhook';
  deploymentName: string;
  containerPort: number;
  targetPort: number | string;
  webhookPath: string;
  rules: V1RuleWithOperations[];
  failurePolicy: 'Fail' | 'Ignore';
  matchPolicy: 'Equivalent' | 'Exact';
  sideEffects: 'None' | 'NoneOnDryRun';
  timeoutSeconds: number;
  admissionReviewVersions: string[];
}

export function csvWebhookDefinitions(deploymentName: string, port: number): CsvWebhookDefinition[] {
  return WEBHOOKS.map((w) => ({
    generateName: w.name,
    type: 'ValidatingAdmissionWebhook',
    deploymentName,
    containerPort: port,
    targetPort: port,
    webhookPath: w.path,
    rules: w.rules.map((r) => ({ ...r })),
    failurePolicy: w.failurePolicy,
    matchPolicy: 'Equivalent',
    sideEffects: 'None',
    timeoutSeconds: w.timeoutSeconds,
    admissionReviewVersions: ['v1'],
  }));
}
