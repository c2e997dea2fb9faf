// kgw's Knative certificate class (`kgw.certificate.networking.knative.dev`): every KCertificate
// (networking.internal.knative.dev/v1alpha1 Certificate) annotated with that class becomes a
// cert-manager Certificate (cert-manager.io/v1) of the same name, issued by the ClusterIssuer the
// KnativeGateway names in `spec.tls`, and cert-manager's progress is written back into the
// KCertificate's status (Ready, notAfter, Renewing, http01Challenges). KCertificates of any other
// class are never touched. A cert-manager Certificate that the KCertificate does not control is
// never changed: the KCertificate reports Ready False, reason NotOwned.
//
// The translation (`certManagerCertificate`) and the status mapping (`kcertStatus`,
// `http01Challenges`) are pure; `CertificateController` watches and writes. Only the leader
// writes (both cert-manager Certificates and KCertificate status), and only what differs.
import { stamp } from '../status/condition.ts';
import type { ObjectMeta } from '../api/kingress.ts';
import { withGatewayDefaults, KGW_CERTIFICATE_CLASS, type KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { Reflector, objectKey, type KubeObject } from '../kube/reflector.ts';
import type { Logger } from '../log.ts';
import { canonicalJson } from './canonical.ts';

// ---------------------------------------------------------------------------------------------
// Names and shapes (only the fields kgw reads or writes)

export const KCERT_API_VERSION = 'networking.internal.knative.dev/v1alpha1';
export const KCERT_KIND = 'Certificate';
export const KCERTS_PATH = '/apis/networking.internal.knative.dev/v1alpha1/certificates';
export const CM_API_VERSION = 'cert-manager.io/v1';
export const CM_CERTS_PATH = '/apis/cert-manager.io/v1/certificates';
export const CM_CHALLENGES_PATH = '/apis/acme.cert-manager.io/v1/challenges';

export const CERTIFICATE_CLASS_ANNOTATION = 'networking.knative.dev/certificate.class';
export const CERTIFICATE_TYPE_LABEL = 'networking.knative.dev/certificate-type';
export const CERTIFICATE_UID_LABEL = 'networking.internal.knative.dev/certificate-uid';
/** cert-manager's labels on an HTTP-01 solver Pod and Service. */
export const SOLVER_LABEL = 'acme.cert-manager.io/http01-solver';
export const SOLVER_DOMAIN_LABEL = 'acme.cert-manager.io/http-domain';

/** Knative's limit for a common name (X.509 allows 64 bytes; Knative keeps one spare). */
export const COMMON_NAME_MAX_BYTES = 63;

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Object metadata with the owner references kgw sets and reads. */
export type Meta = ObjectMeta & { ownerReferences?: OwnerReference[]; [k: string]: unknown };

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  severity?: string;
  /** cert-manager conditions carry the generation they were set for. */
  observedGeneration?: number;
}

export interface HTTP01Challenge {
  url: string;
  serviceName: string;
  serviceNamespace: string;
  servicePort: number | string;
}

export interface KCertificateStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  notAfter?: string;
  http01Challenges?: HTTP01Challenge[];
}

export interface KCertificate {
  apiVersion?: string;
  kind?: string;
  metadata: Meta;
  spec: { dnsNames?: string[]; domain?: string; secretName?: string };
  status?: KCertificateStatus;
}

export interface IssuerReference {
  name: string;
  kind: string;
  group: string;
}

