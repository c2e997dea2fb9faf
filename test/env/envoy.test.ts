// Runs the real Envoy binary: version, offline validation, and started instances (also inside a
// test network namespace, admin reached over its unix socket).
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { envoyVersion, startEnvoy, validateEnvoyConfig } from './envoy.ts';
import { createTestNetwork } from './netns.ts';
import { pinnedVersions } from './paths.ts';

/** A static bootstrap: one listener answering every request with `body`. */
function directResponseConfig(address: string, port: number, body: string): object {
  return {
    static_resources: {
      listeners: [
        {
          name: 'test',
          address: { socket_address: { address, port_value: port } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'test',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [
                            {
                              match: { prefix: '/' },
                              direct_response: { status: 200, body: { inline_string: body } },
                            },
                          ],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: {
                          '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        },
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    },
  };
}

function httpGetText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

describe('envoy', () => {
  it('reports the pinned version', async () => {
    const pinned = process.env.KGW_ENVOY_VERSION ?? pinnedVersions().KGW_ENVOY_VERSION;
    expect(await envoyVersion()).toBe(pinned);
  });

  it('validates a good config and rejects a bad one with Envoy’s message', async () => {
    const good = await validateEnvoyConfig(directResponseConfig('127.0.0.1', 10000, 'ok'));
    expect(good).toMatchObject({ ok: true });
    const bad = await validateEnvoyConfig({
      static_resources: { clusters: [{ name: 'c', connect_timeout: '1s', type: 'NOT_A_TYPE' }] },
    });
    expect(bad.ok).toBe(false);
    expect(bad.output).toMatch(/NOT_A_TYPE/);
    // well-formed JSON and proto, but semantically wrong: a listener without filter chains
    const semantic = await validateEnvoyConfig({
      static_resources: {
        listeners: [
          { name: 'empty', address: { socket_address: { address: '127.0.0.1', port_value: 10001 } } },
        ],
      },
    });
    expect(semantic.ok).toBe(false);
    expect(semantic.output).toMatch(/no filter chains/);
  });

  it('starts, answers admin /ready LIVE and serves its listener; stop ends it', async () => {
    const envoy = await startEnvoy({ config: directResponseConfig('127.0.0.1', 0, 'hi'), id: 'loopback' });
    try {
      expect(await envoy.adminGet('/ready')).toEqual({ status: 200, body: 'LIVE\n' });
      const listeners = JSON.parse((await envoy.adminGet('/listeners?format=json')).body) as {
        listener_statuses: { local_address: { socket_address: { port_value: number } } }[];
      };
      const port = listeners.listener_statuses[0]?.local_address.socket_address.port_value;
      expect(port).toBeGreaterThan(0);
      expect(await httpGetText(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'hi' });
      const info = JSON.parse((await envoy.adminGet('/server_info')).body) as { node: { id: string } };
      expect(info.node.id).toBe('loopback');
      expect(envoy.logs()).toMatch(/starting main dispatch loop/);
    } finally {
      await envoy.stop();
    }
    await envoy.exited;
    expect(existsSync(envoy.dir)).toBe(false);
  });

  it('runs two at once', async () => {
    const [a, b] = await Promise.all([
      startEnvoy({ config: directResponseConfig('127.0.0.1', 0, 'a'), id: 'twin-a' }),
      startEnvoy({ config: directResponseConfig('127.0.0.1', 0, 'b'), id: 'twin-b' }),
    ]);
    try {
      expect((await a.adminGet('/ready')).body.trim()).toBe('LIVE');
      expect((await b.adminGet('/ready')).body.trim()).toBe('LIVE');
      expect(a.pid).not.toBe(b.pid);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('runs inside a test network: listener on an allocated address, admin over the unix socket', async () => {
    const net = await createTestNetwork();
    try {
      const addr = await net.allocateAddress();
      const envoy = await startEnvoy({
        config: directResponseConfig(addr, 8080, 'inside'),
        id: 'in-netns',
        network: net,
      });
      try {
        expect((await envoy.adminGet('/ready')).body.trim()).toBe('LIVE');
        expect(await httpGetText(`http://${addr}:8080/`)).toEqual({ status: 200, body: 'inside' });
        expect((await envoy.adminPost('/healthcheck/fail')).status).toBe(200);
      } finally {
        await envoy.stop();
      }
    } finally {
      await net.destroy();
    }
  });

  it('fails fast with the log when Envoy cannot start', async () => {
    // valid config, but the listener address does not exist on this host: Envoy exits at startup
    const started = startEnvoy({
      config: directResponseConfig('198.18.255.254', 8080, 'x'),
      id: 'doomed',
      timeoutMs: 20_000,
    });
    await expect(started).rejects.toThrow(/envoy exited[\s\S]*(cannot bind|Cannot assign|address)/i);
  });

  it('waitFor admin: returns while an xDS-driven Envoy is still initializing', async () => {
    const config = {
      dynamic_resources: {
        ads_config: {
          api_type: 'GRPC',
          transport_api_version: 'V3',
          grpc_services: [{ envoy_grpc: { cluster_name: 'xds' } }],
        },
        cds_config: { ads: {}, resource_api_version: 'V3' },
        lds_config: { ads: {}, resource_api_version: 'V3' },
      },
      static_resources: {
        clusters: [
          {
            name: 'xds',
            type: 'STATIC',
            connect_timeout: '1s',
            typed_extension_protocol_options: {
              'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                explicit_http_config: { http2_protocol_options: {} },
              },
            },
            load_assignment: {
              cluster_name: 'xds',
              endpoints: [
                { lb_endpoints: [{ endpoint: { address: { pipe: { path: '/nonexistent/xds.sock' } } } }] },
              ],
            },
          },
        ],
      },
    };
    const envoy = await startEnvoy({ config, id: 'xds-pending', waitFor: 'admin' });
    try {
      const ready = await envoy.adminGet('/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.trim()).toMatch(/INITIALIZING/);
    } finally {
      await envoy.stop();
    }
  });
});
