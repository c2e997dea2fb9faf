// What the next flush has to do, as the cluster's changes mark it (the engine flushes;
// flush-scheduler.ts decides when): KIngresses to translate again, KIngresses whose status goes
// to the status writer, Services whose endpoints and Secrets whose data changed, and whether the
// served gateways must be selected again. Which watch event marks what:
// - a KIngress is translated again, unless it is served already and neither its generation, its
//   ingress class nor its routing annotations (kgw.dev/routing-rules, tag-to-host) changed
//   (annotations change no generation, but the class decides who serves it and the others how it
//   is routed): then only its status changed (often kgw's own write), and a status that differs from the
//   one before goes back to the status writer;
// - a KnativeGateway has the gateways selected again, unless only its status changed (same
//   generation and labels);
// - a Service, a Secret, a host or a namespace: the KIngresses that read it (dependencies.ts);
//   a Service's endpoints also the KIngresses waiting for them (endpoint-wait.ts).
// Each of these wakes the flush (`wake`); marks set directly on the sets do not.
import { INGRESS_CLASS_ANNOTATION, ingressKey, type KIngress } from '../api/kingress.ts';
import type { KubeObject, ReflectorEvent } from '../kube/reflector.ts';
import { sameStatus } from '../status/conditions.ts';
import { ROUTING_RULES_ANNOTATION, TAG_TO_HOST_ANNOTATION } from '../translate/routing-rules.ts';
import { SECRET_REF, SERVICE_REF, type DependencyIndex } from './dependencies.ts';

/** Annotations translation routes by (gray release); changing them changes no generation. */
const ROUTING_ANNOTATIONS = [ROUTING_RULES_ANNOTATION, TAG_TO_HOST_ANNOTATION] as const;

export interface FlushMarksOptions {
  /** Which KIngresses read a ref (`svc:<ns>/<name>`, `secret:<ns>/<name>`, `host:<h>`, `ns:<n>`). */
  deps: Pick<DependencyIndex, 'usersOf' | 'has'>;
  /** Whether the pipeline serves the KIngress already. */
  served(key: string): boolean;
  /** Something was marked: a flush is needed. */
  wake(): void;
}

export class FlushMarks {
  private readonly o: FlushMarksOptions;
  /** KIngresses to translate again. */
  readonly ingresses = new Set<string>();
  /** KIngresses whose status goes to the status writer. */
  readonly statuses = new Set<string>();
  /** Services (`<ns>/<name>`) whose EndpointSlices changed. */
  readonly endpoints = new Set<string>();
  /** Secrets (`<ns>/<name>`) whose data changed. */
  readonly secrets = new Set<string>();
  /** The served gateways must be selected again (at first, too). */
  gateways = true;

  constructor(o: FlushMarksOptions) {
    this.o = o;
  }

  /** A KIngress is to be translated again (e.g. the endpoints it waited for arrived). */
  translate(key: string): void {
    this.ingresses.add(key);
    this.o.wake();
  }

  /** A KIngress event; true when it is to be translated again (not a status-only change). */
  ingressEvent(e: ReflectorEvent<KIngress & KubeObject>): boolean {
    const k = ingressKey(e.obj);
    const classOf = (i: KIngress) => i.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
    const routingOf = (i: KIngress) =>
      JSON.stringify(ROUTING_ANNOTATIONS.map((a) => i.metadata.annotations?.[a] ?? null));
    const statusOnly =
      e.type === 'upsert' &&
      e.old !== undefined &&
      e.old.metadata.generation === e.obj.metadata.generation &&
      classOf(e.old) === classOf(e.obj) &&
      routingOf(e.old) === routingOf(e.obj) &&
      this.o.served(k);
    if (statusOnly) {
      if (!sameStatus(e.old?.status, e.obj.status ?? {})) this.statuses.add(k);
    } else {
      this.ingresses.add(k);
    }
    this.o.wake();
    return !statusOnly;
  }

  /** A KnativeGateway event: the gateways are selected again unless only its status changed. */
  gatewayEvent(e: ReflectorEvent<KubeObject>): void {
    if (e.type === 'upsert' && e.old && e.old.metadata.generation === e.obj.metadata.generation) {
      const labels = (o: KubeObject) => JSON.stringify(o.metadata.labels ?? {});
      if (labels(e.old) === labels(e.obj)) return;
    }
    this.gateways = true;
    this.o.wake();
  }

  /** A Service changed: its readers are translated again. */
  serviceChanged(obj: KubeObject): void {
    this.readersOf([`${SERVICE_REF}${obj.metadata.namespace ?? ''}/${obj.metadata.name}`]);
    this.o.wake();
  }

  /** A Service's EndpointSlices changed; `waiting`: the KIngresses waiting for its endpoints. */
  endpointsChanged(service: string, waiting: Iterable<string>): void {
    this.endpoints.add(service);
    for (const k of waiting) this.ingresses.add(k);
    this.o.wake();
  }

  /**
   * A Secret kgw keeps changed: its readers are translated again, and the flush re-renders what
   * uses its data (KIngress TLS, or a gateway's `defaultCertificate`).
   */
  secretChanged(secret: string, defaultCertificate: boolean): void {
    const ref = `${SECRET_REF}${secret}`;
    if (defaultCertificate || this.o.deps.has(ref)) this.secrets.add(secret);
    this.readersOf([ref]);
    this.o.wake();
  }

  /** KIngresses that read any of `refs` are translated again (the flush wakes only if there are any). */
  invalidate(refs: readonly string[]): void {
    if (this.readersOf(refs)) this.o.wake();
  }

  /** Yields and unmarks each KIngress to translate; one marked again meanwhile is yielded too. */
  *drainIngresses(): Generator<string> {
    for (const k of this.ingresses) {
      this.ingresses.delete(k);
      yield k;
    }
  }

  private readersOf(refs: readonly string[]): boolean {
    let found = false;
    for (const r of refs) {
      for (const k of this.o.deps.usersOf(r)) {
        this.ingresses.add(k);
        found = true;
      }
    }
    return found;
  }
}
