// Per-fleet resource snapshots. A fleet is the Envoy `node.cluster` string. Every resource is
// encoded once when it enters the cache (never per connection) and carries a content version, a
// short hash of its canonical bytes, so unchanged resources are recognised and never re-sent.
// Each type of a fleet also has a set version that changes only when the set changes, and the
// fleet has a generation that counts changes. A type given as a map that keeps a change log
// (ChangeLog, e.g. render/tracked-map.ts) costs O(the change) once the cache has seen that map:
// only the names it reports are looked at.
import { createHash, randomBytes } from 'node:crypto';
import { encodeResource } from './protojson.ts';
import { TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_SHORT, TYPE_URLS, isTypeUrl, type TypeUrl } from './protos.ts';
import { deltaChunk, sotwChunk } from './wire.ts';

/** A resource as canonical proto3 JSON with .proto (snake_case) field names. */
export type ResourceJson = object;

/** The input of a snapshot update: the full set of resources for each given type, by name. */
export type SnapshotInput = Partial<Record<TypeUrl, ReadonlyMap<string, ResourceJson>>>;

export function shortHash(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

export class CachedResource {
  readonly typeUrl: TypeUrl;
  readonly name: string;
  readonly version: string;
  #bytes: Buffer;
  /** The JSON this was encoded from; the same object passed again is not re-encoded. */
  readonly source: ResourceJson;
  /** For clusters of type EDS: the ClusterLoadAssignment name Envoy will ask for. */
  readonly edsName: string | undefined;
  #sotw: Buffer | undefined;
  #delta: Buffer | undefined;

  constructor(typeUrl: TypeUrl, name: string, source: ResourceJson, bytes: Buffer) {
    this.typeUrl = typeUrl;
    this.name = name;
    this.source = source;
    this.#bytes = bytes;
    this.version = shortHash(bytes);
    this.edsName = typeUrl === TYPE_CLUSTER ? edsNameOf(name, source) : undefined;
  }

  /** Takes over the wire chunks of an identical resource (same version) so they are not rebuilt. */
  adoptChunks(other: CachedResource): void {
    if (other.version !== this.version || other.name !== this.name) return;
    this.#sotw ??= other.#sotw;
    this.#delta ??= other.#delta;
    if (this.#delta)
      this.shareBytes(this.#delta, this.#delta.length - nameFieldLength(this.name) - this.#bytes.length);
    else if (this.#sotw) this.shareBytes(this.#sotw, this.#sotw.length - this.#bytes.length);
  }

  /** The encoded resource (a view into a wire chunk once one is built: see shareBytes). */
  get bytes(): Buffer {
    return this.#bytes;
  }

  /** The resource as a DiscoveryResponse `resources` entry (built on first use, then reused). */
  get sotwChunk(): Buffer {
    if (this.#sotw) return this.#sotw;
    // an Any: the encoded resource is its last field
    const chunk = sotwChunk(this.typeUrl, this.#bytes);
    this.#sotw = this.shareBytes(chunk, chunk.length - this.#bytes.length);
    return chunk;
  }

  /** The resource as a DeltaDiscoveryResponse `resources` entry (name + version + Any). */
  get deltaChunk(): Buffer {
    if (this.#delta) return this.#delta;
    // fields in number order: version (1), the Any (2, its value last), then name (3)
    const chunk = deltaChunk(this.typeUrl, this.name, this.version, this.#bytes);
    this.#delta = this.shareBytes(chunk, chunk.length - nameFieldLength(this.name) - this.#bytes.length);
    return chunk;
  }

  /**
   * Both wire chunks embed the encoded resource: once a chunk is built, `bytes` becomes a view of
   * it (where it was found, byte for byte), so a cached resource holds its encoding once, not
   * twice (at 1k KIngresses ~1 MiB, at 10k ~11 MiB less).
   */
  private shareBytes(chunk: Buffer, at: number): Buffer {
    const n = this.#bytes.length;
    if (chunk.buffer === this.#bytes.buffer || at < 0) return chunk;
    const view = chunk.subarray(at, at + n);
    if (view.length === n && view.equals(this.#bytes)) this.#bytes = view;
    return chunk;
  }
}

/** Bytes of a Resource's `name` field (3, length-delimited) on the wire; none when empty. */
function nameFieldLength(name: string): number {
  const n = Buffer.byteLength(name);
  if (n === 0) return 0;
  let varint = 1;
  for (let v = n; v >= 0x80; v >>>= 7) varint++;
  return 1 + varint + n;
}

function edsNameOf(name: string, source: ResourceJson): string | undefined {
  const c = source as { type?: unknown; eds_cluster_config?: { service_name?: unknown } };
  if (c.type !== 'EDS' && c.type !== 3) return undefined;
  const service = c.eds_cluster_config?.service_name;
  return typeof service === 'string' && service !== '' ? service : name;
}

export interface TypeSnapshot {
  /**
   * The set. A patched set is changed in place (the new TypeSnapshot has the same map): hold the
   * TypeSnapshot, never only its map, to compare sets over time.
   */
  readonly resources: ReadonlyMap<string, CachedResource>;
  /** The set version: a label that changes whenever the set changes (and only then). */
  readonly version: string;
  /** Fleet generation at which this set last changed. */
  readonly changedAt: number;
  /** Unique per TypeSnapshot in this process. */
  readonly seq: number;
  /**
   * Present when this set is a patch of the one with sequence number `seq`: every name set or
   * deleted since (readers that knew that set need to look only at these).
   */
  readonly patchOf?: { readonly seq: number; readonly names: readonly string[] };
}

let typeSnapshotSeq = 0;
/** A sequence number for a new TypeSnapshot. */
export function nextTypeSnapshotSeq(): number {
  return ++typeSnapshotSeq;
}

export interface FleetSnapshot {
  readonly fleet: string;
  /** Increments on every update that changes at least one type. */
  readonly generation: number;
  readonly types: ReadonlyMap<TypeUrl, TypeSnapshot>;
}

export interface SnapshotChange {
  readonly fleet: string;
  readonly generation: number;
  /** Types whose set changed (in TYPE_URLS order); empty when the update changed nothing. */
  readonly changed: TypeUrl[];
  /** Per changed type, the resources that left the set. */
  readonly removed: ReadonlyMap<TypeUrl, CachedResource[]>;
}

export function setVersion(entries: Iterable<{ name: string; version: string }>): string {
  const parts: string[] = [];
  for (const e of entries) parts.push(`${e.name}\u0000${e.version}`);
  parts.sort();
  return shortHash(parts.join('\n'));
}

/**
 * A map of resources that records its changes (render/tracked-map.ts): which names were set or
 * deleted after a revision, undefined when that is no longer known.
 */
export interface ChangeLog {
  readonly revision: number;
  touchedSince(revision: number): readonly string[] | undefined;
  forgetUpTo(revision: number): void;
}

function changeLogOf(m: ReadonlyMap<string, ResourceJson>): ChangeLog | undefined {
  const c = m as Partial<ChangeLog>;
  return typeof c.touchedSince === 'function' && typeof c.forgetUpTo === 'function'
    ? (c as ChangeLog)
    : undefined;
}

/**
 * Set versions are labels, unique within this process (a random tag and a counter): a set that
 * changes gets a new one. Hashing every name and version would cost O(the set) per change.
 */
const PROCESS_TAG = randomBytes(4).toString('hex');
let setCounter = 0;
function nextSetVersion(): string {
  return `${PROCESS_TAG}-${(++setCounter).toString(36)}`;
}

/** What one type's update does, worked out (and every resource encoded) before anything changes. */
type TypePlan =
  | { kind: 'replace'; resources: Map<string, CachedResource>; gone: CachedResource[] }
  | {
      kind: 'patch';
      puts: CachedResource[];
      dels: CachedResource[];
      /** Re-encoded to the same bytes from a new object: swapped in, not a change. */
      same: CachedResource[];
    };

/** The name a resource of this type carries in its JSON (ClusterLoadAssignment: cluster_name). */
function embeddedName(typeUrl: TypeUrl, json: ResourceJson): unknown {
  const j = json as { name?: unknown; cluster_name?: unknown };
  return typeUrl === TYPE_ENDPOINT ? j.cluster_name : j.name;
}

export class SnapshotCache {
  readonly #fleets = new Map<string, FleetSnapshot>();
  /** Per fleet and type: the change-logged map last taken in and its revision then. */
  readonly #seen = new Map<
    string,
    Map<TypeUrl, { map: ReadonlyMap<string, ResourceJson>; revision: number }>
  >();

  get(fleet: string): FleetSnapshot | undefined {
    return this.#fleets.get(fleet);
  }

  fleets(): string[] {
    return [...this.#fleets.keys()];
  }

  delete(fleet: string): boolean {
    this.#seen.delete(fleet);
    return this.#fleets.delete(fleet);
  }

  /**
   * Replaces the given types of a fleet; types not given stay as they are. Everything is encoded
   * before anything is replaced, so an invalid resource throws and leaves the snapshot untouched.
   */
  set(fleet: string, input: SnapshotInput): SnapshotChange {
    const previous = this.#fleets.get(fleet);
    const generation = (previous?.generation ?? 0) + 1;
    for (const typeUrl of Object.keys(input)) {
      if (!isTypeUrl(typeUrl)) throw new Error(`setSnapshot(${fleet}): unsupported type URL ${typeUrl}`);
    }
    const seen = this.#seen.get(fleet);
    const plans = new Map<TypeUrl, TypePlan>();
    for (const typeUrl of TYPE_URLS) {
      const given = input[typeUrl];
      if (!given) continue;
      const old = previous?.types.get(typeUrl);
      const last = seen?.get(typeUrl);
      const log = changeLogOf(given);
      const touched = old && log && last?.map === given ? log.touchedSince(last.revision) : undefined;
      const plan = touched
        ? planPatch(fleet, typeUrl, given, touched, old!)
        : planReplace(fleet, typeUrl, given, old);
      if (plan) plans.set(typeUrl, plan);
    }
    // Nothing threw: apply.
    const next = new Map<TypeUrl, TypeSnapshot>(previous?.types ?? []);
    const changed: TypeUrl[] = [];
    const removed = new Map<TypeUrl, CachedResource[]>();
    for (const [typeUrl, plan] of plans) {
      let resources: Map<string, CachedResource>;
      let gone: CachedResource[];
      let patchOf: TypeSnapshot['patchOf'];
      if (plan.kind === 'replace') {
        ({ resources, gone } = plan);
      } else {
        // In place: a type snapshot's map is the live set of its fleet (readers keep the
        // TypeSnapshot object, whose identity changes with every change, never an old map).
        resources = previous!.types.get(typeUrl)!.resources as Map<string, CachedResource>;
        for (const r of plan.same) resources.set(r.name, r);
        if (plan.puts.length === 0 && plan.dels.length === 0) continue; // the set is unchanged
        for (const r of plan.dels) resources.delete(r.name);
        for (const r of plan.puts) resources.set(r.name, r);
        gone = plan.dels;
        const names = [...plan.dels, ...plan.puts].map((r) => r.name);
        patchOf = { seq: previous!.types.get(typeUrl)!.seq, names };
      }
      const seq = nextTypeSnapshotSeq();
      next.set(typeUrl, { resources, version: nextSetVersion(), changedAt: generation, seq, patchOf });
      changed.push(typeUrl);
      if (gone.length > 0) removed.set(typeUrl, gone);
    }
    this.#remember(fleet, input);
    if (changed.length === 0) return { fleet, generation: previous?.generation ?? 0, changed, removed };
    this.#fleets.set(fleet, { fleet, generation, types: next });
    return { fleet, generation, changed, removed };
  }

  /** Records the change-logged maps just taken in, and lets them forget what was read. */
  #remember(fleet: string, input: SnapshotInput): void {
    let seen = this.#seen.get(fleet);
    for (const typeUrl of TYPE_URLS) {
      const given = input[typeUrl];
      if (!given) continue;
      const log = changeLogOf(given);
      if (!log) {
        seen?.delete(typeUrl);
        continue;
      }
      if (!seen) {
        seen = new Map<TypeUrl, { map: ReadonlyMap<string, ResourceJson>; revision: number }>();
        this.#seen.set(fleet, seen);
      }
      seen.set(typeUrl, { map: given, revision: log.revision });
      log.forgetUpTo(log.revision);
    }
  }
}

/** The whole given set against the old one; undefined when nothing differs. */
function planReplace(
  fleet: string,
  typeUrl: TypeUrl,
  given: ReadonlyMap<string, ResourceJson>,
  old: TypeSnapshot | undefined,
): TypePlan | undefined {
  const resources = new Map<string, CachedResource>();
  let differs = !old || old.resources.size !== given.size;
  for (const [name, json] of given) {
    const before = old?.resources.get(name);
    const res = before?.source === json ? before : encodeOne(fleet, typeUrl, name, json, before);
    if (res !== before && res.version !== before?.version) differs = true;
    resources.set(name, res);
  }
  if (!differs) return undefined; // same names (sizes equal, every given name was there), same versions
  const gone = old ? [...old.resources.values()].filter((r) => !resources.has(r.name)) : [];
  return { kind: 'replace', resources, gone };
}

/** Only the names the map reports as changed; undefined when none of them differs. */
function planPatch(
  fleet: string,
  typeUrl: TypeUrl,
  given: ReadonlyMap<string, ResourceJson>,
  touched: readonly string[],
  old: TypeSnapshot,
): TypePlan | undefined {
  const puts: CachedResource[] = [];
  const dels: CachedResource[] = [];
  const same: CachedResource[] = [];
  for (const name of touched) {
    const json = given.get(name);
    const before = old.resources.get(name);
    if (json === undefined) {
      if (before) dels.push(before);
      continue;
    }
    if (before?.source === json) continue;
    const res = encodeOne(fleet, typeUrl, name, json, before);
    (res.version === before?.version ? same : puts).push(res);
  }
  return puts.length > 0 || dels.length > 0 || same.length > 0
    ? { kind: 'patch', puts, dels, same }
    : undefined;
}

function encodeOne(
  fleet: string,
  typeUrl: TypeUrl,
  name: string,
  json: ResourceJson,
  before: CachedResource | undefined,
): CachedResource {
  const embedded = embeddedName(typeUrl, json);
  if (embedded !== name) {
    throw new Error(
      `setSnapshot(${fleet}): ${TYPE_SHORT[typeUrl]} resource keyed "${name}" carries name ${JSON.stringify(embedded)}`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = encodeResource(typeUrl, json);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`setSnapshot(${fleet}): ${TYPE_SHORT[typeUrl]} resource "${name}": ${msg}`, {
      cause: err,
    });
  }
  const fresh = new CachedResource(typeUrl, name, json, bytes);
  if (before) fresh.adoptChunks(before);
  return fresh;
}
