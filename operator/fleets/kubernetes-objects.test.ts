// The pure renderers of the Kubernetes fleet objects: names, labels, owner references, the hardened
// pod, probes, draining, replicas vs autoscaling, PDB, Service, placement and the bootstrap (every
// rendered bootstrap also passes `envoy --mode validate`).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateEnvoyConfig } from '../../test/env/envoy.ts';
import {
  DEFAULT_ENVOY_IMAGE,
  ENVOY_ADMIN_SOCKET,
  ENVOY_READY_PORT,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  LABEL_METRICS,
  LABEL_VISIBILITY,
  fleetServiceName,
  withGatewayDefaults,
  type FleetSpec,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import { fullSampleKnativeGateway, sampleKnativeGateway } from '../gen/sample.ts';
import { XdsTls } from '../pki/xds-tls.ts';
import {
  FLEET_MEMBERS_CLUSTER,
  STATS_ADMIN_CLUSTER,
  STATS_LISTENER,
  XDS_CA_SDS_FILE,
  XDS_CLIENT_SDS_FILE,
} from '../render/bootstrap.ts';
import { ADS_SOURCE, type Json } from '../render/types.ts';
import {
  FLEET_KINDS,
  fleetBootstrap,
  fleetObjectList,
  renderGatewayObjects,
  type FleetObjects,
} from './kubernetes-objects.ts';
import { preStopCommand } from './envoy-pod.ts';
import {
  ANNOTATION_BOOTSTRAP_HASH,
  BOOTSTRAP_DIR,
  BOOTSTRAP_KEY,
  BOOTSTRAP_PATH,
  XDS_TLS_DIR,
  fleetXdsClientSecretName,
  operatorXdsEndpoint,
} from './fleet-names.ts';

const XDS = operatorXdsEndpoint();
const UID = '11111111-2222-4333-8444-555555555555';

function gw(name: string, ...fleets: FleetSpec[]): KnativeGateway {
  return { metadata: { name, uid: UID }, spec: { fleets } };
}

function withUid(g: KnativeGateway): KnativeGateway {
  return { ...g, metadata: { ...g.metadata, uid: UID } };
}

function one(g: KnativeGateway): FleetObjects {
  const [fo] = renderGatewayObjects(g, { xds: XDS });
  if (fo === undefined) throw new Error('no fleet');
  return fo;
}

function podOf(fo: FleetObjects) {
  const pod = fo.deployment.spec?.template.spec;
  const container = pod?.containers[0];
  if (pod === undefined || container === undefined) throw new Error('no pod');
  return { pod, container };
}

type BootstrapShape = {
  node: { id: string; cluster: string };
  admin: { address: { pipe?: { path: string; mode: number }; socket_address?: unknown } };
  dynamic_resources: { lds_config: Record<string, unknown>; cds_config: Record<string, unknown> };
  static_resources: {
    clusters: { name: string; type: string; load_assignment: unknown }[];
    listeners: { name: string; address: { socket_address: { port_value: number } } }[];
  };
};

function bootstrapOf(fo: FleetObjects): BootstrapShape {
  return JSON.parse(fo.configMap.data?.[BOOTSTRAP_KEY] ?? '') as BootstrapShape;
}

describe('every object', () => {
  const all = [sampleKnativeGateway(), fullSampleKnativeGateway()].flatMap((g) =>
    renderGatewayObjects(withUid(g), { xds: XDS }),
  );

  test('is named after the fleet Service, in the gateway namespace, with kgw labels and owner', () => {
    expect(all).toHaveLength(4);
    for (const fo of all) {
      const list = fleetObjectList(fo);
      for (const o of list) {
        expect(o.metadata.name).toBe(fo.name);
        expect(o.metadata.namespace).toBe('kgw-system');
        expect(o.metadata.labels).toEqual({
          [LABEL_MANAGED_BY]: 'kgw',
          [LABEL_GATEWAY]: fo.name.split('-')[1],
          [LABEL_FLEET]: fo.fleet,
        });
        expect(o.metadata.ownerReferences).toEqual([
          {
            apiVersion: 'operator.kgw.dev/v1alpha1',
            kind: 'KnativeGateway',
            name: fo.name.split('-')[1],
            uid: UID,
            controller: true,
            blockOwnerDeletion: true,
          },
        ]);
      }
    }
  });

  test('comes in apply order, of the kinds kgw knows', () => {
    const edge = renderGatewayObjects(withUid(fullSampleKnativeGateway()), { xds: XDS });
    expect(fleetObjectList(edge[0] as FleetObjects).map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'ConfigMap',
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
    ]);
    expect(fleetObjectList(edge[1] as FleetObjects).map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'ConfigMap',
      'Deployment',
      'Service',
      'PodDisruptionBudget',
    ]);
    const known = FLEET_KINDS.map((k) => `${k.apiVersion}/${k.kind}`);
    for (const o of all.flatMap(fleetObjectList)) expect(known).toContain(`${o.apiVersion}/${o.kind}`);
  });

  test('the selectors of Deployment, Service and PDB match the pod labels', () => {
    for (const fo of all) {
      // the pods may carry two labels more, for metrics, which no selector uses
      const {
        [LABEL_METRICS]: _metrics,
        [LABEL_VISIBILITY]: _visibility,
        ...labels
      } = fo.deployment.spec?.template.metadata?.labels ?? {};
      expect(fo.deployment.spec?.selector.matchLabels).toEqual(labels);
      expect(fo.service.spec?.selector).toEqual(labels);
      if (fo.podDisruptionBudget) expect(fo.podDisruptionBudget.spec?.selector?.matchLabels).toEqual(labels);
    }
  });
});

