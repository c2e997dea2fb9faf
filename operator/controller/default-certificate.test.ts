import type { KnativeGateway } from '../api/knativegateway.ts';
import { ApiError } from '../kube/rest.ts';
import {
  DEFAULT_CERTIFICATE_RESYNC_MS,
  DEFAULT_CERTIFICATE_RETRY_MS,
  DefaultCertificates,
} from './default-certificate.ts';

const gw = (issuer: string): KnativeGateway => ({
  metadata: { name: 'edge', uid: 'u1' },
  spec: {
    fleets: [{ name: 'public', visibility: 'ExternalIP' }],
    domains: { default: 'example.com' },
    tls: { defaultCertificate: { issuer: { name: issuer } } },
  },
});

test('applied on change, after the retry delay when it failed, else once per resync period', async () => {
  const calls: string[] = [];
  let fail = false;
  const rest = {
    request<T>(method: string): Promise<T> {
      calls.push(method);
      if (fail) return Promise.reject(new ApiError(404, 'NotFound', 'no cert-manager', undefined));
      return Promise.resolve({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'kgw' } } } as T);
    },
  };
  let now = 0;
  const certs = new DefaultCertificates(rest, () => now);
  expect(await certs.apply(gw('dns01'))).toBeUndefined();
  expect(calls).toEqual(['GET', 'PATCH']);
  now += 2000;
  await certs.apply(gw('dns01'));
  expect(calls).toHaveLength(2); // unchanged: not applied again
  await certs.apply(gw('other')); // changed: applied at once
  expect(calls).toHaveLength(4);
  now += DEFAULT_CERTIFICATE_RESYNC_MS;
  await certs.apply(gw('other')); // resync
  expect(calls).toHaveLength(6);

  fail = true;
  const problem = await certs.apply(gw('third'));
  expect(problem).toContain('cert-manager is not installed');
  expect(calls).toHaveLength(8); // GET (404: none yet), PATCH (404: no cert-manager API)
  now += 2000;
  expect(await certs.apply(gw('third'))).toBe(problem); // reported as it is, not retried yet
  expect(calls).toHaveLength(8);
  now += DEFAULT_CERTIFICATE_RETRY_MS;
  await certs.apply(gw('third'));
  expect(calls).toHaveLength(10);
});
