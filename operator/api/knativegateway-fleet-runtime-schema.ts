// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: how a fleet runs on Kubernetes
// (replicas, disruption budget, resources, Service, placement, the Envoy process).
import type { Static } from '@sinclair/typebox';
import { celString, labelMap, qualifiedKeys } from './knativegateway-schema-common.ts';
import {
  LABEL_GATEWAY,
  LABEL_FLEET,
  SERVICE_TYPES,
  EXTERNAL_TRAFFIC_POLICIES,
  ENVOY_LOG_LEVELS,
  TOLERATION_OPERATORS,
  TOLERATION_EFFECTS,
  DEFAULT_SERVICE_HTTP_PORT,
  DEFAULT_SERVICE_HTTPS_PORT,
  DEFAULT_SERVICE_TYPES,
  DEFAULT_AUTOSCALING_MIN_REPLICAS,
  DEFAULT_AUTOSCALING_TARGET_CPU,
  DEFAULT_RESOURCES,
  DEFAULT_ENVOY_IMAGE,
  DEFAULT_ENVOY_LOG_LEVEL,
  DEFAULT_ENVOY_CONCURRENCY,
  DEFAULT_DRAIN_SECONDS,
  DEFAULT_MAX_HEAP_MIB,
  MAX_HEAP_SHARE_OF_MEMORY_LIMIT,
  LIMITS,
  DNS1123_SUBDOMAIN_PATTERN,
  QUALIFIED_NAME_PATTERN,
  QUANTITY_PATTERN,
  PERCENT_PATTERN,
  IMAGE_PATTERN,
  MESSAGES,
} from './knativegateway-constants.ts';
import { Obj, Str, Enum, Int, Arr, MapOf, MapValue, IntOrString, Preserved, cel } from './schema-builders.ts';

export const FleetAutoscalingSchema = Obj(
  'Scale the fleet with a HorizontalPodAutoscaler (autoscaling/v2) on CPU utilization instead of a ' +
    'fixed replica count. Mutually exclusive with replicas. Needs a CPU request (resources.requests.cpu; ' +
    'the default resources have one). The local runtime runs minReplicas replicas.',
  {
    minReplicas: Int(
      `Fewest replicas the autoscaler keeps, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}, at most ` +
        `maxReplicas. Defaults to ${DEFAULT_AUTOSCALING_MIN_REPLICAS}.`,
      {
        minimum: LIMITS.minReplicas,
        maximum: LIMITS.maxReplicas,
        default: DEFAULT_AUTOSCALING_MIN_REPLICAS,
      },
    ),
    maxReplicas: Int(`Most replicas the autoscaler may run, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}.`, {
      minimum: LIMITS.minReplicas,
      maximum: LIMITS.maxReplicas,
    }),
    targetCPUUtilizationPercentage: Int(
      'Average CPU use the autoscaler aims for, in percent of the CPU request ' +
        `(${LIMITS.minTargetCPU}-${LIMITS.maxTargetCPU}). Defaults to ${DEFAULT_AUTOSCALING_TARGET_CPU}.`,
      {
        minimum: LIMITS.minTargetCPU,
        maximum: LIMITS.maxTargetCPU,
        default: DEFAULT_AUTOSCALING_TARGET_CPU,
      },
    ),
  },
  {
    required: ['maxReplicas'],
    validations: [
      cel(
        `(has(self.minReplicas) ? self.minReplicas : ${DEFAULT_AUTOSCALING_MIN_REPLICAS}) <= self.maxReplicas`,
        MESSAGES.autoscalingMinAboveMax,
        (a: { minReplicas?: number; maxReplicas: number }) =>
          (a.minReplicas ?? DEFAULT_AUTOSCALING_MIN_REPLICAS) <= a.maxReplicas,
      ),
    ],
  },
);

function pdbValue(what: string) {
  return IntOrString(
    `${what}, as a number of pods or a percentage of the fleet's replicas ("50%"). An integer ≥ 0 ` +
      'or a percentage from 0% to 100%.',
    {
      maxLength: 4,
      validations: [
        cel(
          `type(self) == int ? self >= 0 : self.matches(${celString(PERCENT_PATTERN)})`,
          MESSAGES.pdbValue,
          (v: number | string) => (typeof v === 'number' ? v >= 0 : PERCENT_RE.test(v)),
        ),
      ],
    },
  );
}

