import {
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_NAMESPACE,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_MANAGED_BY,
  MESSAGES,
  fleetDomainInternal,
  fleetLabels,
  fleetServiceName,
  fleetServiceNameCollisions,
  fleetXdsCluster,
  isFleetReady,
  parseFleetXdsCluster,
  readyFleetsSummary,
  validateGateway,
  validateGatewaySpec,
  withGatewayDefaults,
  type FleetSpec,
  type FleetStatus,
  type KnativeGateway,
  type KnativeGatewaySpec,
  DEFAULT_ENVOY_IMAGE,
  defaultConcurrency,
} from './knativegateway.ts';
import { fullSampleKnativeGateway } from '../gen/sample.ts';

const SERVICE_NAME_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

function spec(...fleets: FleetSpec[]): KnativeGatewaySpec {
  return { fleets };
}

function gw(name: string, s: KnativeGatewaySpec): KnativeGateway {
  return { metadata: { name }, spec: s };
}

/** Lets a test feed shapes the types forbid, as decoded JSON may have them. */
function untyped(v: unknown): KnativeGatewaySpec {
  return v as KnativeGatewaySpec;
}

const RESOLVED_KNATIVE = {
  configure: true,
  namespace: 'knative-serving',
  httpProtocol: 'Enabled',
  externalDomainTLS: 'Disabled',
  autocreateClusterDomainClaims: false,
};

/** What withGatewayDefaults adds to a fleet that sets nothing but its name and visibility. */
function resolvedDefaults(visibility: 'ExternalIP' | 'ClusterLocal') {
  return {
    replicas: 1,
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: {} },
    service: {
      type: visibility === 'ExternalIP' ? 'LoadBalancer' : 'ClusterIP',
      annotations: {},
      httpPort: 80,
      httpsPort: 443,
    },
    placement: { nodeSelector: {}, tolerations: [], topologySpreadConstraints: [] },
    envoy: {
      image: DEFAULT_ENVOY_IMAGE,
      logLevel: 'warning',
      concurrency: 2,
      drainSeconds: 30,
      maxHeapMiB: 2048,
    },
    accessLog: false,
    accessLogFormat: 'text',
    metrics: { enabled: false, port: 9091 },
    http: RESOLVED_HTTP,
    clientIP: { xffNumTrustedHops: 0, proxyProtocol: false },
    rateLimitSharing: 'PerReplica',
  };
}

/** The edge defaults of a fleet's `http` settings. */
const RESOLVED_HTTP = {
  normalizePath: true,
  mergeSlashes: true,
  escapedSlashes: 'UnescapeAndRedirect',
  stripTrailingHostDot: true,
  stripHostPort: true,
  requestHeadersTimeoutSeconds: 10,
  streamIdleTimeoutSeconds: 300,
  maxRequestHeadersKiB: 60,
  maxRequestHeaders: 100,
  http10: { enabled: true },
};

