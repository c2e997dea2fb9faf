// cert-manager Certificate → KCertificate status (pure): Ready with cert-manager's reason while it
// issues, notAfter and Renewing, the HTTP-01 challenges Knative needs to route the ACME paths. The
// objects and names are certificate-mapping.ts's.
import { stamp } from '../status/condition.ts';
import { canonicalJson } from './canonical.ts';
import {
  type CertManagerCertificate,
  type CertificateProblem,
  type Challenge,
  type Condition,
  type ConditionStatus,
  type HTTP01Challenge,
  type KCertificateStatus,
  SOLVER_DOMAIN_LABEL,
  SOLVER_LABEL,
  type SolverService,
} from './certificate-mapping.ts';
import { byCodePoint } from '../order.ts';

// ---------------------------------------------------------------------------------------------
// cert-manager Certificate → KCertificate status (pure)

export function condition(conds: readonly Condition[] | undefined, type: string): Condition | undefined {
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
  out.sort((a, b) => byCodePoint(a.url, b.url));
  return out;
}

/** Statuses equal up to key order (lastTransitionTime included: setCondition keeps it stable). */
export function sameKCertStatus(a: KCertificateStatus | undefined, b: KCertificateStatus): boolean {
  return canonicalJson(a ?? {}) === canonicalJson(b);
}
