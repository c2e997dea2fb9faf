// Knative's KIngress defaulting, applied again by the controller because stored objects may
// predate the webhook: empty visibility → ExternalIP, a lone split with no percent → 100.
import type { IngressSpec } from '../api/kingress.ts';

export function withDefaults(spec: IngressSpec): IngressSpec {
  return {
    ...spec,
    rules: spec.rules?.map((r) => ({
      ...r,
      visibility: r.visibility || 'ExternalIP',
      http: r.http && {
        ...r.http,
        paths: r.http.paths?.map((p) =>
          p.splits?.length === 1 && !p.splits[0]?.percent
            ? { ...p, splits: [{ ...p.splits[0]!, percent: 100 }] }
            : p,
        ),
      },
    })),
  };
}
