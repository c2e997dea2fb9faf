// The xDS bootstrap with and without mutual TLS; the TLS one (with its SDS files and credentials
// on disk) must pass `envoy --mode validate`. tls.envoy.test.ts runs it against the xDS server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { validateEnvoyConfig } from '../../test/env/envoy.ts';
import { XdsTls } from '../pki/xds-tls.ts';
import { join } from 'node:path';
import { goldenDir, loadCase, renderCaseFleets } from '../../test/support/golden-cases.ts';
import { staticBootstrap } from '../../test/support/static-bootstrap.ts';
import {
  FLEET_MEMBERS_CLUSTER,
  STATS_ADMIN_CLUSTER,
  STATS_LISTENER,
  XDS_CA_SDS_FILE,
  XDS_CLIENT_SDS_FILE,
  renderBootstrap,
  renderXdsTlsSdsFiles,
  type BootstrapOptions,
} from './bootstrap.ts';

const base: BootstrapOptions = {
  nodeId: 'n1',
  fleet: 'gw/edge',
  xds: { pipe: '/run/kgw/ads.sock' },
  admin: { pipe: '/run/kgw/admin.sock' },
};

interface Shape {
  static_resources: { clusters: { transport_socket?: { typed_config: Record<string, unknown> } }[] };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kgw-bootstrap-tls-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('without tls the xDS cluster is plaintext', () => {
  const b = renderBootstrap(base) as unknown as Shape;
  expect(b.static_resources.clusters[0]?.transport_socket).toBeUndefined();
  expect(JSON.stringify(b)).not.toMatch(/tls/i);
});

test('with tls: SNI, SAN check, client certificate and CA through file-based SDS', () => {
  const tls = { serverName: 'xds.kgw.test', credentialDir: '/creds/', sdsDir: '/sds' };
  const b = renderBootstrap({ ...base, tls }) as unknown as Shape;
  const ctx = b.static_resources.clusters[0]?.transport_socket?.typed_config;
  expect(ctx).toMatchObject({
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    sni: 'xds.kgw.test',
    common_tls_context: {
      alpn_protocols: ['h2'],
      tls_certificate_sds_secret_configs: [
        { sds_config: { path_config_source: { path: `/sds/${XDS_CLIENT_SDS_FILE}` } } },
      ],
      combined_validation_context: {
        default_validation_context: {
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'xds.kgw.test' } }],
        },
        validation_context_sds_secret_config: {
          sds_config: { path_config_source: { path: `/sds/${XDS_CA_SDS_FILE}` } },
        },
      },
    },
  });
  const files = JSON.stringify(renderXdsTlsSdsFiles(tls));
  expect(files).toContain('"filename":"/creds/tls.crt"');
  expect(files).toContain('"filename":"/creds/tls.key"');
  expect(files).toContain('"filename":"/creds/ca.crt"');
  expect(files).toContain('"watched_directory":{"path":"/creds/"}');
});

test('the TLS bootstrap passes envoy --mode validate', async () => {
  const material = await XdsTls.create({ serverNames: ['xds.kgw.test'] });
  const tls = { serverName: 'xds.kgw.test', credentialDir: path.join(dir, 'creds'), sdsDir: dir };
  await material.writeClientDir('gw/edge', tls.credentialDir);
  for (const [file, json] of Object.entries(renderXdsTlsSdsFiles(tls))) {
    writeFileSync(path.join(dir, file), JSON.stringify(json));
  }
  for (const xds of [base.xds, { address: '127.0.0.1', port: 18000 }]) {
    const { ok, output } = await validateEnvoyConfig(renderBootstrap({ ...base, xds, tls }));
    expect({ ok, output: ok ? '' : output }).toEqual({ ok: true, output: '' });
  }
}, 60_000);

test('the admin interface is a 0600 unix socket, and Envoy reconnects to xDS within 2 s', () => {
  const b = renderBootstrap(base) as unknown as {
    admin: unknown;
    dynamic_resources: { ads_config: { grpc_services: { envoy_grpc: Record<string, unknown> }[] } };
  };
  expect(b.admin).toEqual({ address: { pipe: { path: '/run/kgw/admin.sock', mode: 0o600 } } });
  // Envoy's default xDS backoff grows to 30 s: after an operator restart its replicas stayed on
  // the old configuration that long
  expect(b.dynamic_resources.ads_config.grpc_services[0]?.envoy_grpc.retry_policy).toEqual({
    retry_back_off: { base_interval: '0.250s', max_interval: '2s' },
  });
});

