// Envoy's overload manager in the bootstrap (KnativeGateway fleets[].envoy.maxHeapMiB): rendered
// only with a heap limit, accepted by `envoy --mode validate`, and active in a real Envoy: its
// fixed-heap monitor reports the heap pressure, and past STOP_ACCEPTING_REQUESTS_AT of the limit
// new requests get 503.
import { request } from 'node:http';
import { withFleetDefaults } from '../api/knativegateway.ts';
import { fleetBootstrap } from '../fleets/kubernetes-objects.ts';
import { startEnvoy, validateEnvoyConfig, type EnvoyProcess } from '../../test/env/envoy.ts';
import { freePorts, waitUntil } from '../../test/env/proc.ts';
import {
  FIXED_HEAP_MONITOR,
  STOP_ACCEPTING_REQUESTS_AT,
  SHRINK_HEAP_AT,
  overloadManager,
  renderBootstrap,
  type BootstrapOptions,
} from './bootstrap.ts';
import type { Json } from './types.ts';
import { loopbackListener } from '../../test/support/ads-envoy.ts';

const base: BootstrapOptions = {
  nodeId: 'n1',
  fleet: 'gw/edge',
  xds: { pipe: '/run/kgw/ads.sock' },
  admin: { pipe: '/run/kgw/admin.sock' },
};

const MiB = 2 ** 20;

test('no overload manager without a heap limit, or with 0', () => {
  expect(renderBootstrap(base)).not.toHaveProperty('overload_manager');
  expect(renderBootstrap({ ...base, maxHeapMiB: 0 })).not.toHaveProperty('overload_manager');
});

test('a heap limit gives a fixed-heap monitor, shrink_heap and stop_accepting_requests', () => {
  expect(renderBootstrap({ ...base, maxHeapMiB: 512 }).overload_manager).toEqual({
    refresh_interval: '0.250s',
    resource_monitors: [
      {
        name: 'envoy.resource_monitors.fixed_heap',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.resource_monitors.fixed_heap.v3.FixedHeapConfig',
          max_heap_size_bytes: 512 * MiB,
        },
      },
    ],
    actions: [
      {
        name: 'envoy.overload_actions.shrink_heap',
        triggers: [{ name: FIXED_HEAP_MONITOR, threshold: { value: 0.95 } }],
      },
      {
        name: 'envoy.overload_actions.stop_accepting_requests',
        triggers: [{ name: FIXED_HEAP_MONITOR, threshold: { value: 0.98 } }],
      },
    ],
  });
});

test('Kubernetes pods: the heap limit defaults to 80% of the memory limit, else 2048 MiB', () => {
  const xds = { host: 'kgw-operator.kgw-system.svc', port: 18000 };
  const limited = withFleetDefaults({
    name: 'edge',
    visibility: 'ExternalIP',
    resources: { limits: { memory: '1Gi' } },
  });
  const heap = (b: Json) =>
    (b.overload_manager as { resource_monitors: { typed_config: { max_heap_size_bytes: number } }[] })
      .resource_monitors[0]?.typed_config.max_heap_size_bytes;
  expect(heap(fleetBootstrap('gw', limited, xds))).toBe(819 * MiB);
  expect(heap(fleetBootstrap('gw', withFleetDefaults({ name: 'edge', visibility: 'ExternalIP' }), xds))).toBe(
    2048 * MiB,
  );
  const off = withFleetDefaults({ name: 'edge', visibility: 'ExternalIP', envoy: { maxHeapMiB: 0 } });
  expect(fleetBootstrap('gw', off, xds)).not.toHaveProperty('overload_manager');
});

test('the bootstrap with an overload manager passes envoy --mode validate', async () => {
  const { ok, output } = await validateEnvoyConfig(renderBootstrap({ ...base, maxHeapMiB: 512 }));
  expect({ ok, output: ok ? '' : output }).toEqual({ ok: true, output: '' });
}, 60_000);

/** Envoy's stats as name → value (`/stats`, `name: value` lines). */
async function stats(envoy: EnvoyProcess): Promise<Map<string, string>> {
  const r = await envoy.adminGet('/stats');
  if (r.status !== 200) throw new Error(`/stats: ${r.status}`);
  return new Map(
    r.body
      .split('\n')
      .map((l) => l.split(': '))
      .filter((p): p is [string, string] => p.length === 2)
      .map(([k, v]) => [k, v.trim()]),
  );
}

/** A static listener on 127.0.0.1:port answering every request 200. */
function okListener(port: number): Json {
  const route = { match: { prefix: '/' }, direct_response: { status: 200 } };
  return loopbackListener('ok', port, {
    route_config: { virtual_hosts: [{ name: 'ok', domains: ['*'], routes: [route] }] },
  });
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Starts Envoy with `bootstrap` plus the 200 listener; returns it and the listener's port. */
async function startWith(id: string, bootstrap: Json): Promise<{ envoy: EnvoyProcess; port: number }> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const statics = bootstrap.static_resources as Json;
  statics.listeners = [okListener(port)];
  // Nothing serves xDS here: without ADS Envoy starts its listeners at once.
  const { dynamic_resources: _ads, ...config } = bootstrap;
  const envoy = await startEnvoy({ config, id, logLevel: 'warning' });
  return { envoy, port };
}

test('a real Envoy runs the overload manager: the fixed-heap monitor reports the heap pressure', async () => {
  const { envoy, port } = await startWith('overload-on', renderBootstrap({ ...base, maxHeapMiB: 64 }));
  try {
    const pressure = await waitUntil(
      'fixed_heap pressure reported',
      async () => {
        const s = await stats(envoy);
        const p = Number(s.get(`overload.${FIXED_HEAP_MONITOR}.pressure`));
        return p > 0 ? { p, s } : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // Envoy's own heap is a few MiB: far below the thresholds, so nothing is shed.
    expect(pressure.p).toBeLessThan(SHRINK_HEAP_AT * 100);
    expect(pressure.s.get('overload.envoy.overload_actions.shrink_heap.active')).toBe('0');
    expect(pressure.s.get('overload.envoy.overload_actions.stop_accepting_requests.active')).toBe('0');
    expect(await get(port)).toBe(200);
  } finally {
    await envoy.stop();
  }
}, 60_000);

test('past the stop_accepting_requests threshold a real Envoy answers 503', async () => {
  // A 1 MiB limit: Envoy's own heap is over it at once (the API's minimum is 64 MiB).
  const bootstrap = { ...renderBootstrap(base), overload_manager: overloadManager(1) };
  const { envoy, port } = await startWith('overload-full', bootstrap);
  try {
    await waitUntil(
      'stop_accepting_requests active',
      async () =>
        (await stats(envoy)).get('overload.envoy.overload_actions.stop_accepting_requests.active') === '1',
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(STOP_ACCEPTING_REQUESTS_AT).toBeLessThan(1);
    expect(await get(port)).toBe(503);
  } finally {
    await envoy.stop();
  }
}, 60_000);
