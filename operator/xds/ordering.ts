// Make-before-break rules of the xDS server, as pure functions over a per-type view of one proxy.
//
// Push order on a stream: CDS → EDS → SDS, then LDS → RDS → SRDS.
//  * Adding (make): listeners and routes (route configurations, or scoped route configurations) of
//    the current snapshot are held until the proxy has settled its clusters (no CDS response in
//    flight, nothing new to send) and has subscribed to and
//    settled the ClusterLoadAssignments of the EDS clusters it accepted, so a route never points at a
//    cluster that Envoy has not finished warming. A NACK settles too (waiting would not help), and
//    the server releases held listeners/routes after `orderingTimeoutMs` in any case.
//  * Secrets are not held back and do not hold anything: Envoy only asks for a secret once a
//    listener or cluster references it, and warms that listener/cluster until the secret arrives.
//  * Removing (break): a cluster, load assignment or secret that leaves the snapshot keeps being
//    served to a proxy that has it until the proxy has ACKed the snapshot generation that dropped
//    it for every type that can reference it:
//      cluster         ← listeners, route configurations and scoped route configurations
//      load assignment ← clusters (with no retained cluster left)
//      secret          ← listeners and clusters (with no retained cluster left)
//    Listeners and routes themselves are removed at once; they are the referencing side.
import {
  TYPE_CLUSTER,
  TYPE_ENDPOINT,
  TYPE_LISTENER,
  TYPE_ROUTE,
  TYPE_SCOPED_ROUTE,
  TYPE_SECRET,
  type TypeUrl,
} from './protos.ts';

/** What the ordering rules need to know about one type on one stream. */
export interface TypeView {
  /** The proxy asked for this type on this stream. */
  subscribed: boolean;
  /** The fleet snapshot has this type. */
  inSnapshot: boolean;
  /** A response is awaiting ACK/NACK. */
  pending: boolean;
  /** Nothing new to send for the current snapshot and subscription. */
  upToDate: boolean;
  /** The last answer was an ACK (delta: and no NACKed resource is outstanding). */
  lastAnswerAck: boolean;
  /** Highest snapshot generation whose content for this type the proxy has ACKed. */
  ackedGeneration: number;
  /** Resources kept for make-before-break. */
  retained: number;
}

export type ViewOf = (typeUrl: TypeUrl) => TypeView;

/** Types whose removal is delayed. */
export const RETAINED_TYPES: readonly TypeUrl[] = [TYPE_CLUSTER, TYPE_ENDPOINT, TYPE_SECRET];

/** The proxy holds generation `since` (or later) of `typeUrl`, or does not use that type at all. */
function ackedSince(view: TypeView, since: number): boolean {
  return !view.subscribed || !view.inSnapshot || view.ackedGeneration >= since;
}

/** Clusters are exactly the snapshot's: no retained cluster left, sent and ACKed. */
function clustersClean(view: TypeView): boolean {
  return !view.subscribed || (view.retained === 0 && !view.pending && view.upToDate && view.lastAnswerAck);
}

/** May a resource of `typeUrl` that left the snapshot at generation `since` now be removed? */
export function mayRemove(typeUrl: TypeUrl, since: number, viewOf: ViewOf): boolean {
  switch (typeUrl) {
    case TYPE_CLUSTER:
      return (
        ackedSince(viewOf(TYPE_LISTENER), since) &&
        ackedSince(viewOf(TYPE_ROUTE), since) &&
        ackedSince(viewOf(TYPE_SCOPED_ROUTE), since)
      );
    case TYPE_ENDPOINT: {
      const clusters = viewOf(TYPE_CLUSTER);
      return ackedSince(clusters, since) && clustersClean(clusters);
    }
    case TYPE_SECRET: {
      const clusters = viewOf(TYPE_CLUSTER);
      return (
        ackedSince(viewOf(TYPE_LISTENER), since) && ackedSince(clusters, since) && clustersClean(clusters)
      );
    }
    default:
      return true;
  }
}

function settled(view: TypeView): boolean {
  return !view.subscribed || !view.inSnapshot || (!view.pending && view.upToDate);
}

/**
 * May listeners and routes of the current snapshot be sent? `edsCovered` says the proxy subscribes
 * to every load assignment its accepted EDS clusters need (computed by the session).
 */
export function listenersMayGo(viewOf: ViewOf, edsCovered: boolean): boolean {
  return settled(viewOf(TYPE_CLUSTER)) && settled(viewOf(TYPE_ENDPOINT)) && edsCovered;
}
