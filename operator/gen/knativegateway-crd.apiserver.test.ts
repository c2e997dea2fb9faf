// The generated KnativeGateway CRD against a real kube-apiserver: the API server accepts it (CEL
// compiles within the cost budget), applies the schema defaults, and rejects bad specs with the
// messages in MESSAGES, and validateGatewaySpec (ajv on the same schema, the rules' TypeScript
// equals) agrees with it on every case. Needs the test parts from `bash test/env/setup.sh`.
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { createRejection, kubeRequest } from '../../test/env/kube-http.ts';
import { applyManifests } from '../../test/env/manifests.ts';
import {
  MESSAGES,
  validateGatewaySpec,
  type KnativeGateway,
  type KnativeGatewaySpec,
} from '../api/knativegateway.ts';
import { KnativeGatewaySpecSchema } from '../api/knativegateway-spec-schema.ts';
import { PATHS, generateAll } from './generate.ts';
import { kubeSchema } from './kube-schema.ts';
import type { Schema } from './schema.ts';
import { fullSampleKnativeGateway, sampleKnativeGateway } from './sample.ts';

const BASE = '/apis/operator.kgw.dev/v1alpha1/knativegateways';

function generated(path: string): unknown {
  const f = generateAll().find((x) => x.path === path);
  if (f === undefined) throw new Error(`not generated: ${path}`);
  return parse(f.content);
}

function gateway(name: string, spec: unknown): unknown {
  return { apiVersion: 'operator.kgw.dev/v1alpha1', kind: 'KnativeGateway', metadata: { name }, spec };
}

/** The API server's rejection message for creating `obj` ('' if it was accepted). */
const rejection = (kc: KubeConfig, obj: unknown): Promise<string> => createRejection(kc, BASE, obj);

/** GET as a meta.k8s.io Table (what `kubectl get` prints). */
async function table(kc: KubeConfig, path: string): Promise<{ columns: string[]; rows: unknown[][] }> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('no server');
  const opts: RequestOptions = {
    method: 'GET',
    headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    agent: false,
  };
  await kc.applyToHTTPSOptions(opts);
  const body = await new Promise<string>((resolve, reject) => {
    const req = request(new URL(path, server), opts, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve(data));
    });
    req.on('error', reject);
    req.end();
  });
  const t = JSON.parse(body) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
  return { columns: t.columnDefinitions.map((c) => c.name), rows: t.rows.map((r) => r.cells) };
}

