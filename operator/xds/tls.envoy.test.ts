// xDS over mutual TLS with real Envoys, over a unix socket (TLS over a pipe works on both sides):
// only an Envoy whose client certificate chains to kgw's CA and names its own fleet gets
// configuration; certificates (leaves, then the CA) rotate while the server and the Envoy keep
// running. Envoy reads its credentials through file-based SDS (render/bootstrap.ts) from
// directories written by pki/xds-tls.ts. Dynamic listeners bind 127.0.0.1:0.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEnvoy, type EnvoyProcess } from '../../test/env/envoy.ts';
import { waitUntil } from '../../test/env/proc.ts';
import { parseCertificate } from '../pki/ca.ts';
import { XdsTls, writeCredentialDir } from '../pki/xds-tls.ts';
import { renderBootstrap, renderXdsTlsSdsFiles, XDS_CLUSTER } from '../render/bootstrap.ts';
import { TYPE_CLUSTER, TYPE_LISTENER } from './protos.ts';
import { byName, staticCluster } from '../../test/support/xds-samples.ts';
import { XdsServer } from './server.ts';
import { loopbackListener } from '../../test/support/ads-envoy.ts';

const SERVER_NAME = 'kgw-xds.kgw.test';
const FLEET = 'gw/edge';
const OTHER_FLEET = 'gw/internal';

/** A listener on 127.0.0.1:0 answering `body` (inline routes: no RDS needed). */
function listener(name: string, body: string): Record<string, unknown> {
  const route = { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: body } } };
  return loopbackListener(name, 0, {
    route_config: { name, virtual_hosts: [{ name, domains: ['*'], routes: [route] }] },
  });
}

async function stat(envoy: EnvoyProcess, name: string): Promise<number> {
  const r = await envoy.adminGet(`/stats?filter=${encodeURIComponent(`^${name}$`)}`);
  const m = new RegExp(`^${name.replace(/\./g, '\\.')}: (\\d+)$`, 'm').exec(r.body);
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

async function dynamicClusters(envoy: EnvoyProcess): Promise<string[]> {
  const r = await envoy.adminGet('/clusters?format=json');
  const parsed = JSON.parse(r.body) as { cluster_statuses?: { name: string }[] };
  return (parsed.cluster_statuses ?? []).map((c) => c.name).filter((n) => n !== XDS_CLUSTER);
}

/** Serial numbers of the certificates Envoy currently holds (admin /certs), upper-case hex. */
async function envoyCertSerials(envoy: EnvoyProcess): Promise<{ client: string[]; ca: string[] }> {
  const r = await envoy.adminGet('/certs');
  const parsed = JSON.parse(r.body) as {
    certificates?: { ca_cert?: { serial_number: string }[]; cert_chain?: { serial_number: string }[] }[];
  };
  const norm = (s: string): string => s.toUpperCase().replace(/^0+/, '');
  const certs = parsed.certificates ?? [];
  return {
    client: certs.flatMap((c) => (c.cert_chain ?? []).map((x) => norm(x.serial_number))),
    ca: certs.flatMap((c) => (c.ca_cert ?? []).map((x) => norm(x.serial_number))),
  };
}

const serialOf = (pem: string): string => parseCertificate(pem).serialNumber.toUpperCase().replace(/^0+/, '');

let dir: string;
let server: XdsServer;
let tls: XdsTls;
let socket: string;
const envoys: EnvoyProcess[] = [];

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kgw-xds-tls-'));
  tls = await XdsTls.create({ serverNames: [SERVER_NAME] });
  await tls.writeServerDir(path.join(dir, 'server'));
  server = new XdsServer({ orderingTimeoutMs: 60_000 });
  socket = path.join(dir, 'ads.sock');
  // A long refresh: the test applies rotations with reloadTls(), so it knows when they happened.
  await server.listen(`unix:${socket}`, { tls: { dir: path.join(dir, 'server'), refreshMs: 600_000 } });
  server.setSnapshot(FLEET, {
    [TYPE_CLUSTER]: byName([staticCluster('edge-a', '127.0.0.2')]),
    [TYPE_LISTENER]: byName([listener('edge-http', 'edge')]),
  });
  server.setSnapshot(OTHER_FLEET, {
    [TYPE_CLUSTER]: byName([staticCluster('internal-a', '127.0.0.3')]),
    [TYPE_LISTENER]: byName([listener('internal-http', 'internal')]),
  });
  server.markSynced();
});

