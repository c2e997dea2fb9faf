// DomainMapping (serving.knative.dev/v1beta1) admission: the domain is the object's name.
//   - metadata.name: a fully qualified domain name (lower-case RFC 1123 labels, at least two, at
//     most 253 characters), not under a cluster-local domain (`<cluster domain>`, so also
//     `svc.<cluster domain>`), no generateName (Knative's rules);
//   - spec.ref: kind, name and apiVersion required; namespace empty or the DomainMapping's own;
//   - spec.tls.secretName: required when spec.tls is set;
//   - the domain claim: a ClusterDomainClaim named like the domain that belongs to another namespace
//     → denied ("domain X is claimed by namespace A"). Knative's reconciler enforces the claim too
//     (DomainClaimed=False); rejecting at admission gives the answer at once;
//   - kgw's namespace policy (an injected function; default: every namespace may map every
//     unclaimed domain).
// A missing claim is only a warning when no gateway lets Knative create claims (the mapping then
// stays unclaimed until an admin creates one).
import { DEFAULT_CLUSTER_DOMAIN, type KnativeGateway } from '../operator/api/knativegateway.ts';
import { verdictOf, type Verdict } from './admission.ts';
import type { Lookups } from './lookups.ts';
import { configuresKnative } from './validate-knativegateway.ts';

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObject(v)) return undefined;
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** Problems with a domain name used as a DomainMapping's name. */
export function domainNameProblem(name: string): string | undefined {
  if (name.length > 253) return `"${name}" is not a fully qualified domain name: longer than 253 characters`;
  const labels = name.split('.');
  if (labels.length < 2) {
    return `"${name}" is not a fully qualified domain name: it needs at least two dot-separated labels`;
  }
  for (const l of labels) {
    if (l.length > 63 || !LABEL.test(l)) {
      return (
        `"${name}" is not a fully qualified domain name: label "${l}" must be 1 to 63 lower-case letters, ` +
        `digits or "-", starting and ending with a letter or digit`
      );
    }
  }
  return undefined;
}

/** The cluster-local domains: every gateway's `spec.clusterDomain` and Kubernetes' default. */
export function clusterDomains(gateways: readonly KnativeGateway[]): string[] {
  const out = new Set<string>([DEFAULT_CLUSTER_DOMAIN]);
  for (const g of gateways) {
    const d: unknown = (g.spec as { clusterDomain?: unknown } | undefined)?.clusterDomain;
    if (typeof d === 'string' && d !== '') out.add(d);
  }
  return [...out];
}

function autocreatesClaims(gateways: readonly KnativeGateway[]): boolean {
  return gateways.some((g) => {
    const k: unknown = (g.spec as { knative?: unknown } | undefined)?.knative;
    return configuresKnative(g) && isObject(k) && k.autocreateClusterDomainClaims === true;
  });
}

export function validateDomainMapping(
  object: unknown,
  _oldObject: unknown,
  lookups: Pick<Lookups, 'gateways' | 'clusterDomainClaim' | 'domainPolicy'>,
): Verdict {
  if (!isObject(object) || !isObject(object.metadata)) return verdictOf(['object: must be a DomainMapping']);
  const meta = object.metadata;
  const problems: string[] = [];
  const warnings: string[] = [];
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : '';
  const gateways = lookups.gateways();

  if (name === '') {
    problems.push(
      nonEmptyString(meta.generateName)
        ? 'metadata.generateName: not allowed: the name of a DomainMapping is its domain'
        : 'metadata.name: required: the domain to map',
    );
  } else {
    const p = domainNameProblem(name);
    if (p) problems.push(`metadata.name: ${p}`);
    else {
      const local = clusterDomains(gateways).find((d) => name === d || name.endsWith(`.${d}`));
      if (local !== undefined) {
        problems.push(
          `metadata.name: "${name}" is under the cluster-local domain "${local}"; map a public domain`,
        );
      }
    }
  }

  const spec = isObject(object.spec) ? object.spec : undefined;
  const ref = spec?.ref;
  if (!isObject(ref))
    problems.push('spec.ref: required: the Service, Route or KService to map the domain to');
  else {
    if (!nonEmptyString(ref.kind)) problems.push('spec.ref.kind: required');
    if (!nonEmptyString(ref.name)) problems.push('spec.ref.name: required');
    else if (!DNS1123_SUBDOMAIN.test(ref.name))
      problems.push(`spec.ref.name: "${ref.name}" is not a valid object name`);
    if (!nonEmptyString(ref.apiVersion)) problems.push('spec.ref.apiVersion: required');
    if (ref.namespace !== undefined && ref.namespace !== '' && ref.namespace !== namespace) {
      problems.push(
        `spec.ref.namespace: must be empty or the DomainMapping's namespace "${namespace}", got ${JSON.stringify(ref.namespace)}`,
      );
    }
  }
  if (spec?.tls !== undefined) {
    const tls = spec.tls;
    if (!isObject(tls) || !nonEmptyString(tls.secretName))
      problems.push('spec.tls.secretName: required when spec.tls is set');
    else if (!DNS1123_SUBDOMAIN.test(tls.secretName)) {
      problems.push(`spec.tls.secretName: "${tls.secretName}" is not a valid Secret name`);
    }
  }
  if (problems.length > 0 || name === '') return verdictOf(problems, warnings);

  // the domain claim and kgw's policy
  const claim = lookups.clusterDomainClaim(name);
  if (claim !== undefined && claim !== 'unavailable') {
    const owner = claim.spec?.namespace;
    if (typeof owner === 'string' && owner !== namespace) {
      problems.push(
        `metadata.name: domain ${name} is claimed by namespace ${owner} (ClusterDomainClaim ${name})`,
      );
    }
  } else if (
    claim === undefined &&
    gateways.some((g) => configuresKnative(g)) &&
    !autocreatesClaims(gateways)
  ) {
    warnings.push(
      `metadata.name: no ClusterDomainClaim ${name} exists and autocreate-cluster-domain-claims is off; ` +
        `the mapping is not served until an admin creates a claim for namespace ${namespace}`,
    );
  }
  const refusal = lookups.domainPolicy?.(name, namespace, stringMap(meta.annotations));
  if (refusal !== undefined)
    problems.push(`metadata.name: domain ${name} is not allowed in namespace ${namespace}: ${refusal}`);
  return verdictOf(problems, warnings);
}
