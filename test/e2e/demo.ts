// `npm run demo`: kgw run locally the way a user runs it on one machine — a real kube-apiserver and
// etcd, the CRDs of the install manifest (deploy/kgw.yaml), the shipped operator CLI as a child
// process (`node operator/cli.ts operator --runtime local …`, real Envoy fleets in network
// namespaces), the sample KnativeGateway (crds/samples/knativegateway.yaml), a backend and a
// KIngress for hello.default.example.com — then prints the curl that answers through Envoy.
// Ctrl-C (or SIGTERM) stops it all: the operator gets SIGTERM and stops its fleets. The terminal
// gets the demo's own lines; the operator's JSON log goes to a file (.kgw/demo.log). Needs root
// (network namespaces) and `bash test/env/setup.sh --demo` (npm run demo's predemo does that). A
// development script: the control plane, the local network and the backend come from test/env and
// test/backends; kgw's CLI has no demo command.
//
//   npm run demo                            # stays up until Ctrl-C
//   npm run demo -- --exit-after-ready      # stops once the curl answered
//   npm run demo -- --metrics               # fleets with metrics on: also prints the stats curl
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { KnativeGateway } from '../../operator/api/knativegateway.ts';
import { LocalNetwork } from '../../operator/fleets/network.ts';
import { ensureNamespace } from '../../operator/fleets/publish.ts';
import { KubeRest } from '../../operator/kube/rest.ts';
import { newLogger, type Logger } from '../../operator/log.ts';
import { httpRequest } from '../backends/client.ts';
import { startPodBackend } from '../backends/pod-backend.ts';
import { startControlPlane } from '../env/control-plane.ts';
import { knativeCRDDir } from '../env/crds.ts';
import { createKgwIngress, publicGateway, waitGatewayReady, waitIngressReady } from '../env/kingress.ts';
import { applyManifests, loadManifests } from '../env/manifests.ts';
import { startLocalOperator, type LocalOperator } from '../env/operator-cli.ts';
import { tailFile, type ExitInfo } from '../env/proc.ts';
import { Halt, Teardown } from '../env/teardown.ts';

const root = join(import.meta.dirname, '../..');
/** What an admin installs (`kubectl apply --server-side -f deploy/kgw.yaml`); the demo takes its CRDs. */
const INSTALL_MANIFEST = join(root, 'deploy/kgw.yaml');
/** What the admin applies next (`kubectl apply -f crds/samples/knativegateway.yaml`). */
const SAMPLE_GATEWAY = join(root, 'crds/samples/knativegateway.yaml');
const DEMO_METRICS_PORT = 9091;
const STATS_PATH = '/stats/prometheus';
const HOST = 'hello.default.example.com';
/** How long the operator may take to stop its fleets on SIGTERM (about a second) before SIGKILL. */
const OPERATOR_GRACE_MS = 20_000;

const say = (m: string): void => {
  process.stderr.write(`[kgw demo] ${m}\n`);
};

/** Ctrl-C or SIGTERM: not a failure. */
class Interrupted extends Error {}

interface DemoOptions {
  exitAfterReady: boolean;
  metrics: boolean;
  logFile: string;
}

async function demo(o: DemoOptions): Promise<number> {
  const log = newLogger('demo', process.env.KGW_LOG_LEVEL ?? 'info', o.logFile);
  const halt = new Halt();
  const teardown = new Teardown();
  const interrupt = (signal: NodeJS.Signals) => halt.halt(new Interrupted(signal));
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  let code = 0;
  try {
    await run(o, log, halt, teardown);
  } catch (err) {
    if (!(err instanceof Interrupted)) {
      say(`failed: ${err instanceof Error ? err.message : String(err)}`);
      code = 1;
    }
  }
  say('stopping…');
  for (const failure of await teardown.run()) {
    say(`stopping ${failure}`);
    code = 1;
  }
  return code;
}

