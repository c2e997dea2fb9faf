// What kgw may do where. Two ClusterRoles of the install are deliberately not bound cluster-wide:
// an admin binds them, per namespace, with a RoleBinding (the release manifest binds the fleet role
// in the operator's namespace and the Knative role in knative-serving). When kgw finds it may not
// act in a namespace, it reports the one command that grants it (roleBindingCommand).
import { OPERATOR_NAME } from '../api/install.ts';
import { ApiError } from './rest.ts';

/** Fleet objects (Deployment, Service, ServiceAccount, ConfigMap, PDB, HPA, xDS client Secret). */
export const FLEET_MANAGER_ROLE = 'kgw-fleet-manager';
/** Knative Serving's config-network and config-domain (by name), and KnativeServing reads. */
export const KNATIVE_CONFIG_ROLE = 'kgw-knative-config';
/** The operator's ServiceAccount in both install modes (the release manifest and the CSV). */
export const OPERATOR_SERVICE_ACCOUNT = OPERATOR_NAME;
/** The install's namespace when POD_NAMESPACE is not set (the KnativeGateway default). */
const DEFAULT_OPERATOR_NAMESPACE = 'kgw-system';

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/**
 * This process's ServiceAccount, from the downward API variables the operator Deployment sets
 * (POD_NAMESPACE, POD_SERVICE_ACCOUNT); the install's defaults otherwise (tests, local runs).
 */
export function operatorServiceAccount(env: NodeJS.ProcessEnv = process.env): ServiceAccountRef {
  return {
    namespace: env.POD_NAMESPACE || DEFAULT_OPERATOR_NAMESPACE,
    name: env.POD_SERVICE_ACCOUNT || OPERATOR_SERVICE_ACCOUNT,
  };
}

/** The kubectl command that lets `sa` use `clusterRole` in `namespace` (and nowhere else). */
export function roleBindingCommand(namespace: string, clusterRole: string, sa: ServiceAccountRef): string {
  return (
    `kubectl create rolebinding ${clusterRole} --namespace ${namespace} ` +
    `--clusterrole ${clusterRole} --serviceaccount ${sa.namespace}:${sa.name}`
  );
}

export function isForbidden(err: unknown): boolean {
  return err instanceof ApiError && err.status === 403;
}

export interface ResourceAttributes {
  group?: string;
  resource: string;
  verb: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

interface RequestClient {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * Asks the API server whether this client may do `attrs` (SelfSubjectAccessReview, which every
 * authenticated user may create). Undefined when the review itself fails: the caller then just
 * tries, and a 403 tells.
 */
export async function mayI(rest: RequestClient, attrs: ResourceAttributes): Promise<boolean | undefined> {
  try {
    const res = await rest.request<{ status?: { allowed?: boolean } }>(
      'POST',
      '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: attrs },
      },
    );
    return res.status?.allowed === true;
  } catch {
    return undefined;
  }
}
