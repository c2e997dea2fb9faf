// The real single-node cluster as a test part: the node registers Ready with the pinned version,
// a Pod runs and answers on its IP from the host, a ClusterIP and a NodePort Service answer
// through kube-proxy (nftables), a Pod reaches a Service and the API server through the
// `kubernetes` Service with its token, API calls that go through the kubelet work (logs), CoreDNS
// answers when an image is given (KGW_COREDNS_IMAGE=<tarball>), a second cluster is refused, and
// after stop() nothing of it is left on the machine. Prints the start/stop times and the RSS.
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { Resolver } from 'node:dns/promises';
import { KubeRest } from '../../operator/kube/rest.ts';
import { waitUntil } from '../env/proc.ts';
import {
  DNS_SERVICE_IP,
  NODE_IP,
  NODE_NAME,
  kubernetesVersion,
  startCluster,
  type Cluster,
  type StopReport,
} from './cluster.ts';
import {
  HOST,
  LOCK_PATH,
  clusterProcesses,
  kubepodsCgroups,
  linkNames,
  mountsUnder,
  netnsNames,
  nftTables,
} from './host.ts';
import { ECHO_IMAGE, testImages } from './test-images.ts';

const dnsImage = process.env.KGW_COREDNS_IMAGE;
let cluster: Cluster;
let rest: KubeRest;
let podRunningMs = 0;
const figures: string[] = [];

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 3000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET until it answers 200 (bounded): a fresh Service's rules take a moment to be programmed. */
const getOk = (url: string, ms = 30_000): Promise<string> =>
  waitUntil(
    `GET ${url}`,
    async () => {
      const r = await httpGet(url);
      return r.status === 200 ? r.body : false;
    },
    { timeoutMs: ms, intervalMs: 200 },
  );

interface Pod {
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}
interface Service {
  spec?: { clusterIP?: string; ports?: { nodePort?: number }[] };
}

beforeAll(async () => {
  cluster = await startCluster({
    images: [testImages().echo],
    ...(dnsImage !== undefined ? { corednsImage: dnsImage } : {}),
  });
  rest = new KubeRest(cluster.kubeConfig());
}, 300_000);

afterAll(async () => {
  rest?.close();
  await cluster?.stop();
  if (figures.length > 0) process.stderr.write(`\n[cluster figures]\n${figures.join('\n')}\n`);
}, 120_000);

