// Who may serve which host (issue 8 item 6: domain squatting through KIngress). Without this, a
// host went to the oldest KIngress of any namespace, so one namespace could take another's names
// before that namespace even created its Route. Pure: the gateway's settings and a read-only view
// of ClusterDomainClaims and namespace labels come in as arguments; used by translation (a refused
// host gives the KIngress `Ready=False, HostNotAllowed` and withdraws it) and by the admission
// webhook (the same message).
//
// A host h of a KIngress in namespace N, served by gateway G, is one of:
// - a *generated name of namespace M*: a name Knative Serving gives a Route of M. Cluster-local
//   forms `<x>.M.svc.<clusterDomain>` and `<x>.M.svc` (and below them), on ClusterLocal rules also
//   the short form `<x>.M`; and what G's domain template (`spec.domains.template`, default
//   `{{.Name}}.{{.Namespace}}.{{.Domain}}`) makes for namespace M under one of G's domains
//   (`spec.domains.default`, `spec.domains.selectors[].domain`). It is allowed only when N is such
//   an M, however old another namespace's KIngress for it is. A template without {{.Namespace}}
//   gives no namespace's names.
// - otherwise a *custom host*: refused when a ClusterDomainClaim named h gives it to another
//   namespace, else when G's `domainClaims.rules` are set and none admits (h, N) (`claimDecision`,
//   the DomainMapping policy), else allowed; the oldest-KIngress rule then applies as before.
// - a wildcard `*.S` is allowed as generated when the names under it are N's own; when it spans
//   other namespaces' generated names (`*.example.com` under the default template) it is refused;
//   otherwise it is a custom host that must also not cover a host claimed by another namespace.
// Messages say how to fix the KIngress and never name another namespace or its objects.
import { claimDecision, domainUnder } from '../api/knativegateway-claims.ts';
import type { ResolvedDomainClaims, ResolvedGatewaySpec } from '../api/knativegateway.ts';
import type { Visibility } from '../api/kingress.ts';

export const REASON_HOST_NOT_ALLOWED = 'HostNotAllowed';
/** Knative's default domain-template. */
export const DEFAULT_DOMAIN_TEMPLATE = '{{.Name}}.{{.Namespace}}.{{.Domain}}';

// ---------------------------------------------------------------------------------------------
// Domain templates

/**
 * A piece of a compiled template: literal text, one of Knative's variables, or a value kgw cannot
 * know (`{{.Annotations.x}}`, `{{index .Labels "x"}}`: any host characters, possibly none).
 */
type Segment =
  | { kind: 'text'; text: string }
  | { kind: 'name' }
  | { kind: 'namespace' }
  | { kind: 'domain' }
  | { kind: 'value' };

export interface DomainTemplate {
  source: string;
  /**
   * The template as a sequence kgw can match hosts against; undefined when it uses constructs kgw
   * does not follow (conditions, functions other than `index`), whose names kgw cannot tell.
   */
  segments?: readonly Segment[];
  /** Whether the names it makes depend on the namespace (it has a followed {{.Namespace}}). */
  namespaced: boolean;
  /**
   * What must follow each piece: the first character of the text after it (-2: the end of the
   * host, -1: anything), so the variable-length pieces only try ends that can lead somewhere.
   */
  next?: readonly number[];
}

const ACTION = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;
const VALUE_ACTIONS = [
  /^\.(Annotations|Labels)\.[A-Za-z0-9_]+$/,
  /^index\s+\.(Annotations|Labels)\s+("(?:[^"\\]|\\.)*"|`[^`]*`)$/,
];

function actionSegment(body: string): Segment | null | undefined {
  if (body === '.Name') return { kind: 'name' };
  if (body === '.Namespace') return { kind: 'namespace' };
  if (body === '.Domain') return { kind: 'domain' };
  if (/^\/\*[\s\S]*\*\/$/.test(body)) return null; // a comment renders nothing
  if (VALUE_ACTIONS.some((re) => re.test(body))) return { kind: 'value' };
  return undefined;
}

