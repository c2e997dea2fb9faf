import {
  MAX_WARNING_LENGTH,
  allow,
  deny,
  parseAdmissionReview,
  reviewResponse,
  sanitizeWarnings,
  verdictOf,
} from './admission.ts';

const review = (request: Record<string, unknown>) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'c0ffee',
    kind: { group: 'g', version: 'v1', kind: 'K' },
    resource: { group: 'g', version: 'v1', resource: 'ks' },
    operation: 'CREATE',
    ...request,
  },
});

describe('AdmissionReview', () => {
  test('round trip: allowed echoes uid and apiVersion/kind, no status', () => {
    const parsed = parseAdmissionReview(review({}));
    if ('error' in parsed) throw new Error(parsed.error);
    const r = parsed.review.request;
    if (!r) throw new Error('no request');
    expect(reviewResponse({ ...parsed.review, request: r }, allow())).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'c0ffee', allowed: true },
    });
  });

  test('denial: status 403 Forbidden with the message; warnings kept', () => {
    const out = reviewResponse(
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1' } },
      deny('spec.x: bad', ['careful']),
    );
    expect(out.response).toEqual({
      uid: 'u1',
      allowed: false,
      status: { status: 'Failure', code: 403, reason: 'Forbidden', message: 'spec.x: bad' },
      warnings: ['careful'],
    });
  });

  test('allowed with warnings', () => {
    const out = reviewResponse(
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u2' } },
      allow(['a', 'b']),
    );
    expect(out.response).toEqual({ uid: 'u2', allowed: true, warnings: ['a', 'b'] });
  });

  test('verdictOf joins problems', () => {
    expect(verdictOf([])).toEqual({ allowed: true });
    expect(verdictOf(['a: x', 'b: y'], ['w'])).toEqual({
      allowed: false,
      message: 'a: x; b: y',
      warnings: ['w'],
    });
  });

  test('warnings: split on newlines, control characters removed, bounded, deduplicated', () => {
    const long = 'x'.repeat(400);
    const out = sanitizeWarnings(['one\ntwo', 'tab\there\u0007', 'one', '', long]);
    expect(out.slice(0, 3)).toEqual(['one', 'two', 'tab here']);
    expect(out[3]).toHaveLength(MAX_WARNING_LENGTH);
    expect(out).toHaveLength(4);
    expect(sanitizeWarnings(Array.from({ length: 40 }, (_, i) => `w${i}`))).toHaveLength(16);
  });

  test.each([
    [null, 'body must be a JSON object'],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'Other' }, 'kind must be AdmissionReview'],
    [
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview' },
      'apiVersion must be admission.k8s.io/v1',
    ],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'request is required'],
    [review({ uid: '' }), 'request.uid is required'],
    [review({ operation: 'PATCH' }), 'request.operation must be one of'],
    [review({ kind: 'K' }), 'request.kind must be'],
    [review({ dryRun: 'yes' }), 'request.dryRun must be a boolean'],
  ])('malformed review %#', (body, error) => {
    const r = parseAdmissionReview(body);
    expect('error' in r && r.error).toContain(error);
  });
});