describe('KnativeGateway CRD on a real kube-apiserver', () => {
  let cp: ControlPlane;
  let kc: KubeConfig;

  beforeAll(async () => {
    cp = await startControlPlane();
    kc = cp.kubeConfig();
    // The CRD as generated in memory (not the file on disk), so this tests the current generator.
    await applyManifests(kc, [generated(PATHS.knativeGatewayCrd) as { apiVersion: string; kind: string }]);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  const storedFleetDefaults = {
    service: { httpPort: 80, httpsPort: 443 },
    envoy: { logLevel: 'warning', drainSeconds: 30 },
    accessLog: { enabled: false, format: 'text' },
    metrics: { enabled: false, port: 9091 },
    tracing: { enabled: false, samplingPercent: 1 },
    policy: { rateLimitSharing: 'PerReplica' },
  };
  const storedKnativeDefaults = {
    configure: true,
    namespace: 'knative-serving',
    httpProtocol: 'Enabled',
    externalDomainTLS: 'Disabled',
    autocreateClusterDomainClaims: false,
  };

  test('the sample is accepted and the schema defaults are stored', async () => {
    const res = await kubeRequest(kc, 'POST', BASE, sampleKnativeGateway());
    const stored = res.json as KnativeGateway;
    expect(stored.spec.clusterDomain).toBe('cluster.local');
    expect(stored.spec.fleets).toEqual([
      { name: 'external', visibility: 'ExternalIP', replicas: 1, ...storedFleetDefaults },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1, ...storedFleetDefaults },
    ]);
    expect(stored.spec.knative).toEqual(storedKnativeDefaults);
  });

  test('the full sample is accepted and stored as written (plus defaults)', async () => {
    const sample = fullSampleKnativeGateway();
    const res = await kubeRequest(kc, 'POST', BASE, sample);
    const stored = res.json as KnativeGateway;
    expect(stored.spec.domains).toEqual(sample.spec.domains);
    expect(stored.spec.knative).toEqual(sample.spec.knative);
    const [pub, priv] = stored.spec.fleets;
    expect(pub).toEqual({
      ...sample.spec.fleets[0],
      envoy: { logLevel: 'info', drainSeconds: 45 },
      policy: { rateLimitSharing: 'PerReplica' },
    });
    expect(priv).toEqual({
      ...sample.spec.fleets[1],
      service: { httpPort: 80, httpsPort: 443 },
      envoy: { logLevel: 'warning', drainSeconds: 30, concurrency: 2 },
      accessLog: { enabled: false, format: 'text' },
      metrics: { enabled: false, port: 9091 },
      tracing: { enabled: false, samplingPercent: 1 },
      policy: { rateLimitSharing: 'PerReplica' },
    });
    expect(validateGatewaySpec(stored.spec)).toEqual([]);
  });

  test('a minimal gateway gets the spec-level defaults and no listener ports or replicas', async () => {
    const res = await kubeRequest(
      kc,
      'POST',
      BASE,
      gateway('minimal', { fleets: [{ name: 'a', visibility: 'ExternalIP' }] }),
    );
    const stored = res.json as KnativeGateway;
    expect(stored.spec).toEqual({
      ingressClass: 'kgw.ingress.networking.knative.dev',
      namespace: 'kgw-system',
      clusterDomain: 'cluster.local',
      fleets: [{ name: 'a', visibility: 'ExternalIP', ...storedFleetDefaults }],
      knative: storedKnativeDefaults,
    });
  });

  const fleet = (extra: object, visibility = 'ExternalIP'): unknown => ({
    fleets: [{ name: 'a', visibility, ...extra }],
  });

  /** spec.policy cases: its own CEL rules and those of the RoutePolicy features it reuses. */
  const policyRejections = (): [string, unknown, string, string][] => {
    const one = fleet({}) as object;
    const at = (path: string, m: string, type = 'object'): [string, string] => [
      `${path}: Invalid value: "${type}": ${m}`,
      `${path}: ${m}`,
    ];
    const rule = (r: object) => ({ rateLimit: { rules: [{ name: 'r', ...r }] } });
    const rulePath = 'spec.policy.defaults.rateLimit.rules[0]';
    return [
      [
        'policy defaults without a feature',
        { ...one, policy: { defaults: { domains: ['example.com'] } } },
        ...at('spec.policy.defaults', 'set at least one of ipAccess, cors or rateLimit'),
      ],
      [
        'a domain rule without a feature',
        { ...one, policy: { domainRules: [{ name: 'd', domains: ['example.com'] }] } },
        ...at('spec.policy.domainRules[0]', 'set at least one of ipAccess or rateLimit'),
      ],
      [
        'default IP rules without ranges',
        { ...one, policy: { defaults: { ipAccess: {} } } },
        ...at('spec.policy.defaults.ipAccess', 'set at least one allow or deny range'),
      ],
      [
        'a domain rule with a range that is no CIDR',
        {
          ...one,
          policy: {
            domainRules: [{ name: 'd', domains: ['example.com'], ipAccess: { deny: ['10.0.0.300/8'] } }],
          },
        },
        ...at(
          'spec.policy.domainRules[0].ipAccess.deny[0]',
          'must be an IPv4 or IPv6 CIDR such as 203.0.113.0/24',
          'string',
        ),
      ],
      [
        'default CORS with credentials for any origin',
        { ...one, policy: { defaults: { cors: { allowOrigins: ['*'], allowCredentials: true } } } },
        ...at(
          'spec.policy.defaults.cors',
          'allowCredentials cannot be used with the origin *: list the origins',
        ),
      ],
      [
        'a default rate-limit key with header and clientIP',
        {
          ...one,
          policy: { defaults: rule({ key: { header: 'x', clientIP: {} }, requests: 1, per: 'Second' }) },
        },
        ...at(`${rulePath}.key`, 'set exactly one of header or clientIP'),
      ],
      [
        'a default rate-limit rule with requests but no period',
        { ...one, policy: { defaults: rule({ key: { header: 'x' }, requests: 1 }) } },
        ...at(rulePath, 'set requests and per together'),
      ],
      [
        'a default rate-limit rule without key or requests',
        { ...one, policy: { defaults: rule({ limits: [{ value: 'a', requests: 1, per: 'Second' }] }) } },
        ...at(rulePath, 'a rule without a key needs requests and per'),
      ],
      [
        'default rate limits per value without a key',
        {
          ...one,
          policy: {
            defaults: rule({
              requests: 1,
              per: 'Second',
              limits: [{ value: 'a', requests: 1, per: 'Second' }],
            }),
          },
        },
        ...at(rulePath, 'limits need a key'),
      ],
      [
        'a default rate-limit rule with a key and nothing else',
        { ...one, policy: { defaults: rule({ key: { header: 'x' } }) } },
        ...at(rulePath, 'set requests and per, or limits'),
      ],
    ];
  };

  // [name, spec, the API server's message, the text validateGatewaySpec must report too ('' = none)]
  const rejections: [string, unknown, string, string][] = [
    [
      'duplicate fleet names',
      {
        fleets: [
          { name: 'a', visibility: 'ExternalIP' },
          { name: 'a', visibility: 'ClusterLocal' },
        ],
      },
      `spec.fleets: Invalid value: "array": ${MESSAGES.uniqueFleetNames}`,
      MESSAGES.uniqueFleetNames,
    ],
    [
      'equal listener ports',
      fleet({ ports: { http: 9000, https: 9000 } }),
      `spec.fleets[0].ports: Invalid value: "object": ${MESSAGES.listenerPortsDiffer}`,
      MESSAGES.listenerPortsDiffer,
    ],
    [
      'http equal to the visibility default https',
      fleet({ ports: { http: 8444 } }, 'ClusterLocal'),
      `spec.fleets[0].ports: Invalid value: "object": ${MESSAGES.listenerPortsDiffer}`,
      MESSAGES.listenerPortsDiffer,
    ],
    [
      'a reserved listener port',
      fleet({ ports: { https: 19003 } }),
      `spec.fleets[0].ports: Invalid value: "object": ${MESSAGES.reservedListenerPorts}`,
      MESSAGES.reservedListenerPorts,
    ],
    [
      'the metrics port on the readiness port',
      fleet({ metrics: { enabled: true, port: 19003 } }),
      `spec.fleets[0].metrics: Invalid value: "object": ${MESSAGES.metricsPortDiffers}`,
      MESSAGES.metricsPortDiffers,
    ],
    [
      'tracing on without a collector (CEL)',
      fleet({ tracing: { enabled: true, samplingPercent: 0.5 } }),
      `spec.fleets[0].tracing.collector: Required value: ${MESSAGES.tracingHostRequired}`,
      MESSAGES.tracingHostRequired,
    ],
    [
      'a tracing sampling share above 100',
      fleet({ tracing: { samplingPercent: 101 } }),
      'spec.fleets[0].tracing.samplingPercent: Invalid value: 101: spec.fleets[0].tracing.samplingPercent in body should be less than or equal to 100',
      'must be a number from 0 to 100',
    ],
    [
      'the default metrics port on the http port (no metrics.port written)',
      fleet({ ports: { http: 9091 }, metrics: { enabled: true } }),
      `spec.fleets[0].metrics: Invalid value: "object": ${MESSAGES.metricsPortDiffers}`,
      MESSAGES.metricsPortDiffers,
    ],
    [
      'the metrics port on the ClusterLocal default https port (no ports written)',
      fleet({ metrics: { enabled: true, port: 8444 } }, 'ClusterLocal'),
      `spec.fleets[0].metrics: Invalid value: "object": ${MESSAGES.metricsPortDiffers}`,
      MESSAGES.metricsPortDiffers,
    ],
    [
      'equal Service ports',
      fleet({ service: { httpsPort: 80 } }),
      `spec.fleets[0].service: Invalid value: "object": ${MESSAGES.servicePortsDiffer}`,
      MESSAGES.servicePortsDiffer,
    ],
    ['no fleets', { fleets: [] }, 'spec.fleets: Invalid value: 0', 'must have 1 to 16 items'],
    [
      'an ExternalName host suffix with one label',
      { ...(fleet({}) as object), externalNames: { allowedHosts: [{ suffix: 'com', ports: [443] }] } },
      'spec.externalNames.allowedHosts[0].suffix: Invalid value: "com"',
      `spec.externalNames.allowedHosts[0].suffix: ${MESSAGES.externalHostSuffix}`,
    ],
    [
      'repeated ExternalName ports',
      {
        ...(fleet({}) as object),
        externalNames: { allowedHosts: [{ suffix: 'example.com', ports: [443, 443] }] },
      },
      `spec.externalNames.allowedHosts[0].ports: Invalid value: "array": ${MESSAGES.externalHostPortsUnique}`,
      MESSAGES.externalHostPortsUnique,
    ],
    [
      'an ExternalName host without ports',
      { ...(fleet({}) as object), externalNames: { allowedHosts: [{ suffix: 'example.com', ports: [] }] } },
      'spec.externalNames.allowedHosts[0].ports: Invalid value: 0',
      'spec.externalNames.allowedHosts[0].ports: must have 1 to 16 items, has 0',
    ],
    [
      'bad visibility',
      fleet({}, 'Public'),
      'spec.fleets[0].visibility: Unsupported value: "Public"',
      'spec.fleets[0].visibility: must be one of',
    ],
    [
      'privileged listener port',
      fleet({ ports: { http: 80 } }),
      'spec.fleets[0].ports.http: Invalid value: 80',
      'spec.fleets[0].ports.http: must be between 1024 and 65535',
    ],
    [
      'replicas together with autoscaling',
      fleet({ replicas: 2, autoscaling: { maxReplicas: 4 } }),
      `spec.fleets[0]: Invalid value: "object": ${MESSAGES.replicasOrAutoscaling}`,
      MESSAGES.replicasOrAutoscaling,
    ],
    [
      'autoscaling min above max',
      fleet({ autoscaling: { minReplicas: 5, maxReplicas: 3 } }),
      `spec.fleets[0].autoscaling: Invalid value: "object": ${MESSAGES.autoscalingMinAboveMax}`,
      MESSAGES.autoscalingMinAboveMax,
    ],
    [
      'autoscaling without a CPU request',
      fleet({ autoscaling: { maxReplicas: 3 }, resources: { requests: { memory: '1Gi' } } }),
      `spec.fleets[0].resources: Invalid value: "object": ${MESSAGES.autoscalingNeedsCpuRequest}`,
      MESSAGES.autoscalingNeedsCpuRequest,
    ],
    [
      'autoscaling without maxReplicas',
      fleet({ autoscaling: { minReplicas: 2 } }),
      'spec.fleets[0].autoscaling.maxReplicas: Required value',
      'spec.fleets[0].autoscaling.maxReplicas: required',
    ],
    [
      'a PodDisruptionBudget with both fields',
      fleet({ podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } }),
      `spec.fleets[0].podDisruptionBudget: Invalid value: "object": ${MESSAGES.pdbExactlyOne}`,
      MESSAGES.pdbExactlyOne,
    ],
    [
      'an empty PodDisruptionBudget',
      fleet({ podDisruptionBudget: {} }),
      `spec.fleets[0].podDisruptionBudget: Invalid value: "object": ${MESSAGES.pdbExactlyOne}`,
      MESSAGES.pdbExactlyOne,
    ],
    [
      'a PodDisruptionBudget above 100%',
      fleet({ podDisruptionBudget: { maxUnavailable: '150%' } }),
      `spec.fleets[0].podDisruptionBudget.maxUnavailable: Invalid value: "": ${MESSAGES.pdbValue}`,
      `podDisruptionBudget.maxUnavailable: ${MESSAGES.pdbValue}`,
    ],
    [
      'a negative PodDisruptionBudget',
      fleet({ podDisruptionBudget: { minAvailable: -1 } }),
      `spec.fleets[0].podDisruptionBudget.minAvailable: Invalid value: "": ${MESSAGES.pdbValue}`,
      `podDisruptionBudget.minAvailable: ${MESSAGES.pdbValue}`,
    ],
    [
      'a bad quantity',
      fleet({ resources: { limits: { memory: 'lots' } } }),
      'spec.fleets[0].resources.limits.memory: Invalid value: "lots"',
      'spec.fleets[0].resources.limits.memory: "lots" is not a quantity',
    ],
    [
      'externalTrafficPolicy on a ClusterIP Service by default',
      fleet({ service: { externalTrafficPolicy: 'Local' } }, 'ClusterLocal'),
      `spec.fleets[0].service: Invalid value: "object": ${MESSAGES.externalTrafficPolicyNeedsExternal}`,
      MESSAGES.externalTrafficPolicyNeedsExternal,
    ],
    [
      'loadBalancerClass on a NodePort Service',
      fleet({ service: { type: 'NodePort', loadBalancerClass: 'example.com/lb' } }),
      `spec.fleets[0].service: Invalid value: "object": ${MESSAGES.loadBalancerClassNeedsLoadBalancer}`,
      MESSAGES.loadBalancerClassNeedsLoadBalancer,
    ],
    [
      'a bad annotation key',
      fleet({ service: { annotations: { 'not a key': 'x' } } }),
      `spec.fleets[0].service.annotations: Invalid value: "object": ${MESSAGES.qualifiedNameKeys}`,
      MESSAGES.qualifiedNameKeys,
    ],
    [
      'a bad node selector value',
      fleet({ placement: { nodeSelector: { zone: 'a b' } } }),
      'spec.fleets[0].placement.nodeSelector.zone: Invalid value: "a b"',
      'spec.fleets[0].placement.nodeSelector.zone: "a b" is not a valid label value',
    ],
    [
      'a toleration with operator Exists and a value',
      fleet({ placement: { tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }] } }),
      `spec.fleets[0].placement.tolerations[0]: Invalid value: "object": ${MESSAGES.tolerationExistsNoValue}`,
      MESSAGES.tolerationExistsNoValue,
    ],
    [
      'a toleration without key and operator Equal',
      fleet({ placement: { tolerations: [{ value: 'v' }] } }),
      `spec.fleets[0].placement.tolerations[0]: Invalid value: "object": ${MESSAGES.tolerationEmptyKeyNeedsExists}`,
      MESSAGES.tolerationEmptyKeyNeedsExists,
    ],
    [
      'tolerationSeconds without NoExecute',
      fleet({ placement: { tolerations: [{ key: 'k', effect: 'NoSchedule', tolerationSeconds: 5 }] } }),
      `spec.fleets[0].placement.tolerations[0]: Invalid value: "object": ${MESSAGES.tolerationSecondsNeedsNoExecute}`,
      MESSAGES.tolerationSecondsNeedsNoExecute,
    ],
    [
      'a bad log level',
      fleet({ envoy: { logLevel: 'verbose' } }),
      'spec.fleets[0].envoy.logLevel: Unsupported value: "verbose"',
      'spec.fleets[0].envoy.logLevel: must be one of',
    ],
    [
      'drainSeconds out of range',
      fleet({ envoy: { drainSeconds: 601 } }),
      'spec.fleets[0].envoy.drainSeconds: Invalid value: 601',
      'spec.fleets[0].envoy.drainSeconds: must be between 0 and 600',
    ],
    [
      'a heap limit below the minimum',
      fleet({ envoy: { maxHeapMiB: 32 } }),
      `spec.fleets[0].envoy.maxHeapMiB: Invalid value: "integer": ${MESSAGES.maxHeapMiB}`,
      `spec.fleets[0].envoy.maxHeapMiB: ${MESSAGES.maxHeapMiB}`,
    ],
    [
      'an unknown escapedSlashes action',
      fleet({ http: { escapedSlashes: 'Drop' } }),
      'spec.fleets[0].http.escapedSlashes: Unsupported value: "Drop"',
      'spec.fleets[0].http.escapedSlashes: must be one of',
    ],
    [
      'a header size over Envoy’s bound',
      fleet({ http: { maxRequestHeadersKiB: 8193 } }),
      'spec.fleets[0].http.maxRequestHeadersKiB: Invalid value: 8193',
      'spec.fleets[0].http.maxRequestHeadersKiB: must be between 1 and 8192',
    ],
    [
      'an HTTP/1.0 default host with a port',
      fleet({ http: { http10: { defaultHost: 'example.com:80' } } }),
      'spec.fleets[0].http.http10.defaultHost: Invalid value: "example.com:80"',
      'spec.fleets[0].http.http10.defaultHost: "example.com:80" must be an RFC 1123 subdomain',
    ],
    [
      'too many trusted hops',
      fleet({ clientIP: { xffNumTrustedHops: 17 } }),
      'spec.fleets[0].clientIP.xffNumTrustedHops: Invalid value: 17',
      'spec.fleets[0].clientIP.xffNumTrustedHops: must be between 0 and 16',
    ],
    [
      'the first cut’s boolean accessLog (read by kgw, refused on writes)',
      fleet({ accessLog: true }),
      'spec.fleets[0].accessLog: Invalid value: "boolean"',
      '',
    ],
    [
      'domain selectors without a default domain',
      { ...(fleet({}) as object), domains: { selectors: [{ domain: 'b.example', selector: { a: 'b' } }] } },
      `spec.domains: Invalid value: "object": ${MESSAGES.selectorsNeedDefault}`,
      MESSAGES.selectorsNeedDefault,
    ],
    [
      'a selector domain equal to the default',
      {
        ...(fleet({}) as object),
        domains: { default: 'a.example', selectors: [{ domain: 'a.example', selector: { a: 'b' } }] },
      },
      `spec.domains.selectors: Invalid value: "object": ${MESSAGES.uniqueDomains}`,
      MESSAGES.uniqueDomains,
    ],
    [
      'duplicate selector domains',
      {
        ...(fleet({}) as object),
        domains: {
          default: 'a.example',
          selectors: [
            { domain: 'b.example', selector: { a: 'b' } },
            { domain: 'b.example', selector: { c: 'd' } },
          ],
        },
      },
      'spec.domains.selectors[1]: Duplicate value',
      MESSAGES.uniqueDomains,
    ],
    [
      'an empty selector',
      {
        ...(fleet({}) as object),
        domains: { default: 'a.example', selectors: [{ domain: 'b.example', selector: {} }] },
      },
      `spec.domains.selectors[0].selector: Invalid value: "object": ${MESSAGES.selectorNotEmpty}`,
      MESSAGES.selectorNotEmpty,
    ],
    [
      'domains on a gateway that does not configure Knative',
      { ...(fleet({}) as object), domains: { default: 'a.example' }, knative: { configure: false } },
      `spec: Invalid value: "object": ${MESSAGES.domainsNeedConfigure}`,
      MESSAGES.domainsNeedConfigure,
    ],
    [
      'a bad httpProtocol',
      { ...(fleet({}) as object), knative: { httpProtocol: 'Disabled' } },
      'spec.knative.httpProtocol: Unsupported value: "Disabled"',
      'spec.knative.httpProtocol: must be one of Enabled, Redirected',
    ],
    [
      'kgw and Knative both creating domain claims',
      {
        fleets: [{ name: 'a', visibility: 'ExternalIP' }],
        domainClaims: { autoCreate: true },
        knative: { autocreateClusterDomainClaims: true },
      },
      MESSAGES.twoClaimCreators,
      MESSAGES.twoClaimCreators,
    ],
    [
      'default certificate without names or default domain',
      {
        fleets: [{ name: 'a', visibility: 'ExternalIP' }],
        tls: { defaultCertificate: { issuer: { name: 'dns' } } },
      },
      MESSAGES.tlsDefaultCertificateNames,
      `spec: ${MESSAGES.tlsDefaultCertificateNames}`,
    ],
    [
      'default certificate for an unknown fleet',
      {
        fleets: [{ name: 'a', visibility: 'ExternalIP' }],
        tls: { defaultCertificate: { issuer: { name: 'dns' }, dnsNames: ['*.example.com'], fleets: ['b'] } },
      },
      MESSAGES.tlsDefaultCertificateFleets,
      `spec: ${MESSAGES.tlsDefaultCertificateFleets}`,
    ],
    [
      'In requirement without values',
      {
        fleets: [{ name: 'a', visibility: 'ExternalIP' }],
        domainClaims: {
          rules: [
            {
              domains: ['example.com'],
              namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In' }] },
            },
          ],
        },
      },
      MESSAGES.selectorValues,
      `spec.domainClaims.rules[0].namespaceSelector.matchExpressions[0]: ${MESSAGES.selectorValues}`,
    ],
    [
      'Global rate limits without a rate-limit service',
      fleet({ policy: { rateLimitSharing: 'Global' } }),
      `spec.fleets[0].policy: Invalid value: "object": ${MESSAGES.globalRateLimitService}`,
      `spec.fleets[0].policy: ${MESSAGES.globalRateLimitService}`,
    ],
    ...policyRejections(),
    [
      'issuer without a name',
      { fleets: [{ name: 'a', visibility: 'ExternalIP' }], tls: { externalIssuer: {} } },
      'spec.tls.externalIssuer.name: Required value',
      'spec.tls.externalIssuer.name: required',
    ],
  ];

  test.each(rejections)('rejects %s', async (name, spec, expected, fromValidator) => {
    const msg = await rejection(
      kc,
      gateway(
        name
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '-')
          .slice(0, 60)
          .replace(/^-+|-+$/g, ''),
        spec,
      ),
    );
    expect(msg).toContain(expected);
    const local = validateGatewaySpec(spec as KnativeGatewaySpec);
    if (fromValidator === '') expect(local).toEqual([]);
    else expect(local.join('\n')).toContain(fromValidator);
  });

  test('every CEL rule of the schema has a rejection case above, by the API server and by kgw', () => {
    const messages: string[] = [];
    const walk = (s: Schema): void => {
      for (const r of s['x-kubernetes-validations'] ?? []) messages.push(r.message);
      for (const v of Object.values(s.properties ?? {})) walk(v);
      if (s.items !== undefined) walk(s.items);
      if (typeof s.additionalProperties === 'object') walk(s.additionalProperties);
    };
    walk(kubeSchema(KnativeGatewaySpecSchema));
    expect(messages.length).toBeGreaterThan(20);
    for (const m of new Set(messages)) {
      const cases = rejections.filter(([, , apiServer, local]) => apiServer.includes(m) && local.includes(m));
      expect([m, cases.length > 0]).toEqual([m, true]);
    }
  });

  // Specs at the edge of each CEL rule (and of some schema limits) that both the API server and
  // validateGatewaySpec accept: a rule broken into refusing too much fails here.
  test.each<[string, unknown]>([
    ['listener ports at the limits', fleet({ ports: { http: 1024, https: 65535 }, replicas: 100 })],
    [
      'Global rate limits with a rate-limit service',
      fleet({
        policy: {
          rateLimitSharing: 'Global',
          globalRateLimit: {
            service: { name: 'ratelimit', namespace: 'kgw-system', port: 8081 },
            failureMode: 'Deny',
          },
        },
      }),
    ],
    [
      'a heap limit of 0 (off) and of the minimum',
      {
        fleets: [
          { name: 'a', visibility: 'ExternalIP', envoy: { maxHeapMiB: 0 } },
          { name: 'b', visibility: 'ExternalIP', envoy: { maxHeapMiB: 64 } },
        ],
      },
    ],
    [
      'autoscaling with min equal to max and a CPU request',
      fleet({
        autoscaling: { minReplicas: 3, maxReplicas: 3 },
        resources: { requests: { cpu: '250m' } },
      }),
    ],
    ['a PodDisruptionBudget of 100%', fleet({ podDisruptionBudget: { minAvailable: '100%' } })],
    ['a PodDisruptionBudget of 0 pods', fleet({ podDisruptionBudget: { maxUnavailable: 0 } })],
    [
      'tolerations: Exists without key, Equal with value, seconds with NoExecute',
      fleet({
        placement: {
          tolerations: [
            { operator: 'Exists' },
            { key: 'dedicated', value: 'edge', effect: 'NoSchedule' },
            {
              key: 'node.kubernetes.io/unreachable',
              operator: 'Exists',
              effect: 'NoExecute',
              tolerationSeconds: 30,
            },
          ],
        },
      }),
    ],
    [
      'a LoadBalancer class and Local traffic policy on the default LoadBalancer',
      fleet({
        service: {
          loadBalancerClass: 'example.com/internal-vip',
          externalTrafficPolicy: 'Local',
          annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' },
        },
      }),
    ],
    [
      'a Local traffic policy on a ClusterLocal fleet made NodePort',
      fleet(
        { service: { type: 'NodePort', externalTrafficPolicy: 'Local', httpPort: 443, httpsPort: 80 } },
        'ClusterLocal',
      ),
    ],
    ['metrics on the other visibility’s default port', fleet({ metrics: { enabled: true, port: 8081 } })],
    ['metrics off on a listener port', fleet({ metrics: { enabled: false, port: 8080 } })],
    [
      'tracing on with a collector',
      fleet({ tracing: { enabled: true, collector: { host: 'otel.observability' } } }),
    ],
    [
      'domains with selectors, configuring Knative, and a default certificate for a named fleet',
      {
        fleets: [{ name: 'a', visibility: 'ExternalIP' }],
        domains: {
          default: 'example.com',
          selectors: [{ domain: 'prod.example.com', selector: { env: 'prod' } }],
        },
        knative: { configure: true, autocreateClusterDomainClaims: false },
        tls: { defaultCertificate: { issuer: { name: 'dns01' }, fleets: ['a'] } },
        domainClaims: {
          autoCreate: true,
          rules: [
            {
              domains: ['example.com'],
              namespaceSelector: {
                matchExpressions: [
                  { key: 'team', operator: 'Exists' },
                  { key: 'env', operator: 'In', values: ['prod'] },
                ],
              },
            },
          ],
        },
      },
    ],
    [
      'ExternalName ports that differ',
      {
        ...(fleet({}) as object),
        externalNames: { allowedHosts: [{ suffix: 'example.com', ports: [80, 443] }] },
      },
    ],
  ])('accepts %s, and so does validateGatewaySpec', async (name, spec) => {
    const id = `ok-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`.slice(0, 60).replace(/-+$/, '');
    expect(await rejection(kc, gateway(id, spec))).toBe('');
    expect(validateGatewaySpec(spec as KnativeGatewaySpec)).toEqual([]);
  });

  // Schema keywords (not CEL): ajv must refuse what the API server refuses.
  test.each<[string, unknown]>([
    ['an unknown Service type', fleet({ service: { type: 'ExternalName' } })],
    ['a fleet name with upper case', { fleets: [{ name: 'A', visibility: 'ExternalIP' }] }],
    ['replicas as a string', fleet({ replicas: '2' })],
    ['a fleet without visibility', { fleets: [{ name: 'a' }] }],
    ['too many tolerations', fleet({ placement: { tolerations: Array(33).fill({ operator: 'Exists' }) } })],
    [
      'too many node selector entries',
      fleet({
        placement: { nodeSelector: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
      }),
    ],
    ['a domain template that is empty', { ...(fleet({}) as object), domains: { template: '' } }],
    [
      'a claim label value with a space',
      {
        ...(fleet({}) as object),
        domainClaims: {
          rules: [{ domains: ['example.com'], namespaceSelector: { matchLabels: { team: 'a b' } } }],
        },
      },
    ],
  ])('schema: %s is rejected by the API server and by validateGatewaySpec', async (name, spec) => {
    const id = `bad-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`.slice(0, 60).replace(/-+$/, '');
    expect(await rejection(kc, gateway(id, spec))).not.toBe('');
    expect(validateGatewaySpec(spec as KnativeGatewaySpec)).not.toEqual([]);
  });

  test('edge settings are stored as written, without defaults (kgw applies those)', async () => {
    const edge = {
      http: { requestHeadersTimeoutSeconds: 0, http10: { enabled: false } },
      clientIP: { proxyProtocol: true },
    };
    const res = await kubeRequest(
      kc,
      'POST',
      BASE,
      gateway('edge-settings', fleet({ ...edge, envoy: { maxHeapMiB: 0 } })),
    );
    const [stored] = (res.json as KnativeGateway).spec.fleets;
    expect(stored).toEqual({
      name: 'a',
      visibility: 'ExternalIP',
      ...storedFleetDefaults,
      ...edge,
      envoy: { ...storedFleetDefaults.envoy, maxHeapMiB: 0 },
    });
  });

  test('accepts listener ports that only clash with the other visibility’s defaults', async () => {
    const spec = { fleets: [{ name: 'a', visibility: 'ClusterLocal', ports: { http: 8443, https: 8080 } }] };
    expect(await rejection(kc, gateway('cross-defaults', spec))).toBe('');
  });

  test('rejects a name longer than 63 characters', async () => {
    const msg = await rejection(
      kc,
      gateway('a'.repeat(64), { fleets: [{ name: 'a', visibility: 'ExternalIP' }] }),
    );
    expect(msg).toContain('metadata.name: Too long');
  });

  test('status subresource and printer columns', async () => {
    await kubeRequest(
      kc,
      'PATCH',
      `${BASE}/default/status`,
      {
        status: {
          readyFleets: '1/2',
          requestsPerSecond: '12.5',
          errorRatio: '0.4%',
          externalAddress: '203.0.113.7',
          conditions: [
            { type: 'Ready', status: 'False', reason: 'FleetsNotReady' },
            { type: 'KnativeConfigured', status: 'True' },
          ],
          fleets: [
            {
              name: 'external',
              visibility: 'ExternalIP',
              service: 'kgw-default-external.kgw-system.svc.cluster.local',
              address: '203.0.113.7',
              replicas: 1,
              readyReplicas: 0,
              connectedProxies: 1,
              configVersion: 'v7',
              traffic: { requestsPerSecond: '12.5', errorRatio: '0.4%', windowSeconds: 30 },
              lastNack: {
                version: 'v8',
                message: 'bad cluster',
                typeUrl: 'x',
                proxy: 'p',
                time: '2026-01-01T00:00:00Z',
              },
            },
          ],
        },
      },
      'application/merge-patch+json',
    );
    const t = await table(kc, `${BASE}/default`);
    expect(t.columns).toEqual(['Name', 'Ready', 'Fleets', 'Address', 'Req/s', '5xx', 'Age', 'Class']);
    const row = t.rows[0] ?? [];
    expect([row[0], row[1], row[2], row[3], row[4], row[5], row[7]]).toEqual([
      'default',
      'False',
      '1/2',
      '203.0.113.7',
      '12.5',
      '0.4%',
      'kgw.ingress.networking.knative.dev',
    ]);
  });
});
