// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: the spec (fleets, domains,
// Knative configuration, TLS; the name policies are in knativegateway-domain-policy-schema.ts).
import type { Static } from '@sinclair/typebox';
import { INGRESS_CLASS_ANNOTATION } from './kingress.ts';
import { DomainClaimPolicySchema, ExternalNamesSpecSchema } from './knativegateway-domain-policy-schema.ts';
import { FleetSpecSchema } from './knativegateway-fleet-schema.ts';
import { GatewayPolicySchema } from './knativegateway-policy-schema.ts';
import { labelMap } from './knativegateway-schema-common.ts';
import {
  CONDITION_KNATIVE_CONFIGURED,
  HTTP_PROTOCOLS,
  EXTERNAL_DOMAIN_TLS_VALUES,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_NAMESPACE,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_KNATIVE_NAMESPACE,
  DEFAULT_HTTP_PROTOCOL,
  DEFAULT_EXTERNAL_DOMAIN_TLS,
  DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS,
  DEFAULT_KNATIVE_CONFIGURE,
  KGW_CERTIFICATE_CLASS,
  LIMITS,
  DNS1123_LABEL_PATTERN,
  DNS1123_SUBDOMAIN_PATTERN,
  WILDCARD_DNS_PATTERN,
  MESSAGES,
} from './knativegateway-constants.ts';
import { Obj, Str, Enum, Bool, Arr, cel } from './schema-builders.ts';

/** `domains`, as its CEL rules see it. */
interface DomainsSelf {
  default?: string;
  selectors?: { domain: string }[];
}

/** The spec, as its CEL rules see it. */
interface SpecSelf {
  fleets: { name: string }[];
  domains?: DomainsSelf;
  knative?: { configure?: boolean; autocreateClusterDomainClaims?: boolean };
  tls?: { defaultCertificate?: { dnsNames?: string[]; fleets?: string[] } };
  domainClaims?: { autoCreate?: boolean };
}

export const GatewayDomainsSchema = Obj(
  "Route domains: what Knative Serving's config-domain and the domain-template key of config-network " +
    'express. A Route gets the host <name>.<namespace>.<domain> (or what template makes of it), where ' +
    'domain is the most specific selector domain whose labels the Route carries, else default. ' +
    'kgw writes config-domain only when default is set (and then owns all of it), and domain-template ' +
    'only when template is set. Requires knative.configure. These names also decide who may serve a ' +
    'KIngress host: a name the template makes for a namespace under these domains (like its cluster-local ' +
    "names <name>.<namespace>.svc) is served only by that namespace's KIngresses, however old another's; " +
    'others get Ready=False, HostNotAllowed.',
  {
    default: Str(
      'Domain of Routes that no selector matches, e.g. example.com. Use svc.<clusterDomain> to make ' +
        'Routes cluster-local unless a selector gives them a public domain.',
      { pattern: DNS1123_SUBDOMAIN_PATTERN, maxLength: LIMITS.domainMaxLength },
    ),
    selectors: Arr(
      `Domains for Routes with particular labels, at most ${LIMITS.maxDomainSelectors}. When several ` +
        'match, the one with the most labels wins (ties: the alphabetically first domain).',
      Obj(
        'A domain and the labels a Route must carry to get it.',
        {
          domain: Str('Domain for the matching Routes, e.g. prod.example.com.', {
            pattern: DNS1123_SUBDOMAIN_PATTERN,
            maxLength: LIMITS.domainMaxLength,
          }),
          selector: labelMap(
            'Labels the Route must all carry (key: value, equality only, as in config-domain). At ' +
              'least one.',
            [cel('size(self) > 0', MESSAGES.selectorNotEmpty, (m: object) => Object.keys(m).length > 0)],
          ),
        },
        { required: ['domain', 'selector'] },
      ),
      { maxItems: LIMITS.maxDomainSelectors, mapKeys: ['domain'] },
    ),
    template: Str(
      "Go template for Route host names (config-network's domain-template), with .Name, .Namespace, " +
        '.Domain, .Annotations and .Labels. Knative checks it when reading config-network; kgw reports a ' +
        "rejection on the KnativeConfigured condition. Unset: Knative's default, " +
        '{{.Name}}.{{.Namespace}}.{{.Domain}}.',
      { minLength: 1, maxLength: LIMITS.domainTemplateMaxLength },
    ),
  },
  {
    validations: [
      cel(
        '!has(self.selectors) || size(self.selectors) == 0 || has(self.default)',
        MESSAGES.selectorsNeedDefault,
        (d: DomainsSelf) => d.selectors === undefined || d.selectors.length === 0 || d.default !== undefined,
      ),
      cel(
        '!has(self.selectors) || !has(self.default) || self.selectors.all(s, s.domain != self.default)',
        MESSAGES.uniqueDomains,
        // Also the uniqueness of the selectors' domains, which the list-map key gives on the API server.
        (d: DomainsSelf) =>
          d.selectors === undefined ||
          new Set([d.default, ...d.selectors.map((s) => s.domain)]).size === d.selectors.length + 1,
        { fieldPath: '.selectors' },
      ),
    ],
  },
);