describe('the Envoy pod', () => {
  const fo = one(gw('default', { name: 'external', visibility: 'ExternalIP' }));
  const { pod, container } = podOf(fo);

  test('is hardened: non-root, read-only root, no capabilities, RuntimeDefault seccomp, no token', () => {
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(fo.serviceAccount.automountServiceAccountToken).toBe(false);
    expect(pod.serviceAccountName).toBe(fo.name);
    expect(pod.enableServiceLinks).toBe(false);
    expect(container.volumeMounts).toEqual([
      { name: 'bootstrap', mountPath: '/etc/envoy/kgw', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  test('keeps the admin on a unix socket only and probes readiness on the ready listener', () => {
    const b = bootstrapOf(fo);
    expect(b.admin.address).toEqual({ pipe: { path: ENVOY_ADMIN_SOCKET, mode: 0o600 } });
    expect(ENVOY_ADMIN_SOCKET.startsWith('/tmp/')).toBe(true); // the pod's memory-backed emptyDir
    expect(container.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'https', containerPort: 8443, protocol: 'TCP' },
      { name: 'ready', containerPort: ENVOY_READY_PORT, protocol: 'TCP' },
    ]);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'ready', scheme: 'HTTP' });
    expect(container.livenessProbe).toBeUndefined();
    const ready = b.static_resources.listeners.find((l) => l.name === 'kgw-ready');
    expect(ready?.address.socket_address.port_value).toBe(ENVOY_READY_PORT);
    // Without this Envoy would go live (and open the ready listener) 15 s after start, config or not.
    expect(b.dynamic_resources.lds_config.initial_fetch_timeout).toBe('0s');
    expect(b.dynamic_resources.cds_config.initial_fetch_timeout).toBe('0s');
    expect(ADS_SOURCE).toEqual({ ads: {}, resource_api_version: 'V3' });
  });

  test('drains on termination, within the grace period', () => {
    expect(container.lifecycle?.preStop?.exec?.command).toEqual(preStopCommand(30));
    const script = preStopCommand(30)[2] ?? '';
    expect(preStopCommand(30)[3]).toBe(ENVOY_ADMIN_SOCKET);
    expect(script).toContain('IO::Socket::UNIX');
    expect(script).toContain('/healthcheck/fail');
    expect(script).toContain("'/drain_listeners?graceful&skip_exit'");
    expect(script.trimEnd().endsWith('sleep 30')).toBe(true);
    expect(pod.terminationGracePeriodSeconds).toBe(40);
    expect(container.args).toEqual([
      '--config-path',
      BOOTSTRAP_PATH,
      '--service-node',
      '$(POD_NAME)',
      '--log-level',
      'warning',
      '--concurrency',
      '2',
      '--drain-time-s',
      '30',
      '--drain-strategy',
      'immediate',
      '--disable-hot-restart',
    ]);
    expect(container.env?.[0]).toEqual({
      name: 'POD_NAME',
      valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
    });
    const custom = podOf(
      one(
        gw('g', {
          name: 'a',
          visibility: 'ExternalIP',
          envoy: { drainSeconds: 5, logLevel: 'debug', concurrency: 4 },
        }),
      ),
    );
    expect(custom.pod.terminationGracePeriodSeconds).toBe(15);
    expect(custom.container.args).toEqual(expect.arrayContaining(['debug', '4', '5']));
  });

  test('uses the default image and resources, or the ones given', () => {
    expect(container.image).toBe(DEFAULT_ENVOY_IMAGE);
    expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' } });
    const custom = podOf(
      one(
        gw('g', {
          name: 'a',
          visibility: 'ExternalIP',
          envoy: { image: 'example.com/envoy:1' },
          resources: { limits: { cpu: 3, memory: '1Gi' } },
        }),
      ),
    ).container;
    expect(custom.image).toBe('example.com/envoy:1');
    expect(custom.resources).toEqual({ limits: { cpu: '3', memory: '1Gi' } });
    expect(custom.args).toEqual(expect.arrayContaining(['--concurrency', '3']));
  });

  test('the default image is the Envoy version the tests run (test/env/versions.env)', () => {
    const env = readFileSync(join(import.meta.dirname, '../../test/env/versions.env'), 'utf8');
    const version = /^KGW_ENVOY_VERSION=(\S+)$/m.exec(env)?.[1];
    expect(DEFAULT_ENVOY_IMAGE).toBe(`docker.io/envoyproxy/envoy:v${version ?? '?'}`);
  });

  test('a bootstrap change rolls the pods; nothing else changes the hash', () => {
    const hash = (f: FleetObjects) =>
      f.deployment.spec?.template.metadata?.annotations?.[ANNOTATION_BOOTSTRAP_HASH];
    const a = one(gw('default', { name: 'external', visibility: 'ExternalIP' }));
    const b = one(gw('default', { name: 'external', visibility: 'ExternalIP', replicas: 3 }));
    const [c] = renderGatewayObjects(gw('default', { name: 'external', visibility: 'ExternalIP' }), {
      xds: { host: 'kgw-operator.other.svc.cluster.local', port: 18000 },
    });
    expect(hash(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(b)).toBe(hash(a));
    expect(c && hash(c)).not.toBe(hash(a));
  });
});

describe('replicas, autoscaling and disruption budget', () => {
  test('replicas: a fixed count, no HPA, no PDB unless asked', () => {
    const fo = one(gw('g', { name: 'a', visibility: 'ExternalIP', replicas: 3 }));
    expect(fo.deployment.spec?.replicas).toBe(3);
    expect(fo.horizontalPodAutoscaler).toBeUndefined();
    expect(fo.podDisruptionBudget).toBeUndefined();
    expect(one(gw('g', { name: 'a', visibility: 'ExternalIP' })).deployment.spec?.replicas).toBe(1);
  });

  test('autoscaling: an autoscaling/v2 HPA on CPU and no replicas on the Deployment', () => {
    const fo = one(
      gw('g', {
        name: 'a',
        visibility: 'ExternalIP',
        autoscaling: { minReplicas: 2, maxReplicas: 7, targetCPUUtilizationPercentage: 65 },
      }),
    );
    expect(fo.deployment.spec).not.toHaveProperty('replicas');
    expect(fo.horizontalPodAutoscaler).toMatchObject({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: fo.name },
        minReplicas: 2,
        maxReplicas: 7,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 65 } },
          },
        ],
      },
    });
  });

  test('PodDisruptionBudget: the field given, never blocking on unready pods', () => {
    const min = one(
      gw('g', { name: 'a', visibility: 'ExternalIP', podDisruptionBudget: { minAvailable: 1 } }),
    );
    expect(min.podDisruptionBudget?.spec).toEqual({
      selector: { matchLabels: min.deployment.spec?.selector.matchLabels },
      minAvailable: 1,
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    const max = one(
      gw('g', { name: 'a', visibility: 'ExternalIP', podDisruptionBudget: { maxUnavailable: '25%' } }),
    );
    expect(max.podDisruptionBudget?.spec).toMatchObject({ maxUnavailable: '25%' });
    expect(max.podDisruptionBudget?.spec).not.toHaveProperty('minAvailable');
  });
});

