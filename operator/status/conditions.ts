// KIngress status as Knative defines it: NetworkConfigured and LoadBalancerReady roll up into
// Ready; observedGeneration; public/private load balancer entries. Pure: the clock is a parameter.
import { stamp } from './condition.ts';
import type { Condition, IngressStatus, KIngress, LoadBalancerIngressStatus } from '../api/kingress.ts';
import { conflictMessage } from '../translate/conflicts.ts';

export type Outcome =
  | {
      kind: 'ready';
      public: LoadBalancerIngressStatus[];
      private: LoadBalancerIngressStatus[];
      /**
       * The generation whose configuration the probes found served: observedGeneration says so,
       * not the object's current one (a newer spec may still be on its way, e.g. waiting for its
       * backends' endpoints).
       */
      generation?: number;
    }
  | { kind: 'probing' }
  | { kind: 'conflict'; host: string; owner: string }
  | { kind: 'problem'; reason: string; message: string };

function cond(type: string, status: Condition['status'], reason?: string, message?: string): Condition {
  return { type, status, ...(reason ? { reason } : {}), ...(message ? { message } : {}) };
}

function conditionsFor(o: Outcome, namespace: string): Condition[] {
  switch (o.kind) {
    case 'ready':
      return [cond('LoadBalancerReady', 'True'), cond('NetworkConfigured', 'True'), cond('Ready', 'True')];
    case 'probing': {
      const msg = 'Waiting for load balancer to be ready';
      return [
        cond('LoadBalancerReady', 'Unknown', 'Uninitialized', msg),
        cond('NetworkConfigured', 'True'),
        cond('Ready', 'Unknown', 'Uninitialized', msg),
      ];
    }
    case 'conflict': {
      const msg = conflictMessage(namespace, o);
      return [
        cond('LoadBalancerReady', 'False', 'DomainConflict', msg),
        cond('NetworkConfigured', 'True'),
        cond('Ready', 'False', 'DomainConflict', msg),
      ];
    }
    case 'problem':
      return [
        cond('LoadBalancerReady', 'False', o.reason, o.message),
        cond('NetworkConfigured', 'False', o.reason, o.message),
        cond('Ready', 'False', o.reason, o.message),
      ];
  }
}

/** The status kgw wants on the object (condition times by status/condition.ts). */
export function desiredStatus(ing: KIngress, o: Outcome, now: string): IngressStatus {
  const conditions = conditionsFor(o, ing.metadata.namespace ?? '').map((c) =>
    stamp<Condition>(ing.status?.conditions, c, now),
  );
  const status: IngressStatus = {
    ...(ing.status?.annotations ? { annotations: ing.status.annotations } : {}),
    observedGeneration:
      o.kind === 'ready' && o.generation !== undefined ? o.generation : (ing.metadata.generation ?? 0),
    conditions,
  };
  if (o.kind === 'ready') {
    status.publicLoadBalancer = { ingress: o.public };
    status.privateLoadBalancer = { ingress: o.private };
  } else {
    if (ing.status?.publicLoadBalancer) status.publicLoadBalancer = ing.status.publicLoadBalancer;
    if (ing.status?.privateLoadBalancer) status.privateLoadBalancer = ing.status.privateLoadBalancer;
  }
  return status;
}

/** Equality ignoring lastTransitionTime and key order, to skip writes that change nothing. */
export function sameStatus(a: IngressStatus | undefined, b: IngressStatus): boolean {
  const norm = (s: IngressStatus | undefined) =>
    JSON.stringify({
      g: s?.observedGeneration,
      c: [...(s?.conditions ?? [])].map((c) => [c.type, c.status, c.reason ?? '', c.message ?? '']).sort(),
      p: s?.publicLoadBalancer?.ingress ?? [],
      q: s?.privateLoadBalancer?.ingress ?? [],
    });
  return norm(a) === norm(b);
}

export function isReady(ing: KIngress): boolean {
  return (
    ing.status?.observedGeneration === ing.metadata.generation &&
    (ing.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}
