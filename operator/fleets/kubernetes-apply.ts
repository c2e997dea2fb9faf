// Writes a gateway's fleet objects (kubernetes-objects.ts) with server-side apply (field manager
// `kgw`, force: kgw owns the fields it sets and puts them back when someone changes them) and
// removes the ones the spec no longer asks for. Rules:
// - An existing object kgw did not create is never changed: before applying, each object is read;
//   one without kgw's labels (managed-by kgw, this gateway, this fleet) or without an owner
//   reference to a KnativeGateway of this name is reported (NotOwned) and its whole fleet is left
//   alone. (A namesake gateway's leftover, same name but an older uid, is adopted.)
// - Deletion (fleets removed from the spec, a HorizontalPodAutoscaler or PodDisruptionBudget no
//   longer wanted, objects left in a previous namespace) only touches objects that carry kgw's
//   labels for this gateway AND an ownerReference with this gateway's uid, with a uid
//   precondition so a recreated object is never hit. Deployments and Services are listed
//   cluster-wide (kgw may read them everywhere: backends, drift watches); the other kinds only in
//   the namespaces where this gateway has fleets now or a Deployment or Service left over, since
//   kgw may read those kinds only where an admin let it manage fleets (RBAC).
// - Handing the replica count to a HorizontalPodAutoscaler: when kgw's applied configuration drops
//   `spec.replicas`, server-side apply would remove the field and the Deployment would fall back
//   to 1 replica. So kgw first gives the current value a second owner (field manager
//   `kgw-replicas-handover`), then applies without it; the HPA takes it from there. A new
//   autoscaled Deployment is likewise set to minReplicas by that manager right after creation.
// One object's failure does not stop the others; every problem is returned.
import { ApiError, getIfExists } from '../kube/rest.ts';
import {
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  MANAGED_BY_KGW,
  GATEWAY_GROUP,
  GATEWAY_KIND,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { FLEET_KINDS, fleetObjectList, type FleetObject, type FleetObjects } from './kubernetes-objects.ts';

export const FIELD_MANAGER = 'kgw';
export const HANDOVER_FIELD_MANAGER = 'kgw-replicas-handover';

/** The part of kgw's REST client this module needs (KubeRest satisfies it). */
export interface KubeClient {
  request<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
    query?: Record<string, string | number | boolean | undefined>,
  ): Promise<T>;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export type ApplyAction = 'created' | 'updated' | 'unchanged';

export interface ApplyProblem {
  ref: ObjectRef;
  /** The fleet the object belongs to (absent for a leftover whose fleet label is missing). */
  fleet?: string;
  /**
   * NotOwned: the object exists and kgw did not create it (untouched, fleet skipped).
   * ApplyFailed / DeleteFailed / ListFailed: the API server refused or could not be reached.
   */
  reason: 'NotOwned' | 'ApplyFailed' | 'DeleteFailed' | 'ListFailed';
  message: string;
  /** The API server's HTTP status when it refused (403: kgw may not do this there). */
  status?: number;
}

export interface FleetApplyResult {
  applied: { ref: ObjectRef; fleet: string; action: ApplyAction }[];
  deleted: ObjectRef[];
  /** Fleets not applied because one of their objects is not kgw's. */
  skippedFleets: string[];
  problems: ApplyProblem[];
}

interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: {
      apiVersion?: string;
      kind?: string;
      name?: string;
      uid?: string;
      controller?: boolean;
    }[];
    managedFields?: { manager?: string; operation?: string; fieldsV1?: Record<string, unknown> }[];
  };
  spec?: { replicas?: number };
}

function refOf(o: FleetObject | StoredObject, fallback?: Partial<ObjectRef>): ObjectRef {
  return {
    apiVersion: o.apiVersion ?? fallback?.apiVersion ?? '',
    kind: o.kind ?? fallback?.kind ?? '',
    namespace: o.metadata?.namespace ?? fallback?.namespace ?? '',
    name: o.metadata?.name ?? fallback?.name ?? '',
  };
}

export function describeRef(r: ObjectRef): string {
  return `${r.kind} ${r.namespace}/${r.name}`;
}

function plural(apiVersion: string, kind: string): string {
  const k = FLEET_KINDS.find((x) => x.apiVersion === apiVersion && x.kind === kind);
  if (k === undefined) throw new Error(`kgw does not manage ${apiVersion} ${kind}`);
  return k.plural;
}

