import { withClientIPDefaults, withHttpDefaults, type KnativeGateway } from '../api/knativegateway.ts';
import type { GatewayConfig } from './gateways.ts';
import { gatewayStatus } from './gateway-status.ts';
import { STRICT_POLICY } from '../translate/external-names.ts';

const gw: KnativeGateway = {
  metadata: { name: 'default', generation: 3 },
  spec: {
    fleets: [
      { name: 'external', visibility: 'ExternalIP' },
      { name: 'local', visibility: 'ClusterLocal' },
    ],
  },
};
const config: GatewayConfig = {
  name: 'default',
  ingressClass: 'kgw.ingress.networking.knative.dev',
  clusterDomain: 'cluster.local',
  externalNames: STRICT_POLICY,
  fleets: ['external', 'local'].map((name, i) => ({
    key: `default/${name}`,
    gateway: 'default',
    name,
    visibility: i === 0 ? 'ExternalIP' : 'ClusterLocal',
    replicas: 2,
    ports: { http: 8080, https: 8443 },
    service: { httpPort: 80, httpsPort: 443 },
    namespace: 'kgw-system',
    serviceName: `kgw-default-${name}`,
    accessLog: false,
    http: withHttpDefaults(undefined),
    clientIP: withClientIPDefaults(undefined),
    maxHeapMiB: 0,
    metrics: { enabled: false, port: 9091 },
    rateLimitSharing: 'PerReplica' as const,
  })),
};

test('all fleets ready → Ready True with per-fleet figures', () => {
  const s = gatewayStatus(
    gw,
    config,
    () => ({ replicas: 2, readyReplicas: 2, connectedProxies: 2, configVersion: 'v7' }),
    { problems: [], knative: { status: 'True', reason: 'Configured' } },
    't1',
  );
  expect(s.observedGeneration).toBe(3);
  expect(s.readyFleets).toBe('2/2');
  expect(s.conditions?.map((c) => [c.type, c.status])).toEqual([
    ['FleetsReady', 'True'],
    ['KnativeConfigured', 'True'],
    ['Ready', 'True'],
  ]);
  expect(s.fleets?.[1]).toEqual({
    name: 'local',
    visibility: 'ClusterLocal',
    service: 'kgw-default-local.kgw-system.svc.cluster.local',
    replicas: 2,
    readyReplicas: 2,
    connectedProxies: 2,
    configVersion: 'v7',
  });
});

test('a fleet short of ready replicas → Ready False naming it; transition time kept when unchanged', () => {
  const obs = (k: string) => ({
    replicas: 2,
    readyReplicas: k.endsWith('local') ? 1 : 2,
    connectedProxies: 1,
  });
  const s1 = gatewayStatus(gw, config, obs, { problems: [] }, 't1');
  expect(s1.conditions?.find((c) => c.type === 'Ready')).toEqual({
    type: 'Ready',
    status: 'False',
    reason: 'FleetsNotReady',
    message: 'fleets not ready: local',
    lastTransitionTime: 't1',
    observedGeneration: 3,
  });
  const s2 = gatewayStatus({ ...gw, status: s1 }, config, obs, { problems: [] }, 't2');
  expect(s2.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime).toBe('t1');
  // A new generation with the same outcome: observedGeneration follows the spec, the
  // transition time stays (metav1.Condition semantics).
  const s3 = gatewayStatus(
    { ...gw, metadata: { ...gw.metadata, generation: 4 }, status: s2 },
    config,
    obs,
    { problems: [] },
    't3',
  );
  expect(s3.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
    lastTransitionTime: 't1',
    observedGeneration: 4,
  });
  expect(s2.readyFleets).toBe('1/2');
});

test('invalid spec or a taken ingress class → Ready False with the messages', () => {
  const s = gatewayStatus(
    gw,
    undefined,
    () => ({ replicas: 0, readyReplicas: 0, connectedProxies: 0 }),
    { problems: ['spec.fleets[0].name: bad'] },
    't',
  );
  expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
    status: 'False',
    reason: 'InvalidSpec',
    message: 'spec.fleets[0].name: bad',
  });
  const t = gatewayStatus(
    gw,
    undefined,
    () => ({ replicas: 0, readyReplicas: 0, connectedProxies: 0 }),
    { problems: ['ingress class x is already served by KnativeGateway other'] },
    't',
  );
  expect(t.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('IngressClassTaken');
});

