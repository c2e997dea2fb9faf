// Which KnativeGateways kgw serves, and which one configures Knative: one rule, used by the
// engine, the Knative configuration writer, the domain claim policy and the admission webhook.
//
// - Oldest first: creationTimestamp (compared as strings, RFC 3339 sorts by time), then name, in
//   code-point order (never locale collation).
// - A gateway being deleted is not served, nor one whose spec is invalid (its problems are kept).
// - An ingress class is served by the oldest gateway that names it; a newer one is not served
//   ("ingress class … is already served by KnativeGateway <oldest>").
// - Knative is configured by the oldest served gateway with knative.configure (the default).
import type { KnativeGateway } from './knativegateway.ts';
import { validateGatewaySpec, withGatewayDefaults } from './knativegateway.ts';
import { byCodePoint } from '../order.ts';

interface Aged {
  metadata: { name: string; creationTimestamp?: string | undefined };
}

/** Oldest first: creation time, then name. */
export function olderFirst(a: Aged, b: Aged): number {
  return (
    byCodePoint(a.metadata.creationTimestamp ?? '', b.metadata.creationTimestamp ?? '') ||
    byCodePoint(a.metadata.name, b.metadata.name)
  );
}

export function isDeleting(g: { metadata: { deletionTimestamp?: string | undefined } }): boolean {
  return typeof g.metadata.deletionTimestamp === 'string' && g.metadata.deletionTimestamp !== '';
}

export interface GatewaySelection {
  /** The gateways kgw serves, oldest first. */
  served: KnativeGateway[];
  /** The served gateway of each ingress class. */
  byClass: Map<string, KnativeGateway>;
  /** Why each gateway that is not served is not (deleting gateways are left out). */
  problems: Map<string, string[]>;
  /** The served gateway that configures Knative, if any. */
  knativeOwner: KnativeGateway | undefined;
}

/** The rule above, applied to every KnativeGateway object (any JSON in their specs). */
export function resolveGateways(objects: readonly KnativeGateway[]): GatewaySelection {
  const served: KnativeGateway[] = [];
  const byClass = new Map<string, KnativeGateway>();
  const problems = new Map<string, string[]>();
  let knativeOwner: KnativeGateway | undefined;
  for (const g of [...objects].sort(olderFirst)) {
    if (isDeleting(g)) continue;
    const errors = g.spec ? validateGatewaySpec(g.spec) : ['spec is missing'];
    if (errors.length > 0) {
      problems.set(g.metadata.name, errors);
      continue;
    }
    const spec = withGatewayDefaults(g.spec);
    const holder = byClass.get(spec.ingressClass);
    if (holder) {
      problems.set(g.metadata.name, [
        `ingress class ${spec.ingressClass} is already served by KnativeGateway ${holder.metadata.name}`,
      ]);
      continue;
    }
    byClass.set(spec.ingressClass, g);
    served.push(g);
    if (knativeOwner === undefined && spec.knative.configure) knativeOwner = g;
  }
  return { served, byClass, problems, knativeOwner };
}
