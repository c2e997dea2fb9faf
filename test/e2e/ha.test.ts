// Operator HA: two `kgw operator` processes with leader election (the production defaults: lease
// 10 s, renew deadline 7 s, retry 2 s) share a work dir and a local network. Both serve xDS and
// every Envoy knows both sockets; only the Lease holder runs the fleets and writes status. The
// leader is killed with SIGKILL (no release): the other takes the Lease, adopts the running Envoy
// replicas and writes status again within 15 s, while requests through Envoy never fail.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNetwork } from '../../operator/fleets/network.ts';
import { knativeGatewayCrd } from '../../operator/gen/knativegateway-crd.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { newLogger } from '../../operator/log.ts';
import { httpRequest } from '../backends/client.ts';
import { startControlPlane } from '../env/control-plane.ts';
import { applyManifests } from '../env/manifests.ts';
import { startLocalOperator, type LocalOperator } from '../env/operator-cli.ts';
import { freePorts } from '../env/proc.ts';
import { createReady, rule, sleep, split } from './conformance.ts';
import {
  ensureNamespace,
  getIngress,
  publicGateway,
  startTestBackend,
  TEST_NAMESPACE,
  type Env,
} from './harness.ts';

const root = join(import.meta.dirname, '../..');
const LEASE = '/apis/coordination.k8s.io/v1/namespaces/kgw-system/leases/kgw-operator-leader';

interface Operator {
  id: string;
  cli: LocalOperator;
  logFile: string;
  metricsPort: number;
}

let env: Env;
let workDir: string;
const operators: Operator[] = [];

function startOperatorProcess(id: string, kubeconfig: string, subnet: number, metricsPort: number): Operator {
  const logFile = join(workDir, `operator-${id}.log`);
  const sockets = ['a', 'b'].map((x) => join(workDir, `xds-${x}.sock`));
  const cli = startLocalOperator({
    kubeconfig,
    workDir,
    networkSubnet: subnet,
    logPath: logFile,
    args: [
      '--xds-socket',
      join(workDir, `xds-${id}.sock`),
      ...sockets.flatMap((s) => ['--xds-peer', s]),
      '--leader-elect',
      '--leader-elect-namespace',
      'kgw-system',
      '--identity',
      `op-${id}`,
      '--metrics-port',
      String(metricsPort),
    ],
  });
  return { id, cli, logFile, metricsPort };
}