export const FleetDisruptionBudgetSchema = Obj(
  "A PodDisruptionBudget (policy/v1) for the fleet's pods, so voluntary disruptions (node drains, " +
    'cluster upgrades) keep enough Envoys serving. Set exactly one of minAvailable and maxUnavailable. ' +
    'Without this field kgw creates no PodDisruptionBudget.',
  {
    minAvailable: pdbValue('Pods that must stay available during a voluntary disruption'),
    maxUnavailable: pdbValue('Pods that may be unavailable during a voluntary disruption'),
  },
  {
    validations: [
      cel(
        'has(self.minAvailable) != has(self.maxUnavailable)',
        MESSAGES.pdbExactlyOne,
        (p: { minAvailable?: unknown; maxUnavailable?: unknown }) =>
          (p.minAvailable !== undefined) !== (p.maxUnavailable !== undefined),
      ),
    ],
  },
);

function quantityMap(description: string) {
  return MapOf(
    description,
    IntOrString('A quantity such as 500m, 2 or 512Mi.', { pattern: QUANTITY_PATTERN }),
    { maxProperties: LIMITS.maxMapEntries },
  );
}

export const ResourceRequirementsSchema = Obj(
  'Compute resources of the Envoy container (core/v1 ResourceRequirements: requests and limits of ' +
    `cpu, memory, ephemeral-storage). Defaults to requests of cpu ${DEFAULT_RESOURCES.requests.cpu} and memory ${DEFAULT_RESOURCES.requests.memory} and no ` +
    'limits (applied by kgw). When set, it replaces the default entirely. A CPU limit also sets ' +
    "Envoy's default concurrency.",
  {
    requests: quantityMap('Resources the scheduler reserves for each Envoy pod.'),
    limits: quantityMap('Most resources each Envoy pod may use.'),
  },
);

export const FleetServiceSchema = Obj(
  "The Service that publishes the fleet: what clients, Knative's prober and KIngress status consumers " +
    'connect to. Its ports forward to the matching listener ports in ports.',
  {
    type: Enum(
      'Service type. ClusterIP: reachable inside the cluster only. NodePort: also on a port of every ' +
        'node. LoadBalancer: also through an external load balancer. Defaults to ' +
        `${DEFAULT_SERVICE_TYPES.ExternalIP} for ExternalIP fleets and ${DEFAULT_SERVICE_TYPES.ClusterLocal} ` +
        'for ClusterLocal fleets (applied by kgw, because the default depends on the visibility).',
      { enum: SERVICE_TYPES },
    ),
    annotations: MapOf(
      'Annotations for the Service, e.g. to configure a cloud load balancer ' +
        '(service.beta.kubernetes.io/aws-load-balancer-type: nlb).',
      MapValue({ maxLength: LIMITS.annotationValueMaxLength }),
      { maxProperties: LIMITS.maxMapEntries, validations: [qualifiedKeys()] },
    ),
    externalTrafficPolicy: Enum(
      'How external traffic reaches the Envoy pods (NodePort and LoadBalancer Services only). ' +
        'Cluster: through any node, hiding the client address. Local: only through nodes running an ' +
        "Envoy of the fleet, keeping the client's source address. Unset: Kubernetes' default (Cluster).",
      { enum: EXTERNAL_TRAFFIC_POLICIES },
    ),
    loadBalancerClass: Str(
      'Load balancer implementation to use (LoadBalancer Services only), e.g. ' +
        "example.com/internal-vip. Unset: the cluster's default. Kubernetes does not allow changing it " +
        'once set: kgw then has to recreate the Service.',
      { pattern: QUALIFIED_NAME_PATTERN, maxLength: LIMITS.loadBalancerClassMaxLength },
    ),
    httpPort: Int(
      `Service port for plain HTTP, forwarded to ports.http. ${LIMITS.minServicePort}-` +
        `${LIMITS.maxServicePort}. Defaults to ${DEFAULT_SERVICE_HTTP_PORT}.`,
      {
        minimum: LIMITS.minServicePort,
        maximum: LIMITS.maxServicePort,
        default: DEFAULT_SERVICE_HTTP_PORT,
      },
    ),
    httpsPort: Int(
      `Service port for TLS, forwarded to ports.https. ${LIMITS.minServicePort}-` +
        `${LIMITS.maxServicePort}. Defaults to ${DEFAULT_SERVICE_HTTPS_PORT}.`,
      {
        minimum: LIMITS.minServicePort,
        maximum: LIMITS.maxServicePort,
        default: DEFAULT_SERVICE_HTTPS_PORT,
      },
    ),
  },
  {
    default: {},
    validations: [
      cel(
        `(has(self.httpPort) ? self.httpPort : ${DEFAULT_SERVICE_HTTP_PORT}) != ` +
          `(has(self.httpsPort) ? self.httpsPort : ${DEFAULT_SERVICE_HTTPS_PORT})`,
        MESSAGES.servicePortsDiffer,
        (s: { httpPort?: number; httpsPort?: number }) =>
          (s.httpPort ?? DEFAULT_SERVICE_HTTP_PORT) !== (s.httpsPort ?? DEFAULT_SERVICE_HTTPS_PORT),
      ),
    ],
  },
);