describe('the stats listener', () => {
  interface Route {
    match: { path?: string; prefix?: string; safe_regex?: unknown; headers?: unknown[] };
    route?: { cluster: string };
    direct_response?: { status: number };
  }
  interface StatsShape {
    static_resources: {
      clusters: { name: string; load_assignment: unknown; circuit_breakers?: unknown }[];
      listeners?: {
        name: string;
        address: unknown;
        filter_chains: {
          filters: {
            typed_config: {
              route_config: { virtual_hosts: { domains: string[]; routes: Route[] }[] };
              http_filters: { name: string }[];
              normalize_path?: boolean;
              merge_slashes?: boolean;
              path_with_escaped_slashes_action?: string;
              rds?: unknown;
            };
          }[];
        }[];
      }[];
    };
  }
  const withStats = () => renderBootstrap({ ...base, stats: { port: 9091 } }) as unknown as StatsShape;

  test('none without `stats`: no listener, no cluster on the admin socket', () => {
    const b = renderBootstrap(base) as unknown as StatsShape;
    expect(b.static_resources.listeners).toBeUndefined();
    expect(b.static_resources.clusters.map((c) => c.name)).toEqual(['kgw-xds']);
  });

  test('one exact route to the admin socket, GET and HEAD only; everything else answered locally', () => {
    const b = withStats();
    const [l] = b.static_resources.listeners ?? [];
    expect(b.static_resources.listeners).toHaveLength(1);
    expect(l?.name).toBe(STATS_LISTENER);
    expect(l?.address).toEqual({ socket_address: { address: '0.0.0.0', port_value: 9091 } });
    expect(l?.filter_chains).toHaveLength(1);
    const hcm = l?.filter_chains[0]?.filters[0]?.typed_config;
    expect(l?.filter_chains[0]?.filters).toHaveLength(1);
    // the route table is inline: nothing sent over xDS can add a route to this listener
    expect(hcm?.rds).toBeUndefined();
    expect(hcm?.http_filters.map((f) => f.name)).toEqual(['envoy.filters.http.router']);
    expect(hcm).toMatchObject({
      normalize_path: true,
      merge_slashes: true,
      path_with_escaped_slashes_action: 'REJECT_REQUEST',
    });
    const vhosts = hcm?.route_config.virtual_hosts ?? [];
    expect(vhosts).toHaveLength(1);
    const routes = vhosts[0]?.routes ?? [];
    // exactly one route forwards, to the admin cluster, on an exact path (no prefix, no regex)
    const forwarding = routes.filter((r) => r.route !== undefined);
    expect(forwarding).toEqual([
      {
        match: {
          path: '/stats/prometheus',
          headers: [{ name: ':method', string_match: { safe_regex: { regex: '^(GET|HEAD)$' } } }],
        },
        route: { cluster: STATS_ADMIN_CLUSTER, timeout: '10s' },
      },
    ]);
    expect(routes.map((r) => r.direct_response?.status)).toEqual([undefined, 405, 404]);
    expect(routes[1]?.match).toEqual({ path: '/stats/prometheus' });
    expect(routes[2]?.match).toEqual({ prefix: '/' });
  });

  test('the admin cluster is the admin socket, with bounded concurrency', () => {
    const admin = withStats().static_resources.clusters.find((c) => c.name === STATS_ADMIN_CLUSTER);
    expect(admin?.load_assignment).toEqual({
      cluster_name: STATS_ADMIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: '/run/kgw/admin.sock' } } } }] }],
    });
    expect(admin?.circuit_breakers).toEqual({
      thresholds: [{ max_connections: 2, max_requests: 2, max_pending_requests: 8, max_retries: 0 }],
    });
    // its name cannot be one kgw gives a KIngress backend (`<namespace>/<service>:<port>`)
    expect(STATS_ADMIN_CLUSTER).not.toMatch(/[/:]/);
  });

  test('the bootstrap with the stats listener passes envoy --mode validate', async () => {
    const { ok, output } = await validateEnvoyConfig(renderBootstrap({ ...base, stats: { port: 9091 } }));
    expect({ ok, output: ok ? '' : output }).toEqual({ ok: true, output: '' });
  }, 60_000);
});

describe('the fleet-members cluster (rate limits SharedEvenly)', () => {
  interface MembersShape {
    cluster_manager?: { local_cluster_name: string };
    static_resources: { clusters: { name: string; type: string; eds_cluster_config?: unknown }[] };
  }

  test('only when asked: an EDS cluster over ADS, named as the local cluster', () => {
    const plain = renderBootstrap(base) as unknown as MembersShape;
    expect(plain.cluster_manager).toBeUndefined();
    expect(plain.static_resources.clusters.map((c) => c.name)).not.toContain(FLEET_MEMBERS_CLUSTER);
    const b = renderBootstrap({ ...base, fleetMembers: true }) as unknown as MembersShape;
    expect(b.cluster_manager).toEqual({ local_cluster_name: FLEET_MEMBERS_CLUSTER });
    expect(b.static_resources.clusters.find((c) => c.name === FLEET_MEMBERS_CLUSTER)).toEqual({
      name: FLEET_MEMBERS_CLUSTER,
      type: 'EDS',
      connect_timeout: '1s',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    });
    // its name cannot be one kgw gives a KIngress backend (`<namespace>/<service>:<port>`)
    expect(FLEET_MEMBERS_CLUSTER).not.toMatch(/[/:]/);
  });

  // The policies golden case rendered SharedEvenly, its resources static, in the bootstrap with or
  // without the fleet-members cluster: Envoy accepts local_cluster_rate_limit only with a local cluster.
  const sharedConfig = (fleetMembers: boolean) => {
    const objs = loadCase(join(goldenDir, 'policies.yaml'));
    objs.fleetOptions = { external: { ...objs.fleetOptions?.external, rateLimitSharing: 'SharedEvenly' } };
    const res = renderCaseFleets(objs).find((f) => f.fleet === 'external')!.res;
    expect(JSON.stringify([...res.routes.values()])).toContain('"local_cluster_rate_limit":{}');
    const fleet = staticBootstrap(res) as { static_resources: { clusters: unknown[] } };
    const b = renderBootstrap({ ...base, fleetMembers }) as { static_resources: { clusters: unknown[] } };
    return {
      ...b,
      static_resources: {
        ...fleet.static_resources,
        clusters: [...b.static_resources.clusters, ...fleet.static_resources.clusters],
      },
    };
  };

  test('a SharedEvenly fleet passes envoy --mode validate with the fleet-members bootstrap', async () => {
    const { ok, output } = await validateEnvoyConfig(sharedConfig(true));
    expect({ ok, output: ok ? '' : output }).toEqual({ ok: true, output: '' });
  }, 60_000);

  test('without the fleet-members cluster Envoy rejects it (the check can fail)', async () => {
    const { ok, output } = await validateEnvoyConfig(sharedConfig(false));
    expect(ok).toBe(false);
    expect(output).toMatch(/local.cluster/i);
  }, 60_000);
});
