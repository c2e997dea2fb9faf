// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: who may use which names, the
// domain claims policy (DomainMappings and custom KIngress hosts) and the ExternalName policy.
import type { Static } from '@sinclair/typebox';
import {
  DEFAULT_AUTOCREATE_CLAIMS,
  LIMITS,
  DNS1123_LABEL_PATTERN,
  DNS1123_SUBDOMAIN_PATTERN,
  QUALIFIED_NAME_PATTERN,
  LABEL_VALUE_PATTERN,
  EXTERNAL_HOST_SUFFIX_PATTERN,
  MESSAGES,
} from './knativegateway-constants.ts';
import { labelMap } from './knativegateway-schema-common.ts';
import { Obj, Str, Enum, Int, Bool, Arr, cel } from './schema-builders.ts';

export const LabelSelectorRequirementSchema = Obj(
  'A label requirement: key, operator and (for In and NotIn) values.',
  {
    key: Str('Label key.', { pattern: QUALIFIED_NAME_PATTERN, maxLength: 317 }),
    operator: Enum('In, NotIn, Exists or DoesNotExist.', {
      enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
    }),
    values: Arr(
      'Label values; required (at least one) for In and NotIn, empty for Exists and DoesNotExist.',
      Str('A label value.', { pattern: LABEL_VALUE_PATTERN, maxLength: LIMITS.labelValueMaxLength }),
      { maxItems: LIMITS.maxMapEntries },
    ),
  },
  {
    required: ['key', 'operator'],
    validations: [
      cel(
        "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
        MESSAGES.selectorValues,
        (r: { operator: string; values?: string[] }) =>
          ['In', 'NotIn'].includes(r.operator) === (r.values !== undefined && r.values.length > 0),
      ),
    ],
  },
);
export const DomainClaimPolicySchema = Obj(
  'Who may map which domains with a DomainMapping (Knative ClusterDomainClaims). A domain belongs to ' +
    'the first namespace that claims it; this policy also decides which namespaces may claim which ' +
    'domains. The admission webhook rejects a DomainMapping the policy denies or whose domain another ' +
    "namespace claimed, and kgw reports denials on the DomainMapping's status. kgw never deletes a " +
    'claim it did not create. The same policy applies to KIngress hosts that are not Knative-generated ' +
    "names (see domains): a host claimed by another namespace, or one the rules do not allow the KIngress's " +
    'namespace, gets Ready=False, HostNotAllowed, and the admission webhook rejects it.',
  {
    autoCreate: Bool(
      'Whether kgw creates the ClusterDomainClaim for each DomainMapping the policy allows (and deletes ' +
        'the ones it created when the mapping goes). Leave knative.autocreateClusterDomainClaims ' +
        `false then. Defaults to ${String(DEFAULT_AUTOCREATE_CLAIMS)}.`,
      { default: DEFAULT_AUTOCREATE_CLAIMS },
    ),
    rules: Arr(
      `Allowed domains, at most ${LIMITS.maxClaimRules} rules. When set, a domain must be under a ` +
        'suffix of a rule whose namespaceSelector matches the namespace of the DomainMapping (or of the ' +
        'KIngress serving it as a custom host). Unset: any namespace may map any domain nobody else ' +
        'claimed.',
      Obj(
        'Domain suffixes and the namespaces that may map domains under them.',
        {
          domains: Arr(
            `Domain suffixes, 1 to ${LIMITS.maxClaimDomains}: example.com covers example.com and ` +
              'every name under it.',
            Str('A domain suffix.', {
              pattern: DNS1123_SUBDOMAIN_PATTERN,
              maxLength: LIMITS.domainMaxLength,
            }),
            { minItems: 1, maxItems: LIMITS.maxClaimDomains },
          ),
          namespaceSelector: Obj(
            'Namespaces (by their labels) that may map these domains. Unset: every namespace.',
            {
              matchLabels: labelMap('Labels the namespace must all carry.'),
              matchExpressions: Arr(
                'Label requirements, all of which must hold.',
                LabelSelectorRequirementSchema,
                {
                  maxItems: LIMITS.maxMapEntries,
                },
              ),
            },
          ),
        },
        { required: ['domains'] },
      ),
      { maxItems: LIMITS.maxClaimRules },
    ),
  },
);

export const ExternalNamesSpecSchema = Obj(
  'Where ExternalName Services may send traffic. A KIngress backend that is an ExternalName Service ' +
    'naming <service>.<namespace>.svc.<clusterDomain> is followed to that Service (no DNS) when it is in ' +
    "the KIngress's own namespace, in allowedNamespaces, or is one of this gateway's fleet Services. " +
    'Names outside the cluster are refused unless allowedHosts lists them. Always refused, whatever is ' +
    'allowed here: IP addresses, localhost, single-label names, cloud metadata names, other names under ' +
    "the cluster domain, and the ports Envoy listens on. A refused backend sets the KIngress's Ready " +
    'condition to False with reason ExternalNameRefused or ExternalNameNotAllowed.',
  {
    allowedNamespaces: Arr(
      `Namespaces (at most ${LIMITS.maxExternalNameNamespaces}) whose Services an ExternalName of any ` +
        "namespace may name, e.g. a shared-services namespace. Unset: only the KIngress's own namespace.",
      Str('A namespace name.', { pattern: DNS1123_LABEL_PATTERN, maxLength: LIMITS.namespaceMaxLength }),
      { maxItems: LIMITS.maxExternalNameNamespaces, listType: 'set' },
    ),
    allowedHosts: Arr(
      `Names outside the cluster that ExternalName Services may lead to, at most ` +
        `${LIMITS.maxExternalNameHosts} entries. Unset: none (the default, because any namespace can create ` +
        'an ExternalName Service).',
      Obj(
        'A domain suffix and the ports allowed under it.',
        {
          suffix: Str(
            'Allowed names: the suffix itself and every name under it (api.example.com allows ' +
              `api.example.com and eu.api.example.com). ${MESSAGES.externalHostSuffix}.`,
            { pattern: EXTERNAL_HOST_SUFFIX_PATTERN, maxLength: LIMITS.domainMaxLength },
          ),
          ports: Arr(
            `Ports allowed on those names, 1 to ${LIMITS.maxExternalNamePorts}.`,
            Int('A port number.', { minimum: 1, maximum: 65535 }),
            {
              minItems: 1,
              maxItems: LIMITS.maxExternalNamePorts,
              validations: [
                cel(
                  'self.all(p, self.exists_one(q, q == p))',
                  MESSAGES.externalHostPortsUnique,
                  (ports: number[]) => new Set(ports).size === ports.length,
                ),
              ],
            },
          ),
        },
        { required: ['suffix', 'ports'] },
      ),
      { maxItems: LIMITS.maxExternalNameHosts },
    ),
  },
);

export type LabelSelectorRequirement = Static<typeof LabelSelectorRequirementSchema>;
export type DomainClaimPolicy = Static<typeof DomainClaimPolicySchema>;
export type DomainClaimRule = NonNullable<DomainClaimPolicy['rules']>[number];
export type LabelSelector = NonNullable<DomainClaimRule['namespaceSelector']>;
export type ExternalNamesSpec = Static<typeof ExternalNamesSpecSchema>;
/** A name outside the cluster that ExternalName Services may lead to, and on which ports. */
export type ExternalHostRule = NonNullable<ExternalNamesSpec['allowedHosts']>[number];