describe('a real single-node cluster', () => {
  it('reports the pinned version and registers its node Ready at the node address', async () => {
    const version = await rest.request<{ gitVersion: string; major: string; minor: string }>(
      'GET',
      '/version',
    );
    expect(version.gitVersion).toBe(kubernetesVersion());
    expect(`v${version.major}.${version.minor}.`).toBe(kubernetesVersion().replace(/\d+$/, ''));
    const node = await rest.request<{
      status: {
        addresses: { type: string; address: string }[];
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        conditions: { type: string; status: string }[];
      };
    }>('GET', `/api/v1/nodes/${NODE_NAME}`);
    expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: NODE_IP });
    expect(node.status.nodeInfo.kubeletVersion).toBe(kubernetesVersion());
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    const t = cluster.timings;
    figures.push(
      `start: apiserver ready ${t.apiserverReadyMs} ms, node Ready ${t.nodeReadyMs} ms, ` +
        `Pods creatable ${t.readyMs} ms${t.dnsReadyMs !== undefined ? `, CoreDNS ${t.dnsReadyMs} ms` : ''} ` +
        `(image imports ${t.imagesMs} ms)`,
    );
  });

  it('runs a Pod whose IP answers from the host', async () => {
    const t0 = Date.now();
    await rest.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'echo', labels: { app: 'echo' } },
      spec: {
        containers: [
          {
            name: 'echo',
            image: ECHO_IMAGE,
            imagePullPolicy: 'Never',
            ports: [{ containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 },
          },
        ],
        terminationGracePeriodSeconds: 1,
      },
    });
    const pod = await waitUntil(
      'Pod default/echo Running and Ready',
      async () => {
        const p = await rest.request<Pod>('GET', '/api/v1/namespaces/default/pods/echo');
        const ready = p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        return p.status?.phase === 'Running' && ready === true ? p : false;
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    podRunningMs = Date.now() - t0;
    figures.push(
      `Pod created → Running and Ready: ${podRunningMs} ms (cluster start → Pod Ready: ${cluster.timings.readyMs + podRunningMs} ms)`,
    );
    const ip = pod.status?.podIP ?? '';
    expect(ip).toMatch(/^198\.19\.0\.\d+$/);
    expect(await getOk(`http://${ip}:8080/hi`)).toBe('hello from echo GET /hi\n');
  });

  it('answers on a ClusterIP and a NodePort Service through kube-proxy', async () => {
    const svc = await rest.request<Service>('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'echo' },
      spec: { type: 'NodePort', selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const clusterIP = svc.spec?.clusterIP ?? '';
    const nodePort = svc.spec?.ports?.[0]?.nodePort ?? 0;
    // Service range 198.19.128.0/18
    expect(clusterIP).toMatch(/^198\.19\.(1[2-8]\d|19[01])\.\d+$/);
    expect(await getOk(`http://${clusterIP}/svc`)).toBe('hello from echo GET /svc\n');
    expect(await getOk(`http://${NODE_IP}:${nodePort}/np`)).toBe('hello from echo GET /np\n');
  });

  it('reaches a Service, the API server (kubernetes Service, service account token) and, with CoreDNS, a Service name from a Pod', async () => {
    const svc = await rest.request<Service>('GET', '/api/v1/namespaces/default/services/echo');
    const urls = [
      `http://${svc.spec?.clusterIP ?? ''}/from-pod`,
      'https://198.19.128.1/version',
      ...(dnsImage !== undefined ? ['http://echo.default.svc.cluster.local/by-name'] : []),
    ];
    await rest.request('POST', '/api/v1/namespaces/default/pods', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'client' },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'client', image: ECHO_IMAGE, imagePullPolicy: 'Never', args: ['get', ...urls] }],
      },
    });
    const phase = await waitUntil(
      'Pod default/client finished',
      async () => {
        const p = await rest.request<Pod>('GET', '/api/v1/namespaces/default/pods/client');
        const ph = p.status?.phase;
        return ph === 'Succeeded' || ph === 'Failed' ? ph : false;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const logs = await rest.request<string>('GET', '/api/v1/namespaces/default/pods/client/log');
    // the logs say which request failed
    expect(`${phase}: ${logs}`).toMatch(/^Succeeded: /);
    expect(logs).toContain(`/from-pod 200 hello from echo GET /from-pod`);
    expect(logs).toMatch(new RegExp(`/version 200 .*"gitVersion": "${kubernetesVersion()}"`));
    if (dnsImage !== undefined) expect(logs).toContain('/by-name 200 hello from echo GET /by-name');
  });

  it('serves API calls that go through the kubelet (Pod logs) and publishes the apiserver on the node address', async () => {
    const logs = await rest.request<string>('GET', '/api/v1/namespaces/default/pods/echo/log');
    expect(logs).toContain('echo listening on :8080');
    const ep = await rest.request<{ subsets: { addresses: { ip: string }[]; ports: { port: number }[] }[] }>(
      'GET',
      '/api/v1/namespaces/default/endpoints/kubernetes',
    );
    expect(ep.subsets[0]?.addresses[0]?.ip).toBe(NODE_IP);
    expect(`https://${NODE_IP}:${ep.subsets[0]?.ports[0]?.port ?? 0}`).toBe(cluster.server);
  });

  (dnsImage !== undefined ? it : it.skip)(
    'answers cluster names on the kube-dns Service (CoreDNS)',
    async () => {
      const resolver = new Resolver({ timeout: 2000, tries: 1 });
      resolver.setServers([DNS_SERVICE_IP]);
      const addrs = await waitUntil(
        'kubernetes.default.svc.cluster.local via 198.19.128.10',
        async () => resolver.resolve4('kubernetes.default.svc.cluster.local'),
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(addrs).toEqual(['198.19.128.1']);
    },
  );

  it('refuses a second cluster while this one runs', async () => {
    await expect(startCluster()).rejects.toThrow(/already running on this machine/);
  });

  it('stop() leaves nothing behind', async () => {
    const rss = cluster.rss();
    figures.push(
      `RSS: ${rss.processes.map((p) => `${p.name} ${p.rssMiB.toFixed(0)}`).join(', ')}, shims ${rss.shimsMiB.toFixed(0)}, ` +
        `pods cgroup ${rss.podsMiB.toFixed(0)} → ${rss.totalMiB.toFixed(0)} MiB`,
    );
    expect(rss.totalMiB).toBeGreaterThan(100);
    rest.close();
    const report: StopReport = await cluster.stop();
    figures.push(`stop: ${report.ms} ms`);
    expect(report.errors).toEqual([]);
    expect(report.leftovers).toEqual([]);
    // and checked here too, independently of the record
    const rec = cluster.record;
    expect(clusterProcesses(cluster.dir)).toEqual([]);
    expect(mountsUnder(cluster.dir)).toEqual([]);
    expect(existsSync(cluster.dir)).toBe(false);
    expect(linkNames().filter((l) => l === HOST.nodeBridge || l === HOST.cniBridge)).toEqual([]);
    expect(linkNames().filter((l) => l.startsWith('veth') && !rec.links.includes(l))).toEqual([]);
    expect(netnsNames().filter((n) => n.startsWith('cni-') && !rec.netns.includes(n))).toEqual([]);
    expect(nftTables().filter((t) => t.endsWith(' kube-proxy'))).toEqual([]);
    expect(kubepodsCgroups()).toEqual([]);
    expect(existsSync(LOCK_PATH)).toBe(false);
  });
});