describe('Service', () => {
  test('type by visibility, ports to the named container ports', () => {
    const ext = one(gw('g', { name: 'a', visibility: 'ExternalIP' })).service;
    expect(ext.spec?.type).toBe('LoadBalancer');
    expect(ext.spec?.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 'http' },
      { name: 'https', protocol: 'TCP', port: 443, targetPort: 'https' },
    ]);
    expect(ext.metadata).not.toHaveProperty('annotations');
    const local = one(
      gw('g', { name: 'a', visibility: 'ClusterLocal', service: { httpPort: 8080 } }),
    ).service;
    expect(local.spec?.type).toBe('ClusterIP');
    expect(local.spec?.ports?.[0]?.port).toBe(8080);
    expect(local.spec).not.toHaveProperty('externalTrafficPolicy');
  });

  test('annotations, externalTrafficPolicy and loadBalancerClass as given', () => {
    const s = one(
      gw('g', {
        name: 'a',
        visibility: 'ExternalIP',
        service: {
          annotations: { 'example.com/lb': 'internal' },
          externalTrafficPolicy: 'Local',
          loadBalancerClass: 'example.com/internal-vip',
        },
      }),
    ).service;
    expect(s.metadata?.annotations).toEqual({ 'example.com/lb': 'internal' });
    expect(s.spec).toMatchObject({
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      loadBalancerClass: 'example.com/internal-vip',
    });
  });
});

