// kgw's validating admission webhooks (issue 4 implements the handlers): one list
// (webhook/webhooks.ts), rendered here as the ValidatingWebhookConfiguration of the plain install
// and as the CSV's webhookdefinitions for OLM.
//
// The choices (operations, failure policies, timeouts, sideEffects None, admissionReviewVersions
// [v1], matchPolicy Equivalent) are explained there.
import type {
  V1LabelSelector,
  V1RuleWithOperations,
  V1ValidatingWebhook,
  V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../api/knativegateway.ts';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOKS, type KgwWebhook } from '../../webhook/webhooks.ts';

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
  if (w.matchConditions) out.matchConditions = w.matchConditions.map((c) => ({ ...c }));
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
  return WEBHOOKS.filter((w) => w.notInOlmBundle === undefined).map((w) => ({
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