describe('withGatewayDefaults', () => {
  test('fills every default, listener ports and Service type by visibility', () => {
    const got = withGatewayDefaults(
      spec({ name: 'external', visibility: 'ExternalIP' }, { name: 'local', visibility: 'ClusterLocal' }),
    );
    expect(got).toEqual({
      ingressClass: DEFAULT_INGRESS_CLASS,
      namespace: 'kgw-system',
      clusterDomain: 'cluster.local',
      tls: {},
      domainClaims: { autoCreate: false },
      externalNames: { allowedNamespaces: [], allowedHosts: [] },
      fleets: [
        {
          name: 'external',
          visibility: 'ExternalIP',
          ports: { http: 8080, https: 8443 },
          ...resolvedDefaults('ExternalIP'),
        },
        {
          name: 'local',
          visibility: 'ClusterLocal',
          ports: { http: 8081, https: 8444 },
          ...resolvedDefaults('ClusterLocal'),
        },
      ],
      domains: { selectors: [] },
      knative: RESOLVED_KNATIVE,
    });
    expect(DEFAULT_INGRESS_CLASS).toBe('kgw.ingress.networking.knative.dev');
  });

  test('keeps what is set, defaults the rest field by field, and does not modify the input', () => {
    const input: KnativeGatewaySpec = {
      ingressClass: 'other.ingress.networking.knative.dev',
      namespace: 'edge',
      clusterDomain: 'corp.example',
      fleets: [
        {
          name: 'a',
          visibility: 'ClusterLocal',
          replicas: 3,
          ports: { http: 9000 },
          service: { httpsPort: 8443, annotations: { 'a/b': 'c' } },
          accessLog: { enabled: true },
          envoy: { logLevel: 'debug' },
          policy: { rateLimitSharing: 'SharedEvenly' },
        },
      ],
      domains: { default: 'example.com', template: '{{.Name}}.{{.Domain}}' },
      knative: { httpProtocol: 'Redirected' },
    };
    const before = structuredClone(input);
    const got = withGatewayDefaults(input);
    expect(input).toEqual(before);
    expect(got.ingressClass).toBe('other.ingress.networking.knative.dev');
    expect(got.namespace).toBe('edge');
    expect(got.clusterDomain).toBe('corp.example');
    expect(got.fleets[0]).toEqual({
      ...resolvedDefaults('ClusterLocal'),
      name: 'a',
      visibility: 'ClusterLocal',
      replicas: 3,
      ports: { http: 9000, https: 8444 },
      service: { type: 'ClusterIP', annotations: { 'a/b': 'c' }, httpPort: 80, httpsPort: 8443 },
      envoy: {
        image: DEFAULT_ENVOY_IMAGE,
        logLevel: 'debug',
        concurrency: 2,
        drainSeconds: 30,
        maxHeapMiB: 2048,
      },
      accessLog: true,
      accessLogFormat: 'text',
      rateLimitSharing: 'SharedEvenly',
    });
    expect(got.domains).toEqual({ default: 'example.com', selectors: [], template: '{{.Name}}.{{.Domain}}' });
    expect(got.knative).toEqual({ ...RESOLVED_KNATIVE, httpProtocol: 'Redirected' });
    // the resolved copy does not share nested objects with the input
    const resolvedService = got.fleets[0]?.service;
    if (resolvedService) resolvedService.annotations.x = 'y';
    expect(input).toEqual(before);
  });

  test('Global rate limits: the service as given, failure mode Allow (fail open) and 20 ms by default', () => {
    const [f] = withGatewayDefaults(
      spec({
        name: 'a',
        visibility: 'ExternalIP',
        policy: {
          rateLimitSharing: 'Global',
          globalRateLimit: { service: { name: 'ratelimit', namespace: 'kgw-system', port: 8081 } },
        },
      }),
    ).fleets;
    expect([f?.rateLimitSharing, f?.globalRateLimit]).toEqual([
      'Global',
      {
        service: { name: 'ratelimit', namespace: 'kgw-system', port: 8081 },
        failureMode: 'Allow',
        timeoutMs: 20,
      },
    ]);
    // a service without Global is not used; Global without one (refused by validation) counts PerReplica
    const [other, unnamed] = withGatewayDefaults({
      fleets: [
        {
          name: 'b',
          visibility: 'ExternalIP',
          policy: {
            globalRateLimit: { service: { name: 'r', namespace: 'n', port: 1 }, failureMode: 'Deny' },
          },
        },
        { name: 'c', visibility: 'ExternalIP', policy: { rateLimitSharing: 'Global' } },
      ],
    }).fleets;
    expect([other?.rateLimitSharing, other?.globalRateLimit]).toEqual(['PerReplica', undefined]);
    expect([unnamed?.rateLimitSharing, unnamed?.globalRateLimit]).toEqual(['PerReplica', undefined]);
  });

  test('autoscaling: minReplicas becomes the replica count, defaults for min and target', () => {
    const [f] = withGatewayDefaults(
      spec({ name: 'a', visibility: 'ExternalIP', autoscaling: { maxReplicas: 5 } }),
    ).fleets;
    expect(f?.autoscaling).toEqual({ minReplicas: 1, maxReplicas: 5, targetCPUUtilizationPercentage: 80 });
    expect(f?.replicas).toBe(1);
    const [g] = withGatewayDefaults(
      spec({ name: 'a', visibility: 'ExternalIP', autoscaling: { minReplicas: 3, maxReplicas: 5 } }),
    ).fleets;
    expect(g?.replicas).toBe(3);
    const [h] = withGatewayDefaults(spec({ name: 'a', visibility: 'ExternalIP', replicas: 4 })).fleets;
    expect(h?.autoscaling).toBeUndefined();
    expect(h?.replicas).toBe(4);
  });

  test('resources replace the default entirely; the CPU limit sets the default concurrency', () => {
    const [f] = withGatewayDefaults(
      spec({ name: 'a', visibility: 'ExternalIP', resources: { limits: { cpu: '1500m', memory: '1Gi' } } }),
    ).fleets;
    expect(f?.resources).toEqual({ requests: {}, limits: { cpu: '1500m', memory: '1Gi' } });
    expect(f?.envoy.concurrency).toBe(2);
    const [g] = withGatewayDefaults(
      spec({
        name: 'a',
        visibility: 'ExternalIP',
        resources: { limits: { cpu: 4 } },
        envoy: { concurrency: 1 },
      }),
    ).fleets;
    expect(g?.envoy.concurrency).toBe(1);
  });

  test.each<[string | number | undefined, number]>([
    [undefined, 2],
    ['100m', 1],
    ['1000m', 1],
    ['1001m', 2],
    ['2', 2],
    [3, 3],
    ['2.5', 3],
    ['.5', 1],
    ['500', 64],
    ['1Ki', 2],
  ])('defaultConcurrency(%p) = %p', (limit, want) => {
    expect(defaultConcurrency(limit)).toBe(want);
  });

  test('edge settings: each field set keeps its value, the others take the defaults', () => {
    const [f] = withGatewayDefaults(
      spec({
        name: 'a',
        visibility: 'ExternalIP',
        http: {
          mergeSlashes: false,
          escapedSlashes: 'KeepUnchanged',
          requestHeadersTimeoutSeconds: 0,
          http10: { defaultHost: 'example.com' },
        },
        clientIP: { proxyProtocol: true },
      }),
    ).fleets;
    expect(f?.http).toEqual({
      ...RESOLVED_HTTP,
      mergeSlashes: false,
      escapedSlashes: 'KeepUnchanged',
      requestHeadersTimeoutSeconds: 0,
      http10: { enabled: true, defaultHost: 'example.com' },
    });
    expect(f?.clientIP).toEqual({ xffNumTrustedHops: 0, proxyProtocol: true });
  });

  test.each<[string | number | undefined, number]>([
    [undefined, 2048],
    ['1Gi', 819],
    ['512Mi', 409],
    ['1G', 762],
    ['2e9', 1525],
    [1073741824, 819],
    ['64Mi', 64],
    ['100m', 64],
    ['lots', 2048],
  ])('maxHeapMiB defaults to 80%% of the memory limit %p: %p', (limit, want) => {
    const resources = limit === undefined ? {} : { resources: { limits: { memory: limit } } };
    const [f] = withGatewayDefaults(spec({ name: 'a', visibility: 'ExternalIP', ...resources })).fleets;
    expect(f?.envoy.maxHeapMiB).toBe(want);
    const [g] = withGatewayDefaults(
      spec({ name: 'a', visibility: 'ExternalIP', ...resources, envoy: { maxHeapMiB: 0 } }),
    ).fleets;
    expect(g?.envoy.maxHeapMiB).toBe(0);
  });

  test('metrics: off on 9091 unless set', () => {
    const on = spec({ name: 'a', visibility: 'ExternalIP', metrics: { enabled: true } });
    expect(withGatewayDefaults(on).fleets[0]?.metrics).toEqual({ enabled: true, port: 9091 });
    const port = spec({ name: 'a', visibility: 'ExternalIP', metrics: { port: 9100 } });
    expect(withGatewayDefaults(port).fleets[0]?.metrics).toEqual({ enabled: false, port: 9100 });
  });

  test('tracing: resolved only when enabled with a collector; port 4317 and 1% unless set', () => {
    const off = spec({ name: 'a', visibility: 'ExternalIP', tracing: { collector: { host: 'otel.obs' } } });
    expect(withGatewayDefaults(off).fleets[0]?.tracing).toBeUndefined();
    const on = spec({
      name: 'a',
      visibility: 'ExternalIP',
      tracing: { enabled: true, collector: { host: 'otel.obs' } },
    });
    expect(withGatewayDefaults(on).fleets[0]?.tracing).toEqual({
      collector: { host: 'otel.obs', port: 4317 },
      samplingPercent: 1,
    });
    const set = spec({
      name: 'a',
      visibility: 'ExternalIP',
      tracing: { enabled: true, collector: { host: '198.18.0.9', port: 5317 }, samplingPercent: 0.1 },
    });
    expect(withGatewayDefaults(set).fleets[0]?.tracing).toEqual({
      collector: { host: '198.18.0.9', port: 5317 },
      samplingPercent: 0.1,
    });
  });

  test('reads the first cut’s boolean accessLog', () => {
    const legacy = untyped({ fleets: [{ name: 'a', visibility: 'ExternalIP', accessLog: true }] });
    expect(withGatewayDefaults(legacy).fleets[0]).toMatchObject({ accessLog: true, accessLogFormat: 'text' });
    expect(validateGatewaySpec(legacy)).toEqual([]);
    const json = spec({ name: 'a', visibility: 'ExternalIP', accessLog: { enabled: true, format: 'json' } });
    expect(withGatewayDefaults(json).fleets[0]).toMatchObject({ accessLog: true, accessLogFormat: 'json' });
  });

  test('drops unknown fields', () => {
    const got = withGatewayDefaults(
      untyped({ fleets: [{ name: 'a', visibility: 'ExternalIP', extra: 1 }], surprise: true }),
    );
    expect(Object.keys(got).sort()).toEqual([
      'clusterDomain',
      'domainClaims',
      'domains',
      'externalNames',
      'fleets',
      'ingressClass',
      'knative',
      'namespace',
      'tls',
    ]);
    expect(got.fleets[0]).not.toHaveProperty('extra');
  });
});