test('fleets ready but Knative not configured → Ready carries the Knative reason', () => {
  const obs = () => ({ replicas: 1, readyReplicas: 1, connectedProxies: 1 });
  const s = gatewayStatus(
    gw,
    config,
    obs,
    {
      problems: [],
      knative: {
        status: 'False',
        reason: 'NamespaceNotFound',
        message: 'namespace knative-serving not found',
      },
    },
    't',
  );
  expect(s.conditions?.find((c) => c.type === 'KnativeConfigured')).toMatchObject({
    status: 'False',
    reason: 'NamespaceNotFound',
  });
  expect(s.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
    status: 'False',
    reason: 'NamespaceNotFound',
    message: 'namespace knative-serving not found',
  });
  // unknown until the writer reports
  const u = gatewayStatus(gw, config, obs, { problems: [] }, 't');
  expect(u.conditions?.find((c) => c.type === 'Ready')?.status).toBe('Unknown');
});

test('objects kgw does not own → FleetsReady False with the problem; address → externalAddress', () => {
  const s = gatewayStatus(
    gw,
    config,
    (k) => ({
      replicas: 1,
      readyReplicas: 1,
      connectedProxies: 1,
      ...(k.endsWith('external') ? { address: '203.0.113.7' } : {}),
    }),
    {
      problems: [],
      fleetProblems: [
        {
          reason: 'FleetObjectsNotApplied',
          message: "Deployment kgw-system/kgw-default-external already exists and is not kgw's",
        },
      ],
      knative: { status: 'True' },
    },
    't',
  );
  expect(s.conditions?.find((c) => c.type === 'FleetsReady')).toMatchObject({
    status: 'False',
    reason: 'FleetObjectsNotApplied',
  });
  expect(s.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('FleetObjectsNotApplied');
  expect(s.externalAddress).toBe('203.0.113.7');
});

test('a missing namespace or a missing RoleBinding names FleetsReady (and Ready) and comes first in the message', () => {
  const observe = () => ({ replicas: 0, readyReplicas: 0, connectedProxies: 0 });
  const forbidden = {
    reason: 'FleetNamespaceForbidden' as const,
    message: 'kgw may not manage fleet objects in namespace edge: … kubectl create rolebinding …',
  };
  const other = { reason: 'FleetObjectsNotApplied' as const, message: 'Service x/y already exists' };
  const s = gatewayStatus(
    gw,
    config,
    observe,
    { problems: [], fleetProblems: [other, forbidden], knative: { status: 'True' } },
    't',
  );
  expect(s.conditions?.find((c) => c.type === 'FleetsReady')).toMatchObject({
    status: 'False',
    reason: 'FleetNamespaceForbidden',
    message: `${forbidden.message}; ${other.message}`,
  });
  expect(s.conditions?.find((c) => c.type === 'Ready')?.reason).toBe('FleetNamespaceForbidden');
  const missing = {
    reason: 'NamespaceNotFound' as const,
    message: 'namespace edge (spec.namespace) does not exist',
  };
  const t = gatewayStatus(
    gw,
    config,
    observe,
    { problems: [], fleetProblems: [forbidden, missing], knative: { status: 'True' } },
    't',
  );
  expect(t.conditions?.find((c) => c.type === 'FleetsReady')?.reason).toBe('NamespaceNotFound');
});

test('fleets with traffic figures: per fleet, and summed for the printer columns; none without', () => {
  const s = gatewayStatus(
    gw,
    config,
    (k) => ({
      replicas: 2,
      readyReplicas: 2,
      connectedProxies: 2,
      traffic: k.endsWith('external')
        ? { requestsPerSecond: '30.0', errorRatio: '10.0%', windowSeconds: 30 }
        : { requestsPerSecond: '10.0', errorRatio: '0.0%', windowSeconds: 30 },
    }),
    { problems: [] },
    't1',
  );
  expect(s.fleets?.[0]?.traffic).toEqual({
    requestsPerSecond: '30.0',
    errorRatio: '10.0%',
    windowSeconds: 30,
  });
  expect([s.requestsPerSecond, s.errorRatio]).toEqual(['40.0', '7.5%']);
  const none = gatewayStatus(
    gw,
    config,
    () => ({ replicas: 2, readyReplicas: 2, connectedProxies: 2 }),
    { problems: [] },
    't1',
  );
  expect([none.requestsPerSecond, none.errorRatio, none.fleets?.[0]?.traffic]).toEqual([
    undefined,
    undefined,
    undefined,
  ]);
});