/** Compiles a Knative domain-template (Go text/template) into a host matcher. */
export function compileDomainTemplate(source: string): DomainTemplate {
  const segments: Segment[] = [];
  let last = 0;
  let followed = true;
  const text = (t: string) => {
    // hosts have no white space: text the trim markers would cut is dropped either way
    const s = t.replace(/\s+/g, '').toLowerCase();
    if (s !== '') segments.push({ kind: 'text', text: s });
  };
  for (const m of source.matchAll(ACTION)) {
    text(source.slice(last, m.index));
    last = m.index + m[0].length;
    const seg = actionSegment(m[2] ?? '');
    if (seg === undefined) followed = false;
    else if (seg !== null) segments.push(seg);
  }
  text(source.slice(last));
  if (!followed || source.slice(last).includes('{{')) return { source, namespaced: false };
  const next = segments.map((_, i) => {
    const after = segments[i + 1];
    return after === undefined ? -2 : after.kind === 'text' ? after.text.charCodeAt(0) : -1;
  });
  return { source, segments, next, namespaced: segments.some((s) => s.kind === 'namespace') };
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122);
}
const DASH = 45;
const DOT = 46;

/**
 * Namespaces M for which `template` renders `host` under one of `domains`. With `only`, M must be
 * that namespace; with `except`, anything but it; `first` stops at the first one found. A host can
 * fit several namespaces when the template is ambiguous (`{{.Name}}-{{.Namespace}}`). Backtracking
 * over the template's pieces, each (piece, position, namespace) state visited once.
 */
function matchTemplate(
  template: DomainTemplate,
  domains: readonly string[],
  host: string,
  opts: { only?: string; except?: string } = {},
  first = false,
): Set<string> {
  const out = new Set<string>();
  const segs = template.segments;
  if (!segs || !template.namespaced || domains.length === 0) return out;
  // cheap rejections: the namespace asked for, the text or domain the template ends with
  if (opts.only !== undefined && !host.includes(opts.only)) return out;
  const tail = segs[segs.length - 1];
  if (tail?.kind === 'text' && !host.endsWith(tail.text)) return out;
  if (tail?.kind === 'domain' && !domains.some((d) => host.endsWith(d))) return out;
  const n = host.length + 1;
  const seen = new Set<number>();
  const next = template.next ?? [];
  const leads = (i: number, end: number): boolean => {
    const want = next[i] ?? -1;
    return want === -1 || (want === -2 ? end === host.length : host.charCodeAt(end) === want);
  };
  let done = false;
  // ns: the namespace as [start, end) in host (the first {{.Namespace}} binds it), -1 while unbound
  const walk = (i: number, pos: number, nsStart: number, nsEnd: number, dom: number): void => {
    if (done) return;
    const key = (((i * n + pos) * n + nsStart + 1) * n + nsEnd + 1) * (domains.length + 1) + dom + 1;
    if (seen.has(key)) return;
    seen.add(key);
    const seg = segs[i];
    if (seg === undefined) {
      if (pos !== host.length || nsStart < 0) return;
      out.add(host.slice(nsStart, nsEnd));
      if (first) done = true;
      return;
    }
    switch (seg.kind) {
      case 'text':
        if (host.startsWith(seg.text, pos)) walk(i + 1, pos + seg.text.length, nsStart, nsEnd, dom);
        return;
      case 'domain':
        domains.forEach((d, di) => {
          if ((dom < 0 || dom === di) && host.startsWith(d, pos))
            walk(i + 1, pos + d.length, nsStart, nsEnd, di);
        });
        return;
      case 'namespace': {
        if (nsStart >= 0) {
          const len = nsEnd - nsStart;
          if (host.startsWith(host.slice(nsStart, nsEnd), pos)) walk(i + 1, pos + len, nsStart, nsEnd, dom);
          return;
        }
        if (opts.only !== undefined) {
          if (host.startsWith(opts.only, pos))
            walk(i + 1, pos + opts.only.length, pos, pos + opts.only.length, dom);
          return;
        }
        // a DNS label of at most 63 characters
        for (let end = pos + 1; end <= host.length && end - pos <= 63; end++) {
          const c = host.charCodeAt(end - 1);
          if (c === DASH ? end === pos + 1 : !isAlnum(c)) return;
          if (c === DASH) continue;
          if (!leads(i, end)) continue;
          if (opts.except !== undefined && host.slice(pos, end) === opts.except) continue;
          walk(i + 1, end, pos, end, dom);
        }
        return;
      }
      case 'value':
        if (leads(i, pos)) walk(i + 1, pos, nsStart, nsEnd, dom); // may render nothing
        for (let end = pos + 1; end <= host.length; end++) {
          const c = host.charCodeAt(end - 1);
          if (c !== DASH && c !== DOT && !isAlnum(c)) return;
          if (leads(i, end)) walk(i + 1, end, nsStart, nsEnd, dom);
        }
        return;
      case 'name': {
        // DNS labels (a Route name, `tag-name`, …): every end of a valid label sequence
        let label = 0;
        for (let end = pos + 1; end <= host.length; end++) {
          const c = host.charCodeAt(end - 1);
          if (c === DOT) {
            if (label === 0 || host.charCodeAt(end - 2) === DASH) return;
            label = 0;
          } else if (c === DASH || isAlnum(c)) {
            if ((label === 0 && c === DASH) || ++label > 63) return;
            if (c !== DASH && leads(i, end)) walk(i + 1, end, nsStart, nsEnd, dom);
          } else return;
        }
        return;
      }
    }
  };
  walk(0, 0, -1, -1, -1);
  return out;
}

