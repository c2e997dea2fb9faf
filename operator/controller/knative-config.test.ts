import type { KnativeGateway } from '../api/knativegateway.ts';
import { ApiError, type KubeRest, type Query, type WatchEvent } from '../kube/rest.ts';
import { newLogger } from '../log.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { FAILURE_RETRY_MS, KnativeConfigWriter, knativeForbiddenMessage } from './knative-config.ts';
import type { KnativeObservation } from './gateway-status.ts';

const gw: KnativeGateway = {
  metadata: { name: 'default' },
  spec: { fleets: [{ name: 'external', visibility: 'ExternalIP' }] },
};
const sa = { namespace: 'kgw-system', name: 'kgw-operator' };

interface Listed {
  metadata: { resourceVersion: string };
  items: unknown[];
}

/**
 * A KubeRest stand-in: lists answer from `lists` by path (an Error is thrown), watches stay open
 * until stopped, and every other request goes to `request`.
 */
function fakeRest(
  lists: (path: string) => Listed | Error,
  request: (method: string, path: string) => Promise<unknown>,
): KubeRest {
  return {
    get(path: string): Promise<unknown> {
      const r = lists(path);
      return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
    },
    watch(_p: string, _q: Query, _e: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
      return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    },
    request,
  } as unknown as KubeRest;
}

const empty: Listed = { metadata: { resourceVersion: '1' }, items: [] };
const noCrd = new ApiError(404, 'NotFound', 'the server could not find the requested resource', undefined);

/** Reconciles until the writer has listed (its answer is no longer the Syncing placeholder). */
async function settled(writer: KnativeConfigWriter, g: KnativeGateway): Promise<KnativeObservation> {
  return waitUntil(
    'knative watches listed',
    async () => {
      const r = await writer.reconcile(g, g.metadata.name);
      return r.reason === 'Syncing' ? undefined : r;
    },
    { timeoutMs: 5_000, intervalMs: 10 },
  );
}

test('a failed write is reported as it is, without requests or log lines, until the retry delay', async () => {
  let patches = 0;
  const rest = fakeRest(
    (path) => (path.includes('knativeservings') ? noCrd : empty),
    (method) => {
      if (method === 'PATCH') patches++;
      return Promise.reject(
        new ApiError(404, 'NotFound', 'namespaces "knative-serving" not found', undefined),
      );
    },
  );
  const log = newLogger('test', 'silent');
  const warned: string[] = [];
  log.warn = ((_obj: unknown, msg: string) => void warned.push(msg)) as typeof log.warn;
  let now = 0;
  const writer = new KnativeConfigWriter({
    rest,
    log,
    onChange: () => undefined,
    monotonic: () => now,
    serviceAccount: sa,
  });
  try {
    const first = await settled(writer, gw);
    expect(first).toMatchObject({ status: 'False', reason: 'NamespaceNotFound' });
    expect(patches).toBe(1);
    for (let i = 0; i < 5; i++) expect(await writer.reconcile(gw, 'default')).toEqual(first);
    expect(patches).toBe(1);
    expect(warned).toHaveLength(1); // the Knative Operator's missing CRD is not worth a warning
    now += FAILURE_RETRY_MS;
    expect(await writer.reconcile(gw, 'default')).toEqual(first);
    expect(patches).toBe(2); // tried again
    expect(warned).toHaveLength(1); // same failure: not logged again
  } finally {
    await writer.stop();
  }
});

test('nothing is written before the watches have listed; until then the last reported condition stays', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let patches = 0;
  const rest = {
    ...fakeRest(
      () => empty,
      () => {
        patches++;
        return Promise.resolve({});
      },
    ),
    get: async () => {
      await gate;
      return empty;
    },
  } as unknown as KubeRest;
  const writer = new KnativeConfigWriter({
    rest,
    log: newLogger('test', 'silent'),
    onChange: () => undefined,
  });
  const reported: KnativeGateway = {
    ...gw,
    status: {
      conditions: [
        {
          type: 'KnativeConfigured',
          status: 'True',
          reason: 'Configured',
          message: 'up to date',
          lastTransitionTime: 't',
        },
      ],
    },
  };
  try {
    expect(await writer.reconcile(reported, 'default')).toEqual({
      status: 'True',
      reason: 'Configured',
      message: 'up to date',
    });
    expect(await writer.reconcile(gw, 'default')).toMatchObject({ status: 'Unknown', reason: 'Syncing' });
    expect(patches).toBe(0);
    release();
    expect(await settled(writer, gw)).toMatchObject({ status: 'True', reason: 'Configured' });
    expect(patches).toBe(1); // config-network (no default domain: config-domain is left alone)
  } finally {
    await writer.stop();
  }
});

test('a Knative namespace kgw may not read is reported with the RoleBinding that allows it', async () => {
  let patches = 0;
  const rest = fakeRest(
    (path) =>
      path.includes('/configmaps')
        ? new ApiError(403, 'Forbidden', 'configmaps is forbidden', undefined)
        : empty,
    () => {
      patches++;
      return Promise.resolve({});
    },
  );
  const log = newLogger('test', 'silent');
  const warned: string[] = [];
  log.warn = ((_obj: unknown, msg: string) => void warned.push(msg)) as typeof log.warn;
  const writer = new KnativeConfigWriter({ rest, log, onChange: () => undefined, serviceAccount: sa });
  try {
    expect(await settled(writer, gw)).toEqual({
      status: 'False',
      reason: 'KnativeNamespaceForbidden',
      message: knativeForbiddenMessage('knative-serving', sa),
    });
    expect(knativeForbiddenMessage('knative-serving', sa)).toContain(
      'kubectl create rolebinding kgw-knative-config --namespace knative-serving --clusterrole kgw-knative-config ' +
        '--serviceaccount kgw-system:kgw-operator',
    );
    for (let i = 0; i < 5; i++) await writer.reconcile(gw, 'default');
    expect(patches).toBe(0);
    // said once, not on every retry of the three watches
    expect(warned).toEqual([knativeForbiddenMessage('knative-serving', sa)]);
  } finally {
    await writer.stop();
  }
});

test('a KnativeServing in the Knative namespace: kgw writes nothing and reports ManagedByKnativeOperator', async () => {
  let patches = 0;
  const serving = {
    metadata: { name: 'knative-serving', namespace: 'knative-serving', resourceVersion: '3' },
  };
  const rest = fakeRest(
    (path) =>
      path.includes('knativeservings') ? { metadata: { resourceVersion: '3' }, items: [serving] } : empty,
    () => {
      patches++;
      return Promise.resolve({});
    },
  );
  const writer = new KnativeConfigWriter({
    rest,
    log: newLogger('test', 'silent'),
    onChange: () => undefined,
  });
  try {
    const r = await settled(writer, gw);
    expect(r).toMatchObject({ status: 'False', reason: 'ManagedByKnativeOperator' });
    expect(r.message).toContain('KnativeServing knative-serving/knative-serving');
    expect(patches).toBe(0);
  } finally {
    await writer.stop();
  }
});