async function run(o: DemoOptions, log: Logger, halt: Halt, teardown: Teardown): Promise<void> {
  say(`the operator's log: ${o.logFile}`);
  say('starting etcd and kube-apiserver…');
  const cp = await startControlPlane({ log });
  teardown.add('the control plane', () => cp.stop());
  halt.check();
  say(`apiserver ${cp.server} (kubeconfig: ${cp.kubeconfigPath})`);
  const kc = cp.kubeConfig();
  const rest = new KubeRest(kc);
  teardown.add('the API client', () => rest.close());
  say(`installing Knative's CRDs (test/env) and kgw's (${relative(root, INSTALL_MANIFEST)})…`);
  const kgwCrds = loadManifests(INSTALL_MANIFEST).filter((m) => m.kind === 'CustomResourceDefinition');
  await halt.race(applyManifests(kc, [knativeCRDDir, ...kgwCrds]));
  // Knative Serving's namespace, where the gateway writes config-network and config-domain as it
  // would in a cluster (no Knative runs here): without it the gateway is not Ready.
  await halt.race(ensureNamespace(rest, 'knative-serving'));

  const network = await LocalNetwork.create();
  teardown.add('the local network', () => network.destroy());
  const workDir = mkdtempSync(join(tmpdir(), 'kgw-demo-'));
  teardown.add('the work dir', () => rmSync(workDir, { recursive: true, force: true }));
  halt.check();
  const operator = startLocalOperator({
    kubeconfig: cp.kubeconfigPath,
    workDir,
    networkSubnet: network.subnet,
    logPath: o.logFile,
  });
  teardown.add('the operator', () => stopOperator(operator));
  void operator.process.exited.then((info) =>
    halt.halt(
      new Error(`the operator exited (${exitText(info)}); the end of its log:\n${tailFile(o.logFile, 10)}`),
    ),
  );
  const [cli = '', ...args] = operator.argv;
  say(`the operator (pid ${operator.process.pid}): node ${relative(root, cli)} ${args.join(' ')}`);

  say(`applying ${relative(root, SAMPLE_GATEWAY)}${o.metrics ? ' with metrics on every fleet' : ''}…`);
  await halt.race(applyManifests(kc, [sampleGateway(o.metrics)]));
  const ready = await halt.race(waitGatewayReady({ rest }, 'default'));
  say(`KnativeGateway default is Ready (fleets ${ready.status?.readyFleets ?? '?'})`);

  say('starting the hello backend and creating KIngress default/hello…');
  const backend = await startPodBackend(
    { network, rest },
    { name: 'hello', namespace: 'default', suffix: 'hello from kgw' },
  );
  teardown.add('the backend', () => backend.stop());
  await halt.race(
    createKgwIngress(
      { rest },
      'hello',
      {
        rules: [
          {
            hosts: [HOST],
            visibility: 'ExternalIP',
            http: {
              paths: [{ splits: [{ serviceNamespace: 'default', serviceName: 'hello', servicePort: 80 }] }],
            },
          },
        ],
      },
      'default',
    ),
  );
  const ing = await halt.race(waitIngressReady({ rest }, 'hello', 'default'));
  const gw = await halt.race(publicGateway({ rest }, ing));
  const res = await halt.race(httpRequest({ address: gw.address, port: gw.port, host: HOST }));
  say(`KIngress default/hello is Ready; Envoy at ${gw.address}:${gw.port} answered ${res.status}. Try:`);
  if (res.status !== 200) throw new Error(`expected 200 through Envoy, got ${res.status}`);
  process.stdout.write(`curl -H 'Host: ${HOST}' http://${gw.address}:${gw.port}/\n`);
  if (o.metrics) await showStats(halt, gw.address);
  say(`kubectl --kubeconfig ${cp.kubeconfigPath} get kingress -A   (if you have kubectl)`);
  if (o.exitAfterReady) return;
  say('press Ctrl-C to stop');
  // Nothing else may keep the event loop alive while waiting (the control plane's and the
  // operator's processes are unref'd).
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    await halt.race(new Promise<never>(() => undefined));
  } finally {
    clearInterval(keepAlive);
  }
}

/** The sample KnativeGateway as shipped; with `metrics`, every fleet's stats listener on. */
function sampleGateway(metrics: boolean): KnativeGateway {
  const [doc] = loadManifests(SAMPLE_GATEWAY);
  if (doc?.kind !== 'KnativeGateway') throw new Error(`${SAMPLE_GATEWAY} holds no KnativeGateway`);
  const gateway = doc as unknown as KnativeGateway;
  if (!metrics) return gateway;
  const on = { enabled: true, port: DEMO_METRICS_PORT };
  return {
    ...gateway,
    spec: { ...gateway.spec, fleets: gateway.spec.fleets.map((f) => ({ ...f, metrics: on })) },
  };
}

async function showStats(halt: Halt, address: string): Promise<void> {
  const stats = await halt.race(
    httpRequest({ address, port: DEMO_METRICS_PORT, host: 'stats', path: STATS_PATH }),
  );
  if (stats.status !== 200) throw new Error(`expected 200 from the stats listener, got ${stats.status}`);
  const series = stats.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  say(
    `Envoy's stats (${series} series): curl http://${address}:${DEMO_METRICS_PORT}${STATS_PATH}` +
      ' (every other path: 404)',
  );
}

/** SIGTERM (the CLI stops its fleets and exits 0), bounded; anything else is a failure to report. */
async function stopOperator(operator: LocalOperator): Promise<void> {
  const info = await operator.stop(OPERATOR_GRACE_MS);
  if (info.code !== 0) throw new Error(`it exited ${exitText(info)}`);
}

function exitText(info: ExitInfo): string {
  return info.signal !== null ? `by ${info.signal}` : `with code ${info.code}`;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    'exit-after-ready': { type: 'boolean', default: false },
    metrics: { type: 'boolean', default: false },
  },
});
demo({
  exitAfterReady: values['exit-after-ready'],
  metrics: values.metrics,
  logFile: join(process.cwd(), '.kgw', 'demo.log'),
}).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
