// What the Kubernetes fleet runtime reports on a KnativeGateway's FleetsReady when it cannot apply
// a gateway's fleet objects: one line per apply problem, and the messages that say why kgw may not
// work in a namespace and the command that fixes it.
import type { ApplyProblem } from './kubernetes-apply.ts';
import { describeRef } from './kubernetes-apply.ts';
import type { GatewayFleetProblem } from './runtime.ts';
import { FLEET_MANAGER_ROLE, roleBindingCommand, type ServiceAccountRef } from '../kube/access.ts';

/** A problem as one line for KnativeGateway status. */
export function describeProblem(p: ApplyProblem): string {
  switch (p.reason) {
    case 'NotOwned':
    case 'ListFailed':
      return p.message;
    case 'ApplyFailed':
      return `applying ${describeRef(p.ref)} failed: ${p.message}`;
    case 'DeleteFailed':
      return `deleting ${describeRef(p.ref)} failed: ${p.message}`;
  }
}

/** Why kgw may not manage fleets in `namespace`, and the command that lets it. */
export function forbiddenMessage(namespace: string, sa: ServiceAccountRef, refused?: string): string {
  return (
    `kgw may not manage fleet objects in namespace ${namespace}` +
    (refused !== undefined ? ` (refused: ${refused})` : '') +
    `: its ServiceAccount ${sa.namespace}/${sa.name} is not bound to ClusterRole ${FLEET_MANAGER_ROLE} ` +
    `there. To allow it: ${roleBindingCommand(namespace, FLEET_MANAGER_ROLE, sa)}`
  );
}

/** The gateway's namespace is missing: kgw does not create namespaces. */
export function namespaceNotFoundMessage(namespace: string, sa: ServiceAccountRef): string {
  const bind =
    namespace === sa.namespace
      ? ''
      : `, then let kgw manage fleets there: ${roleBindingCommand(namespace, FLEET_MANAGER_ROLE, sa)}`;
  return (
    `namespace ${namespace} (spec.namespace) does not exist and kgw does not create namespaces: ` +
    `kubectl create namespace ${namespace}${bind}`
  );
}

/**
 * Apply problems as FleetsReady reports them: refusals (403) become one FleetNamespaceForbidden
 * per namespace, naming what was refused; everything else is FleetObjectsNotApplied.
 */
export function summarizeProblems(
  problems: readonly ApplyProblem[],
  sa: ServiceAccountRef,
): GatewayFleetProblem[] {
  const refused = new Map<string, Set<string>>();
  const out: GatewayFleetProblem[] = [];
  for (const p of problems) {
    if (p.status === 403 && p.ref.namespace !== '') {
      const what = refused.get(p.ref.namespace) ?? new Set<string>();
      what.add(p.ref.name === '' ? `list ${p.ref.kind}s` : `${p.ref.kind} ${p.ref.name}`);
      refused.set(p.ref.namespace, what);
    } else out.push({ reason: 'FleetObjectsNotApplied', message: describeProblem(p) });
  }
  const forbidden = [...refused].map(([ns, what]) => ({
    reason: 'FleetNamespaceForbidden' as const,
    message: forbiddenMessage(ns, sa, [...what].join(', ')),
  }));
  return [...forbidden, ...out];
}