export const KnativeConfigSchema = Obj(
  'Knative Serving configuration this gateway owns. kgw writes these keys of config-network (and ' +
    'config-domain, see domains) in namespace and puts them back when someone changes them, reporting ' +
    `the correction on the ${CONDITION_KNATIVE_CONFIGURED} condition. Only one gateway in a cluster should ` +
    'configure Knative: set configure to false on the others (each still serves its own ingressClass).',
  {
    configure: Bool(
      'Whether kgw writes config-network and config-domain for this gateway. When several gateways do, ' +
        `the oldest wins and the others report ${CONDITION_KNATIVE_CONFIGURED}=False. Under the Knative ` +
        'Operator (a KnativeServing in namespace) kgw writes nothing and reports ManagedByKnativeOperator ' +
        `with what to set in the KnativeServing. Defaults to ${String(DEFAULT_KNATIVE_CONFIGURE)}.`,
      { default: DEFAULT_KNATIVE_CONFIGURE },
    ),
    namespace: Str(`Namespace of Knative Serving. Defaults to ${DEFAULT_KNATIVE_NAMESPACE}.`, {
      pattern: DNS1123_LABEL_PATTERN,
      minLength: 1,
      maxLength: LIMITS.namespaceMaxLength,
      default: DEFAULT_KNATIVE_NAMESPACE,
    }),
    httpProtocol: Enum(
      'config-network http-protocol: Enabled serves plain HTTP; Redirected answers plain HTTP on ' +
        'external hosts with a redirect to HTTPS. Services may override it with the ' +
        `networking.knative.dev/http-protocol annotation. Defaults to ${DEFAULT_HTTP_PROTOCOL}.`,
      { enum: HTTP_PROTOCOLS, default: DEFAULT_HTTP_PROTOCOL },
    ),
    externalDomainTLS: Enum(
      'config-network external-domain-tls: Enabled makes Knative request a certificate for each ' +
        `external host and serve it over HTTPS. Defaults to ${DEFAULT_EXTERNAL_DOMAIN_TLS}.`,
      { enum: EXTERNAL_DOMAIN_TLS_VALUES, default: DEFAULT_EXTERNAL_DOMAIN_TLS },
    ),
    autocreateClusterDomainClaims: Bool(
      'config-network autocreate-cluster-domain-claims: whether Knative creates a ClusterDomainClaim ' +
        'for each new DomainMapping (true), or an administrator must create them first (false). ' +
        `Defaults to ${String(DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS)}.`,
      { default: DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS },
    ),
  },
  { default: {} },
);

