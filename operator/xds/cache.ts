// Per-fleet resource snapshots. A fleet is the Envoy `node.cluster` string. Every resource is
// encoded once when it enters the cache (never per connection) and carries a content version, a
// short hash of its canonical bytes, so unchanged resources are recognised and never re-sent.
// Each type of a fleet also has a set version (hash of its names and versions) that changes only
// when the set changes, and the fleet has a generation that counts changes.
import { createHash } from 'node:crypto';
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
  readonly bytes: Buffer;
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
    this.bytes = bytes;
    this.version = shortHash(bytes);
    this.edsName = typeUrl === TYPE_CLUSTER ? edsNameOf(name, source) : undefined;
  }

  /** Takes over the wire chunks of an identical resource (same version) so they are not rebuilt. */
  adoptChunks(other: CachedResource): void {
    if (other.version !== this.version || other.name !== this.name) return;
    this.#sotw ??= other.#sotw;
    this.#delta ??= other.#delta;
  }

  /** The resource as a DiscoveryResponse `resources` entry (built on first use, then reused). */
  get sotwChunk(): Buffer {
    this.#sotw ??= sotwChunk(this.typeUrl, this.bytes);
    return this.#sotw;
  }

  /** The resource as a DeltaDiscoveryResponse `resources` entry (name + version + Any). */
  get deltaChunk(): Buffer {
    this.#delta ??= deltaChunk(this.typeUrl, this.name, this.version, this.bytes);
    return this.#delta;
  }
}

function edsNameOf(name: string, source: ResourceJson): string | undefined {
  const c = source as { type?: unknown; eds_cluster_config?: { service_name?: unknown } };
  if (c.type !== 'EDS' && c.type !== 3) return undefined;
  const service = c.eds_cluster_config?.service_name;
  return typeof service === 'string' && service !== '' ? service : name;
}

export interface TypeSnapshot {
  readonly resources: ReadonlyMap<string, CachedResource>;
  /** Hash of the sorted (name, version) pairs: changes only when the set changes. */
  readonly version: string;
  /** Fleet generation at which this set last changed. */
  readonly changedAt: number;
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

/** The name a resource of this type carries in its JSON (ClusterLoadAssignment: cluster_name). */
function embeddedName(typeUrl: TypeUrl, json: ResourceJson): unknown {
  const j = json as { name?: unknown; cluster_name?: unknown };
  return typeUrl === TYPE_ENDPOINT ? j.cluster_name : j.name;
}

export class SnapshotCache {
  readonly #fleets = new Map<string, FleetSnapshot>();

  get(fleet: string): FleetSnapshot | undefined {
    return this.#fleets.get(fleet);
  }

  fleets(): string[] {
    return [...this.#fleets.keys()];
  }

  delete(fleet: string): boolean {
    return this.#fleets.delete(fleet);
  }

  /**
   * Replaces the given types of a fleet; types not given stay as they are. Everything is encoded
   * before anything is replaced, so an invalid resource throws and leaves the snapshot untouched.
   */
  set(fleet: string, input: SnapshotInput): SnapshotChange {
    const previous = this.#fleets.get(fleet);
    const generation = (previous?.generation ?? 0) + 1;
    const next = new Map<TypeUrl, TypeSnapshot>(previous?.types ?? []);
    const changed: TypeUrl[] = [];
    const removed = new Map<TypeUrl, CachedResource[]>();
    for (const typeUrl of Object.keys(input)) {
      if (!isTypeUrl(typeUrl)) throw new Error(`setSnapshot(${fleet}): unsupported type URL ${typeUrl}`);
    }
    for (const typeUrl of TYPE_URLS) {
      const given = input[typeUrl];
      if (!given) continue;
      const old = previous?.types.get(typeUrl);
      const resources = encodeAll(fleet, typeUrl, given, old);
      const version = setVersion(resources.values());
      if (old && old.version === version) continue;
      next.set(typeUrl, { resources, version, changedAt: generation });
      changed.push(typeUrl);
      const gone = old ? [...old.resources.values()].filter((r) => !resources.has(r.name)) : [];
      if (gone.length > 0) removed.set(typeUrl, gone);
    }
    if (changed.length === 0) return { fleet, generation: previous?.generation ?? 0, changed, removed };
    this.#fleets.set(fleet, { fleet, generation, types: next });
    return { fleet, generation, changed, removed };
  }
}

function encodeAll(
  fleet: string,
  typeUrl: TypeUrl,
  given: ReadonlyMap<string, ResourceJson>,
  old: TypeSnapshot | undefined,
): Map<string, CachedResource> {
  const out = new Map<string, CachedResource>();
  for (const [name, json] of given) {
    const before = old?.resources.get(name);
    if (before && before.source === json) {
      out.set(name, before);
      continue;
    }
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
    out.set(name, fresh);
  }
  return out;
}
