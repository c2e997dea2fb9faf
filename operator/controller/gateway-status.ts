// KnativeGateway status from what the operator observes: per fleet its Service (domainInternal),
// replicas, ready replicas, connected proxies, the config version they all acknowledged and the
// last NACK; conditions FleetsReady, KnativeConfigured and Ready (the conjunction); or Ready False
// with the validation messages when the spec is invalid. Pure: the clock is a parameter.
import { stamp } from '../status/condition.ts';
import {
  CONDITION_FLEETS_READY,
  CONDITION_KNATIVE_CONFIGURED,
  CONDITION_READY,
  isFleetReady,
  readyFleetsSummary,
  type ConditionStatus,
  type FleetNack,
  type FleetStatus,
  type FleetTraffic,
  type GatewayCondition,
  type KnativeGateway,
  type KnativeGatewayStatus,
} from '../api/knativegateway.ts';
import { overallTraffic } from './fleet-traffic.ts';
import type { GatewayConfig } from './gateways.ts';
import type { FleetProblemReason, GatewayFleetProblem } from '../fleets/runtime.ts';

export interface FleetObservation {
  replicas: number;
  readyReplicas: number;
  connectedProxies: number;
  /** Where clients outside the cluster reach the fleet (load balancer IP or host name). */
  address?: string;
  configVersion?: string;
  lastNack?: FleetNack;
  traffic?: FleetTraffic;
  /** A Global fleet's rate-limit service (rate-limit-service-status.ts). */
  rateLimitService?: FleetStatus['rateLimitService'];
}

/** The KnativeConfigured condition as the Knative config writer reports it. */
export interface KnativeObservation {
  status: ConditionStatus;
  reason?: string;
  message?: string;
}

export interface GatewayObservation {
  /** Validation problems or a taken ingress class: the gateway is not served at all. */
  problems: string[];
  /** Problems applying its fleets' objects (missing namespace, no permission, foreign objects, API errors). */
  fleetProblems?: GatewayFleetProblem[];
  /** The default certificate not requested or not (yet) servable. */
  tlsProblems?: string[];
  knative?: KnativeObservation;
  /**
   * Why the operator's view of the cluster may be out of date (its watches have been failing for
   * a while): the fleets may be serving stale configuration.
   */
  controlPlaneStale?: string;
}

type Cond = Omit<GatewayCondition, 'lastTransitionTime'>;

/** The FleetsReady reason for a set of problems: what the admin must fix first names it. */
const REASON_ORDER: readonly FleetProblemReason[] = [
  'NamespaceNotFound',
  'FleetNamespaceForbidden',
  'FleetObjectsNotApplied',
];

function condition(
  prev: GatewayCondition[] | undefined,
  c: Cond,
  now: string,
  generation?: number,
): GatewayCondition {
  return stamp<GatewayCondition>(
    prev,
    { ...c, ...(generation !== undefined ? { observedGeneration: generation } : {}) },
    now,
  );
}

