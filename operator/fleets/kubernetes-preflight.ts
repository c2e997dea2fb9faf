// Before kgw applies fleet objects in a namespace: does the namespace exist, and may kgw act there
// (a SelfSubjectAccessReview for patching Deployments, which the ClusterRole kgw-fleet-manager
// grants where an admin bound it)? kgw never creates a namespace; a refusal becomes the gateway's
// NamespaceNotFound or FleetNamespaceForbidden problem with the command that fixes it.
import { mayI, type ServiceAccountRef } from '../kube/access.ts';
import { getIfExists } from '../kube/rest.ts';
import type { KubeClient } from './kubernetes-apply.ts';
import { forbiddenMessage, namespaceNotFoundMessage } from './kubernetes-problems.ts';
import type { GatewayFleetProblem } from './runtime.ts';

/**
 * Whether kgw may apply fleets in `namespace`: it exists, and kgw may patch Deployments there.
 * Undefined when it may, or when the checks themselves fail (the apply then tells). `sa` is the
 * operator's ServiceAccount, named in the fix-it commands.
 */
export async function preflight(
  rest: KubeClient,
  namespace: string,
  sa: ServiceAccountRef,
): Promise<GatewayFleetProblem | undefined> {
  try {
    const ns = await getIfExists(rest, `/api/v1/namespaces/${encodeURIComponent(namespace)}`);
    if (ns === undefined) {
      return { reason: 'NamespaceNotFound', message: namespaceNotFoundMessage(namespace, sa) };
    }
  } catch {
    // cannot tell (e.g. no namespace read): let the apply find out
  }
  const allowed = await mayI(rest, {
    group: 'apps',
    resource: 'deployments',
    verb: 'patch',
    namespace,
  });
  if (allowed === false)
    return { reason: 'FleetNamespaceForbidden', message: forbiddenMessage(namespace, sa) };
  return undefined;
}