/**
 * Every namespace M for which `template` renders `host` under one of `domains` (a host can fit
 * several when the template is ambiguous, e.g. `{{.Name}}-{{.Namespace}}`).
 */
export function templateNamespaces(
  template: DomainTemplate,
  domains: readonly string[],
  host: string,
): Set<string> {
  return matchTemplate(template, domains, host);
}

/** The template rendered for `namespace` with placeholders, to show in messages. */
function renderExample(template: DomainTemplate, namespace: string, domain: string): string | undefined {
  if (!template.segments || !template.namespaced) return undefined;
  return template.segments
    .map((s) =>
      s.kind === 'text'
        ? s.text
        : s.kind === 'name'
          ? '<name>'
          : s.kind === 'namespace'
            ? namespace
            : s.kind === 'domain'
              ? domain
              : '<value>',
    )
    .join('');
}

// ---------------------------------------------------------------------------------------------
// The gateway's policy and the cluster's claims

/** What a gateway says about hosts: its Knative domains and template, and its claim rules. */
export interface HostPolicy {
  gateway: string;
  /** `spec.domains.default` and the selectors' domains, lower case. */
  domains: readonly string[];
  template: DomainTemplate;
  claims: ResolvedDomainClaims;
}

export function gatewayHostPolicy(gateway: string, spec: ResolvedGatewaySpec): HostPolicy {
  const domains = [spec.domains.default, ...spec.domains.selectors.map((s) => s.domain)]
    .filter((d): d is string => typeof d === 'string' && d !== '')
    .map((d) => d.toLowerCase().replace(/\.$/, ''));
  return {
    gateway,
    domains: [...new Set(domains)],
    template: compileDomainTemplate(spec.domains.template ?? DEFAULT_DOMAIN_TEMPLATE),
    claims: spec.domainClaims,
  };
}

/** A read-only view of the ClusterDomainClaims and namespace labels. */
export interface HostOwners {
  /** The namespace a ClusterDomainClaim named `domain` gives the domain to; undefined: none. */
  claimOwner(domain: string): string | undefined;
  /** The claims of domains below `suffix` (`a.example.com` for `example.com`), for wildcard hosts. */
  claimsUnder(suffix: string): Iterable<{ domain: string; namespace: string }>;
  /** The namespace's labels; undefined when not known (judged as having none). */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
}

// ---------------------------------------------------------------------------------------------
// The rule

export interface HostContext {
  /** The KIngress's namespace. */
  namespace: string;
  visibility: Visibility;
  clusterDomain: string;
  /** The serving gateway's policy; absent: only cluster-local names and claims apply. */
  policy?: HostPolicy;
  /** Claims and namespace labels; absent: none known. */
  owners?: HostOwners;
}

