// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: one Envoy fleet, with the CEL rules
// that need the whole fleet (effective ports and Service type depend on the visibility).
import type { Static } from '@sinclair/typebox';
import {
  FleetAccessLogSchema,
  FleetClientIPSchema,
  FleetHttpSchema,
  FleetMetricsSchema,
  FleetTracingSchema,
} from './knativegateway-fleet-edge-schema.ts';
import { FleetPolicySchema } from './knativegateway-fleet-policy-schema.ts';
import {
  FleetAutoscalingSchema,
  FleetDisruptionBudgetSchema,
  FleetEnvoySchema,
  FleetPlacementSchema,
  FleetServiceSchema,
  ResourceRequirementsSchema,
} from './knativegateway-fleet-runtime-schema.ts';
import {
  VISIBILITIES,
  DEFAULT_REPLICAS,
  DEFAULT_METRICS_PORT,
  DEFAULT_LISTENER_PORTS,
  DEFAULT_SERVICE_TYPES,
  ENVOY_READY_PORT,
  RESERVED_LISTENER_PORTS,
  LIMITS,
  DNS1123_LABEL_PATTERN,
  MESSAGES,
} from './knativegateway-constants.ts';
import { Obj, Str, Enum, Int, cel } from './schema-builders.ts';

const EXT = DEFAULT_LISTENER_PORTS.ExternalIP;
const LOCAL = DEFAULT_LISTENER_PORTS.ClusterLocal;

/** CEL: the effective listener port of a fleet (`self`), the visibility-dependent default when unset. */
function effectivePort(field: 'http' | 'https'): string {
  return (
    `(has(self.ports.${field}) ? self.ports.${field} : ` +
    `(self.visibility == 'ClusterLocal' ? ${LOCAL[field]} : ${EXT[field]}))`
  );
}

/** CEL: like effectivePort, for a fleet (`self`) that may have no `ports` at all. */
function effectivePortOrDefault(field: 'http' | 'https'): string {
  return (
    `(has(self.ports) && has(self.ports.${field}) ? self.ports.${field} : ` +
    `(self.visibility == 'ClusterLocal' ? ${LOCAL[field]} : ${EXT[field]}))`
  );
}

/** CEL: the effective Service type of a fleet (`self`, which has a service). */
const EFFECTIVE_SERVICE_TYPE =
  `(has(self.service.type) ? self.service.type : ` +
  `(self.visibility == 'ClusterLocal' ? '${DEFAULT_SERVICE_TYPES.ClusterLocal}' : '${DEFAULT_SERVICE_TYPES.ExternalIP}'))`;

/** A fleet, as its CEL rules see it. */
interface FleetSelf {
  visibility: string;
  replicas?: number;
  autoscaling?: object;
  resources?: { requests?: object };
  ports?: { http?: number; https?: number };
  metrics?: { enabled?: boolean; port?: number };
  service?: { type?: string; externalTrafficPolicy?: string; loadBalancerClass?: string };
}

/** Like effectivePort: the listener port as written, else the default of the fleet's visibility. */
function listenerPortOf(f: FleetSelf, field: 'http' | 'https'): number {
  return f.ports?.[field] ?? (f.visibility === 'ClusterLocal' ? LOCAL : EXT)[field];
}

/** Like EFFECTIVE_SERVICE_TYPE: the Service type as written, else the default of the visibility. */
function serviceTypeOf(f: FleetSelf): string {
  return (
    f.service?.type ??
    (f.visibility === 'ClusterLocal' ? DEFAULT_SERVICE_TYPES.ClusterLocal : DEFAULT_SERVICE_TYPES.ExternalIP)
  );
}

function listenerPort(field: 'http' | 'https', what: string) {
  return Int(
    `Port Envoy listens on for ${what}, inside its pod (or on the host for the local runtime); ` +
      `${LIMITS.minListenerPort}-${LIMITS.maxListenerPort}, since Envoy runs without privileges, and ` +
      `not ${ENVOY_READY_PORT} (Envoy's readiness listener). ` +
      `Defaults to ${EXT[field]} for ExternalIP fleets and ${LOCAL[field]} for ClusterLocal fleets ` +
      `(applied by kgw, because the default depends on the visibility).`,
    { minimum: LIMITS.minListenerPort, maximum: LIMITS.maxListenerPort },
  );
}

const RESERVED = `[${RESERVED_LISTENER_PORTS.join(', ')}]`;

