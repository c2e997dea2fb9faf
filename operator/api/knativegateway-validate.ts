// KnativeGateway (operator.kgw.dev/v1alpha1) validation for callers that do not go through the API
// server (the local runtime, the operator reading stored objects, tests): the TypeBox schema the CRD
// is generated from, checked with ajv (api/schema-check.ts) and worded by api/schema-messages.ts;
// the CRD's CEL rules, by their TypeScript equals (api/schema-rules.ts); and what no schema can say:
// the metadata.name limit and fleets whose Services would share a name.
import { DNS1123_SUBDOMAIN_PATTERN, LIMITS, MESSAGES, PATTERN_MESSAGES } from './knativegateway-constants.ts';
import { fleetServiceNameCollisions } from './knativegateway-names.ts';
import { KnativeGatewaySpecSchema, type KnativeGatewaySpec } from './knativegateway-spec-schema.ts';
import type { KnativeGateway } from './knativegateway.ts';
import { schemaErrors } from './schema-check.ts';
import { isBlocking, schemaMessages } from './schema-messages.ts';
import { ruleProblems } from './schema-rules.ts';

const DNS1123_SUBDOMAIN_RE = new RegExp(DNS1123_SUBDOMAIN_PATTERN);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A copy of `spec` in today's shape: a fleet's `accessLog` stored by the first cut of the API as a
 * boolean becomes `{enabled: <boolean>}` (kgw still reads it; see api/knativegateway.ts).
 */
function currentShape(spec: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(spec);
  if (Array.isArray(copy.fleets)) {
    for (const f of copy.fleets as unknown[]) {
      if (isObject(f) && typeof f.accessLog === 'boolean') f.accessLog = { enabled: f.accessLog };
    }
  }
  return copy;
}

/**
 * Problems with a spec, as `<field path>: <message>` lines (empty when valid): the schema's types,
 * limits and patterns, then the CEL rules (on the spec with the schema's defaults applied, as the
 * API server evaluates them). The input may be any decoded JSON; it is not modified.
 */
export function validateGatewaySpec(spec: KnativeGatewaySpec): string[] {
  if (!isObject(spec)) return ['spec: must be an object'];
  const value = currentShape(spec);
  const errors = schemaErrors(KnativeGatewaySpecSchema, value);
  const blocked = errors.filter(isBlocking).map((e) => e.instancePath);
  return [
    ...schemaMessages(errors, 'spec', PATTERN_MESSAGES),
    ...ruleProblems(KnativeGatewaySpecSchema, value, 'spec', blocked),
  ];
}

/** Problems with metadata.name: it is also a label value, hence the limit. */
export function gatewayNameProblems(name: unknown): string[] {
  if (typeof name !== 'string' || !DNS1123_SUBDOMAIN_RE.test(name)) {
    return ['metadata.name: must be an RFC 1123 subdomain'];
  }
  return name.length > LIMITS.gatewayNameMaxLength ? [`metadata.name: ${MESSAGES.gatewayNameTooLong}`] : [];
}

/** `validateGatewaySpec` plus the checks on metadata.name and the generated Service names. */
export function validateGateway(gw: KnativeGateway): string[] {
  const errs = [...gatewayNameProblems(gw.metadata?.name), ...validateGatewaySpec(gw.spec)];
  if (errs.length > 0) return errs;
  return fleetServiceNameCollisions([gw]).map((c) => `spec.fleets: ${c}`);
}
