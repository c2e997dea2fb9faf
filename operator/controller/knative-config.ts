// Writes the Knative Serving configuration a KnativeGateway owns (config-network keys and, when it
// sets a default domain, config-domain; see api/knativegateway-knative.ts for what and why) and
// puts it back when someone changes it. Both ConfigMaps are watched; any difference from what the
// gateway wants is applied with server-side apply (field manager `kgw`: kgw owns exactly its keys,
// and a key it stops wanting is released), and keys foreign to the exclusive config-domain are
// removed. A difference in a ConfigMap kgw had already written (its managedFields name `kgw`) is
// drift: it is logged and reported on the gateway's KnativeConfigured condition.
//
// Only one KnativeGateway can configure Knative (there is one config-network): among those with
// `knative.configure: true` the oldest wins; the others report KnativeConfigured False.
//
// Watches are per Knative namespace (the owner's `spec.knative.namespace`), by name: RBAC lets kgw
// read and write only config-network and config-domain, and only where an admin bound the
// ClusterRole kgw-knative-config (the release manifest does so in knative-serving); a namespace
// where it may not is reported (KnativeNamespaceForbidden, with the command). The same watch
// follows KnativeServing objects there: under the Knative Operator kgw writes nothing and reports
// ManagedByKnativeOperator (knative-operator.ts). Without the Knative Operator's CRD the 404 is
// expected and quiet. Nothing is written before these watches have listed.
import { resolveGateways } from '../api/gateway-selection.ts';
import {
  CONFIG_DOMAIN,
  CONFIG_NETWORK,
  desiredConfigDomain,
  desiredConfigNetwork,
  knativeConfigDrift,
  type ConfigDrift,
  type KnativeConfigMap,
} from '../api/knativegateway-knative.ts';
import {
  CONDITION_KNATIVE_CONFIGURED,
  withGatewayDefaults,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import {
  KNATIVE_CONFIG_ROLE,
  isForbidden,
  operatorServiceAccount,
  roleBindingCommand,
  type ServiceAccountRef,
} from '../kube/access.ts';
import { ApiError, type KubeRest } from '../kube/rest.ts';
import { Reflector, type KubeObject } from '../kube/reflector.ts';
import type { Logger } from '../log.ts';
import type { KnativeObservation } from './gateway-status.ts';
import {
  KNATIVE_SERVING_API,
  KNATIVE_SERVING_PLURAL,
  knativeServingManager,
  standDown,
} from './knative-operator.ts';

export const FIELD_MANAGER = 'kgw';
/** How long a failed write is reported as it is before it is tried again (unless a ConfigMap changes). */
export const FAILURE_RETRY_MS = 10_000;

interface ConfigMapObject extends KubeObject {
  data?: Record<string, string>;
  metadata: KubeObject['metadata'] & {
    managedFields?: { manager?: string }[];
    ownerReferences?: { apiVersion?: string; kind?: string; name?: string }[];
  };
}

/** The watches of one Knative namespace: its two ConfigMaps (by name) and its KnativeServings. */
interface NamespaceWatch {
  configMaps: Reflector<ConfigMapObject>[];
  servings: Reflector<KubeObject>;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.status === 404;
}

/** Why kgw may not configure Knative in `namespace`, and the command that lets it. */
export function knativeForbiddenMessage(namespace: string, sa: ServiceAccountRef): string {
  return (
    `kgw may not read or write Knative's config-network and config-domain in ${namespace}: its ` +
    `ServiceAccount ${sa.namespace}/${sa.name} is not bound to ClusterRole ${KNATIVE_CONFIG_ROLE} there. ` +
    `To allow it: ${roleBindingCommand(namespace, KNATIVE_CONFIG_ROLE, sa)}`
  );
}

/** One correction of drift, for the status message and the log. */
export interface DriftCorrection {
  configMap: string;
  drift: ConfigDrift[];
  at: string;
}

function describeDrift(c: DriftCorrection): string {
  const keys = c.drift.map((d) =>
    d.desired === undefined
      ? `${d.key} (foreign key removed)`
      : d.actual === undefined
        ? `${d.key} (was missing)`
        : `${d.key} (was ${JSON.stringify(d.actual.slice(0, 60))})`,
  );
  return `${c.configMap}: ${keys.join(', ')}`;
}

/** Which gateway configures Knative (api/gateway-selection.ts); the rest are told who does. */
export function knativeOwner(gateways: readonly KnativeGateway[]): string | undefined {
  return resolveGateways(gateways).knativeOwner?.metadata.name;
}

export interface KnativeConfigWriterOptions {
  rest: KubeRest;
  log: Logger;
  /** Called when a watched ConfigMap changes (the caller reconciles again). */
  onChange(): void;
  now?: () => string;
  /** Monotonic milliseconds for the retry delay (default performance.now). */
  monotonic?: () => number;
  /** The operator's ServiceAccount, named in fix-it commands (default: from POD_NAMESPACE / POD_SERVICE_ACCOUNT). */
  serviceAccount?: ServiceAccountRef;
}

export class KnativeConfigWriter {
  private readonly o: KnativeConfigWriterOptions;
  private readonly sa: ServiceAccountRef;
  /** Knative namespace → its watches (only the owner's namespace is kept). */
  private readonly watches = new Map<string, NamespaceWatch>();
  private stopped = false;
  /** Knative namespaces reported as forbidden (logged once; the reflectors retry quietly). */
  private readonly forbidden = new Set<string>();
  /**
   * Gateway → its last failed write (reported as it is, without a request or a log line, until
   * FAILURE_RETRY_MS have passed or a watched ConfigMap changes: the status pass runs every 2 s).
   */
  private readonly failures = new Map<string, { at: number; result: KnativeObservation }>();
  /** ConfigMap → the resourceVersion last corrected (a stale cache never counts twice). */
  private readonly handled = new Map<string, string>();
  /** Drift corrected so far, per gateway (count and the last one). */
  private readonly corrections = new Map<string, { count: number; last: DriftCorrection }>();

  private readonly monotonic: () => number;

  constructor(o: KnativeConfigWriterOptions) {
    this.o = o;
    this.sa = o.serviceAccount ?? operatorServiceAccount();
    this.monotonic = o.monotonic ?? (() => performance.now());
  }

  /** Nothing to start: the watches follow the Knative namespace the owning gateway names. */
  async start(): Promise<void> {
    this.stopped = false;
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.watches.keys()];
    await Promise.all(all.map((ns) => this.unwatch(ns)));
  }

  /** The watches of `namespace`, started on first use. */
  private watch(namespace: string): NamespaceWatch {
    let w = this.watches.get(namespace);
    if (w !== undefined) return w;
    const ns = encodeURIComponent(namespace);
    const changed = () => {
      this.failures.clear(); // a ConfigMap or KnativeServing appeared or changed: try again at once
      this.o.onChange();
    };
    const configMaps = [CONFIG_NETWORK, CONFIG_DOMAIN].map(
      (name) =>
        new Reflector<ConfigMapObject>(this.o.rest, {
          path: `/api/v1/namespaces/${ns}/configmaps`,
          fieldSelector: `metadata.name=${name}`,
          log: this.o.log,
          quiet: isForbidden, // reported on the gateway and logged once by view()
        }),
    );
    // 404: the Knative Operator's CRD is not installed, the usual case.
    const servings = new Reflector<KubeObject>(this.o.rest, {
      path: `${KNATIVE_SERVING_API}/namespaces/${ns}/${KNATIVE_SERVING_PLURAL}`,
      log: this.o.log,
      quiet: (err) => isNotFound(err) || isForbidden(err),
    });
    w = { configMaps, servings };
    for (const r of [...configMaps, servings]) {
      r.onEvent(changed);
      void r.synced.then(changed);
      r.start();
    }
    this.watches.set(namespace, w);
    return w;
  }

  private async unwatch(namespace: string): Promise<void> {
    const w = this.watches.get(namespace);
    if (w === undefined) return;
    this.watches.delete(namespace);
    await Promise.all([...w.configMaps, w.servings].map((r) => r.stop()));
  }

  /** Stops watching every Knative namespace but `keep`. */
  private keepOnly(keep: string | undefined): void {
    for (const ns of [...this.watches.keys()]) {
      if (ns !== keep) void this.unwatch(ns).catch(() => undefined);
    }
  }

  private cached(ns: string, name: string): ConfigMapObject | undefined {
    for (const r of this.watches.get(ns)?.configMaps ?? []) {
      const o = r.store.get(`${ns}/${name}`);
      if (o) return o;
    }
    return undefined;
  }

  /**
   * What the watches of `namespace` know: `forbidden` (kgw may not read there), `waiting` (not
   * listed yet), or the KnativeServing that manages it (undefined: none, or the API is absent).
   */
  private view(namespace: string): { state: 'forbidden' | 'waiting' | 'ready'; manager?: string } {
    const w = this.watch(namespace);
    const readers = [...w.configMaps, w.servings];
    if (readers.some((r) => isForbidden(r.lastError))) {
      if (!this.forbidden.has(namespace)) {
        this.forbidden.add(namespace);
        this.o.log.warn({ namespace }, knativeForbiddenMessage(namespace, this.sa));
      }
      return { state: 'forbidden' };
    }
    this.forbidden.delete(namespace);
    const servingsKnown = w.servings.hasSynced || isNotFound(w.servings.lastError);
    if (!w.configMaps.every((r) => r.hasSynced) || !servingsKnown) return { state: 'waiting' };
    const manager = knativeServingManager(
      namespace,
      [...w.servings.store.values()],
      [CONFIG_NETWORK, CONFIG_DOMAIN].map((n) => this.cached(namespace, n)),
    );
    return manager === undefined ? { state: 'ready' } : { state: 'ready', manager };
  }

  /**
   * Brings Knative's ConfigMaps in line with `gw` (which must be the owner, see knativeOwner) and
   * returns its KnativeConfigured condition. Does nothing but report when the gateway does not
   * configure Knative.
   */
  async reconcile(gw: KnativeGateway, owner: string | undefined): Promise<KnativeObservation> {
    const name = gw.metadata.name;
    const spec = withGatewayDefaults(gw.spec);
    if (owner === undefined) this.keepOnly(undefined);
    if (!spec.knative.configure) {
      return {
        status: 'True',
        reason: 'NotManaged',
        message: 'spec.knative.configure is false: kgw leaves Knative’s ConfigMaps alone',
      };
    }
    if (owner !== name) {
      return {
        status: 'False',
        reason: 'ConfiguredByAnotherGateway',
        message:
          `Knative is configured by KnativeGateway ${owner ?? '?'} (the oldest with knative.configure); ` +
          `set spec.knative.configure: false on this one`,
      };
    }
    const wanted = [desiredConfigNetwork(gw), desiredConfigDomain(gw)].filter(
      (x): x is KnativeConfigMap => x !== undefined,
    );
    const namespace = spec.knative.namespace;
    if (this.stopped) return this.previous(gw);
    this.keepOnly(namespace);
    const seen = this.view(namespace);
    if (seen.state === 'forbidden') {
      return {
        status: 'False',
        reason: 'KnativeNamespaceForbidden',
        message: knativeForbiddenMessage(namespace, this.sa),
      };
    }
    if (seen.state === 'waiting') return this.previous(gw);
    if (seen.manager !== undefined) {
      return standDown(seen.manager, wanted, (n) => this.cached(namespace, n));
    }
    const failed = this.failures.get(name);
    if (failed && this.monotonic() - failed.at < FAILURE_RETRY_MS) return failed.result;
    for (const want of wanted) {
      try {
        await this.write(name, want);
      } catch (err) {
        const notFound = isNotFound(err);
        const forbidden = isForbidden(err);
        const message = notFound
          ? `namespace ${want.namespace} not found: is Knative Serving installed? (spec.knative.namespace)`
          : forbidden
            ? knativeForbiddenMessage(want.namespace, this.sa)
            : `writing ${want.namespace}/${want.name}: ${err instanceof Error ? err.message : String(err)}`;
        const result: KnativeObservation = {
          status: 'False',
          reason: notFound ? 'NamespaceNotFound' : forbidden ? 'KnativeNamespaceForbidden' : 'WriteFailed',
          message,
        };
        if (failed?.result.message !== message) {
          this.o.log.warn(
            { gateway: name, namespace: want.namespace, name: want.name, err: String(err) },
            message,
          );
        }
        this.failures.set(name, { at: this.monotonic(), result });
        return result;
      }
    }
    this.failures.delete(name);
    const names = wanted.map((w) => `${w.namespace}/${w.name}`).join(' and ');
    const c = this.corrections.get(name);
    return {
      status: 'True',
      reason: c ? 'DriftCorrected' : 'Configured',
      message: c
        ? `${names} up to date; drift corrected ${c.count} time(s), last at ${c.last.at}: ${describeDrift(c.last)}`
        : `${names} up to date`,
    };
  }

  /** The condition as last reported (until the watches have listed), or Unknown. */
  private previous(gw: KnativeGateway): KnativeObservation {
    const c = gw.status?.conditions?.find((x) => x.type === CONDITION_KNATIVE_CONFIGURED);
    if (c === undefined) {
      return { status: 'Unknown', reason: 'Syncing', message: 'reading Knative Serving’s configuration' };
    }
    return {
      status: c.status,
      ...(c.reason !== undefined ? { reason: c.reason } : {}),
      ...(c.message !== undefined ? { message: c.message } : {}),
    };
  }

  private async write(gateway: string, want: KnativeConfigMap): Promise<void> {
    const cur = this.cached(want.namespace, want.name);
    const drift = knativeConfigDrift(cur?.data, want);
    if (drift.length === 0) return;
    const cmKey = `${want.namespace}/${want.name}`;
    const rv = cur?.metadata.resourceVersion;
    if (rv !== undefined && this.handled.get(cmKey) === rv) return; // written; the watch lags
    const path = `/api/v1/namespaces/${want.namespace}/configmaps/${want.name}`;
    await this.o.rest.request(
      'PATCH',
      path,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: want.name, namespace: want.namespace },
        data: want.data,
      },
      'application/apply-patch+yaml',
      { fieldManager: FIELD_MANAGER, force: true },
    );
    const foreign = drift.filter((d) => d.desired === undefined).map((d) => d.key);
    if (foreign.length > 0) {
      await this.o.rest.request(
        'PATCH',
        path,
        { data: Object.fromEntries(foreign.map((k) => [k, null])) },
        'application/merge-patch+json',
      );
    }
    if (rv !== undefined) this.handled.set(cmKey, rv);
    const ours = (cur?.metadata.managedFields ?? []).some((f) => f.manager === FIELD_MANAGER);
    const keys = drift.map((d) => d.key);
    if (cur && ours) {
      const at = (this.o.now ?? (() => new Date().toISOString()))();
      const last = { configMap: `${want.namespace}/${want.name}`, drift, at };
      const prev = this.corrections.get(gateway);
      this.corrections.set(gateway, { count: (prev?.count ?? 0) + 1, last });
      this.o.log.warn(
        { gateway, namespace: want.namespace, name: want.name, drift },
        'Knative configuration drifted; corrected',
      );
    } else {
      this.o.log.info(
        { gateway, namespace: want.namespace, name: want.name, keys },
        'Knative configuration written',
      );
    }
  }
}
