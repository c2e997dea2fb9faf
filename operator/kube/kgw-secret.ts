// Creating a Secret kgw owns (label `app.kubernetes.io/managed-by: kgw`), for state several
// operator replicas share (the xDS CA, the webhook CA and serving certificate). The create is the
// race arbiter: the first replica's POST wins, the others get `false` and read the winner's.
import { encodeSecretData } from '../api/core.ts';
import { LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../api/knativegateway.ts';
import { ApiError, type KubeRest } from './rest.ts';

/**
 * POSTs Secret `namespace/name` with kgw's label and `values` (plain strings, encoded here).
 * Resolves true when created, false when a Secret of that name exists already (409); other errors
 * reject. An existing Secret is never touched.
 */
export async function createKgwSecret(
  rest: Pick<KubeRest, 'request'>,
  namespace: string,
  name: string,
  values: Readonly<Record<string, string>>,
): Promise<boolean> {
  try {
    await rest.request('POST', `/api/v1/namespaces/${namespace}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name, namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY_KGW } },
      data: encodeSecretData(values),
    });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return false;
    throw err;
  }
}
