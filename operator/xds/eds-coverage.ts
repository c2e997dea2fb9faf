// Whether every load assignment an EDS cluster needs is subscribed (session.ts's ordering gate:
// listeners and routes wait until Envoy asked for the endpoints of every cluster it accepted).
// Every pump asks, so the answer is memoised; a change of the load assignments alone (a patch of
// the EDS snapshot) re-checks only the clusters that use the patched ones.
import type { TypeSnapshot } from './cache.ts';
import type { TypeState } from './session-state.ts';

export class EdsCoverage {
  #key: readonly unknown[] | undefined;
  #eds: TypeSnapshot | undefined;
  /** Clusters the proxy accepted whose load assignment exists but is not subscribed. */
  readonly #uncovered = new Set<string>();
  /** Load assignment name → the accepted EDS clusters that use it. */
  #users = new Map<string, string[]>();

  covered(
    clusters: TypeState,
    cds: TypeSnapshot,
    eds: TypeSnapshot,
    endpoints: TypeState | undefined,
  ): boolean {
    const key = [cds, clusters.sentRev, endpoints, endpoints?.subscribed, endpoints?.subRev];
    const same = this.#key !== undefined && this.#key.every((v, i) => v === key[i]);
    if (same && this.#eds === eds) return this.#uncovered.size === 0;
    const check = (name: string): void => {
      const e = clusters.sent.get(name);
      const res = cds.resources.get(name);
      const needs =
        res?.edsName !== undefined && res.version === e?.version && eds.resources.has(res.edsName);
      if (needs && !(endpoints?.subscribed === true && endpoints.inScope(res.edsName)))
        this.#uncovered.add(name);
      else this.#uncovered.delete(name);
    };
    if (same && eds.patchOf !== undefined && eds.patchOf.seq === this.#eds?.seq) {
      for (const assignment of eds.patchOf.names) for (const c of this.#users.get(assignment) ?? []) check(c);
    } else {
      this.#uncovered.clear();
      this.#users = new Map();
      for (const [name, e] of clusters.sent) {
        const res = cds.resources.get(name);
        if (!res?.edsName || res.version !== e.version) continue;
        const users = this.#users.get(res.edsName);
        if (users) users.push(name);
        else this.#users.set(res.edsName, [name]);
        check(name);
      }
    }
    this.#key = key;
    this.#eds = eds;
    return this.#uncovered.size === 0;
  }
}
