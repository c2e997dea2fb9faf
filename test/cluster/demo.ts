// `npm run demo:cluster`: kgw as a platform admin and an app team meet it, on a real single-node
// Kubernetes cluster built on this machine (test/cluster/cluster.ts; needs root): Knative Serving
// core, kgw from deploy/kgw.yaml and the sample KnativeGateway, then a Knative Service `hello` in
// namespace `demo`; prints a curl that answers through kgw's Envoy fleet (its NodePort on the
// node address) and the kubectl to look around. Ctrl-C (or --minutes, default 60) stops the
// cluster and removes everything it made.
//
//   npm run demo:cluster                    # stays up until Ctrl-C, at most --minutes
//   npm run demo:cluster -- --exit-after-ready
//
// The first run builds the images (Debian base, Node, kgw, Envoy, CoreDNS, Knative Serving from
// its Go module: about 25 minutes on two cores); later runs take about 3 minutes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeRest } from '../../operator/kube/rest.ts';
import { httpRequest } from '../backends/client.ts';
import { k8sBin } from '../env/paths.ts';
import { waitUntil } from '../env/proc.ts';
import { NODE_IP, startCluster, type Cluster } from './cluster.ts';
import { kubectlWith } from './harness.ts';
import { builtImages, ensureImages, knativeArtifacts } from './images.ts';
import {
  fleetAddresses,
  installKgw,
  installServing,
  knativeClusterOptions,
  servingObjects,
} from './knative.ts';

const NS = 'demo';
const DOMAIN = 'example.com';
const IMAGE = 'kgw.test/knative/runtime:conformance';

const say = (m: string): void => {
  process.stderr.write(`[kgw demo:cluster] ${m}\n`);
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'exit-after-ready': { type: 'boolean', default: false },
      minutes: { type: 'string', default: '60' },
    },
  });
  const minutes = Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0)
    throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
  const slugs = ['kgw', 'envoy', 'pause', 'coredns', 'certmanager', 'knative'];
  const have = builtImages();
  if (knativeArtifacts() === undefined || slugs.some((s) => s !== 'knative' && have[s] === undefined)) {
    say(
      'first run: building the images (Debian base, Node, kgw, Envoy, CoreDNS, Knative Serving): about 25 minutes',
    );
  }
  say('images: test/cluster/build-images.sh (cached by input hash)…');
  const built = ensureImages(slugs);
  if (built.rebuilt.length > 0)
    say(`images rebuilt: ${built.rebuilt.join(', ')} in ${built.seconds.toFixed(0)} s`);
  const knative = knativeArtifacts();
  if (knative === undefined) throw new Error('Knative artifacts missing after build-images.sh knative');

  const work = mkdtempSync(join(tmpdir(), 'kgw-demo-cluster-'));
  let cluster: Cluster | undefined;
  let rest: KubeRest | undefined;
  let stopping: Promise<number> | undefined;
  const stop = (code: number): Promise<number> =>
    (stopping ??= (async () => {
      say('stopping the cluster and removing everything it made…');
      rest?.close();
      const report = await cluster?.stop();
      rmSync(work, { recursive: true, force: true });
      if (report !== undefined) {
        say(
          `stopped in ${report.ms} ms${report.leftovers.length > 0 ? `; left: ${report.leftovers.join(', ')}` : ''}`,
        );
      }
      return report !== undefined && (report.errors.length > 0 || report.leftovers.length > 0) ? 1 : code;
    })());
  let wake: (() => void) | undefined;
  const onSignal = (): void => {
    wake?.();
    void stop(0);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    say(
      'starting the cluster (etcd, kube-apiserver, controller-manager, scheduler, containerd, kubelet, kube-proxy, CoreDNS)…',
    );
    cluster = await startCluster(knativeClusterOptions());
    rest = new KubeRest(cluster.kubeConfig());
    const kc = cluster.kubeconfigPath;
    const k = kubectlWith(() => kc);
    say(`cluster up in ${cluster.timings.readyMs} ms; installing Knative Serving core…`);
    const serving = await installServing({ rest, k, work }, servingObjects(knative, DOMAIN));
    say(
      `Knative Serving ready in ${serving.admittingMs} ms; kubectl apply --server-side -f deploy/kgw.yaml…`,
    );
    const kgw = await installKgw({ rest, k, work });
    say(`kgw rolled out in ${kgw.rolledOutMs} ms; KnativeGateway default Ready after ${kgw.readyMs} ms`);
    await k.kubectlOk(['create', 'namespace', NS]);
    await rest.request('POST', `/apis/serving.knative.dev/v1/namespaces/${NS}/services`, {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: 'hello', namespace: NS },
      spec: { template: { spec: { containers: [{ image: IMAGE }] } } },
    });
    const t0 = Date.now();
    const r = rest;
    await waitUntil(
      'Knative Service demo/hello Ready',
      async () => {
        const s = await r.get<{
          metadata: { generation?: number };
          status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
        }>(`/apis/serving.knative.dev/v1/namespaces/${NS}/services/hello`);
        return (
          s.status?.observedGeneration === s.metadata.generation &&
          s.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
        );
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    const { externalNodePort } = await fleetAddresses(rest);
    const host = `hello.${NS}.${DOMAIN}`;
    const res = await httpRequest({ address: NODE_IP, port: externalNodePort, host, timeoutMs: 10_000 });
    say(
      `Knative Service demo/hello Ready in ${Date.now() - t0} ms; kgw's external fleet answered ${res.status}. Try:`,
    );
    if (res.status !== 200) throw new Error(`expected 200 through the fleet, got ${res.status}`);
    process.stdout.write(`curl -H 'Host: ${host}' http://${NODE_IP}:${externalNodePort}/\n`);
    const kubectl = k8sBin('kubectl');
    say(`export KUBECONFIG=${kc}; ${kubectl} get kgw; ${kubectl} get ksvc,kingress -n ${NS}`);
    if (values['exit-after-ready']) return await stop(0);
    say(`press Ctrl-C to stop (stops by itself after ${minutes} minutes)`);
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, minutes * 60_000);
    });
    return await stop(0);
  } catch (err) {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
