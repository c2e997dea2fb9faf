// The replicas of the Kubernetes fleets: a reflector on kgw-labelled Pods, grouped by their
// gateway and fleet labels (`<gateway>/<fleet>`). A pod is ready when its Ready condition is True
// (the readiness probe passes only once Envoy received its configuration, see
// kubernetes-objects.ts), it has an IP and is not being deleted. Listeners hear of each fleet whose
// replicas changed (address or readiness), not of every pod event.
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_FLEET, LABEL_GATEWAY, fleetXdsCluster } from '../api/knativegateway.ts';
import { Reflector, objectKey, type KubeObject, type ReflectorEvent } from '../kube/reflector.ts';
import type { KubeRest } from '../kube/rest.ts';
import type { Logger } from '../log.ts';
import type { Replica } from './runtime.ts';

type PodObject = V1Pod & KubeObject;

/** A Pod as a replica: ready when Ready is True, it has an IP and is not terminating. */
export function podReplica(pod: V1Pod): Replica {
  const address = pod.status?.podIP ?? '';
  const readyCond = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    id: pod.metadata?.name ?? '',
    address,
    ready: readyCond && address !== '' && pod.metadata?.deletionTimestamp == null,
  };
}

/** The fleet key (`<gateway>/<fleet>`) of a kgw pod, from its labels. */
function podFleetKey(pod: V1Pod): string | undefined {
  const labels = pod.metadata?.labels ?? {};
  const gateway = labels[LABEL_GATEWAY];
  const fleet = labels[LABEL_FLEET];
  if (gateway === undefined || fleet === undefined || gateway === '' || fleet === '') return undefined;
  return fleetXdsCluster(gateway, fleet);
}

export class PodReplicas {
  private readonly log: Logger;
  private readonly pods: Reflector<PodObject>;
  private readonly listeners: ((fleetKey: string) => void)[] = [];
  /** Pod key (`<namespace>/<name>`) → its fleet key and replica as last reported. */
  private readonly podIndex = new Map<string, { fleetKey: string; replica: Replica }>();
  /** fleet key → pod key → replica. */
  private readonly fleetPods = new Map<string, Map<string, Replica>>();

  constructor(rest: KubeRest, labelSelector: string, log: Logger) {
    this.log = log;
    this.pods = new Reflector<PodObject>(rest, { path: '/api/v1/pods', labelSelector, log });
    this.pods.onEvent((e) => this.onPodEvent(e));
  }

  start(): void {
    this.pods.start();
  }

  get synced(): Promise<void> {
    return this.pods.synced;
  }

  /** Pods in the cache. */
  get size(): number {
    return this.pods.store.size;
  }

  stop(): Promise<void> {
    return this.pods.stop();
  }

  onChange(cb: (fleetKey: string) => void): void {
    this.listeners.push(cb);
  }

  /** The fleet's replicas, by pod name. */
  replicas(fleetKey: string): Replica[] {
    const m = this.fleetPods.get(fleetKey);
    if (m === undefined) return [];
    return [...m.values()].map((r) => ({ ...r })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private onPodEvent(e: ReflectorEvent<PodObject>): void {
    const key = objectKey(e.obj);
    const before = this.podIndex.get(key);
    const fleetKey = e.type === 'delete' ? undefined : podFleetKey(e.obj);
    const replica = e.type === 'delete' || fleetKey === undefined ? undefined : podReplica(e.obj);
    const changed = new Set<string>();
    if (before !== undefined && (fleetKey !== before.fleetKey || replica === undefined)) {
      const m = this.fleetPods.get(before.fleetKey);
      m?.delete(key);
      if (m?.size === 0) this.fleetPods.delete(before.fleetKey);
      this.podIndex.delete(key);
      changed.add(before.fleetKey);
    }
    if (fleetKey !== undefined && replica !== undefined) {
      const same =
        before !== undefined &&
        before.fleetKey === fleetKey &&
        before.replica.address === replica.address &&
        before.replica.ready === replica.ready;
      if (!same) {
        const m = this.fleetPods.get(fleetKey) ?? new Map<string, Replica>();
        m.set(key, replica);
        this.fleetPods.set(fleetKey, m);
        this.podIndex.set(key, { fleetKey, replica });
        changed.add(fleetKey);
      }
    }
    for (const k of changed) {
      for (const l of this.listeners) {
        try {
          l(k);
        } catch (err) {
          this.log.error({ err: String(err), fleet: k }, 'replica change listener failed');
        }
      }
    }
  }
}