export type HostDecision =
  { allowed: true; kind: 'generated' | 'custom' } | { allowed: false; message: string };

type GeneratedContext = Omit<HostContext, 'namespace' | 'owners'>;

/** The namespaces whose cluster-local names include `host`. */
function clusterLocalNamespaces(host: string, ctx: GeneratedContext): string[] {
  const out: string[] = [];
  // the label before `suffix`, when at least one label precedes it
  const before = (suffix: string): void => {
    if (!host.endsWith(suffix)) return;
    const rest = host.slice(0, host.length - suffix.length);
    const dot = rest.lastIndexOf('.');
    const m = rest.slice(dot + 1);
    if (dot > 0 && LABEL.test(m)) out.push(m);
  };
  before(`.svc.${ctx.clusterDomain.toLowerCase()}`);
  before('.svc');
  if (ctx.visibility === 'ClusterLocal') {
    const dot = host.indexOf('.');
    const m = host.slice(dot + 1);
    if (dot > 0 && !m.includes('.') && LABEL.test(m)) out.push(m);
  }
  return out;
}

/**
 * Whether `host` is a generated name of namespace `only` (with `only`), of a namespace other than
 * `except` (with `except`), or of any namespace.
 */
function isGenerated(
  host: string,
  ctx: GeneratedContext,
  o: { only?: string; except?: string } = {},
): boolean {
  for (const m of clusterLocalNamespaces(host, ctx)) {
    if ((o.only === undefined || m === o.only) && m !== o.except) return true;
  }
  const p = ctx.policy;
  return p !== undefined && matchTemplate(p.template, p.domains, host, o, true).size > 0;
}

/** Namespaces whose generated names include `host` (cluster-local forms and the template). */
export function generatedNamespaces(host: string, ctx: GeneratedContext): Set<string> {
  const out = new Set(clusterLocalNamespaces(host, ctx));
  const p = ctx.policy;
  if (p) for (const m of matchTemplate(p.template, p.domains, host)) out.add(m);
  return out;
}

/** Whether names under `suffix` can be generated names (cluster-local or under the gateway's domains). */
function overlapsGenerated(suffix: string, ctx: HostContext): boolean {
  const spaces = [`svc.${ctx.clusterDomain.toLowerCase()}`, 'svc'];
  if (ctx.policy?.template.namespaced) spaces.push(...ctx.policy.domains);
  return spaces.some((s) => domainUnder(suffix, s) || domainUnder(s, suffix));
}

function ownNames(ctx: HostContext): string {
  const ns = ctx.namespace;
  const names = [`<name>.${ns}.svc.${ctx.clusterDomain}`];
  const d = ctx.policy?.domains[0];
  const ex = d !== undefined && ctx.policy ? renderExample(ctx.policy.template, ns, d) : undefined;
  if (ex !== undefined) names.unshift(ex);
  return names.join(', ');
}

function fixes(ctx: HostContext): string {
  return (
    `use your namespace's own names (${ownNames(ctx)}) or a custom domain a cluster admin ` +
    `gives to namespace ${ctx.namespace} with a ClusterDomainClaim`
  );
}

function refuse(message: string): HostDecision {
  return { allowed: false, message };
}

/** May a KIngress in `ctx.namespace` serve `host` (a valid host, lower case; `*.` for wildcards)? */
export function hostDecision(host: string, ctx: HostContext): HostDecision {
  // parsed hosts are lower case without a trailing dot already
  const h = /[A-Z]|\.$/.test(host) ? host.toLowerCase().replace(/\.$/, '') : host;
  const ns = ctx.namespace;
  if (h.startsWith('*.')) return wildcardDecision(h, ctx);
  if (isGenerated(h, ctx, { only: ns })) return { allowed: true, kind: 'generated' };
  if (isGenerated(h, ctx)) {
    return refuse(
      `host ${h} is a name Knative generates for another namespace's Routes, so a KIngress in ` +
        `namespace ${ns} may not serve it; ${fixes(ctx)}`,
    );
  }
  const claimedBy = ctx.owners?.claimOwner(h);
  if (claimedBy !== undefined && claimedBy !== '' && claimedBy !== ns) {
    return refuse(
      `host ${h} is claimed by another namespace (a ClusterDomainClaim gives it to a namespace other ` +
        `than ${ns}); a cluster admin can give it to namespace ${ns}, or use another host`,
    );
  }
  return policyDecision(h, ctx);
}

