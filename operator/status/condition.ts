// One rule for conditions, whatever object carries them (KIngress, KnativeGateway, KCertificate,
// DomainMapping): the semantics of metav1.Condition. lastTransitionTime changes only when the
// status changes (a new reason or message for the same status keeps it), and kgw's own objects
// record, per condition, the generation it was computed for (observedGeneration).
export interface ConditionLike {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/**
 * `c` with its lastTransitionTime: the previous one when a condition of its type had the same
 * status, else `now`. Empty reason and message are left out.
 */
export function stamp<C extends ConditionLike>(
  previous: readonly ConditionLike[] | undefined,
  c: Omit<C, 'lastTransitionTime'>,
  now: string,
): C {
  const old = previous?.find((p) => p.type === c.type);
  const out = { ...c } as C;
  if (out.reason === undefined || out.reason === '') delete out.reason;
  if (out.message === undefined || out.message === '') delete out.message;
  out.lastTransitionTime = old?.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now;
  return out;
}

/** `list` with `c` set (stamped against the same list): replaced in place or appended. */
export function setCondition<C extends ConditionLike>(
  list: readonly C[],
  c: Omit<C, 'lastTransitionTime'>,
  now: string,
): C[] {
  const next = stamp<C>(list, c, now);
  const i = list.findIndex((x) => x.type === c.type);
  return i >= 0 ? list.map((x, j) => (j === i ? next : x)) : [...list, next];
}
