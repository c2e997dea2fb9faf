// KnativeGateway (operator.kgw.dev/v1alpha1, cluster-scoped): the ingress class a kgw instance
// serves, the Envoy fleets that serve it, and the Knative Serving configuration it owns. The API is
// defined once, as a TypeBox schema, and everything else comes from it:
//   - knativegateway-constants.ts: names, enumerations, defaults, limits, patterns, messages;
//   - knativegateway-{spec,fleet,fleet-runtime,fleet-edge,domain-policy,status}-schema.ts: the schema (every
//     field's description, default, limits and CEL rules) and the TypeScript types (Static);
//   - gen/knativegateway-crd.ts: the CRD's openAPIV3Schema, and from it docs/configuration.md;
//   - knativegateway-validate.ts: the same checks for callers that do not go through the API
//     server (ajv for the schema, the CEL rules' TypeScript equals, the name checks);
//   - knativegateway-defaults.ts and knativegateway-names.ts: the spec with every default applied,
//     and the names kgw derives.
// This module re-exports them under the names the rest of kgw imports.
//
// Compatibility note (v1alpha1, unreleased): the first cut had `accessLog: <boolean>` on a fleet.
// It is now an object, `accessLog: {enabled, format}`. The API server no longer accepts the
// boolean, but kgw still reads it from objects stored by the first-cut CRD (true ≙ {enabled:
// true}), so an upgrade never makes a stored gateway unreadable. Every other first-cut field
// keeps its name and meaning; `replicas` still has no schema default, which is what lets it be
// mutually exclusive with `autoscaling`.
import type { ObjectMeta } from './kingress.ts';
import type { KnativeGatewaySpec } from './knativegateway-spec-schema.ts';
import type { FleetStatus, KnativeGatewayStatus } from './knativegateway-status-schema.ts';

export * from './knativegateway-constants.ts';
export type * from './knativegateway-fleet-runtime-schema.ts';
export type * from './knativegateway-fleet-edge-schema.ts';
export type * from './knativegateway-fleet-schema.ts';
export type * from './knativegateway-spec-schema.ts';
export type * from './knativegateway-domain-policy-schema.ts';
export type * from './knativegateway-status-schema.ts';
export * from './knativegateway-defaults.ts';
export * from './knativegateway-names.ts';
export { validateGateway, validateGatewaySpec } from './knativegateway-validate.ts';
export type { JsonObject } from './schema-builders.ts';

/** A Kubernetes int-or-string value (an integer or a string such as "50%"). */
export type IntOrString = number | string;

export interface KnativeGateway {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: KnativeGatewaySpec;
  status?: KnativeGatewayStatus;
}

/** A fleet is ready when it wants at least one replica and all it wants are ready. */
export function isFleetReady(fs: Pick<FleetStatus, 'readyReplicas' | 'replicas'>): boolean {
  return fs.replicas >= 1 && fs.readyReplicas >= fs.replicas;
}

/** The `readyFleets` status field: `<ready>/<total>` over the spec's fleets. */
export function readyFleetsSummary(specFleets: number, fleets: readonly FleetStatus[]): string {
  return `${fleets.filter(isFleetReady).length}/${specFleets}`;
}