describe('placement', () => {
  test('nothing by default', () => {
    const { pod } = podOf(one(gw('g', { name: 'a', visibility: 'ExternalIP' })));
    for (const k of [
      'nodeSelector',
      'tolerations',
      'affinity',
      'topologySpreadConstraints',
      'priorityClassName',
    ]) {
      expect(pod).not.toHaveProperty(k);
    }
  });

  test('as given; spread constraints without labelSelector select the fleet’s pods', () => {
    const affinity = {
      nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
    };
    const own = { matchLabels: { app: 'x' } };
    const fo = one(
      gw('g', {
        name: 'a',
        visibility: 'ExternalIP',
        placement: {
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 }],
          affinity,
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
            { maxSkew: 2, topologyKey: 'host', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: own },
          ],
          priorityClassName: 'high',
        },
      }),
    );
    const { pod } = podOf(fo);
    expect(pod.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(pod.tolerations).toEqual([
      { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
    ]);
    expect(pod.affinity).toEqual(affinity);
    expect(pod.priorityClassName).toBe('high');
    expect(pod.topologySpreadConstraints?.[0]?.labelSelector).toEqual({
      matchLabels: fo.deployment.spec?.selector.matchLabels,
    });
    expect(pod.topologySpreadConstraints?.[1]?.labelSelector).toEqual(own);
  });
});

