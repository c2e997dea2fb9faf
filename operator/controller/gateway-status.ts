// KnativeGateway status from what the operator observes: per fleet its Service (domainInternal),
// replicas, ready replicas and connected proxies; conditions FleetsReady and Ready; or Ready False
// with the validation messages when the spec is invalid. Pure: the clock is a parameter.
import {
  CONDITION_FLEETS_READY,
  CONDITION_READY,
  isFleetReady,
  readyFleetsSummary,
  type FleetStatus,
  type GatewayCondition,
  type KnativeGateway,
  type KnativeGatewayStatus,
} from '../api/knativegateway.ts';
import type { GatewayConfig } from './engine.ts';

export interface FleetObservation {
  replicas: number;
  readyReplicas: number;
  connectedProxies: number;
}

function condition(
  prev: GatewayCondition[] | undefined,
  c: Omit<GatewayCondition, 'lastTransitionTime'>,
  now: string,
): GatewayCondition {
  const p = prev?.find((x) => x.type === c.type);
  const same = p && p.status === c.status && p.reason === c.reason && p.message === c.message;
  return { ...c, lastTransitionTime: same && p.lastTransitionTime ? p.lastTransitionTime : now };
}

export function gatewayStatus(
  gw: KnativeGateway,
  config: GatewayConfig | undefined,
  observe: (fleetKey: string) => FleetObservation,
  problems: string[],
  now: string,
): KnativeGatewayStatus {
  const prev = gw.status?.conditions;
  const generation = gw.metadata.generation ?? 0;
  if (!config || problems.length > 0) {
    const message = problems.join('; ') || 'invalid spec';
    const reason = problems.some((p) => p.includes('already served')) ? 'IngressClassTaken' : 'InvalidSpec';
    return {
      observedGeneration: generation,
      conditions: [
        condition(prev, { type: CONDITION_FLEETS_READY, status: 'False', reason, message }, now),
        condition(prev, { type: CONDITION_READY, status: 'False', reason, message }, now),
      ],
      fleets: [],
      readyFleets: `0/${gw.spec?.fleets?.length ?? 0}`,
    };
  }
  const fleets: FleetStatus[] = config.fleets.map((f) => {
    const o = observe(f.key);
    return {
      name: f.name,
      visibility: f.visibility,
      service: `${f.serviceName}.${f.namespace}.svc.${config.clusterDomain}`,
      replicas: o.replicas,
      readyReplicas: o.readyReplicas,
      connectedProxies: o.connectedProxies,
    };
  });
  const notReady = fleets.filter((f) => !isFleetReady(f)).map((f) => f.name);
  const ok = notReady.length === 0;
  const message = ok ? undefined : `fleets not ready: ${notReady.join(', ')}`;
  const fleetsReady = ok
    ? { type: CONDITION_FLEETS_READY, status: 'True' as const }
    : { type: CONDITION_FLEETS_READY, status: 'False' as const, reason: 'ReplicasNotReady', message };
  const ready = ok
    ? { type: CONDITION_READY, status: 'True' as const }
    : { type: CONDITION_READY, status: 'False' as const, reason: 'FleetsNotReady', message };
  return {
    observedGeneration: generation,
    conditions: [condition(prev, fleetsReady, now), condition(prev, ready, now)],
    fleets,
    readyFleets: readyFleetsSummary(config.fleets.length, fleets),
  };
}
