// Host conflicts between KIngresses: a host may be served by one KIngress per visibility. The
// oldest KIngress (creation time, then namespace/name) keeps it; a younger one claiming any taken
// host is rejected as a whole with DomainConflict and never disturbs the winner.
import type { IngressIR } from './ir.ts';

export interface Candidate {
  ir: IngressIR;
  /** RFC 3339 creation timestamp; older wins. */
  created: string;
}

export interface Conflict {
  host: string;
  owner: string;
}

export function resolveConflicts(candidates: Candidate[]): {
  accepted: IngressIR[];
  conflicts: Map<string, Conflict>;
} {
  const ordered = [...candidates].sort((a, b) =>
    a.created !== b.created
      ? a.created < b.created
        ? -1
        : 1
      : a.ir.key < b.ir.key
        ? -1
        : a.ir.key > b.ir.key
          ? 1
          : 0,
  );
  const owners = { external: new Map<string, string>(), local: new Map<string, string>() };
  const accepted: IngressIR[] = [];
  const conflicts = new Map<string, Conflict>();
  for (const { ir } of ordered) {
    let conflict: Conflict | undefined;
    for (const vis of ['external', 'local'] as const) {
      for (const vh of ir[vis].vhosts) {
        const owner = owners[vis].get(vh.host);
        if (owner !== undefined && owner !== ir.key) {
          conflict = { host: vh.host, owner };
          break;
        }
      }
      if (conflict) break;
    }
    if (conflict) {
      conflicts.set(ir.key, conflict);
      continue;
    }
    for (const vis of ['external', 'local'] as const)
      for (const vh of ir[vis].vhosts) owners[vis].set(vh.host, ir.key);
    accepted.push(ir);
  }
  accepted.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { accepted, conflicts };
}
