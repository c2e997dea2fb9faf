import { ApiError } from '../kube/rest.ts';
import type { KubeClient } from './kubernetes-apply.ts';
import { preflight } from './kubernetes-preflight.ts';
import { forbiddenMessage, namespaceNotFoundMessage } from './kubernetes-problems.ts';

const sa = { namespace: 'kgw-system', name: 'kgw-operator' };
const REVIEWS = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

/** A client with the namespaces `existing` whose access reviews answer `allowed` (an error: throws). */
function fakeClient(existing: readonly string[], allowed: boolean | Error, namespaceError?: Error) {
  const reviews: unknown[] = [];
  const client: KubeClient = {
    request: <T>(method: string, path: string, body?: unknown) => {
      if (method === 'GET') {
        if (namespaceError) return Promise.reject(namespaceError);
        const ns = decodeURIComponent(path.replace('/api/v1/namespaces/', ''));
        return existing.includes(ns)
          ? Promise.resolve({ metadata: { name: ns } } as T)
          : Promise.reject(new ApiError(404, 'NotFound', 'not found', {}));
      }
      if (method === 'POST' && path === REVIEWS) {
        reviews.push(body);
        if (allowed instanceof Error) return Promise.reject(allowed);
        return Promise.resolve({ status: { allowed } } as T);
      }
      return Promise.reject(new Error(`unexpected ${method} ${path}`));
    },
  };
  return { client, reviews };
}

test('a namespace that exists and where kgw may patch Deployments passes', async () => {
  const { client, reviews } = fakeClient(['edge'], true);
  expect(await preflight(client, 'edge', sa)).toBeUndefined();
  expect(reviews).toEqual([
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: {
        resourceAttributes: { group: 'apps', resource: 'deployments', verb: 'patch', namespace: 'edge' },
      },
    },
  ]);
});

test('a missing namespace is NamespaceNotFound, a refused review FleetNamespaceForbidden', async () => {
  expect(await preflight(fakeClient([], true).client, 'edge', sa)).toEqual({
    reason: 'NamespaceNotFound',
    message: namespaceNotFoundMessage('edge', sa),
  });
  expect(await preflight(fakeClient(['edge'], false).client, 'edge', sa)).toEqual({
    reason: 'FleetNamespaceForbidden',
    message: forbiddenMessage('edge', sa),
  });
});

test('checks that cannot tell let the apply find out', async () => {
  const forbidden = new ApiError(403, 'Forbidden', 'namespaces is forbidden', {});
  expect(await preflight(fakeClient([], true, forbidden).client, 'edge', sa)).toBeUndefined();
  expect(await preflight(fakeClient(['edge'], new Error('timeout')).client, 'edge', sa)).toBeUndefined();
});