export function gatewayStatus(
  gw: KnativeGateway,
  config: GatewayConfig | undefined,
  observe: (fleetKey: string) => FleetObservation,
  seen: GatewayObservation,
  now: string,
): KnativeGatewayStatus {
  const prev = gw.status?.conditions;
  const gen = gw.metadata.generation;
  const generation = gw.metadata.generation ?? 0;
  if (!config || seen.problems.length > 0) {
    const message = seen.problems.join('; ') || 'invalid spec';
    const reason = seen.problems.some((p) => p.includes('already served'))
      ? 'IngressClassTaken'
      : 'InvalidSpec';
    return {
      observedGeneration: generation,
      conditions: [
        condition(prev, { type: CONDITION_FLEETS_READY, status: 'False', reason, message }, now, gen),
        condition(prev, { type: CONDITION_KNATIVE_CONFIGURED, status: 'False', reason, message }, now, gen),
        condition(prev, { type: CONDITION_READY, status: 'False', reason, message }, now, gen),
      ],
      fleets: [],
      readyFleets: `0/${gw.spec?.fleets?.length ?? 0}`,
    };
  }
  const fleets: FleetStatus[] = config.fleets.map((f) => {
    const o = observe(f.key);
    const fs: FleetStatus = {
      name: f.name,
      visibility: f.visibility,
      service: `${f.serviceName}.${f.namespace}.svc.${config.clusterDomain}`,
      replicas: o.replicas,
      readyReplicas: o.readyReplicas,
      connectedProxies: o.connectedProxies,
    };
    if (o.address !== undefined) fs.address = o.address;
    if (o.configVersion !== undefined) fs.configVersion = o.configVersion;
    if (o.lastNack !== undefined) fs.lastNack = o.lastNack;
    if (o.traffic !== undefined) fs.traffic = o.traffic;
    if (o.rateLimitService !== undefined) fs.rateLimitService = o.rateLimitService;
    return fs;
  });
  const measured = fleets.flatMap((f) => (f.traffic ? [f.traffic] : []));
  const notReady = fleets.filter((f) => !isFleetReady(f)).map((f) => f.name);
  const fleetProblems = seen.fleetProblems ?? [];
  let fleetsReady: Cond;
  if (seen.controlPlaneStale !== undefined) {
    fleetsReady = {
      type: CONDITION_FLEETS_READY,
      status: 'False',
      reason: 'ControlPlaneStale',
      message: seen.controlPlaneStale,
    };
  } else if (fleetProblems.length > 0) {
    const reason =
      REASON_ORDER.find((r) => fleetProblems.some((p) => p.reason === r)) ?? 'FleetObjectsNotApplied';
    fleetsReady = {
      type: CONDITION_FLEETS_READY,
      status: 'False',
      reason,
      message: [
        ...fleetProblems.filter((p) => p.reason === reason),
        ...fleetProblems.filter((p) => p.reason !== reason),
      ]
        .map((p) => p.message)
        .join('; '),
    };
  } else if ((seen.tlsProblems ?? []).length > 0) {
    fleetsReady = {
      type: CONDITION_FLEETS_READY,
      status: 'False',
      reason: 'DefaultCertificateNotReady',
      message: (seen.tlsProblems ?? []).join('; '),
    };
  } else if (notReady.length > 0) {
    fleetsReady = {
      type: CONDITION_FLEETS_READY,
      status: 'False',
      reason: 'ReplicasNotReady',
      message: `fleets not ready: ${notReady.join(', ')}`,
    };
  } else fleetsReady = { type: CONDITION_FLEETS_READY, status: 'True' };
  const knative: Cond = { type: CONDITION_KNATIVE_CONFIGURED, ...(seen.knative ?? { status: 'Unknown' }) };
  let ready: Cond;
  if (fleetsReady.status !== 'True') {
    ready = {
      type: CONDITION_READY,
      status: 'False',
      reason:
        fleetsReady.reason === 'ReplicasNotReady'
          ? 'FleetsNotReady'
          : (fleetsReady.reason ?? 'FleetsNotReady'),
      ...(fleetsReady.message !== undefined ? { message: fleetsReady.message } : {}),
    };
  } else if (knative.status !== 'True') {
    ready = {
      type: CONDITION_READY,
      status: knative.status,
      reason: knative.reason ?? 'KnativeNotConfigured',
      ...(knative.message !== undefined ? { message: knative.message } : {}),
    };
  } else ready = { type: CONDITION_READY, status: 'True' };
  const status: KnativeGatewayStatus = {
    observedGeneration: generation,
    conditions: [
      condition(prev, fleetsReady, now, gen),
      condition(prev, knative, now, gen),
      condition(prev, ready, now, gen),
    ],
    fleets,
    readyFleets: readyFleetsSummary(config.fleets.length, fleets),
  };
  const external = fleets.find((f) => f.visibility === 'ExternalIP' && f.address !== undefined);
  if (external?.address !== undefined) status.externalAddress = external.address;
  if (measured.length > 0) Object.assign(status, overallTraffic(measured));
  return status;
}
