// The operator's own install: names, ports, images and the workload objects (ServiceAccount,
// Deployment, Services, PodDisruptionBudget) shared by the plain release manifest (deploy/kgw.yaml)
// and the OLM bundle (bundle/). Two variants differ only where OLM does the work itself:
//   - plain: kgw ships the webhook Service and mounts the webhook certificate Secret it manages;
//   - olm:   OLM creates `<deployment>-service` for the webhooks, makes the serving certificate and
//            mounts it at the same path (/tmp/k8s-webhook-server/serving-certs), and creates the
//            ServiceAccount from the CSV's permissions.
// The names and ports the in-cluster operator (`kgw operator --runtime kubernetes`) uses come
// from operator/api/install.ts, shared with the operator's code.
import { readFileSync } from 'node:fs';
import type {
  V1Container,
  V1Deployment,
  V1DeploymentSpec,
  V1PodDisruptionBudget,
  V1Service,
  V1ServiceAccount,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { OPERATOR_NAME, OPERATOR_NAMESPACE, OPERATOR_PORTS, WEBHOOK_SERVICE_NAME } from '../api/install.ts';
import { DEFAULT_KNATIVE_NAMESPACE } from '../api/knativegateway.ts';

export type InstallVariant = 'plain' | 'olm';

/** Knative Serving's namespace, where kgw writes config-network and config-domain. */
export const KNATIVE_SERVING_NAMESPACE = DEFAULT_KNATIVE_NAMESPACE;

/** Non-root user and group the image and the pod run as (the Dockerfile's USER must match). */
export const OPERATOR_UID = 65532;

/**
 * How the image runs Node (the Dockerfile's ENV must match; bench/rss.ts runs the operator the same
 * way): a small young generation, gc() for the idle GC (idle-gc.ts), and jemalloc preloaded with a
 * short decay, background purging, one arena and no thread caches, so native memory freed after a
 * burst goes back to the system and little is cached per thread (bench/README.md, Memory).
 */
export const OPERATOR_NODE_OPTIONS = '--max-semi-space-size=8 --expose-gc';
export const OPERATOR_JEMALLOC = '/usr/local/lib/libjemalloc.so.2';
export const OPERATOR_MALLOC_CONF =
  'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1,tcache:false';

/** Envoy release the fleets run (same as the one the tests use, test/env/versions.env). */
export const ENVOY_VERSION = '1.40.0';
export const ENVOY_IMAGE = `docker.io/envoyproxy/envoy:v${ENVOY_VERSION}`;
/**
 * Where the release pipeline pushes the operator image (built from the repository's Dockerfile).
 * A placeholder until the project publishes images; change it here and run `npm run gen`.
 */
export const OPERATOR_IMAGE_REPOSITORY = 'ghcr.io/kgw-dev/kgw';

/** kgw's version: package.json's `version` (the CSV version, the image tag, the version label). */
export function kgwVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
  return pkg.version;
}

export function operatorImage(): string {
  return `${OPERATOR_IMAGE_REPOSITORY}:v${kgwVersion()}`;
}

/** Labels that select the operator's pods (stable across versions: a Deployment selector is immutable). */
export const SELECTOR_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'kgw',
  'app.kubernetes.io/component': 'operator',
};

/** Labels on every object of the install. */
export function commonLabels(): Record<string, string> {
  return {
    ...SELECTOR_LABELS,
    'app.kubernetes.io/part-of': 'kgw',
    'app.kubernetes.io/version': kgwVersion(),
  };
}

export function serviceAccount(): V1ServiceAccount {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
  };
}