function policyDecision(h: string, ctx: HostContext): HostDecision {
  const p = ctx.policy;
  if (p?.claims.rules === undefined) return { allowed: true, kind: 'custom' };
  const labels = ctx.owners?.namespaceLabels(ctx.namespace) ?? {};
  const d = claimDecision(p.claims, p.gateway, h, ctx.namespace, labels);
  if (d.allowed) return { allowed: true, kind: 'custom' };
  return refuse(
    `host ${h} is not allowed: ${d.message ?? 'the domainClaims policy does not allow it'}; a cluster ` +
      `admin can allow it in KnativeGateway ${p.gateway}'s spec.domainClaims.rules, or ${fixes(ctx)}`,
  );
}

function wildcardDecision(h: string, ctx: HostContext): HostDecision {
  const ns = ctx.namespace;
  const suffix = h.slice(2);
  // Concrete names under the wildcard, with labels other than the namespace's own.
  const x = ns === 'x' ? 'y' : 'x';
  const probes = [`${x}.${suffix}`, `${x}.${x}.${suffix}`, `${x}-${x}.${suffix}`];
  const others = probes.some((p) => isGenerated(p, ctx, { except: ns }));
  const inside = isGenerated(`${x}.${suffix}`, ctx, { only: ns });
  if (others || (!inside && overlapsGenerated(suffix, ctx))) {
    return refuse(
      `wildcard host ${h} covers names Knative generates for other namespaces' Routes, so a KIngress ` +
        `in namespace ${ns} may not serve it; ${fixes(ctx)}`,
    );
  }
  if (inside) return { allowed: true, kind: 'generated' };
  for (const c of ctx.owners?.claimsUnder(suffix) ?? []) {
    if (c.namespace !== '' && c.namespace !== ns) {
      return refuse(
        `wildcard host ${h} covers a host that a ClusterDomainClaim gives to another namespace; ` +
          `list your hosts one by one instead, or ask a cluster admin for the claim`,
      );
    }
  }
  return policyDecision(h, ctx);
}

// ---------------------------------------------------------------------------------------------
// What a verdict depends on (so the operator re-judges a KIngress when it changes)

/**
 * The refs a KIngress's host verdicts read: `host:<h>` for each custom host (a claim named h, or
 * under a wildcard h, may appear or change) and `ns:<namespace>` when the gateway's claim rules
 * decide (its labels may change). Generated names depend on neither. Reads the raw spec (any JSON).
 */
export function hostRefs(
  spec: unknown,
  namespace: string,
  clusterDomain: string,
  policy: HostPolicy | undefined,
): string[] {
  const refs = new Set<string>();
  const field = (v: unknown, k: string): unknown =>
    typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  const rules = field(spec, 'rules');
  for (const r of Array.isArray(rules) ? (rules as unknown[]) : []) {
    const vis: Visibility = field(r, 'visibility') === 'ClusterLocal' ? 'ClusterLocal' : 'ExternalIP';
    const hosts = field(r, 'hosts');
    for (const host of Array.isArray(hosts) ? (hosts as unknown[]) : []) {
      if (typeof host !== 'string' || host === '') continue;
      const h = host.toLowerCase().replace(/\.$/, '');
      const ctx = { namespace, visibility: vis, clusterDomain, ...(policy ? { policy } : {}) };
      if (!h.startsWith('*.') && isGenerated(h, ctx)) continue;
      refs.add(`host:${h}`);
    }
  }
  if (refs.size > 0 && policy?.claims.rules !== undefined) refs.add(`ns:${namespace}`);
  return [...refs];
}

/** The refs a change of the claim for `domain` concerns: the host itself and every wildcard over it. */
export function claimRefs(domain: string): string[] {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const labels = d.split('.');
  return [`host:${d}`, ...labels.slice(1).map((_, i) => `host:*.${labels.slice(i + 1).join('.')}`)];
}