function issuerSchema(what: string) {
  return Obj(
    `cert-manager ClusterIssuer ${what}. It must exist (the webhook warns when it does not).`,
    {
      name: Str('Name of the ClusterIssuer (cert-manager.io/v1).', {
        pattern: DNS1123_SUBDOMAIN_PATTERN,
        minLength: 1,
        maxLength: LIMITS.issuerNameMaxLength,
      }),
    },
    { required: ['name'] },
  );
}

export const GatewayTLSSchema = Obj(
  'Automatic TLS with cert-manager. With externalIssuer set, kgw implements the Knative certificate ' +
    `class ${KGW_CERTIFICATE_CLASS}: Knative Serving requests a certificate for each external host ` +
    '(config-network external-domain-tls and certificate-class are set, when knative.configure) and ' +
    'kgw turns each request into a cert-manager Certificate from the issuer, serving the issued ' +
    'Secret over SDS (renewals need no listener drain). ACME HTTP-01 challenge paths are always ' +
    'answered over plain HTTP, even when HTTP is redirected to HTTPS (knative.httpProtocol Redirected).',
  {
    externalIssuer: issuerSchema('issuing certificates for external hosts'),
    clusterLocalIssuer: issuerSchema(
      'issuing certificates for cluster-local hosts; defaults to externalIssuer',
    ),
    defaultCertificate: Obj(
      'A wildcard certificate kgw requests from a DNS-01 issuer and serves as the fallback of the ' +
        'fleets named (for TLS connections whose SNI no KIngress certificate covers).',
      {
        issuer: issuerSchema('that solves DNS-01 challenges (wildcard names need DNS-01)'),
        dnsNames: Arr(
          `Names on the certificate, at most ${LIMITS.maxCertificateNames}, e.g. *.example.com. ` +
            'Defaults to *.<domains.default>.',
          Str('A DNS name, optionally with a leading wildcard label.', {
            pattern: WILDCARD_DNS_PATTERN,
            maxLength: LIMITS.domainMaxLength,
          }),
          { minItems: 1, maxItems: LIMITS.maxCertificateNames },
        ),
        fleets: Arr(
          'Fleets that serve it (names from spec.fleets). Defaults to every ExternalIP fleet.',
          Str('A fleet name.', { pattern: DNS1123_LABEL_PATTERN, maxLength: LIMITS.fleetNameMaxLength }),
          { maxItems: LIMITS.maxFleets },
        ),
      },
      { required: ['issuer'] },
    ),
  },
);