describe('validateGatewaySpec', () => {
  test('a valid spec has no problems', () => {
    expect(
      validateGatewaySpec({
        ingressClass: DEFAULT_INGRESS_CLASS,
        namespace: 'kgw-system',
        clusterDomain: 'cluster.local',
        fleets: [
          {
            name: 'external',
            visibility: 'ExternalIP',
            replicas: 100,
            ports: { http: 1024, https: 65535 },
            service: { httpPort: 1, httpsPort: 65535 },
            accessLog: { enabled: true, format: 'json' },
            http: {
              normalizePath: false,
              mergeSlashes: false,
              escapedSlashes: 'RejectRequest',
              stripTrailingHostDot: false,
              stripHostPort: false,
              requestHeadersTimeoutSeconds: 3600,
              streamIdleTimeoutSeconds: 0,
              maxRequestHeadersKiB: 8192,
              maxRequestHeaders: 1,
              http10: { enabled: false, defaultHost: 'example.com' },
            },
            clientIP: { xffNumTrustedHops: 16, proxyProtocol: true },
            envoy: { maxHeapMiB: 0 },
          },
          { name: 'local', visibility: 'ClusterLocal', envoy: { maxHeapMiB: 64 } },
          { name: 'scraped', visibility: 'ExternalIP', metrics: { enabled: true, port: 65534 } },
          // a disabled stats listener listens nowhere: its port may equal a listener port
          { name: 'quiet', visibility: 'ClusterLocal', metrics: { enabled: false, port: 8081 } },
        ],
      }),
    ).toEqual([]);
    expect(validateGatewaySpec(fullSampleKnativeGateway().spec)).toEqual([]);
  });

  test.each<[string, unknown, string]>([
    ['not an object', 'x', 'spec: must be an object'],
    ['no fleets', {}, 'spec.fleets: required'],
    ['empty fleets', { fleets: [] }, 'spec.fleets: must have 1 to 16 items, has 0'],
    [
      'too many fleets',
      { fleets: Array.from({ length: 17 }, (_, i) => ({ name: `f${i}`, visibility: 'ExternalIP' })) },
      'spec.fleets: must have 1 to 16 items, has 17',
    ],
    [
      'duplicate names',
      {
        fleets: [
          { name: 'a', visibility: 'ExternalIP' },
          { name: 'a', visibility: 'ClusterLocal' },
        ],
      },
      `spec.fleets: ${MESSAGES.uniqueFleetNames}`,
    ],
    ['fleet not an object', { fleets: [7] }, 'spec.fleets[0]: must be an object'],
    ['no name', { fleets: [{ visibility: 'ExternalIP' }] }, 'spec.fleets[0].name: required'],
    [
      'name not a label',
      { fleets: [{ name: 'Ext', visibility: 'ExternalIP' }] },
      'spec.fleets[0].name: "Ext" must be an RFC 1123 label',
    ],
    [
      'name too long',
      { fleets: [{ name: 'a'.repeat(41), visibility: 'ExternalIP' }] },
      'spec.fleets[0].name: must be at most 40 characters',
    ],
    [
      'bad visibility',
      { fleets: [{ name: 'a', visibility: 'Public' }] },
      'spec.fleets[0].visibility: must be one of ExternalIP, ClusterLocal',
    ],
    [
      'zero replicas',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', replicas: 0 }] },
      'spec.fleets[0].replicas: must be between 1 and 100, is 0',
    ],
    [
      'too many replicas',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', replicas: 101 }] },
      'spec.fleets[0].replicas: must be between 1 and 100, is 101',
    ],
    [
      'fractional replicas',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', replicas: 1.5 }] },
      'spec.fleets[0].replicas: must be an integer',
    ],
    [
      'privileged listener port',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', ports: { http: 80 } }] },
      'spec.fleets[0].ports.http: must be between 1024 and 65535, is 80',
    ],
    [
      'listener ports equal',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', ports: { http: 9000, https: 9000 } }] },
      `spec.fleets[0].ports: ${MESSAGES.listenerPortsDiffer}`,
    ],
    [
      'http equal to the default https',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', ports: { http: 8443 } }] },
      `spec.fleets[0].ports: ${MESSAGES.listenerPortsDiffer}`,
    ],
    [
      'https equal to the ClusterLocal default http',
      { fleets: [{ name: 'a', visibility: 'ClusterLocal', ports: { https: 8081 } }] },
      `spec.fleets[0].ports: ${MESSAGES.listenerPortsDiffer}`,
    ],
    [
      'service ports equal',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', service: { httpPort: 443 } }] },
      `spec.fleets[0].service: ${MESSAGES.servicePortsDiffer}`,
    ],
    [
      'service port out of range',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', service: { httpPort: 0 } }] },
      'spec.fleets[0].service.httpPort: must be between 1 and 65535, is 0',
    ],
    [
      'accessLog neither an object nor the first cut’s boolean',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', accessLog: 'yes' }] },
      'spec.fleets[0].accessLog: must be an object',
    ],
    [
      'http not an object',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: true }] },
      'spec.fleets[0].http: must be an object',
    ],
    [
      'normalizePath not a boolean',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { normalizePath: 'yes' } }] },
      'spec.fleets[0].http.normalizePath: must be a boolean',
    ],
    [
      'an unknown escapedSlashes action',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { escapedSlashes: 'Drop' } }] },
      'spec.fleets[0].http.escapedSlashes: must be one of KeepUnchanged, RejectRequest, UnescapeAndRedirect, UnescapeAndForward',
    ],
    [
      'a negative header timeout',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { requestHeadersTimeoutSeconds: -1 } }] },
      'spec.fleets[0].http.requestHeadersTimeoutSeconds: must be between 0 and 3600, is -1',
    ],
    [
      'a stream idle timeout over a day',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { streamIdleTimeoutSeconds: 86401 } }] },
      'spec.fleets[0].http.streamIdleTimeoutSeconds: must be between 0 and 86400, is 86401',
    ],
    [
      'headers larger than Envoy allows',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { maxRequestHeadersKiB: 8193 } }] },
      'spec.fleets[0].http.maxRequestHeadersKiB: must be between 1 and 8192, is 8193',
    ],
    [
      'zero headers',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { maxRequestHeaders: 0 } }] },
      'spec.fleets[0].http.maxRequestHeaders: must be between 1 and 10000, is 0',
    ],
    [
      'an HTTP/1.0 default host that is not a host name',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', http: { http10: { defaultHost: 'a b' } } }] },
      'spec.fleets[0].http.http10.defaultHost: "a b" must be an RFC 1123 subdomain',
    ],
    [
      'too many trusted hops',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', clientIP: { xffNumTrustedHops: 17 } }] },
      'spec.fleets[0].clientIP.xffNumTrustedHops: must be between 0 and 16, is 17',
    ],
    [
      'proxyProtocol not a boolean',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', clientIP: { proxyProtocol: 1 } }] },
      'spec.fleets[0].clientIP.proxyProtocol: must be a boolean',
    ],
    [
      'a heap limit below the minimum',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', envoy: { maxHeapMiB: 63 } }] },
      `spec.fleets[0].envoy.maxHeapMiB: ${MESSAGES.maxHeapMiB}`,
    ],
    [
      'tracing on without a collector',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', tracing: { enabled: true } }] },
      `spec.fleets[0].tracing.collector: ${MESSAGES.tracingHostRequired}`,
    ],
    [
      'a tracing collector host that is no DNS name',
      {
        fleets: [
          { name: 'a', visibility: 'ExternalIP', tracing: { collector: { host: 'http://otel:4317' } } },
        ],
      },
      `spec.fleets[0].tracing.collector.host: ${MESSAGES.tracingHost}`,
    ],
    [
      'a tracing sampling share above 100',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', tracing: { samplingPercent: 100.5 } }] },
      'spec.fleets[0].tracing.samplingPercent: must be a number from 0 to 100',
    ],
    [
      'a tracing sampling share written as a string',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', tracing: { samplingPercent: '5' } }] },
      'spec.fleets[0].tracing.samplingPercent: must be a number from 0 to 100',
    ],
    [
      'a rate-limit sharing mode that does not exist',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', policy: { rateLimitSharing: 'Exact' } }] },
      'spec.fleets[0].policy.rateLimitSharing: must be one of PerReplica, SharedEvenly, Global',
    ],
    [
      'Global rate limits without a rate-limit service',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', policy: { rateLimitSharing: 'Global' } }] },
      `spec.fleets[0].policy: ${MESSAGES.globalRateLimitService}`,
    ],
    [
      'a rate-limit service without a port',
      {
        fleets: [
          {
            name: 'a',
            visibility: 'ExternalIP',
            policy: {
              rateLimitSharing: 'Global',
              globalRateLimit: { service: { name: 'rls', namespace: 'kgw' } },
            },
          },
        ],
      },
      'spec.fleets[0].policy.globalRateLimit.service.port: required',
    ],
    [
      'an unknown rate-limit failure mode',
      {
        fleets: [
          {
            name: 'a',
            visibility: 'ExternalIP',
            policy: {
              rateLimitSharing: 'Global',
              globalRateLimit: {
                service: { name: 'rls', namespace: 'kgw', port: 8081 },
                failureMode: 'Open',
              },
            },
          },
        ],
      },
      'spec.fleets[0].policy.globalRateLimit.failureMode: must be one of Allow, Deny',
    ],
    [
      'metrics not an object',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', metrics: true }] },
      'spec.fleets[0].metrics: must be an object',
    ],
    [
      'metrics.enabled not a boolean',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', metrics: { enabled: 'yes' } }] },
      'spec.fleets[0].metrics.enabled: must be a boolean',
    ],
    [
      'a privileged metrics port',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', metrics: { port: 90 } }] },
      'spec.fleets[0].metrics.port: must be between 1024 and 65535, is 90',
    ],
    [
      'the metrics port on the readiness port',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', metrics: { enabled: true, port: 19003 } }] },
      `spec.fleets[0].metrics: ${MESSAGES.metricsPortDiffers}`,
    ],
    [
      'the metrics port on the visibility default http port',
      { fleets: [{ name: 'a', visibility: 'ClusterLocal', metrics: { enabled: true, port: 8081 } }] },
      `spec.fleets[0].metrics: ${MESSAGES.metricsPortDiffers}`,
    ],
    [
      'the default metrics port on the https port',
      {
        fleets: [{ name: 'a', visibility: 'ExternalIP', ports: { https: 9091 }, metrics: { enabled: true } }],
      },
      `spec.fleets[0].metrics: ${MESSAGES.metricsPortDiffers}`,
    ],
    [
      'accessLog format unknown',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', accessLog: { format: 'xml' } }] },
      'spec.fleets[0].accessLog.format: must be one of text, json',
    ],
    [
      'autoscaling not an object',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', autoscaling: 3 }] },
      'spec.fleets[0].autoscaling: must be an object',
    ],
    [
      'autoscaling without maxReplicas',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', autoscaling: { minReplicas: 2 } }] },
      'spec.fleets[0].autoscaling.maxReplicas: required',
    ],
    [
      'autoscaling min above max with the default min',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', autoscaling: { maxReplicas: 0 } }] },
      'spec.fleets[0].autoscaling.maxReplicas: must be between 1 and 100, is 0',
    ],
    [
      'target CPU out of range',
      {
        fleets: [
          {
            name: 'a',
            visibility: 'ExternalIP',
            autoscaling: { maxReplicas: 2, targetCPUUtilizationPercentage: 0 },
          },
        ],
      },
      'spec.fleets[0].autoscaling.targetCPUUtilizationPercentage: must be between 1 and 1000, is 0',
    ],
    [
      'a PodDisruptionBudget percentage without %',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', podDisruptionBudget: { minAvailable: '50' } }] },
      `spec.fleets[0].podDisruptionBudget.minAvailable: ${MESSAGES.pdbValue}`,
    ],
    [
      'a Service type unknown',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', service: { type: 'ExternalName' } }] },
      'spec.fleets[0].service.type: must be one of ClusterIP, NodePort, LoadBalancer',
    ],
    [
      'a loadBalancerClass that is not a qualified name',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', service: { loadBalancerClass: 'a b' } }] },
      'spec.fleets[0].service.loadBalancerClass: must be a qualified name',
    ],
    [
      'too many tolerations',
      {
        fleets: [
          {
            name: 'a',
            visibility: 'ExternalIP',
            placement: { tolerations: Array(33).fill({ operator: 'Exists' }) },
          },
        ],
      },
      'spec.fleets[0].placement.tolerations: must have at most 32 items',
    ],
    [
      'affinity not an object',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', placement: { affinity: [] } }] },
      'spec.fleets[0].placement.affinity: must be an object',
    ],
    [
      'spread constraints not objects',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', placement: { topologySpreadConstraints: [1] } }] },
      'spec.fleets[0].placement.topologySpreadConstraints[0]: must be an object',
    ],
    [
      'priorityClassName not a subdomain',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', placement: { priorityClassName: 'High' } }] },
      'spec.fleets[0].placement.priorityClassName: "High" must be an RFC 1123 subdomain',
    ],
    [
      'an image with spaces',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', envoy: { image: 'envoy latest' } }] },
      'spec.fleets[0].envoy.image: must be an image reference without spaces',
    ],
    [
      'concurrency zero',
      { fleets: [{ name: 'a', visibility: 'ExternalIP', envoy: { concurrency: 0 } }] },
      'spec.fleets[0].envoy.concurrency: must be between 1 and 64, is 0',
    ],
    [
      'a domain template that is empty',
      { fleets: [{ name: 'a', visibility: 'ExternalIP' }], domains: { template: '' } },
      'spec.domains.template: must be a non-empty string',
    ],
    [
      'a default domain that is not a subdomain',
      { fleets: [{ name: 'a', visibility: 'ExternalIP' }], domains: { default: 'Example.com' } },
      'spec.domains.default: "Example.com" must be an RFC 1123 subdomain',
    ],
    [
      'knative not an object',
      { fleets: [{ name: 'a', visibility: 'ExternalIP' }], knative: true },
      'spec.knative: must be an object',
    ],
    [
      'knative.configure not a boolean',
      { fleets: [{ name: 'a', visibility: 'ExternalIP' }], knative: { configure: 'yes' } },
      'spec.knative.configure: must be a boolean',
    ],
    [
      'knative namespace not a label',
      { fleets: [{ name: 'a', visibility: 'ExternalIP' }], knative: { namespace: 'Knative' } },
      'spec.knative.namespace: "Knative" must be an RFC 1123 label',
    ],
    [
      'namespace not a label',
      { namespace: 'kgw.system', fleets: [{ name: 'a', visibility: 'ExternalIP' }] },
      'spec.namespace: "kgw.system" must be an RFC 1123 label',
    ],
    [
      'cluster domain not a subdomain',
      { clusterDomain: 'Cluster_Local', fleets: [{ name: 'a', visibility: 'ExternalIP' }] },
      'spec.clusterDomain: "Cluster_Local" must be an RFC 1123 subdomain',
    ],
    [
      'ingress class empty',
      { ingressClass: '', fleets: [{ name: 'a', visibility: 'ExternalIP' }] },
      'spec.ingressClass: "" must be an RFC 1123 subdomain',
    ],
  ])('%s', (_name, input, expected) => {
    const errs = validateGatewaySpec(untyped(input));
    expect(errs.some((e) => e.startsWith(expected))).toBe(true);
  });

  test('a ClusterLocal fleet may use the ExternalIP defaults, since its own differ', () => {
    expect(
      validateGatewaySpec(
        spec({ name: 'a', visibility: 'ClusterLocal', ports: { http: 8443, https: 8080 } }),
      ),
    ).toEqual([]);
  });
});

