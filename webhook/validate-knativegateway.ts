// KnativeGateway admission: the checks the CRD's schema and CEL rules cannot make, because they
// need other objects. The apiserver has already applied the schema and CEL rules when a
// validating webhook runs, so those are not repeated here.
//   - another gateway (not being deleted) serving the same effective ingress class → denied;
//   - two gateways' fleets that would be published as the same Service → denied;
//   - warnings: `knative.configure` on while another gateway already configures Knative (only the
//     oldest one does), a referenced cert-manager ClusterIssuer that does not exist (or
//     cert-manager is not installed), domainClaims.rules without domains.default (Knative's
//     generated hosts would then have to match a rule).
// On UPDATE a class conflict that already existed before (same class in oldObject) is only a
// warning, so an admin can still edit a gateway that lost the class to an older one.
import { olderFirst, resolveGateways } from '../operator/api/gateway-selection.ts';
import {
  DEFAULT_INGRESS_CLASS,
  DEFAULT_KNATIVE_CONFIGURE,
  fleetServiceNameCollisions,
  type KnativeGateway,
} from '../operator/api/knativegateway.ts';
import { verdictOf, type Verdict } from './admission.ts';
import type { IssuerPresence, Lookups } from './lookups.ts';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function specOf(gw: unknown): Record<string, unknown> {
  return isObject(gw) && isObject(gw.spec) ? gw.spec : {};
}

function nameOf(gw: unknown): string {
  const m = isObject(gw) ? gw.metadata : undefined;
  return isObject(m) && typeof m.name === 'string' ? m.name : '';
}

function deleting(gw: unknown): boolean {
  const m = isObject(gw) ? gw.metadata : undefined;
  return isObject(m) && typeof m.deletionTimestamp === 'string' && m.deletionTimestamp !== '';
}

/** The ingress class a gateway serves (`spec.ingressClass`, default kgw's). */
export function effectiveIngressClass(gw: unknown): string {
  const cls = specOf(gw).ingressClass;
  return typeof cls === 'string' && cls !== '' ? cls : DEFAULT_INGRESS_CLASS;
}

/** Whether a gateway asks to configure Knative (`spec.knative.configure`, default true). */
export function configuresKnative(gw: unknown): boolean {
  const k = specOf(gw).knative;
  const c = isObject(k) ? k.configure : undefined;
  return typeof c === 'boolean' ? c : DEFAULT_KNATIVE_CONFIGURE;
}

/** The ingress classes kgw serves (api/gateway-selection.ts: valid, not being deleted, oldest per class). */
export function servedClasses(gateways: readonly KnativeGateway[]): Set<string> {
  return new Set(resolveGateways(gateways).byClass.keys());
}

/** The cert-manager ClusterIssuers a gateway names, with their field paths (read defensively). */
export function referencedIssuers(gw: unknown): { path: string; name: string }[] {
  const tls = specOf(gw).tls;
  if (!isObject(tls)) return [];
  const out: { path: string; name: string }[] = [];
  const add = (path: string, ref: unknown) => {
    if (isObject(ref) && typeof ref.name === 'string' && ref.name !== '') out.push({ path, name: ref.name });
  };
  add('spec.tls.externalIssuer.name', tls.externalIssuer);
  add('spec.tls.clusterLocalIssuer.name', tls.clusterLocalIssuer);
  const dc = tls.defaultCertificate;
  if (isObject(dc)) add('spec.tls.defaultCertificate.issuer.name', dc.issuer);
  return out;
}

function issuerWarning(path: string, name: string, presence: IssuerPresence): string | undefined {
  if (presence === 'missing') {
    return `${path}: cert-manager ClusterIssuer "${name}" does not exist (yet); no certificate is issued until it does`;
  }
  if (presence === 'unavailable') {
    return `${path}: ClusterIssuer "${name}" cannot be checked: cert-manager (cert-manager.io/v1 ClusterIssuer) is not installed`;
  }
  return undefined;
}

