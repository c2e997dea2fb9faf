import type { KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { FAILURE_RETRY_MS, KnativeConfigWriter } from './knative-config.ts';

const gw: KnativeGateway = {
  metadata: { name: 'default' },
  spec: { fleets: [{ name: 'external', visibility: 'ExternalIP' }] },
};

test('a failed write is reported as it is, without requests or log lines, until the retry delay', async () => {
  let patches = 0;
  const rest = {
    request(method: string): Promise<never> {
      if (method === 'PATCH') patches++;
      return Promise.reject(
        new ApiError(404, 'NotFound', 'namespaces "knative-serving" not found', undefined),
      );
    },
  } as unknown as KubeRest; // only request() is used before start()
  const log = newLogger('test', 'silent');
  const warned: string[] = [];
  log.warn = ((_obj: unknown, msg: string) => void warned.push(msg)) as typeof log.warn;
  let now = 0;
  const writer = new KnativeConfigWriter({ rest, log, onChange: () => undefined, monotonic: () => now });
  const first = await writer.reconcile(gw, 'default');
  expect(first).toMatchObject({ status: 'False', reason: 'NamespaceNotFound' });
  expect(patches).toBe(1);
  for (let i = 0; i < 5; i++) expect(await writer.reconcile(gw, 'default')).toEqual(first);
  expect(patches).toBe(1);
  expect(warned).toHaveLength(1);
  now += FAILURE_RETRY_MS;
  expect(await writer.reconcile(gw, 'default')).toEqual(first);
  expect(patches).toBe(2); // tried again
  expect(warned).toHaveLength(1); // same failure: not logged again
});
