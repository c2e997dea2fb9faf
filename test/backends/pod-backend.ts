// One backend (main.ts) as a pod would run it: a process in its own network namespace of a local
// network, plus the Service and EndpointSlice that point at it, so a KIngress can route to it.
// Used by the e2e harness and `npm run demo`.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { LocalNetwork, Pod } from '../../operator/fleets/network.ts';
import type { KubeRest } from '../../operator/kube/rest.ts';
import type { BackendKind } from './server.ts';

const START_TIMEOUT_MS = 20_000;

export interface PodBackendSpec {
  name: string;
  namespace: string;
  kind?: BackendKind;
  suffix?: string;
  /** Service port (default 80) and its name (default http). */
  servicePort?: number;
  portName?: string;
  appProtocol?: string;
  containerPort?: number;
  gateway?: string;
  targetHost?: string;
}

export interface PodBackend {
  name: string;
  pod: Pod;
  proc: ChildProcess;
  address: string;
  port: number;
  stop(): Promise<void>;
}

/** Where the backend's pod goes and where its Service and EndpointSlice are created. */
export interface PodBackendEnv {
  network: LocalNetwork;
  rest: KubeRest;
}

/** Starts the backend in a new pod (resolves once it prints READY, at most 20 s) and publishes it. */
export async function startPodBackend(env: PodBackendEnv, spec: PodBackendSpec): Promise<PodBackend> {
  const ns = spec.namespace;
  const port = spec.containerPort ?? 8000;
  const pod = await env.network.addPod(`backend-${spec.name}`);
  const args = [
    join(import.meta.dirname, 'main.ts'),
    '--kind',
    spec.kind ?? 'runtime',
    '--host',
    pod.address,
    '--port',
    String(port),
    // `--suffix=<s>` form: suffixes like `- pong` start with a dash, which parseArgs rejects as
    // an ambiguous separate argument.
    `--suffix=${spec.suffix ?? spec.name}`,
  ];
  if (spec.gateway) args.push('--gateway', spec.gateway);
  if (spec.targetHost) args.push('--target-host', spec.targetHost);
  const proc = pod.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await untilReady(spec.name, proc);
  } catch (err) {
    await pod.destroy();
    throw err;
  }
  const portName = spec.portName ?? 'http';
  await env.rest.request('POST', `/api/v1/namespaces/${ns}/services`, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: spec.name, namespace: ns },
    spec: {
      ports: [
        {
          name: portName,
          port: spec.servicePort ?? 80,
          targetPort: port,
          ...(spec.appProtocol ? { appProtocol: spec.appProtocol } : {}),
        },
      ],
    },
  });
  await env.rest.request('POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${spec.name}-1`, namespace: ns, labels: { 'kubernetes.io/service-name': spec.name } },
    addressType: 'IPv4',
    ports: [{ name: portName, port }],
    endpoints: [{ addresses: [pod.address], conditions: { ready: true } }],
  });
  return {
    name: spec.name,
    pod,
    proc,
    address: pod.address,
    port,
    async stop() {
      proc.kill('SIGTERM');
      await pod.destroy();
    },
  };
}

function untilReady(name: string, proc: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`backend ${name} did not start`)), START_TIMEOUT_MS);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`backend ${name} exited with ${code}`));
    });
  });
}