/** The gateway serving `ingressClass` (api/gateway-selection.ts). */
export function servingGateway(
  gateways: readonly KnativeGateway[],
  ingressClass: string,
): KnativeGateway | undefined {
  return resolveGateways(gateways).byClass.get(ingressClass);
}

export function validateKnativeGateway(
  object: unknown,
  oldObject: unknown,
  lookups: Pick<Lookups, 'gateways' | 'clusterIssuer'>,
): Verdict {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!isObject(object) || !isObject(object.metadata)) return verdictOf(['object: must be a KnativeGateway']);
  const name = nameOf(object);
  const cls = effectiveIngressClass(object);
  const others = lookups.gateways().filter((g) => g.metadata?.name !== name);
  const live = others.filter((g) => !deleting(g));

  // one gateway per ingress class
  const sameClass = live.filter((g) => effectiveIngressClass(g) === cls).sort(olderFirst);
  const holder = sameClass[0];
  const mine = object.metadata.creationTimestamp;
  // on CREATE every existing gateway is older (the new one's creation time may tie with theirs)
  const isCreate = oldObject === undefined || oldObject === null;
  const selfIsOlder = (g: KnativeGateway) =>
    !isCreate &&
    typeof mine === 'string' &&
    mine !== '' &&
    olderFirst({ metadata: { name, creationTimestamp: mine } }, g) < 0;
  if (holder !== undefined && !selfIsOlder(holder)) {
    const unchanged = !isCreate && effectiveIngressClass(oldObject) === cls;
    const msg = `ingress class "${cls}" is already served by KnativeGateway "${holder.metadata.name}"; set a different spec.ingressClass`;
    if (unchanged) warnings.push(`spec.ingressClass: ${msg} (this gateway is not served)`);
    else problems.push(`spec.ingressClass: ${msg}`);
  }
  for (const g of others.filter((x) => deleting(x) && effectiveIngressClass(x) === cls)) {
    warnings.push(
      `spec.ingressClass: KnativeGateway "${g.metadata.name}" with the same class is being deleted`,
    );
  }

  // fleets of two gateways published as the same Service
  try {
    const self = object as unknown as KnativeGateway;
    const own = new Set(fleetServiceNameCollisions([self]));
    for (const g of live) {
      for (const c of fleetServiceNameCollisions([self, g])) {
        if (!own.has(c) && !fleetServiceNameCollisions([g]).includes(c)) {
          problems.push(`spec.fleets: ${c} (KnativeGateway "${g.metadata.name}")`);
        }
      }
    }
  } catch {
    // a spec the defaults cannot be applied to: the schema has already reported it
  }

  // one gateway configures Knative
  if (configuresKnative(object)) {
    const configurer = live.filter((g) => configuresKnative(g)).sort(olderFirst)[0];
    if (configurer !== undefined && !selfIsOlder(configurer)) {
      warnings.push(
        `spec.knative.configure: KnativeGateway "${configurer.metadata.name}" already configures Knative; ` +
          `only the oldest gateway with knative.configure does (set it to false here)`,
      );
    }
  }

  // a domain policy that would also judge the hosts Knative generates (kgw recognises them only
  // under spec.domains)
  const spec = isObject(object.spec) ? object.spec : {};
  const claims = isObject(spec.domainClaims) ? spec.domainClaims : {};
  const domains = isObject(spec.domains) ? spec.domains : {};
  if (Array.isArray(claims.rules) && claims.rules.length > 0 && typeof domains.default !== 'string') {
    warnings.push(
      'spec.domainClaims.rules: spec.domains.default is not set, so kgw does not know the domain of the hosts ' +
        'Knative generates for Routes (<name>.<namespace>.<domain>): each of them must then match a rule, or its ' +
        "KIngress gets Ready=False, HostNotAllowed. Set spec.domains.default to config-domain's domain (kgw then " +
        'writes config-domain), or add that domain to a rule',
    );
  }

  // cert-manager ClusterIssuers
  for (const ref of referencedIssuers(object)) {
    const w = issuerWarning(ref.path, ref.name, lookups.clusterIssuer(ref.name));
    if (w) warnings.push(w);
  }
  return verdictOf(problems, warnings);
}
