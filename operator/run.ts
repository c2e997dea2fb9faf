// Wires the operator together: API client, xDS server, fleet runtime and engine. Used by the
// `kgw operator` command, the demo and the end-to-end tests.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Engine } from './controller/engine.ts';
import { gatewayConfig } from './controller/gateways.ts';
import { LocalFleetRuntime } from './fleets/local.ts';
import { LocalNetwork } from './fleets/network.ts';
import type { Logger } from './log.ts';
import { KubeRest } from './kube/rest.ts';
import { XdsServer } from './xds/server.ts';

export interface OperatorOptions {
  kubeconfig: string;
  runtime: 'local';
  envoyBin: string;
  workDir: string;
  log: Logger;
  /** Reuse an existing local network (tests share one with their backends). */
  network?: LocalNetwork;
  envoyLogLevel?: string;
  /** Envoy's xDS flavour (default delta). */
  xdsProtocol?: 'delta' | 'sotw';
}

export interface RunningOperator {
  engine: Engine;
  xds: XdsServer;
  network: LocalNetwork;
  /** Stops the operator; with keepFleets the Envoy replicas keep running for a successor. */
  stop(opts?: { keepFleets?: boolean }): Promise<void>;
}

export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const kc = new KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const rest = new KubeRest(kc);
  mkdirSync(o.workDir, { recursive: true });
  const xdsSocket = join(o.workDir, 'xds.sock');
  rmSync(xdsSocket, { force: true });
  const xds = new XdsServer({ log: o.log.child({ component: 'xds' }) });
  await xds.listen(`unix:${xdsSocket}`);
  const ownNetwork = !o.network;
  const network = o.network ?? (await LocalNetwork.create());
  const runtime = new LocalFleetRuntime({
    network,
    rest,
    envoyBin: o.envoyBin,
    xdsSocket,
    workDir: join(o.workDir, 'envoy'),
    log: o.log.child({ component: 'fleets' }),
    ...(o.envoyLogLevel ? { envoyLogLevel: o.envoyLogLevel } : {}),
    ...(o.xdsProtocol ? { xdsProtocol: o.xdsProtocol } : {}),
  });
  const engine = new Engine({
    rest,
    log: o.log.child({ component: 'engine' }),
    xds: {
      setSnapshot: (f, r) => xds.setSnapshot(f, r),
      markSynced: () => xds.markSynced(),
      snapshotVersion: (f, t) => xds.snapshotVersion(f, t),
      onAck: (cb) => xds.onAck(cb),
      onNack: (cb) => xds.onNack(cb),
      connections: () => xds.connections(),
    },
    runtime,
    gatewayConfig: (obj) => gatewayConfig(obj, o.log),
  });
  await engine.start();
  o.log.info({ xdsSocket, subnet: `198.18.${network.subnet}.0/24` }, 'operator started');
  return {
    engine,
    xds,
    network,
    async stop(opts = {}) {
      await engine.stop();
      await runtime.close({ keepReplicas: opts.keepFleets === true });
      await xds.close();
      if (ownNetwork && !opts.keepFleets) await network.destroy();
    },
  };
}
