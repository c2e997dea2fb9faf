// The xDS bootstrap with and without mutual TLS; the TLS one (with its SDS files and credentials
// on disk) must pass `envoy --mode validate`. tls.envoy.test.ts runs it against the xDS server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { validateEnvoyConfig } from '../../test/env/envoy.ts';
import { XdsTls } from '../pki/xds-tls.ts';
import {
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
