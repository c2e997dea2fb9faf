import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject, ReflectorEvent } from '../operator/kube/reflector.ts';
import { KubeRest } from '../operator/kube/rest.ts';
import { newLogger } from '../operator/log.ts';
import { captureLog } from '../test/env/capture-log.ts';
import { waitUntil } from '../test/env/proc.ts';
import {
  CLUSTER_DOMAIN_CLAIMS_PATH,
  CLUSTER_ISSUERS_PATH,
  liveLookups,
  type SharedCache,
} from './lookups.ts';

const CLS = 'kgw.ingress.networking.knative.dev';
const kingress = (name: string, host: string): KubeObject =>
  ({
    metadata: { name, namespace: 'ns', annotations: { 'networking.knative.dev/ingress.class': CLS } },
    spec: { rules: [{ hosts: [host], visibility: 'ExternalIP' }] },
  }) as unknown as KubeObject;

function cache(initial: KubeObject[]): SharedCache & { emit(e: ReflectorEvent<KubeObject>): void } {
  const store = new Map(initial.map((o) => [`ns/${o.metadata.name}`, o]));
  const handlers: ((e: ReflectorEvent<KubeObject>) => void)[] = [];
  return {
    store,
    synced: Promise.resolve(),
    onEvent: (h) => void handlers.push(h),
    emit(e) {
      if (e.type === 'delete') store.delete(`ns/${e.obj.metadata.name}`);
      else store.set(`ns/${e.obj.metadata.name}`, e.obj);
      for (const h of handlers) h(e);
    },
  };
}

test('shared caches: objects already there are indexed, later events followed', () => {
  const a = kingress('a', 'a.example.com');
  const ingresses = cache([a]);
  const gateways = cache([]);
  const lookups = liveLookups({
    rest: {} as KubeRest, // not used: no reflector of its own is started in this test
    log: newLogger('test', 'silent'),
    shared: { ingresses, gateways },
  });
  expect(lookups.kingressesByHost(CLS, 'a.example.com').map((k) => k.metadata.name)).toEqual(['a']);
  const moved = kingress('a', 'b.example.com');
  ingresses.emit({ type: 'upsert', obj: moved, old: a });
  expect(lookups.kingressesByHost(CLS, 'a.example.com')).toEqual([]);
  expect(lookups.kingressesByHost(CLS, 'b.example.com').map((k) => k.metadata.name)).toEqual(['a']);
  ingresses.emit({ type: 'delete', obj: moved });
  expect(lookups.kingressesByHost(CLS, 'b.example.com')).toEqual([]);
  expect(lookups.gateways()).toEqual([]);
});

test('optional kinds whose API is not installed (404) are retried quietly, not warned about every 30 s', async () => {
  // an API server without cert-manager or ClusterDomainClaims: every request answers 404
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'fake',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  const rest = new KubeRest(kc);
  const captured = captureLog();
  const lookups = liveLookups({
    rest,
    log: captured.log,
    shared: { ingresses: cache([]), gateways: cache([]) },
    syncTimeoutMs: 5000,
  });
  try {
    await lookups.start();
    // the probe, then each reflector has failed and retried at least twice (backoff 200 ms, 400 ms)
    await waitUntil(
      'two retries of each optional kind',
      () =>
        Promise.resolve(
          (hits.get(CLUSTER_ISSUERS_PATH) ?? 0) >= 4 && (hits.get(CLUSTER_DOMAIN_CLAIMS_PATH) ?? 0) >= 4,
        ),
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } finally {
    await lookups.stop();
    rest.close();
    await new Promise((r) => server.close(r));
  }
  expect(lookups.available()).toEqual({ clusterDomainClaims: false, clusterIssuers: false });
  const retries = captured.lines.filter((l) => l.msg === 'watch failed, retrying');
  expect(retries.length).toBeGreaterThanOrEqual(2); // (the last answers may still be in flight)
  expect(retries.filter((l) => l.level > 20).map((l) => l.path)).toEqual([]);
  // said once, at info, by start()
  expect(captured.lines.filter((l) => /API not installed/.test(l.msg)).map((l) => l.path)).toEqual([
    CLUSTER_DOMAIN_CLAIMS_PATH,
    CLUSTER_ISSUERS_PATH,
  ]);
});