describe('bootstrap', () => {
  test('node cluster selects the fleet snapshot; xDS by DNS name or IP address', () => {
    const fleet = withGatewayDefaults({ fleets: [{ name: 'external', visibility: 'ExternalIP' }] }).fleets[0];
    if (fleet === undefined) throw new Error('no fleet');
    const byName = fleetBootstrap('default', fleet, XDS) as unknown as BootstrapShape;
    expect(byName.node).toEqual({ id: fleetServiceName('default', 'external'), cluster: 'default/external' });
    const xds = byName.static_resources.clusters[0];
    expect(xds?.type).toBe('STRICT_DNS');
    expect(JSON.stringify(xds?.load_assignment)).toContain('"kgw-operator.kgw-system.svc.cluster.local"');
    expect(JSON.stringify(xds?.load_assignment)).toContain('18000');
    const byIp = fleetBootstrap('default', fleet, {
      host: '198.19.96.10',
      port: 18000,
    }) as unknown as BootstrapShape;
    expect(byIp.static_resources.clusters[0]?.type).toBe('STATIC');
    expect(operatorXdsEndpoint('ops', 'corp.example')).toEqual({
      host: 'kgw-operator.ops.svc.corp.example',
      port: 18000,
    });
  });

  test('SharedEvenly fleets get the fleet-members cluster as the local cluster; PerReplica ones do not', async () => {
    const [perReplica, shared] = withGatewayDefaults({
      fleets: [
        { name: 'a', visibility: 'ExternalIP' },
        { name: 'b', visibility: 'ExternalIP', policy: { rateLimitSharing: 'SharedEvenly' } },
      ],
    }).fleets;
    if (!perReplica || !shared) throw new Error('no fleet');
    const local = (b: Json) =>
      (b.cluster_manager as { local_cluster_name?: string } | undefined)?.local_cluster_name;
    const names = (b: Json) => (b as unknown as BootstrapShape).static_resources.clusters.map((c) => c.name);
    const a = fleetBootstrap('default', perReplica, XDS);
    const b = fleetBootstrap('default', shared, XDS);
    expect([local(a), names(a).includes(FLEET_MEMBERS_CLUSTER)]).toEqual([undefined, false]);
    expect([local(b), names(b).includes(FLEET_MEMBERS_CLUSTER)]).toEqual([FLEET_MEMBERS_CLUSTER, true]);
    const { ok, output } = await validateEnvoyConfig(b);
    expect({ ok, output: ok ? '' : output }).toEqual({ ok: true, output: '' });
  }, 60_000);

  test('every rendered bootstrap passes envoy --mode validate', async () => {
    const gateways = [sampleKnativeGateway(), fullSampleKnativeGateway()].map(withUid);
    const rendered = gateways.flatMap((g) => renderGatewayObjects(g, { xds: XDS }));
    rendered.push(
      ...renderGatewayObjects(withUid(sampleKnativeGateway()), {
        xds: { host: '198.19.96.10', port: 18000 },
      }),
    );
    for (const fo of rendered) {
      const res = await validateEnvoyConfig(bootstrapOf(fo));
      expect([fo.name, res.ok, res.ok ? '' : res.output]).toEqual([fo.name, true, '']);
    }
  });
});

describe('renderGatewayObjects', () => {
  test('refuses an invalid gateway or one without uid', () => {
    expect(() =>
      renderGatewayObjects(gw('g', { name: 'A', visibility: 'ExternalIP' }), { xds: XDS }),
    ).toThrow(/KnativeGateway g is invalid: spec.fleets\[0\].name/);
    expect(() =>
      renderGatewayObjects(
        { metadata: { name: 'g' }, spec: { fleets: [{ name: 'a', visibility: 'ExternalIP' }] } },
        {
          xds: XDS,
        },
      ),
    ).toThrow(/no metadata.uid/);
  });
});

