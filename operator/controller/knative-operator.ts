// kgw and the Knative Operator. Under the Knative Operator a `KnativeServing` object
// (operator.knative.dev) installs Knative Serving into its own namespace and owns every ConfigMap
// there: it re-applies `spec.config.network` / `spec.config.domain` (keys with or without the
// `config-` prefix) onto config-network and config-domain, and gives each ConfigMap a controller
// ownerReference to the KnativeServing. If kgw also wrote them, the two would fight. So when a
// KnativeServing exists in the Knative namespace a gateway names, or either ConfigMap is owned by
// one, kgw stands down: it writes nothing and tells the admin what to put into the KnativeServing.
// Pure functions; knative-config.ts does the watching.
import type { KnativeConfigMap } from '../api/knativegateway-knative.ts';
import type { KnativeObservation } from './gateway-status.ts';

export const KNATIVE_OPERATOR_GROUP = 'operator.knative.dev';
export const KNATIVE_SERVING_KIND = 'KnativeServing';
/** The version kgw reads (served by Knative Operator releases since 1.3, and their storage version). */
export const KNATIVE_SERVING_API = `/apis/${KNATIVE_OPERATOR_GROUP}/v1beta1`;
export const KNATIVE_SERVING_PLURAL = 'knativeservings';
export const REASON_MANAGED_BY_KNATIVE_OPERATOR = 'ManagedByKnativeOperator';

/**
 * What Knative Serving assumes for a config-network key that is absent (Knative's networking
 * config defaults), so a KnativeServing that leaves such a key out still counts as set when kgw
 * wants the default value.
 */
export const KNATIVE_NETWORK_DEFAULTS: Readonly<Record<string, string>> = {
  'ingress-class': 'istio.ingress.networking.knative.dev',
  'http-protocol': 'Enabled',
  'external-domain-tls': 'Disabled',
  'autocreate-cluster-domain-claims': 'false',
  'domain-template': '{{.Name}}.{{.Namespace}}.{{.Domain}}',
  'certificate-class': 'cert-manager.certificate.networking.knative.dev',
};

interface Meta {
  name: string;
  namespace?: string;
  ownerReferences?: { apiVersion?: string; kind?: string; name?: string }[];
}

export interface LiveConfigMap {
  metadata: Meta;
  data?: Record<string, string>;
}

/** The KnativeServing that manages `namespace` (`<namespace>/<name>`), or undefined. */
export function knativeServingManager(
  namespace: string,
  servings: readonly { metadata: Meta }[],
  configMaps: readonly (LiveConfigMap | undefined)[],
): string | undefined {
  const here = servings
    .filter((s) => s.metadata.namespace === namespace)
    .map((s) => s.metadata.name)
    .sort();
  if (here[0] !== undefined) return `${namespace}/${here[0]}`;
  for (const cm of configMaps) {
    const ref = (cm?.metadata.ownerReferences ?? []).find(
      (r) => r.kind === KNATIVE_SERVING_KIND && (r.apiVersion ?? '').startsWith(`${KNATIVE_OPERATOR_GROUP}/`),
    );
    if (ref?.name !== undefined) return `${namespace}/${ref.name}`;
  }
  return undefined;
}

/** The keys kgw wants that the live ConfigMap does not hold (absent network keys count as Knative's default). */
export function missingKeys(
  want: KnativeConfigMap,
  live: LiveConfigMap | undefined,
): Record<string, string> | undefined {
  const data = live?.data ?? {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(want.data)) {
    const have = data[key] ?? (want.name === 'config-network' ? KNATIVE_NETWORK_DEFAULTS[key] : undefined);
    if (have !== value) out[key] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * KnativeConfigured while the Knative Operator manages Knative's configuration: True when the
 * live ConfigMaps already hold what the gateway wants (the admin set it in the KnativeServing),
 * otherwise False with the `kubectl patch` that sets the missing keys in the KnativeServing.
 */
export function standDown(
  manager: string,
  wanted: readonly KnativeConfigMap[],
  live: (name: string) => LiveConfigMap | undefined,
): KnativeObservation {
  const [namespace = '', name = ''] = manager.split('/');
  const config: Record<string, Record<string, string>> = {};
  for (const want of wanted) {
    const missing = missingKeys(want, live(want.name));
    if (missing !== undefined) config[want.name.replace(/^config-/, '')] = missing;
  }
  const names = wanted.map((w) => w.name).join(' and ');
  const head =
    `Knative Serving in ${namespace} is managed by the Knative Operator (KnativeServing ${manager}), ` +
    `so kgw does not write ${names}`;
  if (Object.keys(config).length === 0) {
    return {
      status: 'True',
      reason: REASON_MANAGED_BY_KNATIVE_OPERATOR,
      message: `${head}; they already hold what this gateway needs`,
    };
  }
  const patch = JSON.stringify({ spec: { config } });
  return {
    status: 'False',
    reason: REASON_MANAGED_BY_KNATIVE_OPERATOR,
    message:
      `${head}. Set this gateway's keys in the KnativeServing: ` +
      `kubectl patch knativeservings.${KNATIVE_OPERATOR_GROUP} ${name} --namespace ${namespace} ` +
      `--type merge --patch '${patch}' (or set spec.knative.configure: false on this KnativeGateway)`,
  };
}
