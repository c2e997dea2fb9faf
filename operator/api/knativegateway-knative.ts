// The Knative Serving configuration a KnativeGateway owns: the keys of `config-network` and the
// entries of `config-domain` it wants, as pure functions of the gateway. The operator applies
// them (server-side apply, field manager `kgw`, so it owns exactly these keys) and corrects drift;
// these functions only say what the data must be.
//
// Ownership rules:
// - `config-network`: kgw owns ingress-class, http-protocol, external-domain-tls,
//   autocreate-cluster-domain-claims, domain-template when `domains.template` is set, and
//   certificate-class (kgw's own class) when `tls.externalIssuer` turns auto-TLS on. Other keys
//   (tag-template, …) stay with whoever wrote them.
// - `config-domain`: written only when `domains.default` is set. Its keys *are* the domains and
//   Knative picks among all of them, so a foreign key changes routing: the whole data is kgw's,
//   and `knativeConfigDrift` reports foreign keys as drift too (the operator removes them).
// - Nothing at all when `knative.configure` is false (another gateway configures Knative).
import {
  KGW_CERTIFICATE_CLASS,
  withGatewayDefaults,
  type DomainSelector,
  type KnativeGateway,
  type ResolvedGatewaySpec,
} from './knativegateway.ts';
import { byCodePoint } from '../order.ts';

export const CONFIG_NETWORK = 'config-network';
export const CONFIG_DOMAIN = 'config-domain';

/** config-network keys (see Knative's networking pkg/config). */
export const NETWORK_KEYS = {
  ingressClass: 'ingress-class',
  httpProtocol: 'http-protocol',
  externalDomainTLS: 'external-domain-tls',
  autocreateClusterDomainClaims: 'autocreate-cluster-domain-claims',
  domainTemplate: 'domain-template',
  certificateClass: 'certificate-class',
} as const;

/** The key Knative's ConfigMaps use for documentation; never configuration. */
export const EXAMPLE_KEY = '_example';

export interface KnativeConfigMap {
  namespace: string;
  name: string;
  data: Record<string, string>;
  /** True when kgw owns every key of the ConfigMap (foreign keys are drift), not just `data`'s. */
  exclusive: boolean;
}

function resolved(gw: KnativeGateway | ResolvedGatewaySpec): ResolvedGatewaySpec {
  return 'metadata' in gw ? withGatewayDefaults(gw.spec) : gw;
}

/**
 * The `config-network` keys this gateway owns, or undefined when it does not configure Knative
 * (`knative.configure: false`).
 */
export function desiredConfigNetwork(gw: KnativeGateway | ResolvedGatewaySpec): KnativeConfigMap | undefined {
  const spec = resolved(gw);
  if (!spec.knative.configure) return undefined;
  const data: Record<string, string> = {
    [NETWORK_KEYS.ingressClass]: spec.ingressClass,
    [NETWORK_KEYS.httpProtocol]: spec.knative.httpProtocol,
    [NETWORK_KEYS.externalDomainTLS]: spec.knative.externalDomainTLS,
    [NETWORK_KEYS.autocreateClusterDomainClaims]: String(spec.knative.autocreateClusterDomainClaims),
  };
  if (spec.domains.template !== undefined) data[NETWORK_KEYS.domainTemplate] = spec.domains.template;
  if (spec.tls.externalIssuer !== undefined) data[NETWORK_KEYS.certificateClass] = KGW_CERTIFICATE_CLASS;
  return { namespace: spec.knative.namespace, name: CONFIG_NETWORK, data, exclusive: false };
}

/**
 * The whole `config-domain` data, or undefined when this gateway leaves it alone (no
 * `domains.default`, or `knative.configure: false`). The default domain maps to an empty value;
 * each selector domain to `selector:` and its labels, in the YAML Knative reads. Keys and values
 * are quoted, so values such as "true" or "1" stay strings.
 */
export function desiredConfigDomain(gw: KnativeGateway | ResolvedGatewaySpec): KnativeConfigMap | undefined {
  const spec = resolved(gw);
  if (!spec.knative.configure || spec.domains.default === undefined) return undefined;
  const data: Record<string, string> = { [spec.domains.default]: '' };
  for (const s of spec.domains.selectors) data[s.domain] = selectorYaml(s);
  return { namespace: spec.knative.namespace, name: CONFIG_DOMAIN, data, exclusive: true };
}

function selectorYaml(s: DomainSelector): string {
  const lines = Object.keys(s.selector)
    .sort()
    .map((k) => `  ${JSON.stringify(k)}: ${JSON.stringify(s.selector[k])}`);
  return `selector:\n${lines.join('\n')}\n`;
}

export interface ConfigDrift {
  key: string;
  /** What the ConfigMap holds (undefined: missing). */
  actual?: string;
  /** What kgw wants (undefined: a foreign key in an exclusive ConfigMap). */
  desired?: string;
}

/**
 * Keys of `actual` (a ConfigMap's data) that differ from `desired`: missing or changed keys, and
 * for an exclusive ConfigMap also keys kgw does not want (except `_example`). Sorted by key.
 */
export function knativeConfigDrift(
  actual: Readonly<Record<string, string>> | undefined,
  desired: KnativeConfigMap,
): ConfigDrift[] {
  const have = actual ?? {};
  const out: ConfigDrift[] = [];
  for (const [key, want] of Object.entries(desired.data)) {
    const got = have[key];
    if (got !== want)
      out.push(got === undefined ? { key, desired: want } : { key, actual: got, desired: want });
  }
  if (desired.exclusive) {
    for (const [key, got] of Object.entries(have)) {
      if (key !== EXAMPLE_KEY && !(key in desired.data)) out.push({ key, actual: got });
    }
  }
  return out.sort((a, b) => byCodePoint(a.key, b.key));
}
