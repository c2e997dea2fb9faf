import { RATE_LIMIT_CLUSTER, rateLimitServiceCluster } from './rate-limit-service.ts';

test('the rate-limit service cluster: EDS over HTTP/2, the Service port found by number', () => {
  const svc = {
    metadata: { name: 'ratelimit', namespace: 'kgw-system' },
    spec: {
      ports: [
        { name: 'http', port: 8080 },
        { name: 'grpc', port: 8081, targetPort: 18081 },
      ],
    },
  };
  const ref = { name: 'ratelimit', namespace: 'kgw-system', port: 8081 };
  expect(rateLimitServiceCluster(ref, svc)).toEqual({
    name: RATE_LIMIT_CLUSTER,
    kind: 'eds',
    http2: true,
    endpoints: { namespace: 'kgw-system', service: 'ratelimit', port: { name: 'grpc', targetPort: 18081 } },
  });
  // a named targetPort: by the slice port's name only; no Service (yet): the port itself
  const named = { ...svc, spec: { ports: [{ name: 'grpc', port: 8081, targetPort: 'grpc' }] } };
  expect(rateLimitServiceCluster(ref, named).endpoints?.port).toEqual({ name: 'grpc' });
  expect(rateLimitServiceCluster(ref, undefined).endpoints?.port).toEqual({ name: '', targetPort: 8081 });
});