function operatorContainer(): V1Container {
  // Plain installs: the operator writes its serving certificate into WEBHOOK_CERT_DIR (under the
  // /tmp emptyDir) from its own CA; under OLM, OLM mounts its certificate there.
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  return {
    name: 'operator',
    image: operatorImage(),
    imagePullPolicy: 'IfNotPresent',
    args: ['operator', '--runtime', 'kubernetes'],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // named in the kubectl commands kgw reports when it may not act somewhere (kube/access.ts)
      { name: 'POD_SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
      { name: 'KGW_LOG_LEVEL', value: 'info' },
      // OLM's convention for operand images: mirroring tools rewrite RELATED_IMAGE_* variables.
      { name: 'RELATED_IMAGE_ENVOY', value: ENVOY_IMAGE },
    ],
    ports: [
      { name: 'xds', containerPort: OPERATOR_PORTS.xds, protocol: 'TCP' },
      { name: 'webhook', containerPort: OPERATOR_PORTS.webhook, protocol: 'TCP' },
      { name: 'metrics', containerPort: OPERATOR_PORTS.metrics, protocol: 'TCP' },
      { name: 'health', containerPort: OPERATOR_PORTS.health, protocol: 'TCP' },
    ],
    readinessProbe: {
      httpGet: { path: '/readyz', port: 'health' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: 'health' },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    // Requests sized for ~1k KIngresses; no CPU limit (throttling would delay xDS pushes and webhook
    // answers), a memory limit so a leak cannot take the node down.
    resources: {
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { memory: '1Gi' },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: mounts,
  };
}

/**
 * The Deployment's spec (the CSV's install strategy carries exactly this). The same for both
 * variants: OLM adds its certificate mount itself; a plain install writes its own.
 */
export function operatorDeploymentSpec(_variant: InstallVariant): V1DeploymentSpec {
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }];
  return {
    // Two replicas: every replica serves xDS and webhooks, one leader writes status (issue 3).
    replicas: 2,
    // A new pod counts as available (what `kubectl rollout status` and the rolling update wait for)
    // 3 s after it became Ready, i.e. after it entered the Services' EndpointSlices: time for
    // kube-proxy (minSyncPeriod 1 s by default) to route the webhook and xDS Services to it. Without
    // it the rollout can end before the apiserver reaches the webhook, and the next apply fails.
    minReadySeconds: 3,
    revisionHistoryLimit: 3,
    selector: { matchLabels: { ...SELECTOR_LABELS } },
    strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
    template: {
      metadata: { labels: commonLabels() },
      spec: {
        serviceAccountName: OPERATOR_NAME,
        automountServiceAccountToken: true,
        enableServiceLinks: false,
        terminationGracePeriodSeconds: 30,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: OPERATOR_UID,
          runAsGroup: OPERATOR_UID,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: { ...SELECTOR_LABELS } },
                },
              },
            ],
          },
        },
        containers: [operatorContainer()],
        volumes,
      },
    },
  };
}

export function operatorDeployment(variant: InstallVariant): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    spec: operatorDeploymentSpec(variant),
  };
}

/** xDS and metrics (both install modes). Envoy fleets reach the operator at `kgw-operator.<ns>.svc:18000`. */
export function xdsService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    spec: {
      type: 'ClusterIP',
      selector: { ...SELECTOR_LABELS },
      ports: [
        {
          name: 'grpc-xds',
          port: OPERATOR_PORTS.xds,
          targetPort: 'xds',
          protocol: 'TCP',
          appProtocol: 'grpc',
        },
        { name: 'http-metrics', port: OPERATOR_PORTS.metrics, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

/** The webhook Service of the plain install (under OLM, OLM creates one with the same name and port). */
export function webhookService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: WEBHOOK_SERVICE_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    spec: {
      type: 'ClusterIP',
      selector: { ...SELECTOR_LABELS },
      ports: [
        { name: 'https-webhook', port: OPERATOR_PORTS.webhook, targetPort: 'webhook', protocol: 'TCP' },
      ],
    },
  };
}

/** Keeps one replica (leader candidate, xDS and webhook server) through voluntary disruptions. */
export function podDisruptionBudget(): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: OPERATOR_NAME, namespace: OPERATOR_NAMESPACE, labels: commonLabels() },
    spec: { minAvailable: 1, selector: { matchLabels: { ...SELECTOR_LABELS } } },
  };
}