function apiPrefix(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/**
 * REST path of a namespaced object; without a name, of the collection in `namespace`, or of the
 * cluster-wide collection when there is no namespace either.
 */
export function objectPath(ref: Pick<ObjectRef, 'apiVersion' | 'kind'> & Partial<ObjectRef>): string {
  const base = apiPrefix(ref.apiVersion);
  const p = plural(ref.apiVersion, ref.kind);
  if (ref.name === undefined && ref.namespace === undefined) return `${base}/${p}`;
  const collection = `${base}/namespaces/${encodeURIComponent(ref.namespace ?? '')}/${p}`;
  return ref.name === undefined ? collection : `${collection}/${encodeURIComponent(ref.name)}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function errorStatus(err: unknown): { status?: number } {
  return err instanceof ApiError ? { status: err.status } : {};
}

/** Kinds the prune lists cluster-wide; the others are listed per namespace. */
const LISTED_CLUSTER_WIDE: ReadonlySet<string> = new Set(['Deployment', 'Service']);

/** The label selector of everything kgw created for a gateway. */
export function gatewaySelector(gateway: string): string {
  return `${LABEL_MANAGED_BY}=${MANAGED_BY_KGW},${LABEL_GATEWAY}=${gateway}`;
}

/** Why `existing` is not kgw's object for this gateway and fleet (undefined when it is). */
export function notOwnedReason(
  existing: StoredObject,
  gw: KnativeGateway,
  fleet: string,
): string | undefined {
  const labels = existing.metadata?.labels ?? {};
  if (labels[LABEL_MANAGED_BY] !== MANAGED_BY_KGW) {
    return `it has no ${LABEL_MANAGED_BY}=${MANAGED_BY_KGW} label, so kgw did not create it`;
  }
  if (labels[LABEL_GATEWAY] !== gw.metadata.name || labels[LABEL_FLEET] !== fleet) {
    return (
      `it belongs to gateway ${labels[LABEL_GATEWAY] ?? '?'} fleet ${labels[LABEL_FLEET] ?? '?'} ` +
      `(two fleets map to the same object name)`
    );
  }
  const owned = (existing.metadata?.ownerReferences ?? []).some(
    (r) =>
      r.kind === GATEWAY_KIND &&
      (r.apiVersion ?? '').startsWith(`${GATEWAY_GROUP}/`) &&
      r.name === gw.metadata.name,
  );
  if (!owned) return `it has no ownerReference to KnativeGateway ${gw.metadata.name}`;
  return undefined;
}

/** True when `o` carries kgw's labels for `gateway` and an ownerReference with the gateway's uid. */
export function isDeletable(o: StoredObject, gw: KnativeGateway): boolean {
  const labels = o.metadata?.labels ?? {};
  return (
    labels[LABEL_MANAGED_BY] === MANAGED_BY_KGW &&
    labels[LABEL_GATEWAY] === gw.metadata.name &&
    gw.metadata.uid !== undefined &&
    (o.metadata?.ownerReferences ?? []).some((r) => r.kind === GATEWAY_KIND && r.uid === gw.metadata.uid)
  );
}

/** Whether manager `kgw` holds `spec.replicas` of a Deployment through an Apply. */
function kgwAppliesReplicas(existing: StoredObject, fieldManager: string): boolean {
  return (existing.metadata?.managedFields ?? []).some((m) => {
    if (m.manager !== fieldManager || m.operation !== 'Apply') return false;
    const spec = m.fieldsV1?.['f:spec'];
    return typeof spec === 'object' && spec !== null && 'f:replicas' in spec;
  });
}

function applyQuery(fieldManager: string, force: boolean): Record<string, string | boolean> {
  return { fieldManager, force };
}

/** Gives a Deployment's `spec.replicas` = `replicas` to the handover field manager. */
async function handOverReplicas(client: KubeClient, o: FleetObject, replicas: number): Promise<void> {
  await client.request(
    'PATCH',
    objectPath(refOf(o)),
    {
      apiVersion: o.apiVersion,
      kind: o.kind,
      metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
      spec: { replicas },
    },
    'application/apply-patch+yaml',
    applyQuery(HANDOVER_FIELD_MANAGER, false),
  );
}

export interface ApplyOptions {
  /** Default `kgw`. */
  fieldManager?: string;
}

/**
 * Applies the fleets' objects (`fleets`: what `renderGatewayObjects` returns for `gw`, the gateway
 * as read from the API server, with its uid) and deletes kgw's objects of this gateway that are
 * not among them.
 */
export async function applyGatewayFleets(
  client: KubeClient,
  gw: KnativeGateway,
  fleets: readonly FleetObjects[],
  opts: ApplyOptions = {},
): Promise<FleetApplyResult> {
  const fieldManager = opts.fieldManager ?? FIELD_MANAGER;
  const result: FleetApplyResult = { applied: [], deleted: [], skippedFleets: [], problems: [] };
  const wanted = new Set<string>();
  const key = (r: ObjectRef): string => `${r.apiVersion}|${r.kind}|${r.namespace}|${r.name}`;

  for (const fo of fleets) {
    const objects = fleetObjectList(fo);
    for (const o of objects) wanted.add(key(refOf(o)));
    // Read everything first: one object kgw did not create keeps the whole fleet untouched.
    const existing = new Map<FleetObject, StoredObject | undefined>();
    let readable = true;
    for (const o of objects) {
      const ref = refOf(o);
      try {
        existing.set(o, await getIfExists<StoredObject>(client, objectPath(ref)));
      } catch (err) {
        readable = false;
        result.problems.push({
          ref,
          fleet: fo.fleet,
          reason: 'ApplyFailed',
          message: errorMessage(err),
          ...errorStatus(err),
        });
      }
    }
    const foreign = objects.flatMap((o) => {
      const e = existing.get(o);
      const why = e === undefined ? undefined : notOwnedReason(e, gw, fo.fleet);
      return why === undefined ? [] : [{ o, why }];
    });
    for (const { o, why } of foreign) {
      const ref = refOf(o);
      result.problems.push({
        ref,
        fleet: fo.fleet,
        reason: 'NotOwned',
        message:
          `${describeRef(ref)} already exists and ${why}; kgw leaves it untouched and does not ` +
          `apply fleet ${fo.fleet}. Delete or rename that object, or rename the fleet.`,
      });
    }
    if (foreign.length > 0 || !readable) {
      result.skippedFleets.push(fo.fleet);
      continue;
    }

    for (const o of objects) {
      const ref = refOf(o);
      const before = existing.get(o);
      try {
        if (
          o.kind === 'Deployment' &&
          before !== undefined &&
          (o as { spec?: { replicas?: number } }).spec?.replicas === undefined &&
          before.spec?.replicas !== undefined &&
          kgwAppliesReplicas(before, fieldManager)
        ) {
          await handOverReplicas(client, o, before.spec.replicas);
        }
        const after = await client.request<StoredObject>(
          'PATCH',
          objectPath(ref),
          o,
          'application/apply-patch+yaml',
          applyQuery(fieldManager, true),
        );
        const minReplicas = fo.horizontalPodAutoscaler?.spec?.minReplicas;
        if (o.kind === 'Deployment' && before === undefined && minReplicas !== undefined) {
          // A new autoscaled Deployment starts at the API server's default of 1: start it at
          // minReplicas instead, owned by the handover manager, as if the HPA had already acted.
          await handOverReplicas(client, o, minReplicas);
        }
        const action: ApplyAction =
          before === undefined
            ? 'created'
            : after.metadata?.resourceVersion === before.metadata?.resourceVersion
              ? 'unchanged'
              : 'updated';
        result.applied.push({ ref, fleet: fo.fleet, action });
      } catch (err) {
        result.problems.push({
          ref,
          fleet: fo.fleet,
          reason: 'ApplyFailed',
          message: errorMessage(err),
          ...errorStatus(err),
        });
      }
    }
  }

  // Prune: kgw's objects of this gateway that are no longer wanted. List first (Deployments and
  // Services cluster-wide, which also finds the namespaces a previous spec used; the other kinds in
  // those namespaces and the current ones), then delete in reverse apply order, so a Deployment
  // goes before its ConfigMap and ServiceAccount.
  const selector = { labelSelector: gatewaySelector(gw.metadata.name) };
  const namespaces = new Set(fleets.flatMap((fo) => fleetObjectList(fo).map((o) => o.metadata.namespace)));
  const listed = new Map<string, StoredObject[]>();
  const list = async (k: (typeof FLEET_KINDS)[number], namespace?: string): Promise<void> => {
    const items = listed.get(k.kind) ?? [];
    listed.set(k.kind, items);
    try {
      const res = await client.request<{ items?: StoredObject[] }>(
        'GET',
        objectPath({
          apiVersion: k.apiVersion,
          kind: k.kind,
          ...(namespace !== undefined ? { namespace } : {}),
        }),
        undefined,
        undefined,
        selector,
      );
      items.push(...(res.items ?? []));
    } catch (err) {
      result.problems.push({
        ref: { apiVersion: k.apiVersion, kind: k.kind, namespace: namespace ?? '', name: '' },
        reason: 'ListFailed',
        message:
          `listing ${k.kind}s of gateway ${gw.metadata.name}` +
          `${namespace === undefined ? '' : ` in namespace ${namespace}`}: ${errorMessage(err)}`,
        ...errorStatus(err),
      });
    }
  };
  for (const k of FLEET_KINDS.filter((x) => LISTED_CLUSTER_WIDE.has(x.kind))) {
    await list(k);
    for (const item of listed.get(k.kind) ?? []) namespaces.add(item.metadata?.namespace ?? '');
  }
  namespaces.delete('');
  for (const k of FLEET_KINDS.filter((x) => !LISTED_CLUSTER_WIDE.has(x.kind))) {
    for (const ns of [...namespaces].sort()) await list(k, ns);
  }
  for (const k of [...FLEET_KINDS].reverse()) {
    for (const item of listed.get(k.kind) ?? []) {
      const ref = refOf(item, { apiVersion: k.apiVersion, kind: k.kind });
      if (wanted.has(key(ref)) || !isDeletable(item, gw)) continue;
      const fleet = item.metadata?.labels?.[LABEL_FLEET];
      try {
        await client.request('DELETE', objectPath(ref), {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Background',
          preconditions: { uid: item.metadata?.uid },
        });
        result.deleted.push(ref);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) continue;
        result.problems.push({
          ref,
          ...(fleet !== undefined ? { fleet } : {}),
          reason: 'DeleteFailed',
          message: errorMessage(err),
          ...errorStatus(err),
        });
      }
    }
  }
  return result;
}
