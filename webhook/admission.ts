// admission.k8s.io/v1 AdmissionReview: the request the apiserver sends a validating webhook and the
// response it expects back, with pure helpers. kgw's webhooks only validate: a response never
// carries a patch (the apiserver rejects a validating webhook's patch). The response echoes the
// request's uid and apiVersion/kind (the apiserver drops a reply that does not, and then applies
// the failure policy). A denial carries a Status with code 403 (as controller-runtime's Denied
// does; the apiserver passes the code to the client and prefixes the message with the webhook's
// name). Warnings are sanitised the way the apiserver wants them: no control characters, one line
// each, bounded length.
//
// Dry run: nothing here or in the validators writes anything, so a `dryRun: true` request is
// answered exactly like a real one (`kubectl apply --dry-run=server` relies on that) and the
// webhooks are registered with `sideEffects: None`.

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionUserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** Empty on CREATE with generateName. */
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: AdmissionUserInfo;
  /** The new object (null for DELETE). */
  object?: unknown;
  /** The old object (UPDATE and DELETE). */
  oldObject?: unknown;
  dryRun?: boolean;
  options?: unknown;
}

export interface AdmissionStatus {
  status?: 'Failure';
  code: number;
  reason: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: string;
  kind: string;
  request?: AdmissionRequest;
  response?: AdmissionResponse;
}

/** What a validator decides. `message` is used only when not allowed. */
export interface Verdict {
  allowed: boolean;
  message?: string;
  warnings?: string[];
}

/** HTTP code and reason of a denial (controller-runtime's `Denied` uses the same). */
export const DENIED_CODE = 403;
export const DENIED_REASON = 'Forbidden';
/** Warnings longer than this are cut (the apiserver truncates long warnings itself). */
export const MAX_WARNING_LENGTH = 256;
/** At most this many warnings per response. */
export const MAX_WARNINGS = 16;

export function allow(warnings?: readonly string[]): Verdict {
  return warnings && warnings.length > 0 ? { allowed: true, warnings: [...warnings] } : { allowed: true };
}

export function deny(message: string, warnings?: readonly string[]): Verdict {
  const v: Verdict = { allowed: false, message };
  if (warnings && warnings.length > 0) v.warnings = [...warnings];
  return v;
}

/**
 * A verdict from a list of problems (`<field path>: <message>` each) and warnings: allowed when
 * there is no problem, else denied with the problems joined by "; ".
 */
export function verdictOf(problems: readonly string[], warnings: readonly string[] = []): Verdict {
  return problems.length === 0 ? allow(warnings) : deny(problems.join('; '), warnings);
}

/**
 * One line per warning, no control characters (the apiserver drops warnings that contain them),
 * at most MAX_WARNING_LENGTH characters each, MAX_WARNINGS in all, duplicates removed.
 */
export function sanitizeWarnings(warnings: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const w of warnings ?? []) {
    for (const line of w.split(/\r?\n/)) {
      // eslint-disable-next-line no-control-regex -- removing control characters is the point
      let s = line.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
      if (s === '') continue;
      if (s.length > MAX_WARNING_LENGTH) s = `${s.slice(0, MAX_WARNING_LENGTH - 1)}…`;
      if (!out.includes(s)) out.push(s);
      if (out.length >= MAX_WARNINGS) return out;
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isGvk(v: unknown): v is GroupVersionKind {
  return (
    isObject(v) && typeof v.group === 'string' && typeof v.version === 'string' && typeof v.kind === 'string'
  );
}

/**
 * Checks a decoded request body. Returns the review, or an error naming what is wrong (the server
 * answers 400 with it: a malformed review is not a denial, it is a broken caller).
 */
export function parseAdmissionReview(body: unknown): { review: AdmissionReview } | { error: string } {
  if (!isObject(body)) return { error: 'body must be a JSON object' };
  if (body.kind !== ADMISSION_KIND) return { error: `kind must be ${ADMISSION_KIND}` };
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return { error: `apiVersion must be ${ADMISSION_API_VERSION}, got ${JSON.stringify(body.apiVersion)}` };
  }
  const req = body.request;
  if (!isObject(req)) return { error: 'request is required' };
  if (typeof req.uid !== 'string' || req.uid === '') return { error: 'request.uid is required' };
  if (typeof req.operation !== 'string' || !OPERATIONS.includes(req.operation)) {
    return { error: `request.operation must be one of ${OPERATIONS.join(', ')}` };
  }
  if (!isGvk(req.kind)) return { error: 'request.kind must be {group, version, kind}' };
  if (req.dryRun !== undefined && typeof req.dryRun !== 'boolean') {
    return { error: 'request.dryRun must be a boolean' };
  }
  if (req.namespace !== undefined && typeof req.namespace !== 'string') {
    return { error: 'request.namespace must be a string' };
  }
  return { review: body as unknown as AdmissionReview };
}

/** The response review for `request`: uid and apiVersion/kind echoed, a Status only on denial. */
export function reviewResponse(
  review: Pick<AdmissionReview, 'apiVersion' | 'kind'> & { request: Pick<AdmissionRequest, 'uid'> },
  verdict: Verdict,
): AdmissionReview {
  const response: AdmissionResponse = { uid: review.request.uid, allowed: verdict.allowed };
  if (!verdict.allowed) {
    response.status = {
      status: 'Failure',
      code: DENIED_CODE,
      reason: DENIED_REASON,
      message: verdict.message !== undefined && verdict.message !== '' ? verdict.message : 'denied',
    };
  }
  const warnings = sanitizeWarnings(verdict.warnings);
  if (warnings.length > 0) response.warnings = warnings;
  return { apiVersion: review.apiVersion, kind: review.kind, response };
}