export interface CertManagerCertificateSpec {
  commonName?: string;
  dnsNames: string[];
  secretName: string;
  issuerRef: IssuerReference;
  secretTemplate?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

export interface CertManagerCertificateStatus {
  conditions?: Condition[];
  notBefore?: string;
  notAfter?: string;
  renewalTime?: string;
  lastFailureTime?: string;
  failedIssuanceAttempts?: number;
  revision?: number;
}

export interface CertManagerCertificate {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec: CertManagerCertificateSpec;
  status?: CertManagerCertificateStatus;
}

/** An ACME HTTP-01 solver Service cert-manager created (only the fields read here). */
export interface SolverService {
  metadata: Meta;
  spec?: { ports?: { port: number; targetPort?: number | string }[] };
}

/** An acme.cert-manager.io/v1 Challenge (only the fields read here). */
export interface Challenge {
  metadata: Meta;
  spec?: { dnsName?: string; token?: string; type?: string };
}

/** Why a KCertificate cannot become a cert-manager Certificate: its Ready becomes False. */
export interface CertificateProblem {
  reason: string;
  message: string;
}

export function hasKgwCertificateClass(o: { metadata: { annotations?: Record<string, string> } }): boolean {
  return o.metadata.annotations?.[CERTIFICATE_CLASS_ANNOTATION] === KGW_CERTIFICATE_CLASS;
}

// ---------------------------------------------------------------------------------------------
// KCertificate → cert-manager Certificate (pure)

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** The ClusterIssuer for this KCertificate's type (label), or why there is none. */
export function issuerFor(
  kcert: KCertificate,
  gateway: KnativeGateway | undefined,
): IssuerReference | CertificateProblem {
  const type = kcert.metadata.labels?.[CERTIFICATE_TYPE_LABEL] ?? 'external-domain';
  if (!gateway) {
    return { reason: 'IssuerNotSet', message: 'no KnativeGateway serves certificates (spec.tls)' };
  }
  const tls = withGatewayDefaults(gateway.spec).tls;
  let issuer: { name: string } | undefined;
  let field: string;
  if (type === 'external-domain') {
    issuer = tls.externalIssuer;
    field = 'tls.externalIssuer';
  } else if (type === 'cluster-local-domain') {
    issuer = tls.clusterLocalIssuer;
    field = 'tls.clusterLocalIssuer';
  } else {
    // system-internal certificates (and unknown types) have no issuer in a KnativeGateway
    return {
      reason: 'IssuerNotSet',
      message: `no issuer for ${CERTIFICATE_TYPE_LABEL}=${JSON.stringify(type)} (KnativeGateway ${gateway.metadata.name} sets external and cluster-local issuers only)`,
    };
  }
  if (!issuer) {
    return {
      reason: 'IssuerNotSet',
      message: `KnativeGateway ${gateway.metadata.name} sets no ${field}`,
    };
  }
  return { kind: 'ClusterIssuer', group: 'cert-manager.io', name: issuer.name };
}

function isProblem<T extends object>(v: T | CertificateProblem): v is CertificateProblem {
  return 'reason' in v && 'message' in v && !('name' in v) && !('apiVersion' in v);
}

/** The controller reference a KCertificate's cert-manager Certificate carries. */
export function kcertControllerRef(kcert: KCertificate): OwnerReference {
  return {
    apiVersion: KCERT_API_VERSION,
    kind: KCERT_KIND,
    name: kcert.metadata.name,
    uid: kcert.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The cert-manager Certificate for a KCertificate (Knative's translation rules): same name and
 * namespace, controlled by the KCertificate, its labels and annotations copied; commonName is the
 * first DNS name, or `k.<domain>` (prepended to dnsNames) when that one is longer than 63 bytes;
 * issuerRef is the gateway's ClusterIssuer for the certificate type; the Secret is labelled with
 * the KCertificate's UID.
 */
export function certManagerCertificate(
  kcert: KCertificate,
  gateway: KnativeGateway | undefined,
): CertManagerCertificate | { problem: CertificateProblem } {
  const names = kcert.spec.dnsNames ?? [];
  const first = names[0];
  if (first === undefined || names.some((n) => !n)) {
    return {
      problem: { reason: 'InvalidSpec', message: 'spec.dnsNames: at least one non-empty name required' },
    };
  }
  if (!kcert.spec.secretName) {
    return { problem: { reason: 'InvalidSpec', message: 'spec.secretName: required' } };
  }
  let commonName = first;
  let dnsNames = [...names];
  if (byteLength(first) > COMMON_NAME_MAX_BYTES) {
    const domain = kcert.spec.domain;
    const tooLong = (why: string): { problem: CertificateProblem } => ({
      problem: {
        reason: 'CommonNameTooLong',
        message: `common name ${JSON.stringify(first)} is longer than ${COMMON_NAME_MAX_BYTES} bytes and ${why}`,
      },
    });
    if (!domain) return tooLong('spec.domain is not set');
    if (domain === first) return tooLong('spec.domain is that name');
    const short = `k.${domain}`;
    if (byteLength(short) > COMMON_NAME_MAX_BYTES) return tooLong(`${JSON.stringify(short)} is too long too`);
    commonName = short;
    dnsNames = [short, ...names];
  }
  const issuerRef = issuerFor(kcert, gateway);
  if (isProblem(issuerRef)) return { problem: issuerRef };
  const metadata: Meta = {
    name: kcert.metadata.name,
    ownerReferences: [kcertControllerRef(kcert)],
  };
  if (kcert.metadata.namespace !== undefined) metadata.namespace = kcert.metadata.namespace;
  if (kcert.metadata.labels) metadata.labels = { ...kcert.metadata.labels };
  if (kcert.metadata.annotations) metadata.annotations = { ...kcert.metadata.annotations };
  return {
    apiVersion: CM_API_VERSION,
    kind: 'Certificate',
    metadata,
    spec: {
      commonName,
      dnsNames,
      secretName: kcert.spec.secretName,
      issuerRef,
      secretTemplate: { labels: { [CERTIFICATE_UID_LABEL]: kcert.metadata.uid ?? '' } },
    },
  };
}

/** True when `obj` carries a controller reference to this KCertificate (by UID). */
export function controlledBy(obj: { metadata: Meta }, kcert: KCertificate): boolean {
  return (obj.metadata.ownerReferences ?? []).some(
    (r) =>
      r.controller === true &&
      r.kind === KCERT_KIND &&
      r.apiVersion.startsWith('networking.internal.knative.dev/') &&
      r.uid === kcert.metadata.uid,
  );
}

/**
 * True when the existing Certificate's spec differs from the desired one in a field kgw sets
 * (fields others add, e.g. duration, are left alone).
 */
export function specDiffers(existing: CertManagerCertificate, desired: CertManagerCertificate): boolean {
  const cur = existing.spec as Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(desired.spec)) {
    if (canonicalJson(cur?.[k]) !== canonicalJson(v)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// cert-manager Certificate → KCertificate status (pure)

function condition(conds: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conds?.find((c) => c.type === type);
}

/** cert-manager Ready=False reasons Knative reads as "not ready yet" rather than failed. */
const NOT_READY_REASONS = new Set(['InProgress', 'Pending', 'TemporaryCertificate']);

export interface KCertStatusOptions {
  /** The KCertificate's metadata.generation (observedGeneration). */
  generation?: number;
  /** The current status: lastTransitionTime is kept for conditions whose status did not change. */
  previous?: KCertificateStatus;
  /** HTTP-01 challenges being solved for this certificate (see http01Challenges). */
  challenges?: HTTP01Challenge[];
}

/** Sets (or replaces) a condition, keeping lastTransitionTime when the status is unchanged. */
function setCondition(
  out: Condition[],
  previous: KCertificateStatus | undefined,
  c: Omit<Condition, 'lastTransitionTime'>,
  now: Date,
): void {
  const next = stamp<Condition>(previous?.conditions, c, now.toISOString());
  const i = out.findIndex((x) => x.type === c.type);
  if (i >= 0) out[i] = next;
  else out.push(next);
}

/**
 * The KCertificate status for a cert-manager Certificate (undefined: not created yet), after
 * Knative's rules, with one correction: cert-manager ≥ 1.x reports Ready=False with reasons such
 * as DoesNotExist while it issues the first certificate, which Knative reads as a failure. Here
 * Ready=False is a failure only when cert-manager is not issuing (Issuing is not True) and an
 * issuance failed (lastFailureTime / failedIssuanceAttempts); otherwise Ready is Unknown.
 *
 * - cert-manager Ready True: Ready True, http01Challenges []; past `renewalTime` also
 *   Renewing True and the challenges (so renewal challenges can be routed).
 * - Ready missing: Unknown, reason NoCertManagerCertCondition. Unknown: Unknown with its reason.
 */
export function kcertStatus(
  cm: CertManagerCertificate | undefined,
  now: Date,
  opts: KCertStatusOptions = {},
): KCertificateStatus {
  const conds: Condition[] = [];
  const prev = opts.previous;
  const challenges = opts.challenges ?? [];
  const status: KCertificateStatus = {};
  if (opts.generation !== undefined) status.observedGeneration = opts.generation;
  if (cm?.status?.notAfter) status.notAfter = cm.status.notAfter;
  const ready = condition(cm?.status?.conditions, 'Ready');
  if (!cm) {
    setCondition(
      conds,
      prev,
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NoCertManagerCertificate',
        message: 'waiting for the cert-manager Certificate',
      },
      now,
    );
    status.http01Challenges = challenges;
  } else if (!ready) {
    setCondition(
      conds,
      prev,
      {
        type: 'Ready',
        status: 'Unknown',
        reason: 'NoCertManagerCertCondition',
        message: 'the cert-manager Certificate has no Ready condition yet',
      },
      now,
    );
    status.http01Challenges = challenges;
  } else if (ready.status === 'True') {
    const renewal = cm.status?.renewalTime ? Date.parse(cm.status.renewalTime) : NaN;
    setCondition(conds, prev, { type: 'Ready', status: 'True' }, now);
    if (!Number.isNaN(renewal) && now.getTime() >= renewal) {
      setCondition(
        conds,
        prev,
        {
          type: 'Renewing',
          status: 'True',
          reason: 'Renewing',
          message: `renewal time ${cm.status?.renewalTime ?? ''} has passed`,
        },
        now,
      );
      status.http01Challenges = challenges;
    } else {
      status.http01Challenges = [];
    }
  } else if (ready.status === 'Unknown') {
    setCondition(
      conds,
      prev,
      {
        type: 'Ready',
        status: 'Unknown',
        reason: ready.reason ?? 'CertManagerUnknown',
        message: ready.message ?? '',
      },
      now,
    );
    status.http01Challenges = challenges;
  } else {
    const issuing = condition(cm.status?.conditions, 'Issuing');
    const failedBefore =
      cm.status?.lastFailureTime !== undefined || (cm.status?.failedIssuanceAttempts ?? 0) > 0;
    const failed = !NOT_READY_REASONS.has(ready.reason ?? '') && issuing?.status !== 'True' && failedBefore;
    if (failed) {
      const why = issuing?.status === 'False' && issuing.message ? issuing.message : (ready.message ?? '');
      setCondition(
        conds,
        prev,
        {
          type: 'Ready',
          status: 'False',
          reason: issuing?.reason ?? ready.reason ?? 'IssuanceFailed',
          message: why,
        },
        now,
      );
    } else {
      setCondition(
        conds,
        prev,
        {
          type: 'Ready',
          status: 'Unknown',
          reason: ready.reason ?? 'NotReady',
          message: ready.message ?? '',
        },
        now,
      );
    }
    status.http01Challenges = challenges;
  }
  status.conditions = conds;
  return status;
}

/** The KCertificate status for a problem found before or while writing the cert-manager Certificate. */
export function problemStatus(
  problem: CertificateProblem,
  status: ConditionStatus,
  now: Date,
  opts: KCertStatusOptions = {},
): KCertificateStatus {
  const conds: Condition[] = [];
  setCondition(
    conds,
    opts.previous,
    { type: 'Ready', status, reason: problem.reason, message: problem.message },
    now,
  );
  const out: KCertificateStatus = {};
  if (opts.generation !== undefined) out.observedGeneration = opts.generation;
  if (opts.previous?.notAfter) out.notAfter = opts.previous.notAfter;
  out.conditions = conds;
  out.http01Challenges = opts.previous?.http01Challenges ?? [];
  return out;
}

/** Adler-32 of a string's UTF-8 bytes, as cert-manager labels solver objects with it. */
export function adler32(s: string): number {
  let a = 1;
  let b = 0;
  for (const byte of Buffer.from(s, 'utf8')) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * The HTTP-01 challenges cert-manager is solving for a Certificate: for each of its DNS names, the
 * solver Services in its namespace labelled with that name's Adler-32, each followed to the
 * Challenge that owns it. A name without a solver Service gives nothing (an ACME server may reuse
 * an earlier authorization); sorted by URL.
 */
export function http01Challenges(
  cm: CertManagerCertificate,
  services: Iterable<SolverService>,
  challenges: Iterable<Challenge>,
): HTTP01Challenge[] {
  const ns = cm.metadata.namespace;
  const byDomain = new Map<string, SolverService[]>();
  for (const s of services) {
    if (s.metadata.namespace !== ns || s.metadata.labels?.[SOLVER_LABEL] !== 'true') continue;
    const d = s.metadata.labels[SOLVER_DOMAIN_LABEL];
    if (d === undefined) continue;
    const list = byDomain.get(d) ?? [];
    list.push(s);
    byDomain.set(d, list);
  }
  const challengeByName = new Map<string, Challenge>();
  for (const c of challenges) if (c.metadata.namespace === ns) challengeByName.set(c.metadata.name, c);
  const out: HTTP01Challenge[] = [];
  for (const name of cm.spec.dnsNames) {
    for (const svc of byDomain.get(String(adler32(name))) ?? []) {
      const owner = svc.metadata.ownerReferences?.find((r) => r.kind === 'Challenge');
      const ch = owner ? challengeByName.get(owner.name) : undefined;
      const port = svc.spec?.ports?.[0];
      if (!ch?.spec?.dnsName || !ch.spec.token || !port) continue;
      out.push({
        url: `http://${ch.spec.dnsName}/.well-known/acme-challenge/${ch.spec.token}`,
        serviceName: svc.metadata.name,
        serviceNamespace: ns ?? '',
        servicePort: port.targetPort ?? port.port,
      });
    }
  }
  out.sort((a, b) => a.url.localeCompare(b.url));
  return out;
}

/** Statuses equal up to key order (lastTransitionTime included: setCondition keeps it stable). */
export function sameKCertStatus(a: KCertificateStatus | undefined, b: KCertificateStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}

// ---------------------------------------------------------------------------------------------
// The controller

export interface CertificateControllerOptions {
  rest: KubeRest;
  log: Logger;
  /** The KnativeGateway whose spec.tls issues certificates (undefined: none does). */
  gateway: () => KnativeGateway | undefined;
  /** Only the leader writes cert-manager Certificates and KCertificate status. */
  leading: () => boolean;
  now?: () => Date;
  /** Delay before retrying a failed reconcile; doubles per failure up to maxRetryMs. Default 500. */
  retryMs?: number;
  maxRetryMs?: number;
}

type KCertObject = KCertificate & KubeObject;
type CMCertObject = CertManagerCertificate & KubeObject;
type ServiceObject = SolverService & KubeObject;
type ChallengeObject = Challenge & KubeObject;

/** A bound for one setTimeout (the platform limit is ~24.8 days). */
const MAX_TIMER_MS = 3_600_000;

export class CertificateController {
  private readonly o: CertificateControllerOptions;
  private readonly kcerts: Reflector<KCertObject>;
  private readonly certs: Reflector<CMCertObject>;
  private readonly services: Reflector<ServiceObject>;
  private readonly challenges: Reflector<ChallengeObject>;
  private readonly queue = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private wake: (() => void) | undefined;
  private running = false;
  private worker: Promise<void> | undefined;
  private certManagerMissing = false;
  /**
   * Resolves when the KCertificate cache has its first list (the cert-manager caches may never sync:
   * without cert-manager's CRDs they keep retrying).
   */
  readonly synced: Promise<void>;

  constructor(o: CertificateControllerOptions) {
    this.o = o;
    const log = o.log;
    this.kcerts = new Reflector<KCertObject>(o.rest, { path: KCERTS_PATH, log });
    // Without cert-manager (a normal setup: kgw's certificate class is then idle) its APIs answer
    // 404: retried quietly (debug), picked up once cert-manager is installed.
    const noCertManager = (err: unknown) => err instanceof ApiError && err.status === 404;
    this.certs = new Reflector<CMCertObject>(o.rest, { path: CM_CERTS_PATH, log, quiet: noCertManager });
    this.services = new Reflector<ServiceObject>(o.rest, {
      path: '/api/v1/services',
      labelSelector: `${SOLVER_LABEL}=true`,
      log,
    });
    this.challenges = new Reflector<ChallengeObject>(o.rest, {
      path: CM_CHALLENGES_PATH,
      log,
      quiet: noCertManager,
    });
    this.kcerts.onEvent((e) => {
      if (e.type === 'upsert' && hasKgwCertificateClass(e.obj)) this.enqueue(objectKey(e.obj));
      if (e.type === 'delete') this.forget(objectKey(e.obj));
    });
    this.certs.onEvent((e) => {
      // a Certificate is reconciled through the KCertificate of the same name (its owner, or the
      // KCertificate it blocks when foreign)
      const key = objectKey(e.obj);
      const k = this.kcerts.store.get(key);
      if (k && hasKgwCertificateClass(k)) this.enqueue(key);
    });
    const byNamespace = (e: { obj: KubeObject }): void => this.enqueueNamespace(e.obj.metadata.namespace);
    this.services.onEvent(byNamespace);
    this.challenges.onEvent(byNamespace);
    this.synced = this.kcerts.synced;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const r of [this.kcerts, this.certs, this.services, this.challenges]) r.start();
    this.worker = this.work();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.wake?.();
    await Promise.all([this.kcerts, this.certs, this.services, this.challenges].map((r) => r.stop()));
    await this.worker;
  }

  /** Reconciles every KCertificate of kgw's class again (the gateway changed, leadership was gained). */
  resync(): void {
    for (const k of this.kcerts.store.values()) if (hasKgwCertificateClass(k)) this.enqueue(objectKey(k));
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.wake?.();
  }

  private enqueueNamespace(ns: string | undefined): void {
    for (const k of this.kcerts.store.values())
      if (k.metadata.namespace === ns && hasKgwCertificateClass(k)) this.enqueue(objectKey(k));
  }

  private forget(key: string): void {
    this.failures.delete(key);
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  /** Enqueues `key` again after `ms` (one timer per key: the earliest wins). */
  private later(key: string, ms: number): void {
    if (!this.running) return;
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.set(
      key,
      setTimeout(
        () => {
          this.timers.delete(key);
          this.enqueue(key);
        },
        Math.max(0, Math.min(ms, MAX_TIMER_MS)),
      ),
    );
  }

  private async work(): Promise<void> {
    while (this.running) {
      const next = this.queue.values().next();
      if (next.done) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = undefined;
        continue;
      }
      const key = next.value;
      this.queue.delete(key);
      try {
        const retryAt = await this.reconcile(key);
        this.failures.delete(key);
        if (retryAt !== undefined) this.later(key, retryAt);
      } catch (err) {
        if (!this.running) break;
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        const delay = Math.min(
          (this.o.retryMs ?? 500) * 2 ** Math.min(n - 1, 16),
          this.o.maxRetryMs ?? 30_000,
        );
        const [namespace, name] = key.split('/');
        this.o.log.warn(
          { namespace, name, err: String(err), retryMs: delay },
          'certificate reconcile failed',
        );
        this.later(key, delay);
      }
    }
  }

  /** One pass for one KCertificate; returns ms until it must be looked at again (renewal time). */
  private async reconcile(key: string): Promise<number | undefined> {
    const kcert = this.kcerts.store.get(key);
    if (!kcert || !hasKgwCertificateClass(kcert) || kcert.metadata.deletionTimestamp) return undefined;
    if (!this.o.leading()) return undefined;
    const now = this.o.now?.() ?? new Date();
    const { namespace, name } = kcert.metadata;
    const log = this.o.log;
    const opts: KCertStatusOptions = {};
    if (kcert.metadata.generation !== undefined) opts.generation = kcert.metadata.generation;
    if (kcert.status) opts.previous = kcert.status;

    const desired = certManagerCertificate(kcert, this.o.gateway());
    if ('problem' in desired) {
      await this.writeStatus(kcert, problemStatus(desired.problem, 'False', now, opts));
      return undefined;
    }
    const path = `/apis/cert-manager.io/v1/namespaces/${namespace ?? ''}/certificates`;
    let cm = this.certs.store.get(key);
    if (!cm) {
      try {
        cm = await this.o.rest.request<CMCertObject>('POST', path, desired);
        this.certManagerMissing = false;
        log.info(
          { namespace, name, issuer: desired.spec.issuerRef.name },
          'created cert-manager Certificate',
        );
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          if (!this.certManagerMissing)
            log.warn(
              { namespace, name },
              'cert-manager.io/v1 Certificates are not served; is cert-manager installed?',
            );
          this.certManagerMissing = true;
          const problem = {
            reason: 'CertManagerNotInstalled',
            message: 'the API server does not serve cert-manager.io/v1 Certificates (install cert-manager)',
          };
          await this.writeStatus(kcert, problemStatus(problem, 'Unknown', now, opts));
          throw new Error(problem.message);
        }
        if (!(err instanceof ApiError && err.status === 409)) throw err;
        // it exists, but the cache has not seen it yet (e.g. its CRD was just installed)
        cm = await this.o.rest.get<CMCertObject>(`${path}/${name}`);
      }
    }
    if (!controlledBy(cm, kcert)) {
      const problem = {
        reason: 'NotOwned',
        message: `there is a cert-manager Certificate ${name} this KCertificate does not own`,
      };
      await this.writeStatus(kcert, problemStatus(problem, 'False', now, opts));
      return undefined;
    }
    if (specDiffers(cm, desired)) {
      // only the spec is replaced; resourceVersion in metadata: a concurrent change gives 409 and a retry
      const next: CMCertObject = { ...cm, spec: { ...cm.spec, ...desired.spec } };
      cm = await this.o.rest.request<CMCertObject>('PUT', `${path}/${name}`, next);
      log.info({ namespace, name, issuer: desired.spec.issuerRef.name }, 'updated cert-manager Certificate');
    }
    const challenges = http01Challenges(cm, this.services.store.values(), this.challenges.store.values());
    await this.writeStatus(kcert, kcertStatus(cm, now, { ...opts, challenges }));
    const renewal = cm.status?.renewalTime ? Date.parse(cm.status.renewalTime) : NaN;
    // look again when the renewal time passes (Renewing), with a little slack
    if (!Number.isNaN(renewal) && renewal > now.getTime()) return renewal - now.getTime() + 100;
    return undefined;
  }

  private async writeStatus(kcert: KCertObject, status: KCertificateStatus): Promise<void> {
    if (sameKCertStatus(kcert.status, status) || !this.o.leading()) return;
    const { namespace, name } = kcert.metadata;
    // PUT with the cached resourceVersion: a status computed from a stale KCertificate gets 409
    // and is recomputed from the newer one the watch brings
    await this.o.rest.request<KCertObject>(
      'PUT',
      `/apis/networking.internal.knative.dev/v1alpha1/namespaces/${namespace ?? ''}/certificates/${name}/status`,
      { ...kcert, status },
    );
    const ready = condition(status.conditions, 'Ready');
    this.o.log.info(
      { namespace, name, ready: ready?.status, reason: ready?.reason, notAfter: status.notAfter },
      'KCertificate status written',
    );
  }
}
