// Kubernetes Events (core/v1), what `kubectl describe` shows: kgw records state changes of the
// KIngresses and KnativeGateways it serves. Deduplicated like client-go's recorder: the same event
// (object, type, reason, message) again within the dedup window updates the existing Event's count
// and lastTimestamp instead of creating another; at most one write per event per 10 s; recording
// never blocks or fails the caller (errors are logged at debug and dropped: Events are best-effort).
// Events of cluster-scoped objects go to the `default` namespace, as Kubernetes does.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import { OPERATOR_NAME } from '../api/install.ts';
import type { KubeRest } from './rest.ts';

export interface EventObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorderOptions {
  rest: KubeRest;
  log: Logger;
  /** The reporting component (Event source and reportingController). */
  component?: string;
  /** Same event within this window is aggregated into one (default 10 min). */
  dedupMs?: number;
  /** At most one write per event within this (default 10 s). */
  minIntervalMs?: number;
  now?: () => number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  first: string;
  lastWrite: number;
  lastSeen: number;
}

/** Kubernetes caps Event messages at 1 KiB in practice (events.k8s.io note is 1 KB). */
const MAX_MESSAGE = 1024;
const MAX_TRACKED = 4096;

export class EventRecorder {
  private readonly o: EventRecorderOptions;
  private readonly seen = new Map<string, Seen>();
  private chain: Promise<void> = Promise.resolve();

  constructor(o: EventRecorderOptions) {
    this.o = o;
  }

  /** Records an event about `obj` (fire and forget). */
  record(obj: EventObject, type: EventType, reason: string, message: string): void {
    this.chain = this.chain.then(() => this.write(obj, type, reason, message.slice(0, MAX_MESSAGE)));
  }

  /** Resolves once every event recorded so far has been written (or dropped). */
  flushed(): Promise<void> {
    return this.chain;
  }

  private async write(obj: EventObject, type: EventType, reason: string, message: string): Promise<void> {
    const nowMs = (this.o.now ?? Date.now)();
    const ts = new Date(nowMs).toISOString();
    const namespace = obj.metadata.namespace ?? 'default';
    const key = [obj.kind, namespace, obj.metadata.name, obj.metadata.uid ?? '', type, reason, message].join(
      '\u0000',
    );
    const dedup = this.o.dedupMs ?? 600_000;
    const prev = this.seen.get(key);
    const component = this.o.component ?? OPERATOR_NAME;
    try {
      if (prev && nowMs - prev.lastSeen < dedup) {
        prev.count++;
        prev.lastSeen = nowMs;
        if (nowMs - prev.lastWrite < (this.o.minIntervalMs ?? 10_000)) return;
        prev.lastWrite = nowMs;
        await this.o.rest.request(
          'PATCH',
          `/api/v1/namespaces/${prev.namespace}/events/${prev.name}`,
          { count: prev.count, lastTimestamp: ts },
          'application/merge-patch+json',
        );
        return;
      }
      const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
      if (this.seen.size >= MAX_TRACKED) this.seen.delete(this.seen.keys().next().value ?? '');
      this.seen.set(key, { name, namespace, count: 1, first: ts, lastWrite: nowMs, lastSeen: nowMs });
      await this.o.rest.request('POST', `/api/v1/namespaces/${namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          ...(obj.metadata.namespace !== undefined ? { namespace: obj.metadata.namespace } : {}),
          ...(obj.metadata.uid !== undefined ? { uid: obj.metadata.uid } : {}),
          ...(obj.metadata.resourceVersion !== undefined
            ? { resourceVersion: obj.metadata.resourceVersion }
            : {}),
        },
        type,
        reason,
        message,
        source: { component },
        reportingComponent: component,
        reportingInstance: component,
        count: 1,
        firstTimestamp: ts,
        lastTimestamp: ts,
      });
    } catch (err) {
      this.o.log.debug(
        { kind: obj.kind, name: obj.metadata.name, reason, err: String(err) },
        'event not recorded',
      );
    }
  }
}