/** KIngress translations an operator has done (kgw_engine_translated_total on its /metrics). */
async function translations(o: Operator): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${o.metricsPort}/metrics`)).text();
  const m = /^kgw_engine_translated_total ([0-9.e+]+)$/m.exec(text);
  if (!m?.[1]) throw new Error(`operator ${o.id}: no kgw_engine_translated_total`);
  return Number(m[1]);
}

async function holder(): Promise<string | undefined> {
  const lease = await env.rest
    .get<{ spec?: { holderIdentity?: string } }>(LEASE)
    .catch(() => ({ spec: undefined }));
  return lease.spec?.holderIdentity || undefined;
}

beforeAll(async () => {
  const log = newLogger('e2e-ha');
  workDir = mkdtempSync(join(tmpdir(), 'kgw-ha-'));
  const cp = await startControlPlane({ log });
  const kc = cp.kubeConfig();
  const rest = new KubeRest(kc);
  await applyManifests(kc, [join(root, 'test/env/crds/knative'), knativeGatewayCrd()]);
  await ensureNamespace(rest, TEST_NAMESPACE);
  await ensureNamespace(rest, 'kgw-system');
  const network = await LocalNetwork.create();
  await applyManifests(kc, [
    {
      apiVersion: 'operator.kgw.dev/v1alpha1',
      kind: 'KnativeGateway',
      metadata: { name: 'default' },
      spec: { fleets: [{ name: 'external', visibility: 'ExternalIP', replicas: 2 }] },
    },
  ]);
  const ports = await freePorts(2);
  for (const [i, id] of ['a', 'b'].entries()) {
    operators.push(startOperatorProcess(id, cp.kubeconfigPath, network.subnet, ports[i]!));
  }
  env = {
    cp,
    rest,
    kc,
    network,
    log,
    workDir,
    // The harness's in-process operator is not used here.
    operator: undefined as unknown as Env['operator'],
    operatorOptions: undefined as unknown as Env['operatorOptions'],
    async stop() {
      // SIGKILL, then the Envoy replicas (they outlive the operators by design) from the recorded state.
      for (const o of operators) await o.cli.stop(0);
      await network.destroy();
      await cp.stop();
      if (process.env.KGW_KEEP_ENV !== '1') rmSync(workDir, { recursive: true, force: true });
    },
  };
}, 180_000);

afterAll(async () => {
  await env?.stop();
});

test('leader killed: the other operator takes over, status writes resume within 15 s, no request fails', async () => {
  // One leader emerges.
  let first: string | undefined;
  for (let i = 0; i < 150 && !first; i++) {
    first = await holder();
    if (!first) await sleep(200);
  }
  expect(first === 'op-a' || first === 'op-b').toBe(true);
  const leader = operators.find((o) => `op-${o.id}` === first)!;
  const follower = operators.find((o) => o !== leader)!;

  await startTestBackend(env, { name: 'ha-app' });
  const host = 'ha.example.com';
  const ing = await createReady(env, 'ha', { rules: [rule([host], [{ splits: [split('ha-app')] }])] });
  const gw = await publicGateway(env, ing);

  let stop = false;
  let sent = 0;
  const statuses = new Map<number, number>();
  const loop = async () => {
    const deadline = Date.now() + 90_000;
    for (let i = 0; i < 50_000 && !stop && Date.now() < deadline; i++) {
      const res = await httpRequest({ address: gw.address, port: gw.port, host, timeoutMs: 5000 }).catch(
        () => ({
          status: -1,
        }),
      );
      sent++;
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      await sleep(10);
    }
  };
  const loops = [loop(), loop()];
  await sleep(500);

  // Only the leader writes status (and runs the fleets) while both serve xDS.
  const followerLog = readFileSync(follower.logFile, 'utf8');
  expect(followerLog).not.toContain('status written');
  expect(followerLog).not.toContain('envoy replica started');
  expect(followerLog).toContain('xDS server synced');
  expect(readFileSync(leader.logFile, 'utf8')).toContain('status written');

  // Kill the leader without giving it a chance to release the Lease.
  const translatedBefore = await translations(follower);
  leader.cli.process.child.kill('SIGKILL');
  const killedAt = Date.now();
  // A KIngress created right after: only a leader writes its status.
  await createReady(env, 'ha-after', {
    rules: [rule(['ha-after.example.com'], [{ splits: [split('ha-app')] }])],
  });
  const readyAt = Date.now();
  const failoverMs = readyAt - killedAt;
  env.log.info({ failoverMs, newLeader: await holder() }, 'failover measured');
  expect(await holder()).toBe(`op-${follower.id}`);
  expect(failoverMs).toBeLessThanOrEqual(15_000);
  // The new leader serves changes and adopted the fleet (no new Envoy replicas were started).
  const after = await getIngress(env, 'ha-after');
  const gwAfter = await publicGateway(env, after);
  expect((await httpRequest({ ...gwAfter, host: 'ha-after.example.com' })).status).toBe(200);
  expect(readFileSync(follower.logFile, 'utf8')).toContain('adopted running envoy replica');
  expect(readFileSync(follower.logFile, 'utf8')).not.toContain('envoy replica started');
  // Taking over translated only the new KIngress: a follower's translations are current, so the
  // new leader does not translate everything again (it did, 1.35 s of work at 1k KIngresses).
  expect((await translations(follower)) - translatedBefore).toBe(1);

  await sleep(1000);
  stop = true;
  await Promise.all(loops);
  expect(sent).toBeGreaterThan(100);
  expect(Object.fromEntries(statuses)).toEqual({ 200: sent });
}, 150_000);