export const KnativeGatewaySpecSchema = Obj(
  'Desired state: the Knative ingress class this gateway serves, the Envoy fleets that serve it, and ' +
    'the Knative configuration it owns.',
  {
    ingressClass: Str(
      `Knative ingress class this gateway serves. kgw serves only the KIngresses whose ` +
        `${INGRESS_CLASS_ANNOTATION} annotation equals this value, and never writes to the ` +
        `others. With knative.configure, kgw also makes it the ingress-class of Knative Serving's ` +
        `config-network. Defaults to ${DEFAULT_INGRESS_CLASS}.`,
      {
        pattern: DNS1123_SUBDOMAIN_PATTERN,
        minLength: 1,
        maxLength: LIMITS.ingressClassMaxLength,
        default: DEFAULT_INGRESS_CLASS,
      },
    ),
    namespace: Str(
      `Namespace of the objects kgw creates for this gateway's fleets (Services and, when kgw runs the ` +
        `fleets on Kubernetes, their Deployments, ConfigMaps, …). It must exist (kgw does not create ` +
        `namespaces); outside kgw's own namespace an admin lets kgw manage fleets there by binding the ` +
        `ClusterRole kgw-fleet-manager to kgw's ServiceAccount (FleetsReady names the command). Defaults to ` +
        `${DEFAULT_NAMESPACE}.`,
      {
        pattern: DNS1123_LABEL_PATTERN,
        minLength: 1,
        maxLength: LIMITS.namespaceMaxLength,
        default: DEFAULT_NAMESPACE,
      },
    ),
    clusterDomain: Str(
      `DNS domain of the cluster. Each fleet's in-cluster host name is ` +
        `<service>.<namespace>.svc.<clusterDomain>, which KIngress status reports as domainInternal. ` +
        `Defaults to ${DEFAULT_CLUSTER_DOMAIN}.`,
      {
        pattern: DNS1123_SUBDOMAIN_PATTERN,
        minLength: 1,
        maxLength: LIMITS.clusterDomainMaxLength,
        default: DEFAULT_CLUSTER_DOMAIN,
      },
    ),
    fleets: Arr(
      `Envoy fleets serving this gateway, ${LIMITS.minFleets} to ${LIMITS.maxFleets}, with unique ` +
        'names. A gateway usually has one ExternalIP and one ClusterLocal fleet; neither is ' +
        'required, and several fleets of one visibility all serve the same rules.',
      FleetSpecSchema,
      {
        minItems: LIMITS.minFleets,
        maxItems: LIMITS.maxFleets,
        mapKeys: ['name'],
        validations: [
          cel(
            'self.all(f, self.exists_one(g, g.name == f.name))',
            MESSAGES.uniqueFleetNames,
            (fleets: { name: string }[]) => new Set(fleets.map((f) => f.name)).size === fleets.length,
          ),
        ],
      },
    ),
    domains: GatewayDomainsSchema,
    knative: KnativeConfigSchema,
    tls: GatewayTLSSchema,
    domainClaims: DomainClaimPolicySchema,
    externalNames: ExternalNamesSpecSchema,
    policy: GatewayPolicySchema,
  },
  {
    required: ['fleets'],
    validations: [
      cel(
        '!has(self.domainClaims) || !has(self.domainClaims.autoCreate) || !self.domainClaims.autoCreate || ' +
          '!has(self.knative) || !has(self.knative.autocreateClusterDomainClaims) || ' +
          '!self.knative.autocreateClusterDomainClaims',
        MESSAGES.twoClaimCreators,
        (s: SpecSelf) =>
          !(s.domainClaims?.autoCreate === true && s.knative?.autocreateClusterDomainClaims === true),
      ),
      cel(
        '!has(self.tls) || !has(self.tls.defaultCertificate) || has(self.tls.defaultCertificate.dnsNames) || ' +
          '(has(self.domains) && has(self.domains.default))',
        MESSAGES.tlsDefaultCertificateNames,
        (s: SpecSelf) =>
          s.tls?.defaultCertificate === undefined ||
          s.tls.defaultCertificate.dnsNames !== undefined ||
          s.domains?.default !== undefined,
      ),
      cel(
        '!has(self.tls) || !has(self.tls.defaultCertificate) || !has(self.tls.defaultCertificate.fleets) || ' +
          'self.tls.defaultCertificate.fleets.all(n, self.fleets.exists(f, f.name == n))',
        MESSAGES.tlsDefaultCertificateFleets,
        (s: SpecSelf) =>
          s.tls?.defaultCertificate?.fleets === undefined ||
          s.tls.defaultCertificate.fleets.every((n) => s.fleets.some((f) => f.name === n)),
      ),
      cel(
        '!has(self.domains) || !has(self.knative) || !has(self.knative.configure) || self.knative.configure',
        MESSAGES.domainsNeedConfigure,
        (s: SpecSelf) => s.domains === undefined || s.knative?.configure !== false,
      ),
    ],
  },
);

export type GatewayDomains = Static<typeof GatewayDomainsSchema>;
export type DomainSelector = NonNullable<GatewayDomains['selectors']>[number];
export type KnativeConfig = Static<typeof KnativeConfigSchema>;
export type GatewayTLS = Static<typeof GatewayTLSSchema>;
/** A cert-manager ClusterIssuer. */
export type IssuerRef = NonNullable<GatewayTLS['externalIssuer']>;
export type DefaultCertificate = NonNullable<GatewayTLS['defaultCertificate']>;
export type KnativeGatewaySpec = Static<typeof KnativeGatewaySpecSchema>;