describe('xDS over mutual TLS', () => {
  const TLS = { serverName: 'kgw-operator.kgw-system.svc' };
  const withTls = (): FleetObjects => {
    const [fo] = renderGatewayObjects(withUid(sampleKnativeGateway()), { xds: XDS, tls: TLS });
    if (fo === undefined) throw new Error('no fleet');
    return fo;
  };

  test('pods mount the fleet client Secret read-only; the ConfigMap carries the SDS files', () => {
    const plain = one(withUid(sampleKnativeGateway()));
    const fo = withTls();
    const gateway = sampleKnativeGateway().metadata.name;
    const secretName = fleetXdsClientSecretName(gateway, fo.fleet);
    expect(secretName).toBe(`${fleetServiceName(gateway, fo.fleet)}-xds-client`);
    const { pod, container } = podOf(fo);
    expect(pod.volumes).toContainEqual({ name: 'xds-tls', secret: { secretName } });
    expect(container.volumeMounts).toContainEqual({
      name: 'xds-tls',
      mountPath: XDS_TLS_DIR,
      readOnly: true,
    });
    expect(Object.keys(fo.configMap.data ?? {}).sort()).toEqual(
      [BOOTSTRAP_KEY, XDS_CA_SDS_FILE, XDS_CLIENT_SDS_FILE].sort(),
    );
    expect(fo.configMap.data?.[XDS_CLIENT_SDS_FILE]).toContain(`${XDS_TLS_DIR}/tls.crt`);
    const bootstrap = fo.configMap.data?.[BOOTSTRAP_KEY] ?? '';
    expect(bootstrap).toContain('envoy.transport_sockets.tls');
    expect(bootstrap).toContain(`${BOOTSTRAP_DIR}/${XDS_CLIENT_SDS_FILE}`);
    // Without the option nothing changes.
    expect(podOf(plain).pod.volumes?.map((v) => v.name)).toEqual(['bootstrap', 'tmp']);
    expect(Object.keys(plain.configMap.data ?? {})).toEqual([BOOTSTRAP_KEY]);
    expect(plain.configMap.data?.[BOOTSTRAP_KEY]).not.toContain('transport_socket');
    const hash = (f: FleetObjects) =>
      f.deployment.spec?.template.metadata?.annotations?.[ANNOTATION_BOOTSTRAP_HASH];
    expect(hash(fo)).not.toBe(hash(plain));
  });

  test('the TLS bootstrap passes envoy --mode validate (mount paths mapped to a temp dir)', async () => {
    const fo = withTls();
    const dir = mkdtempSync(join(tmpdir(), 'kgw-fleet-tls-'));
    try {
      const material = await XdsTls.create({ serverNames: [TLS.serverName] });
      await material.writeClientDir('default/external', join(dir, 'creds'));
      const local = (text: string): string =>
        text.replaceAll(XDS_TLS_DIR, join(dir, 'creds')).replaceAll(BOOTSTRAP_DIR, dir);
      for (const file of [XDS_CLIENT_SDS_FILE, XDS_CA_SDS_FILE]) {
        writeFileSync(join(dir, file), local(fo.configMap.data?.[file] ?? ''));
      }
      const config = JSON.parse(local(fo.configMap.data?.[BOOTSTRAP_KEY] ?? '')) as object;
      const res = await validateEnvoyConfig(config);
      expect({ ok: res.ok, output: res.ok ? '' : res.output }).toEqual({ ok: true, output: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metrics', () => {
  const on = one(
    gw('edge', { name: 'pub', visibility: 'ExternalIP', metrics: { enabled: true, port: 9102 } }),
  );
  const off = one(gw('edge', { name: 'pub', visibility: 'ExternalIP' }));

  test('on: a named container port, the prometheus.io annotations and the PodMonitor label', () => {
    const { container } = podOf(on);
    expect(container.ports?.find((p) => p.name === 'metrics')).toEqual({
      name: 'metrics',
      containerPort: 9102,
      protocol: 'TCP',
    });
    const meta = on.deployment.spec?.template.metadata;
    expect(meta?.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9102',
      'prometheus.io/path': '/stats/prometheus',
    });
    expect(meta?.labels?.[LABEL_METRICS]).toBe('envoy');
    // the selector is immutable: the label is on the pods only
    expect(on.deployment.spec?.selector.matchLabels).toEqual(off.deployment.spec?.selector.matchLabels);
    // the Service never publishes the stats port
    expect(on.service.spec?.ports?.map((p) => p.targetPort)).toEqual(['http', 'https']);
  });

  test('on: the bootstrap keeps the ready listener and adds the stats listener; the admin stays a socket', () => {
    const b = bootstrapOf(on);
    expect(b.static_resources.listeners.map((l) => [l.name, l.address.socket_address.port_value])).toEqual([
      ['kgw-ready', ENVOY_READY_PORT],
      [STATS_LISTENER, 9102],
    ]);
    expect(b.static_resources.clusters.find((c) => c.name === STATS_ADMIN_CLUSTER)?.load_assignment).toEqual({
      cluster_name: STATS_ADMIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: ENVOY_ADMIN_SOCKET } } } }] }],
    });
    expect(b.admin.address).toEqual({ pipe: { path: ENVOY_ADMIN_SOCKET, mode: 0o600 } });
    // turning metrics on changes the bootstrap, so the pods roll
    const hash = (fo: FleetObjects) =>
      fo.deployment.spec?.template.metadata?.annotations?.[ANNOTATION_BOOTSTRAP_HASH];
    expect(hash(on)).not.toBe(hash(off));
  });

  test('off (the default): no port, annotation, label, listener or admin cluster', () => {
    const { container } = podOf(off);
    expect(container.ports?.map((p) => p.name)).toEqual(['http', 'https', 'ready']);
    const meta = off.deployment.spec?.template.metadata;
    expect(Object.keys(meta?.annotations ?? {}).filter((k) => k.startsWith('prometheus.io/'))).toEqual([]);
    expect(meta?.labels?.[LABEL_METRICS]).toBeUndefined();
    const b = bootstrapOf(off);
    expect(b.static_resources.listeners.map((l) => l.name)).toEqual(['kgw-ready']);
    expect(b.static_resources.clusters.map((c) => c.name)).toEqual(['kgw-xds']);
  });
});