afterEach(async () => {
  await Promise.all(envoys.splice(0).map((e) => e.stop()));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type ClientCreds = { dir: string } | 'none' | 'plaintext';

/** Starts an Envoy of `fleet` whose xDS client credentials are in `creds.dir` (or none at all). */
async function envoyWith(id: string, fleet: string, creds: ClientCreds): Promise<EnvoyProcess> {
  const sdsDir = path.join(dir, `${id}-sds`);
  const credentialDir = typeof creds === 'object' ? creds.dir : path.join(dir, 'server'); // CA only
  const t = { serverName: SERVER_NAME, credentialDir, sdsDir };
  mkdirSync(sdsDir, { recursive: true });
  for (const [file, json] of Object.entries(renderXdsTlsSdsFiles(t))) {
    writeFileSync(path.join(sdsDir, file), JSON.stringify(json));
  }
  const config = renderBootstrap({
    nodeId: id,
    fleet,
    xds: { pipe: socket },
    admin: { pipe: path.join(dir, `${id}.admin.sock`) }, // replaced by startEnvoy
    delta: true,
    ...(creds === 'plaintext' ? {} : { tls: t }),
  });
  if (creds === 'none') {
    // TLS that trusts the server but presents no client certificate.
    const cluster = (config.static_resources as { clusters: Record<string, unknown>[] }).clusters[0];
    const ctx = (
      cluster?.transport_socket as { typed_config: { common_tls_context: Record<string, unknown> } }
    ).typed_config.common_tls_context;
    delete ctx.tls_certificate_sds_secret_configs;
  }
  const envoy = await startEnvoy({ config, id, waitFor: 'admin' });
  envoys.push(envoy);
  return envoy;
}

async function waitConfigured(envoy: EnvoyProcess, clusterName: string): Promise<void> {
  await waitUntil(
    `${envoy.id} to receive its listener and cluster`,
    async () =>
      (await stat(envoy, 'listener_manager.total_listeners_active')) >= 1 &&
      (await dynamicClusters(envoy)).includes(clusterName),
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

describe('xDS over mutual TLS with real Envoys', () => {
  it('configures only Envoys with a client certificate from the CA for their own fleet', async () => {
    const goodDir = path.join(dir, 'good');
    await tls.writeClientDir(FLEET, goodDir);

    // A client certificate for the right fleet, signed by another CA (the dir trusts the right CA).
    const foreign = await XdsTls.create({ serverNames: [SERVER_NAME] });
    const foreignCert = await foreign.client(FLEET);
    const foreignDir = path.join(dir, 'foreign');
    await writeCredentialDir(foreignDir, {
      cert: foreignCert.certPem,
      key: foreignCert.keyPem,
      ca: tls.trustBundle(),
    });

    // A valid certificate of another fleet, used by an Envoy that asks for FLEET.
    const otherDir = path.join(dir, 'other');
    await tls.writeClientDir(OTHER_FLEET, otherDir);

    const good = await envoyWith('good', FLEET, { dir: goodDir });
    const noCert = await envoyWith('no-cert', FLEET, 'none');
    const plaintext = await envoyWith('plaintext', FLEET, 'plaintext');
    const wrongCa = await envoyWith('wrong-ca', FLEET, { dir: foreignDir });
    const wrongFleet = await envoyWith('wrong-fleet', FLEET, { dir: otherDir });

    // Positive control: the same server, socket and snapshot configure the good Envoy.
    await waitConfigured(good, 'edge-a');
    expect(await stat(good, 'control_plane.connected_state')).toBe(1);
    expect(await stat(good, `cluster.${XDS_CLUSTER}.ssl.handshake`)).toBeGreaterThanOrEqual(1);

    // Every other Envoy has tried at least twice: the TLS failures open a new connection per try;
    // the wrong-fleet Envoy's stream is refused on its connection, which stays open.
    const rejected = [noCert, plaintext, wrongCa, wrongFleet];
    const tries = async (): Promise<Record<string, number>> => {
      const out: Record<string, number> = {};
      for (const e of [noCert, plaintext, wrongCa])
        out[e.id] = await stat(e, `cluster.${XDS_CLUSTER}.upstream_cx_total`);
      out[wrongFleet.id] = server.refusedStreams().length;
      return out;
    };
    await waitUntil(
      'every rejected Envoy to have retried',
      async () => {
        const t = await tries();
        if (Object.values(t).every((n) => n >= 2)) return true;
        throw new Error(`tries so far: ${JSON.stringify(t)}`);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    for (const e of rejected) {
      expect({ id: e.id, listeners: await stat(e, 'listener_manager.total_listeners_active') }).toEqual({
        id: e.id,
        listeners: 0,
      });
      expect({ id: e.id, clusters: await dynamicClusters(e) }).toEqual({ id: e.id, clusters: [] });
      expect({ id: e.id, updates: await stat(e, 'cluster_manager.cds.update_success') }).toEqual({
        id: e.id,
        updates: 0,
      });
    }
    // TLS failures never reach the server's gRPC layer: no session, no response. (Envoy's own
    // control_plane.connected_state is no witness: it reads 1 while a stream is being opened, and
    // with TLS 1.3 a client whose certificate the server refuses finishes its side of the handshake
    // before the server's alert arrives; CI caught wrong-ca at 1 in that window.)
    for (const e of [noCert, plaintext, wrongCa]) {
      expect({ id: e.id, rejected: await stat(e, 'cluster_manager.cds.update_rejected') }).toEqual({
        id: e.id,
        rejected: 0,
      });
    }
    expect(server.connections().map((c) => c.nodeId)).toEqual(['good']);
    expect(server.connections(OTHER_FLEET)).toEqual([]);
    const refused = server.refusedStreams();
    expect(refused.every((r) => r.nodeId === 'wrong-fleet')).toBe(true);
    expect(refused[0]).toMatchObject({ certificateFleet: OTHER_FLEET, requestedFleet: FLEET });
    expect(server.stats().resourcesSent[TYPE_LISTENER]).toBe(1); // the good Envoy's listener only
  });

  it('rotates leaves and then the CA without restarting the server or the Envoy', async () => {
    const aDir = path.join(dir, 'a');
    await tls.writeClientDir(FLEET, aDir);
    const a = await envoyWith('a', FLEET, { dir: aDir });
    await waitConfigured(a, 'edge-a');
    const firstClient = serialOf((await tls.client(FLEET)).certPem);
    expect((await envoyCertSerials(a)).client).toEqual([firstClient]);
    const aStream = server.connections(FLEET)[0]?.connectedAt;
    expect(aStream).toBeDefined();

    // 1. Leaf rotation: new server and client certificates, swapped on disk.
    await tls.rotate();
    expect(await server.reloadTls()).toBe(true);
    const secondClient = serialOf((await tls.client(FLEET)).certPem);
    expect(secondClient).not.toBe(firstClient);
    await waitUntil(
      'Envoy a to load its new client certificate',
      async () => (await envoyCertSerials(a)).client.includes(secondClient),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    expect(await stat(a, 'sds.kgw-xds-client.key_rotation_failed')).toBe(0);

    // The running Envoy still gets updates.
    server.setSnapshot(FLEET, { [TYPE_CLUSTER]: byName([staticCluster('edge-b', '127.0.0.4')]) });
    await waitUntil('Envoy a to receive edge-b', async () => (await dynamicClusters(a)).includes('edge-b'), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });

    // A new Envoy handshakes with the rotated server certificate and its rotated client certificate.
    const bDir = path.join(dir, 'b');
    await tls.writeClientDir(FLEET, bDir);
    const b = await envoyWith('b', FLEET, { dir: bDir });
    await waitConfigured(b, 'edge-b');

    // 2. CA rotation, step one: both parties trust old + new CA; the leaves stay.
    const oldCaSerial = serialOf(tls.ca.certPem);
    await tls.rotateCa();
    const newCaSerial = serialOf(tls.ca.certPem);
    expect(await server.reloadTls()).toBe(true);
    await waitUntil(
      'Envoy a to trust both CAs',
      async () => {
        const { ca } = await envoyCertSerials(a);
        return ca.includes(oldCaSerial) && ca.includes(newCaSerial);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    // Step two: leaves from the new CA.
    await tls.rotate();
    expect(await server.reloadTls()).toBe(true);
    const thirdClient = serialOf((await tls.client(FLEET)).certPem);
    expect(parseCertificate((await tls.client(FLEET)).certPem).issuerCommonName).toBe('kgw xDS CA');
    await waitUntil(
      'Envoy a to load its client certificate from the new CA',
      async () => (await envoyCertSerials(a)).client.includes(thirdClient),
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    server.setSnapshot(FLEET, { [TYPE_CLUSTER]: byName([staticCluster('edge-c', '127.0.0.5')]) });
    await waitUntil('Envoy a to receive edge-c', async () => (await dynamicClusters(a)).includes('edge-c'), {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    const cDir = path.join(dir, 'c');
    await tls.writeClientDir(FLEET, cDir);
    const c = await envoyWith('c', FLEET, { dir: cDir });
    await waitConfigured(c, 'edge-c');

    // Nothing restarted: Envoy a is the same process on the same xDS stream, with one handshake.
    expect(await stat(a, 'server.uptime')).toBeGreaterThanOrEqual(0);
    expect(await stat(a, `cluster.${XDS_CLUSTER}.ssl.handshake`)).toBe(1);
    const streams = server.connections(FLEET);
    expect(streams.map((x) => x.nodeId).sort()).toEqual(['a', 'b', 'c']);
    expect(streams.find((x) => x.nodeId === 'a')?.connectedAt).toEqual(aStream);
  });
});
