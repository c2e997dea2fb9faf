// Which Knative Service a KIngress serves, for metrics and access logs (render/stats-names.ts).
// Knative copies a Route's labels to its KIngress: `serving.knative.dev/service` when the Route
// belongs to a Knative Service, `serving.knative.dev/route` always. Labels are written by whoever
// may write KIngresses, so a value is used only when it is a DNS label (what Knative's own names
// are); otherwise the next source is tried, and last the KIngress name itself, its dots turned to
// `_` (a DomainMapping's KIngress is named after its domain). The result never contains `.` or
// `~`, the separators of Envoy stat names that tag extraction splits on.
import type { KIngress } from '../api/kingress.ts';

export const KNATIVE_SERVICE_LABEL = 'serving.knative.dev/service';
export const KNATIVE_ROUTE_LABEL = 'serving.knative.dev/route';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** What a KIngress is named after in metrics: its namespace and Knative Service (or Route). */
export interface KnativeNames {
  namespace: string;
  service: string;
}

export function knativeNames(ing: Pick<KIngress, 'metadata'>): KnativeNames {
  const labels = ing.metadata.labels ?? {};
  const fromLabel = [labels[KNATIVE_SERVICE_LABEL], labels[KNATIVE_ROUTE_LABEL]].find(
    (v): v is string => typeof v === 'string' && DNS_LABEL.test(v),
  );
  return {
    namespace: ing.metadata.namespace ?? '',
    service: fromLabel ?? ing.metadata.name.replace(/\./g, '_'),
  };
}