/** A toleration, as its CEL rules see it. */
interface TolerationSelf {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

const PERCENT_RE = new RegExp(PERCENT_PATTERN);

export const TolerationSchema = Obj(
  'A core/v1 Toleration: lets the pods run on nodes with a matching taint.',
  {
    key: Str('Taint key to match. Empty with operator Exists: every taint.', {
      maxLength: LIMITS.labelKeyMaxLength,
    }),
    operator: Enum('Exists: any value matches. Equal: the value must match. Defaults to Equal.', {
      enum: TOLERATION_OPERATORS,
    }),
    value: Str('Taint value to match (operator Equal).', { maxLength: LIMITS.labelValueMaxLength }),
    effect: Enum('Taint effect to match. Empty: every effect.', { enum: TOLERATION_EFFECTS }),
    tolerationSeconds: Int(
      'For effect NoExecute: how long the pods stay on a node after the taint appears. Unset: forever.',
      { format: 'int64' },
    ),
  },
  {
    validations: [
      cel(
        "!(has(self.operator) && self.operator == 'Exists' && has(self.value) && self.value != '')",
        MESSAGES.tolerationExistsNoValue,
        (t: TolerationSelf) => !(t.operator === 'Exists' && t.value !== undefined && t.value !== ''),
      ),
      cel(
        "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
        MESSAGES.tolerationEmptyKeyNeedsExists,
        (t: TolerationSelf) => (t.key !== undefined && t.key !== '') || t.operator === 'Exists',
      ),
      cel(
        "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
        MESSAGES.tolerationSecondsNeedsNoExecute,
        (t: TolerationSelf) => t.tolerationSeconds === undefined || t.effect === 'NoExecute',
      ),
    ],
  },
);

export const FleetPlacementSchema = Obj(
  "Where the fleet's pods may run (the scheduling fields of the pod spec). Unset fields leave the " +
    'choice to the scheduler.',
  {
    nodeSelector: labelMap('Node labels a node must have to run the pods (core/v1 PodSpec.nodeSelector).'),
    tolerations: Arr(`Taints the pods tolerate, at most ${LIMITS.maxTolerations}.`, TolerationSchema, {
      maxItems: LIMITS.maxTolerations,
      listType: 'atomic',
    }),
    affinity: Preserved(
      'A core/v1 Affinity (nodeAffinity, podAffinity, podAntiAffinity), given to the pods as written; ' +
        "the Deployment's validation checks it, and kgw reports a rejection on status. To spread " +
        `replicas over nodes, select the fleet's pods with the labels ${LABEL_GATEWAY} and ${LABEL_FLEET}.`,
    ),
    topologySpreadConstraints: Arr(
      'core/v1 TopologySpreadConstraints (maxSkew, topologyKey, whenUnsatisfiable, …), given to the ' +
        "pods as written, except that a constraint without labelSelector gets one selecting the fleet's " +
        `own pods. At most ${LIMITS.maxTopologySpreadConstraints}.`,
      Preserved('A core/v1 TopologySpreadConstraint.'),
      { maxItems: LIMITS.maxTopologySpreadConstraints, listType: 'atomic' },
    ),
    priorityClassName: Str('PriorityClass of the pods, so Envoys are not preempted by less important pods.', {
      pattern: DNS1123_SUBDOMAIN_PATTERN,
      maxLength: LIMITS.priorityClassNameMaxLength,
    }),
  },
);

export const FleetEnvoySchema = Obj(
  'The Envoy process of each replica.',
  {
    image: Str(
      `Envoy container image. Defaults to ${DEFAULT_ENVOY_IMAGE}, the version this kgw release is tested ` +
        'with (applied by kgw, so upgrading kgw upgrades Envoy; set it to pin). The graceful-drain hook ' +
        'needs /bin/sh and perl (Debian and Ubuntu based images have both); without perl the pod ' +
        'still waits drainSeconds but Envoy is not told to drain.',
      { pattern: IMAGE_PATTERN, minLength: 1, maxLength: LIMITS.imageMaxLength },
    ),
    logLevel: Enum(`Envoy's log level (--log-level). Defaults to ${DEFAULT_ENVOY_LOG_LEVEL}.`, {
      enum: ENVOY_LOG_LEVELS,
      default: DEFAULT_ENVOY_LOG_LEVEL,
    }),
    concurrency: Int(
      `Envoy worker threads (--concurrency), 1-${LIMITS.maxConcurrency}. Defaults to the CPU limit ` +
        `rounded up, or ${DEFAULT_ENVOY_CONCURRENCY} without a CPU limit (applied by kgw).`,
      { minimum: 1, maximum: LIMITS.maxConcurrency },
    ),
    drainSeconds: Int(
      'Seconds a terminating Envoy keeps serving while it asks clients to go away (HTTP/1.1 ' +
        '"Connection: close", HTTP/2 GOAWAY), before it stops. 0 stops at once. The pod\'s ' +
        `terminationGracePeriodSeconds is this plus 10. 0-${LIMITS.maxDrainSeconds}. Defaults to ` +
        `${DEFAULT_DRAIN_SECONDS}.`,
      { minimum: 0, maximum: LIMITS.maxDrainSeconds, default: DEFAULT_DRAIN_SECONDS },
    ),
    maxHeapMiB: Int(
      "Heap limit, in MiB, of Envoy's overload manager: at 95% of it Envoy returns free memory to " +
        'the system, at 98% it answers new requests with 503 instead of growing until the container ' +
        `is killed for running out of memory. 0 turns the overload manager off; otherwise ${LIMITS.minHeapMiB}-` +
        `${LIMITS.maxHeapMiB}. Defaults to ${MAX_HEAP_SHARE_OF_MEMORY_LIMIT * 100}% of ` +
        `resources.limits.memory, or ${DEFAULT_MAX_HEAP_MIB} without a memory limit (applied by kgw). ` +
        'A change restarts the Envoys (it is part of their bootstrap).',
      {
        minimum: 0,
        maximum: LIMITS.maxHeapMiB,
        validations: [
          cel(
            `self == 0 || self >= ${LIMITS.minHeapMiB}`,
            MESSAGES.maxHeapMiB,
            (v: number) => v === 0 || v >= LIMITS.minHeapMiB,
          ),
        ],
      },
    ),
  },
  { default: {} },
);

export type FleetAutoscaling = Static<typeof FleetAutoscalingSchema>;
export type FleetDisruptionBudget = Static<typeof FleetDisruptionBudgetSchema>;
export type ResourceRequirements = Static<typeof ResourceRequirementsSchema>;
export type FleetService = Static<typeof FleetServiceSchema>;
/** First-cut name of `FleetService` (it only had the two ports). */
export type FleetServicePorts = FleetService;
export type Toleration = Static<typeof TolerationSchema>;
export type FleetPlacement = Static<typeof FleetPlacementSchema>;
export type FleetEnvoy = Static<typeof FleetEnvoySchema>;