export const FleetSpecSchema = Obj(
  'One Envoy fleet: a set of identical Envoy replicas that receive the same configuration over xDS ' +
    'and are published together by one Service.',
  {
    name: Str(
      `Name of the fleet, unique within the gateway. An RFC 1123 label of at most ` +
        `${LIMITS.fleetNameMaxLength} characters. The fleet's Service (and its Deployment, ` +
        'ServiceAccount, ConfigMap, PodDisruptionBudget and HorizontalPodAutoscaler) is named ' +
        `kgw-<gateway>-<fleet> (shortened with a hash suffix when longer than 63 characters), and ` +
        `its Envoy replicas identify themselves to kgw with the node cluster <gateway>/<fleet>.`,
      { pattern: DNS1123_LABEL_PATTERN, minLength: 1, maxLength: LIMITS.fleetNameMaxLength },
    ),
    visibility: Enum(
      'Which KIngress rules the fleet serves. ExternalIP: the public gateway; it serves rules with ' +
        'visibility ExternalIP, answers ClusterLocal hosts with 404, and its Service is reported as ' +
        "the KIngress's publicLoadBalancer. ClusterLocal: the cluster-local (private) gateway; it " +
        'serves every rule, ExternalIP and ClusterLocal, and its Service is reported as the ' +
        "KIngress's privateLoadBalancer.",
      { enum: VISIBILITIES },
    ),
    replicas: Int(
      `Fixed number of Envoy replicas, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}. Defaults to ` +
        `${DEFAULT_REPLICAS} (applied by kgw and left unset in the stored object). Mutually exclusive ` +
        'with autoscaling.',
      { minimum: LIMITS.minReplicas, maximum: LIMITS.maxReplicas },
    ),
    autoscaling: FleetAutoscalingSchema,
    podDisruptionBudget: FleetDisruptionBudgetSchema,
    resources: ResourceRequirementsSchema,
    ports: Obj(
      "Envoy's listener ports (container ports). Clients never see them: they connect to the " +
        'Service ports in service. Within a fleet the two ports must differ.',
      {
        http: listenerPort('http', 'plain HTTP/1.1 and h2c'),
        https: listenerPort('https', 'TLS (HTTPS and HTTP/2 over TLS, certificates chosen by SNI)'),
      },
    ),
    service: FleetServiceSchema,
    placement: FleetPlacementSchema,
    envoy: FleetEnvoySchema,
    accessLog: FleetAccessLogSchema,
    metrics: FleetMetricsSchema,
    tracing: FleetTracingSchema,
    http: FleetHttpSchema,
    clientIP: FleetClientIPSchema,
    policy: FleetPolicySchema,
  },
  {
    required: ['name', 'visibility'],
    validations: [
      cel(
        `!has(self.ports) || ${effectivePort('http')} != ${effectivePort('https')}`,
        MESSAGES.listenerPortsDiffer,
        (f: FleetSelf) => f.ports === undefined || listenerPortOf(f, 'http') !== listenerPortOf(f, 'https'),
        { fieldPath: '.ports' },
      ),
      cel(
        `!has(self.ports) || !(${effectivePort('http')} in ${RESERVED} || ${effectivePort('https')} in ${RESERVED})`,
        MESSAGES.reservedListenerPorts,
        (f: FleetSelf) =>
          f.ports === undefined ||
          !(
            RESERVED_LISTENER_PORTS.includes(listenerPortOf(f, 'http')) ||
            RESERVED_LISTENER_PORTS.includes(listenerPortOf(f, 'https'))
          ),
        { fieldPath: '.ports' },
      ),
      cel(
        '!has(self.metrics) || !has(self.metrics.enabled) || !self.metrics.enabled || ' +
          `!((has(self.metrics.port) ? self.metrics.port : ${DEFAULT_METRICS_PORT}) in ` +
          `[${effectivePortOrDefault('http')}, ${effectivePortOrDefault('https')}, ${ENVOY_READY_PORT}])`,
        MESSAGES.metricsPortDiffers,
        (f: FleetSelf) =>
          f.metrics?.enabled !== true ||
          ![listenerPortOf(f, 'http'), listenerPortOf(f, 'https'), ENVOY_READY_PORT].includes(
            f.metrics.port ?? DEFAULT_METRICS_PORT,
          ),
        { fieldPath: '.metrics' },
      ),
      cel(
        '!(has(self.replicas) && has(self.autoscaling))',
        MESSAGES.replicasOrAutoscaling,
        (f: FleetSelf) => !(f.replicas !== undefined && f.autoscaling !== undefined),
      ),
      cel(
        '!has(self.autoscaling) || !has(self.resources) || ' +
          "(has(self.resources.requests) && 'cpu' in self.resources.requests)",
        MESSAGES.autoscalingNeedsCpuRequest,
        (f: FleetSelf) =>
          f.autoscaling === undefined ||
          f.resources === undefined ||
          (f.resources.requests !== undefined && 'cpu' in f.resources.requests),
        { fieldPath: '.resources' },
      ),
      cel(
        `!has(self.service) || !has(self.service.externalTrafficPolicy) || ${EFFECTIVE_SERVICE_TYPE} != 'ClusterIP'`,
        MESSAGES.externalTrafficPolicyNeedsExternal,
        (f: FleetSelf) => f.service?.externalTrafficPolicy === undefined || serviceTypeOf(f) !== 'ClusterIP',
        { fieldPath: '.service' },
      ),
      cel(
        `!has(self.service) || !has(self.service.loadBalancerClass) || ${EFFECTIVE_SERVICE_TYPE} == 'LoadBalancer'`,
        MESSAGES.loadBalancerClassNeedsLoadBalancer,
        (f: FleetSelf) => f.service?.loadBalancerClass === undefined || serviceTypeOf(f) === 'LoadBalancer',
        { fieldPath: '.service' },
      ),
    ],
  },
);

/** A fleet as stored; `accessLog` may still be the first cut's boolean (see api/knativegateway.ts). */
export type FleetSpec = Static<typeof FleetSpecSchema>;
export type FleetPorts = NonNullable<FleetSpec['ports']>;