describe('validateGateway', () => {
  const ok = spec({ name: 'a', visibility: 'ExternalIP' });

  test('accepts a dotted name of up to 63 characters', () => {
    expect(validateGateway(gw('edge.example', ok))).toEqual([]);
    expect(validateGateway(gw('a'.repeat(63), ok))).toEqual([]);
  });

  test('rejects a name longer than 63 characters or not a subdomain', () => {
    expect(validateGateway(gw('a'.repeat(64), ok))).toEqual([
      `metadata.name: ${MESSAGES.gatewayNameTooLong}`,
    ]);
    expect(validateGateway(gw('Edge', ok))).toEqual(['metadata.name: must be an RFC 1123 subdomain']);
  });

  test('includes the spec problems', () => {
    expect(validateGateway(gw('g', untyped({ fleets: [] })))).toEqual([
      'spec.fleets: must have 1 to 16 items, has 0',
    ]);
  });
});

describe('derived names', () => {
  test('service name, xDS cluster, domainInternal and labels', () => {
    expect(fleetServiceName('default', 'external')).toBe('kgw-default-external');
    expect(fleetXdsCluster('default', 'external')).toBe('default/external');
    expect(parseFleetXdsCluster('default/external')).toEqual({ gateway: 'default', fleet: 'external' });
    expect(parseFleetXdsCluster('default')).toBeUndefined();
    expect(parseFleetXdsCluster('a/b/c')).toBeUndefined();
    expect(parseFleetXdsCluster('/b')).toBeUndefined();
    expect(fleetDomainInternal('default', 'local')).toBe(
      `kgw-default-local.${DEFAULT_NAMESPACE}.svc.${DEFAULT_CLUSTER_DOMAIN}`,
    );
    expect(fleetDomainInternal('default', 'local', 'edge', 'corp.example')).toBe(
      'kgw-default-local.edge.svc.corp.example',
    );
    expect(fleetLabels('default', 'local')).toEqual({
      [LABEL_MANAGED_BY]: 'kgw',
      [LABEL_GATEWAY]: 'default',
      [LABEL_FLEET]: 'local',
    });
  });

  test('a name of exactly 63 characters is kept', () => {
    const gateway = 'g'.repeat(63 - 'kgw--'.length - 40);
    const fleet = 'f'.repeat(40);
    expect(fleetServiceName(gateway, fleet)).toBe(`kgw-${gateway}-${fleet}`);
    expect(fleetServiceName(gateway, fleet)).toHaveLength(63);
  });

  test('long names are shortened with a stable hash, staying valid and distinct', () => {
    const gateway = 'g'.repeat(63);
    const a = fleetServiceName(gateway, 'f'.repeat(40));
    const b = fleetServiceName(gateway, `${'f'.repeat(39)}g`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(SERVICE_NAME_RE);
    expect(a.startsWith('kgw-ggg')).toBe(true);
    expect(b).toMatch(SERVICE_NAME_RE);
    expect(a).not.toBe(b);
    expect(fleetServiceName(gateway, 'f'.repeat(40))).toBe(a);
  });

  test('dotted gateway names become valid Service names, distinct from the dashed spelling', () => {
    const dotted = fleetServiceName('edge.example', 'a');
    expect(dotted).toMatch(SERVICE_NAME_RE);
    expect(dotted.startsWith('kgw-edge-example-a-')).toBe(true);
    expect(dotted).not.toBe(fleetServiceName('edge-example', 'a'));
  });

  test('collisions across gateways sharing a namespace are found', () => {
    const one = { name: 'c', visibility: 'ExternalIP' } as const;
    const two = { name: 'b-c', visibility: 'ExternalIP' } as const;
    expect(fleetServiceNameCollisions([gw('a-b', spec(one)), gw('a', spec(two))])).toEqual([
      'fleets a-b/c, a/b-c would all be published as Service kgw-system/kgw-a-b-c',
    ]);
    expect(
      fleetServiceNameCollisions([gw('a-b', spec(one)), gw('a', { namespace: 'other', fleets: [two] })]),
    ).toEqual([]);
  });
});

describe('status helpers', () => {
  const fs = (readyReplicas: number, replicas: number): FleetStatus => ({
    name: 'a',
    visibility: 'ExternalIP',
    service: 'kgw-g-a.kgw-system.svc.cluster.local',
    readyReplicas,
    replicas,
    connectedProxies: readyReplicas,
  });

  test('a fleet is ready when all the replicas it wants are ready', () => {
    expect(isFleetReady(fs(2, 2))).toBe(true);
    expect(isFleetReady(fs(1, 2))).toBe(false);
    expect(isFleetReady(fs(0, 0))).toBe(false);
  });

  test('readyFleets counts ready fleets over the spec fleets', () => {
    expect(readyFleetsSummary(3, [fs(1, 1), fs(0, 1)])).toBe('1/3');
    expect(readyFleetsSummary(2, [fs(1, 1), fs(2, 2)])).toBe('2/2');
  });
});

describe('tls and domainClaims', () => {
  const base = { fleets: [{ name: 'external', visibility: 'ExternalIP' as const }] };
  test('defaults: the external issuer turns external-domain-tls on and serves cluster-local too', () => {
    const r = withGatewayDefaults({
      ...base,
      domains: { default: 'example.com' },
      tls: { externalIssuer: { name: 'le' }, defaultCertificate: { issuer: { name: 'dns01' } } },
    });
    expect(r.knative.externalDomainTLS).toBe('Enabled');
    expect(r.tls).toEqual({
      externalIssuer: { name: 'le' },
      clusterLocalIssuer: { name: 'le' },
      defaultCertificate: { issuer: { name: 'dns01' }, dnsNames: ['*.example.com'], fleets: ['external'] },
    });
  });
  test.each([
    [{ tls: { externalIssuer: {} } }, 'spec.tls.externalIssuer.name: required'],
    [
      { tls: { externalIssuer: { name: 'Bad_Name' } } },
      'spec.tls.externalIssuer.name: "Bad_Name" must be an RFC 1123 subdomain',
    ],
    [
      { tls: { defaultCertificate: { issuer: { name: 'x' } } } },
      `spec: ${MESSAGES.tlsDefaultCertificateNames}`,
    ],
    [
      { tls: { defaultCertificate: { issuer: { name: 'x' }, dnsNames: ['*.*.example.com'] } } },
      `spec.tls.defaultCertificate.dnsNames[0]: ${MESSAGES.certificateDnsName}`,
    ],
    [
      {
        tls: { defaultCertificate: { issuer: { name: 'x' }, dnsNames: ['*.example.com'], fleets: ['nope'] } },
      },
      `spec: ${MESSAGES.tlsDefaultCertificateFleets}`,
    ],
    [
      { domainClaims: { rules: [{ domains: [] }] } },
      'spec.domainClaims.rules[0].domains: must have 1 to 32 items, has 0',
    ],
    [
      {
        domainClaims: {
          rules: [
            {
              domains: ['example.com'],
              namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] },
            },
          ],
        },
      },
      `spec.domainClaims.rules[0].namespaceSelector.matchExpressions[0]: ${MESSAGES.selectorValues}`,
    ],
    [
      { domainClaims: { autoCreate: true }, knative: { autocreateClusterDomainClaims: true } },
      `spec: ${MESSAGES.twoClaimCreators}`,
    ],
  ])('rejects %j', (extra, message) => {
    expect(validateGatewaySpec(untyped({ ...base, ...extra }))).toContain(message);
  });
});
