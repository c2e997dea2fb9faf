// Admission of the kgw.dev/routing-rules annotation on a Knative Service (serving.knative.dev/v1).
// The apiserver calls this webhook only for Services carrying the annotation (the webhook's
// matchConditions, webhooks.ts), and with failurePolicy Ignore: a Service without the annotation
// never waits for kgw, and Knative is never blocked while kgw is down (the operator then still
// ignores a bad annotation and says why in a RoutingRulesIgnored Event).
//
// Refused, with the parser's own message (operator/translate/routing-rules.ts, the code the operator
// routes with): JSON syntax, unknown fields, names and values, reserved headers, the limits (16
// rules, 8 headers and cookies per rule). Where spec.traffic tells, also a rule naming a tag that is
// not among its tags, or a revision that is not among its revisions when every traffic target names
// its revision (with latestRevision the revision to come is not known here).
//
// An update whose problems were all there before (the same annotation, the same traffic) is allowed,
// with the problems as warnings: an annotation admitted while kgw was down (or before it was
// installed) must not block every later change of the Service. An update that makes a good
// annotation bad (a tag removed from spec.traffic that a rule names) is refused. Routes are not judged: Knative writes them from the Service, and refusing
// Knative's own write would stall the Service.
import {
  notRoutedProblem,
  parseRoutingRules,
  ROUTING_RULES_ANNOTATION,
} from '../operator/translate/routing-rules.ts';
import { allow, deny, type Verdict } from './admission.ts';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const list = (xs: ReadonlySet<string>): string => (xs.size === 0 ? 'none' : [...xs].sort().join(', '));

/** spec.traffic of a Service or Route: its tags, and its revisions when every target names one. */
function traffic(spec: unknown): { tags: Set<string>; revisions: Set<string> | undefined } {
  const entries: unknown = isObject(spec) ? spec.traffic : undefined;
  const tags = new Set<string>();
  const revisions = new Set<string>();
  let pinned = Array.isArray(entries) && entries.length > 0;
  for (const t of Array.isArray(entries) ? (entries as unknown[]) : []) {
    if (!isObject(t)) continue;
    if (typeof t.tag === 'string' && t.tag !== '') tags.add(t.tag);
    if (typeof t.revisionName === 'string' && t.revisionName !== '' && t.latestRevision !== true)
      revisions.add(t.revisionName);
    else pinned = false;
  }
  return { tags, revisions: pinned ? revisions : undefined };
}

function annotationOf(object: unknown): string | undefined {
  const meta = isObject(object) ? object.metadata : undefined;
  const annotations = isObject(meta) ? meta.annotations : undefined;
  const text = isObject(annotations) ? annotations[ROUTING_RULES_ANNOTATION] : undefined;
  return typeof text === 'string' ? text : undefined;
}

export function validateRoutingRules(object: unknown, oldObject: unknown): Verdict {
  const text = annotationOf(object);
  if (text === undefined) return allow();
  const problems = routingRulesProblems(object, text);
  if (problems.length === 0) return allow();
  const before =
    oldObject !== undefined && annotationOf(oldObject) === text ? routingRulesProblems(oldObject, text) : [];
  if (problems.every((p) => before.includes(p)))
    return allow(problems.map((p) => `${p} (not changed by this update; kgw ignores these rules)`));
  return deny(problems.join('; '));
}

function routingRulesProblems(object: unknown, text: string): string[] {
  const parsed = parseRoutingRules(text);
  if (!parsed.ok) return [parsed.problem];
  const t = traffic(isObject(object) ? object.spec : undefined);
  const problems: string[] = [];
  parsed.rules.forEach((rule, i) => {
    const where = `${ROUTING_RULES_ANNOTATION}[${i}]`;
    if (
      rule.tag !== undefined &&
      notRoutedProblem(rule, { revisions: new Set(), tags: t.tags }) !== undefined
    )
      problems.push(`${where}: tag ${rule.tag} is not among spec.traffic's tags (${list(t.tags)})`);
    if (
      rule.revision !== undefined &&
      t.revisions !== undefined &&
      notRoutedProblem(rule, { revisions: t.revisions, tags: new Set() }) !== undefined
    )
      problems.push(
        `${where}: revision ${rule.revision} is not among spec.traffic's revisions (${list(t.revisions)})`,
      );
  });
  return problems;
}
