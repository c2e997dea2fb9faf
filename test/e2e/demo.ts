// `npm run demo`: a self-contained local run — a real kube-apiserver and etcd, the kgw operator
// with real Envoy fleets (local runtime), a sample KnativeGateway, a backend and a KIngress for
// hello.default.example.com — then prints the curl that answers through Envoy. Ctrl-C stops it
// all. The terminal gets the demo's own lines; the operator's JSON log goes to a file
// (.kgw/demo.log). Needs root (network namespaces) and `bash test/env/setup.sh --demo` (npm run
// demo's predemo does that). A development script built on the end-to-end harness: not part of
// the shipped operator (kgw's CLI has no demo command).
//
//   npm run demo                            # stays up until Ctrl-C
//   npm run demo -- --exit-after-ready      # stops once the curl answered
//   npm run demo -- --metrics               # fleets with metrics on: also prints the stats curl
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newLogger } from '../../operator/log.ts';
import { httpRequest } from '../backends/client.ts';
import * as h from './harness.ts';

const DEMO_METRICS_PORT = 9091;
const STATS_PATH = '/stats/prometheus';

async function demo(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'exit-after-ready': { type: 'boolean', default: false },
      metrics: { type: 'boolean', default: false },
    },
  });
  const logFile = join(process.cwd(), '.kgw', 'demo.log');
  const log = newLogger('demo', process.env.KGW_LOG_LEVEL ?? 'info', logFile);
  const say = (m: string) => process.stderr.write(`[kgw demo] ${m}\n`);
  say(`the operator's log: ${logFile}`);
  say('starting etcd and kube-apiserver, installing CRDs, starting the operator and its Envoy fleets…');
  const metrics = { enabled: true, port: DEMO_METRICS_PORT };
  const gateway = {
    ...h.sampleGateway,
    spec: { fleets: h.sampleGateway.spec.fleets.map((f) => ({ ...f, metrics })) },
  };
  const env = await h.startEnv({ log, ...(values.metrics ? { gateway } : {}) });
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    await env.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  try {
    say(`apiserver ${env.cp.server} (kubeconfig: ${env.cp.kubeconfigPath})`);
    // Knative Serving's namespace, where the gateway writes config-network and config-domain as it
    // would in a cluster (no Knative runs here): without it the gateway is not Ready.
    await h.ensureNamespace(env.rest, 'knative-serving');
    const ready = await h.waitGatewayReady(env, 'default');
    say(`KnativeGateway default is Ready (fleets ${ready.status?.readyFleets ?? '?'})`);
    say('starting the hello backend and creating KIngress default/hello…');
    await h.startTestBackend(env, { name: 'hello', namespace: 'default', suffix: 'hello from kgw' });
    const host = 'hello.default.example.com';
    await h.createIngress(
      env,
      'hello',
      {
        rules: [
          {
            hosts: [host],
            visibility: 'ExternalIP',
            http: {
              paths: [{ splits: [{ serviceNamespace: 'default', serviceName: 'hello', servicePort: 80 }] }],
            },
          },
        ],
      },
      'default',
    );
    const ing = await h.waitReady(env, 'hello', 'default');
    const gw = await h.publicGateway(env, ing);
    const res = await httpRequest({ address: gw.address, port: gw.port, host });
    say(`KIngress default/hello is Ready; Envoy at ${gw.address}:${gw.port} answered ${res.status}. Try:`);
    if (res.status !== 200) throw new Error(`expected 200 through Envoy, got ${res.status}`);
    process.stdout.write(`curl -H 'Host: ${host}' http://${gw.address}:${gw.port}/\n`);
    if (values.metrics) {
      const stats = await httpRequest({
        address: gw.address,
        port: DEMO_METRICS_PORT,
        host: 'stats',
        path: STATS_PATH,
      });
      const series = stats.body.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
      if (stats.status !== 200) throw new Error(`expected 200 from the stats listener, got ${stats.status}`);
      say(
        `Envoy's stats (${series} series): curl http://${gw.address}:${DEMO_METRICS_PORT}${STATS_PATH}` +
          ' (every other path: 404)',
      );
    }
    say(`kubectl --kubeconfig ${env.cp.kubeconfigPath} get kingress -A   (if you have kubectl)`);
    if (values['exit-after-ready']) await stop(0);
    else say('press Ctrl-C to stop');
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}

demo(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`[kgw demo] failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
