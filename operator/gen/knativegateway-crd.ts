// The KnativeGateway CustomResourceDefinition, built from the constants in
// operator/api/knativegateway.ts so the schema, the defaults in code and the docs cannot drift.
import {
  DEFAULT_AUTOCREATE_CLAIMS,
  KGW_CERTIFICATE_CLASS,
  WILDCARD_DNS_PATTERN,
  ACCESS_LOG_FORMATS,
  CONDITION_FLEETS_READY,
  CONDITION_KNATIVE_CONFIGURED,
  CONDITION_READY,
  DEFAULT_ACCESS_LOG,
  DEFAULT_ACCESS_LOG_FORMAT,
  DEFAULT_METRICS,
  DEFAULT_TRACING,
  DEFAULT_TRACING_PORT,
  DEFAULT_TRACING_SAMPLING_PERCENT,
  DEFAULT_METRICS_PORT,
  LABEL_METRICS,
  METRICS_LABEL_VALUE,
  METRICS_PATH,
  DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS,
  DEFAULT_AUTOSCALING_MIN_REPLICAS,
  DEFAULT_AUTOSCALING_TARGET_CPU,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_DRAIN_SECONDS,
  DEFAULT_ESCAPED_SLASHES,
  DEFAULT_HTTP10,
  DEFAULT_MAX_HEAP_MIB,
  DEFAULT_MAX_REQUEST_HEADERS,
  DEFAULT_MAX_REQUEST_HEADERS_KIB,
  DEFAULT_MERGE_SLASHES,
  DEFAULT_NORMALIZE_PATH,
  DEFAULT_PROXY_PROTOCOL,
  DEFAULT_REQUEST_HEADERS_TIMEOUT_SECONDS,
  DEFAULT_STREAM_IDLE_TIMEOUT_SECONDS,
  DEFAULT_STRIP_HOST_PORT,
  DEFAULT_STRIP_TRAILING_HOST_DOT,
  DEFAULT_XFF_NUM_TRUSTED_HOPS,
  ESCAPED_SLASHES_ACTIONS,
  MAX_HEAP_SHARE_OF_MEMORY_LIMIT,
  DEFAULT_ENVOY_CONCURRENCY,
  DEFAULT_ENVOY_IMAGE,
  DEFAULT_ENVOY_LOG_LEVEL,
  DEFAULT_EXTERNAL_DOMAIN_TLS,
  DEFAULT_HTTP_PROTOCOL,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_KNATIVE_CONFIGURE,
  DEFAULT_KNATIVE_NAMESPACE,
  DEFAULT_LISTENER_PORTS,
  DEFAULT_NAMESPACE,
  DEFAULT_REPLICAS,
  DEFAULT_RESOURCES,
  DEFAULT_SERVICE_HTTPS_PORT,
  DEFAULT_SERVICE_HTTP_PORT,
  DEFAULT_SERVICE_TYPES,
  DNS1123_LABEL_PATTERN,
  EXTERNAL_HOST_SUFFIX_PATTERN,
  DNS1123_SUBDOMAIN_PATTERN,
  ENVOY_LOG_LEVELS,
  ENVOY_READY_PORT,
  EXTERNAL_DOMAIN_TLS_VALUES,
  EXTERNAL_TRAFFIC_POLICIES,
  GATEWAY_API_VERSION,
  GATEWAY_CATEGORY,
  GATEWAY_CRD_NAME,
  GATEWAY_GROUP,
  GATEWAY_KIND,
  GATEWAY_LIST_KIND,
  GATEWAY_PLURAL,
  GATEWAY_SHORT_NAME,
  GATEWAY_SINGULAR,
  GATEWAY_VERSION,
  HTTP_PROTOCOLS,
  IMAGE_PATTERN,
  LABEL_FLEET,
  LABEL_GATEWAY,
  LABEL_VALUE_PATTERN,
  LIMITS,
  MESSAGES,
  PERCENT_PATTERN,
  QUALIFIED_NAME_PATTERN,
  QUANTITY_PATTERN,
  RESERVED_LISTENER_PORTS,
  SERVICE_TYPES,
  TOLERATION_EFFECTS,
  TOLERATION_OPERATORS,
  VISIBILITIES,
} from '../api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION } from '../api/kingress.ts';
import { rootProperties, type CustomResourceDefinition } from './crd.ts';
import {
  arr,
  bool,
  int,
  intOrString,
  mapOf,
  num,
  obj,
  preservedObject,
  rule,
  str,
  type Schema,
  type ValidationRule,
} from './schema.ts';

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

/** A CEL string literal for `s` (backslashes and quotes escaped). */
function celString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** CEL on a map: every key is a qualified name (label/annotation key syntax). */
function qualifiedKeys(): ValidationRule {
  return rule(`self.all(k, k.matches(${celString(QUALIFIED_NAME_PATTERN)}))`, MESSAGES.qualifiedNameKeys);
}

/** A map of label keys to label values (node selectors, domain selectors). */
function labelMap(description: string): Schema {
  return mapOf(
    description,
    { type: 'string', maxLength: LIMITS.labelValueMaxLength, pattern: LABEL_VALUE_PATTERN },
    { maxProperties: LIMITS.maxMapEntries, validations: [qualifiedKeys()] },
  );
}

function listenerPort(field: 'http' | 'https', what: string): Schema {
  return int(
    `Port Envoy listens on for ${what}, inside its pod (or on the host for the local runtime); ` +
      `${LIMITS.minListenerPort}-${LIMITS.maxListenerPort}, since Envoy runs without privileges, and ` +
      `not ${ENVOY_READY_PORT} (Envoy's readiness listener). ` +
      `Defaults to ${EXT[field]} for ExternalIP fleets and ${LOCAL[field]} for ClusterLocal fleets ` +
      `(applied by kgw, because the default depends on the visibility).`,
    { minimum: LIMITS.minListenerPort, maximum: LIMITS.maxListenerPort },
  );
}

function autoscalingSchema(): Schema {
  return obj(
    'Scale the fleet with a HorizontalPodAutoscaler (autoscaling/v2) on CPU utilization instead of a ' +
      'fixed replica count. Mutually exclusive with replicas. Needs a CPU request (resources.requests.cpu; ' +
      'the default resources have one). The local runtime runs minReplicas replicas.',
    {
      minReplicas: int(
        `Fewest replicas the autoscaler keeps, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}, at most ` +
          `maxReplicas. Defaults to ${DEFAULT_AUTOSCALING_MIN_REPLICAS}.`,
        {
          minimum: LIMITS.minReplicas,
          maximum: LIMITS.maxReplicas,
          default: DEFAULT_AUTOSCALING_MIN_REPLICAS,
        },
      ),
      maxReplicas: int(`Most replicas the autoscaler may run, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}.`, {
        minimum: LIMITS.minReplicas,
        maximum: LIMITS.maxReplicas,
      }),
      targetCPUUtilizationPercentage: int(
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
        rule(
          `(has(self.minReplicas) ? self.minReplicas : ${DEFAULT_AUTOSCALING_MIN_REPLICAS}) <= self.maxReplicas`,
          MESSAGES.autoscalingMinAboveMax,
        ),
      ],
    },
  );
}

function pdbValue(what: string): Schema {
  return intOrString(
    `${what}, as a number of pods or a percentage of the fleet's replicas ("50%"). An integer ≥ 0 ` +
      'or a percentage from 0% to 100%.',
    {
      maxLength: 4,
      validations: [
        rule(
          `type(self) == int ? self >= 0 : self.matches(${celString(PERCENT_PATTERN)})`,
          MESSAGES.pdbValue,
        ),
      ],
    },
  );
}

function pdbSchema(): Schema {
  return obj(
    "A PodDisruptionBudget (policy/v1) for the fleet's pods, so voluntary disruptions (node drains, " +
      'cluster upgrades) keep enough Envoys serving. Set exactly one of minAvailable and maxUnavailable. ' +
      'Without this field kgw creates no PodDisruptionBudget.',
    {
      minAvailable: pdbValue('Pods that must stay available during a voluntary disruption'),
      maxUnavailable: pdbValue('Pods that may be unavailable during a voluntary disruption'),
    },
    { validations: [rule('has(self.minAvailable) != has(self.maxUnavailable)', MESSAGES.pdbExactlyOne)] },
  );
}

function quantityMap(description: string): Schema {
  return mapOf(
    description,
    intOrString('A quantity such as 500m, 2 or 512Mi.', { pattern: QUANTITY_PATTERN }),
    { maxProperties: LIMITS.maxMapEntries },
  );
}

function resourcesSchema(): Schema {
  const d = DEFAULT_RESOURCES.requests;
  return obj(
    'Compute resources of the Envoy container (core/v1 ResourceRequirements: requests and limits of ' +
      `cpu, memory, ephemeral-storage). Defaults to requests of cpu ${d.cpu} and memory ${d.memory} and no ` +
      'limits (applied by kgw). When set, it replaces the default entirely. A CPU limit also sets ' +
      "Envoy's default concurrency.",
    {
      requests: quantityMap('Resources the scheduler reserves for each Envoy pod.'),
      limits: quantityMap('Most resources each Envoy pod may use.'),
    },
  );
}

function serviceSchema(): Schema {
  return obj(
    "The Service that publishes the fleet: what clients, Knative's prober and KIngress status consumers " +
      'connect to. Its ports forward to the matching listener ports in ports.',
    {
      type: str(
        'Service type. ClusterIP: reachable inside the cluster only. NodePort: also on a port of every ' +
          'node. LoadBalancer: also through an external load balancer. Defaults to ' +
          `${DEFAULT_SERVICE_TYPES.ExternalIP} for ExternalIP fleets and ${DEFAULT_SERVICE_TYPES.ClusterLocal} ` +
          'for ClusterLocal fleets (applied by kgw, because the default depends on the visibility).',
        { enum: SERVICE_TYPES },
      ),
      annotations: mapOf(
        'Annotations for the Service, e.g. to configure a cloud load balancer ' +
          '(service.beta.kubernetes.io/aws-load-balancer-type: nlb).',
        { type: 'string', maxLength: LIMITS.annotationValueMaxLength },
        { maxProperties: LIMITS.maxMapEntries, validations: [qualifiedKeys()] },
      ),
      externalTrafficPolicy: str(
        'How external traffic reaches the Envoy pods (NodePort and LoadBalancer Services only). ' +
          'Cluster: through any node, hiding the client address. Local: only through nodes running an ' +
          "Envoy of the fleet, keeping the client's source address. Unset: Kubernetes' default (Cluster).",
        { enum: EXTERNAL_TRAFFIC_POLICIES },
      ),
      loadBalancerClass: str(
        'Load balancer implementation to use (LoadBalancer Services only), e.g. ' +
          "example.com/internal-vip. Unset: the cluster's default. Kubernetes does not allow changing it " +
          'once set: kgw then has to recreate the Service.',
        { pattern: QUALIFIED_NAME_PATTERN, maxLength: LIMITS.loadBalancerClassMaxLength },
      ),
      httpPort: int(
        `Service port for plain HTTP, forwarded to ports.http. ${LIMITS.minServicePort}-` +
          `${LIMITS.maxServicePort}. Defaults to ${DEFAULT_SERVICE_HTTP_PORT}.`,
        {
          minimum: LIMITS.minServicePort,
          maximum: LIMITS.maxServicePort,
          default: DEFAULT_SERVICE_HTTP_PORT,
        },
      ),
      httpsPort: int(
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
        rule(
          `(has(self.httpPort) ? self.httpPort : ${DEFAULT_SERVICE_HTTP_PORT}) != ` +
            `(has(self.httpsPort) ? self.httpsPort : ${DEFAULT_SERVICE_HTTPS_PORT})`,
          MESSAGES.servicePortsDiffer,
        ),
      ],
    },
  );
}

function tolerationSchema(): Schema {
  return obj(
    'A core/v1 Toleration: lets the pods run on nodes with a matching taint.',
    {
      key: str('Taint key to match. Empty with operator Exists: every taint.', {
        maxLength: LIMITS.labelKeyMaxLength,
      }),
      operator: str('Exists: any value matches. Equal: the value must match. Defaults to Equal.', {
        enum: TOLERATION_OPERATORS,
      }),
      value: str('Taint value to match (operator Equal).', { maxLength: LIMITS.labelValueMaxLength }),
      effect: str('Taint effect to match. Empty: every effect.', { enum: TOLERATION_EFFECTS }),
      tolerationSeconds: int(
        'For effect NoExecute: how long the pods stay on a node after the taint appears. Unset: forever.',
        { format: 'int64' },
      ),
    },
    {
      validations: [
        rule(
          "!(has(self.operator) && self.operator == 'Exists' && has(self.value) && self.value != '')",
          MESSAGES.tolerationExistsNoValue,
        ),
        rule(
          "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
          MESSAGES.tolerationEmptyKeyNeedsExists,
        ),
        rule(
          "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
          MESSAGES.tolerationSecondsNeedsNoExecute,
        ),
      ],
    },
  );
}

function placementSchema(): Schema {
  return obj(
    "Where the fleet's pods may run (the scheduling fields of the pod spec). Unset fields leave the " +
      'choice to the scheduler.',
    {
      nodeSelector: labelMap('Node labels a node must have to run the pods (core/v1 PodSpec.nodeSelector).'),
      tolerations: arr(`Taints the pods tolerate, at most ${LIMITS.maxTolerations}.`, tolerationSchema(), {
        maxItems: LIMITS.maxTolerations,
        listType: 'atomic',
      }),
      affinity: preservedObject(
        'A core/v1 Affinity (nodeAffinity, podAffinity, podAntiAffinity), given to the pods as written; ' +
          "the Deployment's validation checks it, and kgw reports a rejection on status. To spread " +
          `replicas over nodes, select the fleet's pods with the labels ${LABEL_GATEWAY} and ${LABEL_FLEET}.`,
      ),
      topologySpreadConstraints: arr(
        'core/v1 TopologySpreadConstraints (maxSkew, topologyKey, whenUnsatisfiable, …), given to the ' +
          "pods as written, except that a constraint without labelSelector gets one selecting the fleet's " +
          `own pods. At most ${LIMITS.maxTopologySpreadConstraints}.`,
        preservedObject('A core/v1 TopologySpreadConstraint.'),
        { maxItems: LIMITS.maxTopologySpreadConstraints, listType: 'atomic' },
      ),
      priorityClassName: str(
        'PriorityClass of the pods, so Envoys are not preempted by less important pods.',
        {
          pattern: DNS1123_SUBDOMAIN_PATTERN,
          maxLength: LIMITS.priorityClassNameMaxLength,
        },
      ),
    },
  );
}

function envoySchema(): Schema {
  return obj(
    'The Envoy process of each replica.',
    {
      image: str(
        `Envoy container image. Defaults to ${DEFAULT_ENVOY_IMAGE}, the version this kgw release is tested ` +
          'with (applied by kgw, so upgrading kgw upgrades Envoy; set it to pin). The graceful-drain hook ' +
          'needs /bin/sh and perl (Debian and Ubuntu based images have both); without perl the pod ' +
          'still waits drainSeconds but Envoy is not told to drain.',
        { pattern: IMAGE_PATTERN, minLength: 1, maxLength: LIMITS.imageMaxLength },
      ),
      logLevel: str(`Envoy's log level (--log-level). Defaults to ${DEFAULT_ENVOY_LOG_LEVEL}.`, {
        enum: ENVOY_LOG_LEVELS,
        default: DEFAULT_ENVOY_LOG_LEVEL,
      }),
      concurrency: int(
        `Envoy worker threads (--concurrency), 1-${LIMITS.maxConcurrency}. Defaults to the CPU limit ` +
          `rounded up, or ${DEFAULT_ENVOY_CONCURRENCY} without a CPU limit (applied by kgw).`,
        { minimum: 1, maximum: LIMITS.maxConcurrency },
      ),
      drainSeconds: int(
        'Seconds a terminating Envoy keeps serving while it asks clients to go away (HTTP/1.1 ' +
          '"Connection: close", HTTP/2 GOAWAY), before it stops. 0 stops at once. The pod\'s ' +
          `terminationGracePeriodSeconds is this plus 10. 0-${LIMITS.maxDrainSeconds}. Defaults to ` +
          `${DEFAULT_DRAIN_SECONDS}.`,
        { minimum: 0, maximum: LIMITS.maxDrainSeconds, default: DEFAULT_DRAIN_SECONDS },
      ),
      maxHeapMiB: int(
        "Heap limit, in MiB, of Envoy's overload manager: at 95% of it Envoy returns free memory to " +
          'the system, at 98% it answers new requests with 503 instead of growing until the container ' +
          `is killed for running out of memory. 0 turns the overload manager off; otherwise ${LIMITS.minHeapMiB}-` +
          `${LIMITS.maxHeapMiB}. Defaults to ${MAX_HEAP_SHARE_OF_MEMORY_LIMIT * 100}% of ` +
          `resources.limits.memory, or ${DEFAULT_MAX_HEAP_MIB} without a memory limit (applied by kgw). ` +
          'A change restarts the Envoys (it is part of their bootstrap).',
        {
          minimum: 0,
          maximum: LIMITS.maxHeapMiB,
          validations: [rule(`self == 0 || self >= ${LIMITS.minHeapMiB}`, MESSAGES.maxHeapMiB)],
        },
      ),
    },
    { default: {} },
  );
}

function httpSchema(): Schema {
  return obj(
    "How the fleet's Envoys treat each request before routing it: path normalisation, Host " +
      'clean-up, timeouts and size limits against slow or oversized requests, HTTP/1.0. Every field ' +
      'has a default suited to an internet-facing gateway, applied by kgw rather than stored, so an ' +
      'upgrade of kgw brings its current defaults; set a field to pin it.',
    {
      normalizePath: bool(
        'Normalise the path as RFC 3986 says (resolve "." and ".." segments, decode percent-encoded ' +
          'unreserved characters) before routing; the backend gets the normalised path. Without it ' +
          '/public/../admin is routed by the rule for /public but may be read as /admin by the backend. ' +
          `Defaults to ${String(DEFAULT_NORMALIZE_PATH)}.`,
      ),
      mergeSlashes: bool(
        'Merge adjacent slashes in the path (//a///b becomes /a/b) before routing; the backend gets the ' +
          `merged path. Defaults to ${String(DEFAULT_MERGE_SLASHES)}.`,
      ),
      escapedSlashes: str(
        'What to do with a path holding escaped slashes (%2F, %2f, %5C, %5c), which a backend may ' +
          'decode into path separators the routing never saw. KeepUnchanged: route and forward the path ' +
          'as it is. RejectRequest: answer 400. UnescapeAndRedirect: redirect the client to the unescaped ' +
          'path (gRPC requests fail instead). UnescapeAndForward: unescape, then route and forward. ' +
          `Defaults to ${DEFAULT_ESCAPED_SLASHES}; choose KeepUnchanged for applications that need ` +
          'encoded slashes in paths.',
        { enum: ESCAPED_SLASHES_ACTIONS },
      ),
      stripTrailingHostDot: bool(
        'Remove a trailing dot from the Host header before routing, so example.com. is served as ' +
          `example.com (the backend gets the host without the dot). Defaults to ` +
          `${String(DEFAULT_STRIP_TRAILING_HOST_DOT)}.`,
      ),
      stripHostPort: bool(
        'Remove any port from the Host header before routing, so example.com:8080 is served as ' +
          'example.com, also for wildcard hosts (*.example.com); the backend gets the host without the ' +
          `port. Defaults to ${String(DEFAULT_STRIP_HOST_PORT)}.`,
      ),
      requestHeadersTimeoutSeconds: int(
        'Seconds a client may take to send the request headers, counted from their first byte; a slower ' +
          'client (e.g. one that trickles headers to hold connections open) gets 408 and the connection ' +
          `is closed. 0 turns it off. 0-${LIMITS.maxRequestHeadersTimeoutSeconds}. Defaults to ` +
          `${DEFAULT_REQUEST_HEADERS_TIMEOUT_SECONDS}.`,
        { minimum: 0, maximum: LIMITS.maxRequestHeadersTimeoutSeconds },
      ),
      streamIdleTimeoutSeconds: int(
        'Seconds a request may go without any traffic in either direction (client or backend) before ' +
          'Envoy ends it: 408 while the request is still arriving, 504 while the backend has not ' +
          'answered, a reset once the response has started. It also ends quiet WebSocket connections ' +
          'and requests to backends that answer nothing for that long: raise it for long-polling, ' +
          `streaming or WebSocket applications. 0 turns it off. 0-${LIMITS.maxStreamIdleTimeoutSeconds}. Defaults to ` +
          `${DEFAULT_STREAM_IDLE_TIMEOUT_SECONDS}.`,
        { minimum: 0, maximum: LIMITS.maxStreamIdleTimeoutSeconds },
      ),
      maxRequestHeadersKiB: int(
        'Largest size of all request headers together, in KiB; larger requests get 431. ' +
          `1-${LIMITS.maxRequestHeadersKiB}. Defaults to ${DEFAULT_MAX_REQUEST_HEADERS_KIB}.`,
        { minimum: 1, maximum: LIMITS.maxRequestHeadersKiB },
      ),
      maxRequestHeaders: int(
        'Most request headers a request may have; HTTP/1 requests with more get 431, HTTP/2 streams ' +
          `are reset. 1-${LIMITS.maxRequestHeaders}. Defaults to ${DEFAULT_MAX_REQUEST_HEADERS}.`,
        { minimum: 1, maximum: LIMITS.maxRequestHeaders },
      ),
      http10: obj('HTTP/1.0 requests (old clients, simple health checkers, load testers).', {
        enabled: bool(
          'Serve HTTP/1.0 requests (the response is HTTP/1.0 and closes the connection); disabled, ' +
            `they get 426 Upgrade Required. Defaults to ${String(DEFAULT_HTTP10)}.`,
        ),
        defaultHost: str(
          'Host given to HTTP/1.0 requests that send no Host header. Unset: such requests get 400.',
          { pattern: DNS1123_SUBDOMAIN_PATTERN, maxLength: LIMITS.domainMaxLength },
        ),
      }),
    },
  );
}

function clientIPSchema(): Schema {
  return obj(
    "Where the fleet's Envoys take each request's client address from: what backends see in " +
      'X-Forwarded-For and X-Envoy-External-Address. By default it is the address that connects to ' +
      'Envoy (appended to X-Forwarded-For); entries a client wrote into X-Forwarded-For itself are passed ' +
      'on but never taken as its address.',
    {
      xffNumTrustedHops: int(
        'Proxies in front of the fleet (load balancers, CDNs) that append to X-Forwarded-For and are ' +
          'trusted: the client address is the entry that many places from the right of ' +
          'X-Forwarded-For (the last one with 1). Set it only when every request passes through those ' +
          `proxies, or clients can choose their address. 0-${LIMITS.maxXffNumTrustedHops}. Defaults to ` +
          `${DEFAULT_XFF_NUM_TRUSTED_HOPS}.`,
        { minimum: 0, maximum: LIMITS.maxXffNumTrustedHops },
      ),
      proxyProtocol: bool(
        'Every connection, plain and TLS, starts with a PROXY protocol header (v1 or v2) carrying the ' +
          "client's address, as sent by load balancers configured for it (e.g. the AWS NLB annotation " +
          'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol). Connections without one are ' +
          "closed, so turn it on together with the load balancer's setting. kgw's readiness probes send " +
          `the header themselves. Defaults to ${String(DEFAULT_PROXY_PROTOCOL)}.`,
      ),
    },
  );
}

function accessLogSchema(): Schema {
  return obj(
    "Access logging: one line per request on the Envoy container's standard output. (The first version " +
      'of this API had a boolean here; write {enabled: true} instead of true. kgw still reads the ' +
      'boolean from objects stored before.)',
    {
      enabled: bool(`Whether Envoy writes access logs. Defaults to ${String(DEFAULT_ACCESS_LOG)}.`, {
        default: DEFAULT_ACCESS_LOG,
      }),
      format: str(
        "Line format. text: Envoy's default format. json: one JSON object per line, for log " +
          'collectors, with the Knative names of each request (route, upstream_cluster, ' +
          'knative_namespace, knative_revision, knative_tag) and its request_id; see ' +
          `docs/observability.md. Defaults to ${DEFAULT_ACCESS_LOG_FORMAT}.`,
        { enum: ACCESS_LOG_FORMATS, default: DEFAULT_ACCESS_LOG_FORMAT },
      ),
    },
    { default: {} },
  );
}

function tracingSchema(): Schema {
  return obj(
    "OpenTelemetry traces of the fleet's requests, sent over OTLP/gRPC to a collector. Each request's " +
      'span is named after the Knative Service it reached (<service>.<namespace>); W3C traceparent ' +
      'headers from clients are continued and passed on to the revision.',
    {
      enabled: bool(`Whether the fleet's Envoys trace requests. Defaults to ${String(DEFAULT_TRACING)}.`, {
        default: DEFAULT_TRACING,
      }),
      collector: obj('The OpenTelemetry collector receiving the spans (OTLP over gRPC, plaintext HTTP/2).', {
        host: str(
          'DNS name or IPv4 address of the collector, e.g. otel-collector.observability.svc.cluster.local. ' +
            'Required when tracing is enabled.',
          { maxLength: LIMITS.tracingHostMaxLength, pattern: DNS1123_SUBDOMAIN_PATTERN },
        ),
        port: int(`OTLP/gRPC port of the collector. Defaults to ${DEFAULT_TRACING_PORT}.`, {
          minimum: 1,
          maximum: 65535,
          default: DEFAULT_TRACING_PORT,
        }),
      }),
      samplingPercent: num(
        'Share of requests to trace, 0-100 (decimals allowed: 0.1 is one request in a thousand). A ' +
          `request that arrives with a sampled trace context is traced regardless. Defaults to ${DEFAULT_TRACING_SAMPLING_PERCENT}.`,
        { minimum: 0, maximum: 100, default: DEFAULT_TRACING_SAMPLING_PERCENT },
      ),
    },
    {
      default: {},
      validations: [
        {
          rule: '!has(self.enabled) || !self.enabled || (has(self.collector) && has(self.collector.host))',
          message: MESSAGES.tracingHostRequired,
          fieldPath: '.collector',
          reason: 'FieldValueRequired',
        },
      ],
    },
  );
}

function metricsSchema(): Schema {
  return obj(
    `Prometheus metrics of the fleet's Envoys: each replica serves Envoy's ${METRICS_PATH} (GET or HEAD, ` +
      'query parameters such as ?usedonly passed on) on metrics.port, and nothing else: every other path ' +
      "answers 404, other methods on that path 405; Envoy's admin interface itself stays a unix socket. The pods get " +
      `the annotations prometheus.io/scrape, prometheus.io/port and prometheus.io/path, the container port ` +
      `is named metrics and the pods carry the label ${LABEL_METRICS}=${METRICS_LABEL_VALUE} (for a ` +
      "PodMonitor). The fleet's Service does not publish the port. The stats name every backend Service " +
      'the fleet routes to, so whoever reaches a pod address can read them: restrict access with a ' +
      'NetworkPolicy where that matters.',
    {
      enabled: bool(`Whether the replicas serve their stats. Defaults to ${String(DEFAULT_METRICS)}.`, {
        default: DEFAULT_METRICS,
      }),
      port: int(
        `Port of the stats listener in each replica, ${LIMITS.minListenerPort}-${LIMITS.maxListenerPort}; ` +
          `when enabled it must differ from ports.http, ports.https and ${ENVOY_READY_PORT} (Envoy's ` +
          `readiness listener). Defaults to ${DEFAULT_METRICS_PORT}.`,
        { minimum: LIMITS.minListenerPort, maximum: LIMITS.maxListenerPort, default: DEFAULT_METRICS_PORT },
      ),
    },
    { default: {} },
  );
}

function fleetSchema(): Schema {
  const reserved = `[${RESERVED_LISTENER_PORTS.join(', ')}]`;
  return obj(
    'One Envoy fleet: a set of identical Envoy replicas that receive the same configuration over xDS ' +
      'and are published together by one Service.',
    {
      name: str(
        `Name of the fleet, unique within the gateway. An RFC 1123 label of at most ` +
          `${LIMITS.fleetNameMaxLength} characters. The fleet's Service (and its Deployment, ` +
          'ServiceAccount, ConfigMap, PodDisruptionBudget and HorizontalPodAutoscaler) is named ' +
          `kgw-<gateway>-<fleet> (shortened with a hash suffix when longer than 63 characters), and ` +
          `its Envoy replicas identify themselves to kgw with the node cluster <gateway>/<fleet>.`,
        { pattern: DNS1123_LABEL_PATTERN, minLength: 1, maxLength: LIMITS.fleetNameMaxLength },
      ),
      visibility: str(
        'Which KIngress rules the fleet serves. ExternalIP: the public gateway; it serves rules with ' +
          'visibility ExternalIP, answers ClusterLocal hosts with 404, and its Service is reported as ' +
          "the KIngress's publicLoadBalancer. ClusterLocal: the cluster-local (private) gateway; it " +
          'serves every rule, ExternalIP and ClusterLocal, and its Service is reported as the ' +
          "KIngress's privateLoadBalancer.",
        { enum: VISIBILITIES },
      ),
      replicas: int(
        `Fixed number of Envoy replicas, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}. Defaults to ` +
          `${DEFAULT_REPLICAS} (applied by kgw and left unset in the stored object). Mutually exclusive ` +
          'with autoscaling.',
        { minimum: LIMITS.minReplicas, maximum: LIMITS.maxReplicas },
      ),
      autoscaling: autoscalingSchema(),
      podDisruptionBudget: pdbSchema(),
      resources: resourcesSchema(),
      ports: obj(
        "Envoy's listener ports (container ports). Clients never see them: they connect to the " +
          'Service ports in service. Within a fleet the two ports must differ.',
        {
          http: listenerPort('http', 'plain HTTP/1.1 and h2c'),
          https: listenerPort('https', 'TLS (HTTPS and HTTP/2 over TLS, certificates chosen by SNI)'),
        },
      ),
      service: serviceSchema(),
      placement: placementSchema(),
      envoy: envoySchema(),
      accessLog: accessLogSchema(),
      metrics: metricsSchema(),
      tracing: tracingSchema(),
      http: httpSchema(),
      clientIP: clientIPSchema(),
    },
    {
      required: ['name', 'visibility'],
      validations: [
        rule(
          `!has(self.ports) || ${effectivePort('http')} != ${effectivePort('https')}`,
          MESSAGES.listenerPortsDiffer,
          { fieldPath: '.ports' },
        ),
        rule(
          `!has(self.ports) || !(${effectivePort('http')} in ${reserved} || ${effectivePort('https')} in ${reserved})`,
          MESSAGES.reservedListenerPorts,
          { fieldPath: '.ports' },
        ),
        rule(
          '!has(self.metrics) || !has(self.metrics.enabled) || !self.metrics.enabled || ' +
            `!((has(self.metrics.port) ? self.metrics.port : ${DEFAULT_METRICS_PORT}) in ` +
            `[${effectivePortOrDefault('http')}, ${effectivePortOrDefault('https')}, ${ENVOY_READY_PORT}])`,
          MESSAGES.metricsPortDiffers,
          { fieldPath: '.metrics' },
        ),
        rule('!(has(self.replicas) && has(self.autoscaling))', MESSAGES.replicasOrAutoscaling),
        rule(
          '!has(self.autoscaling) || !has(self.resources) || ' +
            "(has(self.resources.requests) && 'cpu' in self.resources.requests)",
          MESSAGES.autoscalingNeedsCpuRequest,
          { fieldPath: '.resources' },
        ),
        rule(
          `!has(self.service) || !has(self.service.externalTrafficPolicy) || ${EFFECTIVE_SERVICE_TYPE} != 'ClusterIP'`,
          MESSAGES.externalTrafficPolicyNeedsExternal,
          { fieldPath: '.service' },
        ),
        rule(
          `!has(self.service) || !has(self.service.loadBalancerClass) || ${EFFECTIVE_SERVICE_TYPE} == 'LoadBalancer'`,
          MESSAGES.loadBalancerClassNeedsLoadBalancer,
          { fieldPath: '.service' },
        ),
      ],
    },
  );
}

function domainsSchema(): Schema {
  return obj(
    "Route domains: what Knative Serving's config-domain and the domain-template key of config-network " +
      'express. A Route gets the host <name>.<namespace>.<domain> (or what template makes of it), where ' +
      'domain is the most specific selector domain whose labels the Route carries, else default. ' +
      'kgw writes config-domain only when default is set (and then owns all of it), and domain-template ' +
      'only when template is set. Requires knative.configure. These names also decide who may serve a ' +
      'KIngress host: a name the template makes for a namespace under these domains (like its cluster-local ' +
      "names <name>.<namespace>.svc) is served only by that namespace's KIngresses, however old another's; " +
      'others get Ready=False, HostNotAllowed.',
    {
      default: str(
        'Domain of Routes that no selector matches, e.g. example.com. Use svc.<clusterDomain> to make ' +
          'Routes cluster-local unless a selector gives them a public domain.',
        { pattern: DNS1123_SUBDOMAIN_PATTERN, maxLength: LIMITS.domainMaxLength },
      ),
      selectors: arr(
        `Domains for Routes with particular labels, at most ${LIMITS.maxDomainSelectors}. When several ` +
          'match, the one with the most labels wins (ties: the alphabetically first domain).',
        obj(
          'A domain and the labels a Route must carry to get it.',
          {
            domain: str('Domain for the matching Routes, e.g. prod.example.com.', {
              pattern: DNS1123_SUBDOMAIN_PATTERN,
              maxLength: LIMITS.domainMaxLength,
            }),
            selector: {
              ...labelMap(
                'Labels the Route must all carry (key: value, equality only, as in config-domain). At ' +
                  'least one.',
              ),
              'x-kubernetes-validations': [
                qualifiedKeys(),
                rule('size(self) > 0', MESSAGES.selectorNotEmpty),
              ],
            },
          },
          { required: ['domain', 'selector'] },
        ),
        { maxItems: LIMITS.maxDomainSelectors, mapKeys: ['domain'] },
      ),
      template: str(
        "Go template for Route host names (config-network's domain-template), with .Name, .Namespace, " +
          '.Domain, .Annotations and .Labels. Knative checks it when reading config-network; kgw reports a ' +
          "rejection on the KnativeConfigured condition. Unset: Knative's default, " +
          '{{.Name}}.{{.Namespace}}.{{.Domain}}.',
        { minLength: 1, maxLength: LIMITS.domainTemplateMaxLength },
      ),
    },
    {
      validations: [
        rule(
          '!has(self.selectors) || size(self.selectors) == 0 || has(self.default)',
          MESSAGES.selectorsNeedDefault,
        ),
        rule(
          '!has(self.selectors) || !has(self.default) || self.selectors.all(s, s.domain != self.default)',
          MESSAGES.uniqueDomains,
          { fieldPath: '.selectors' },
        ),
      ],
    },
  );
}

function knativeSchema(): Schema {
  return obj(
    'Knative Serving configuration this gateway owns. kgw writes these keys of config-network (and ' +
      'config-domain, see domains) in namespace and puts them back when someone changes them, reporting ' +
      `the correction on the ${CONDITION_KNATIVE_CONFIGURED} condition. Only one gateway in a cluster should ` +
      'configure Knative: set configure to false on the others (each still serves its own ingressClass).',
    {
      configure: bool(
        'Whether kgw writes config-network and config-domain for this gateway. When several gateways do, ' +
          `the oldest wins and the others report ${CONDITION_KNATIVE_CONFIGURED}=False. Under the Knative ` +
          'Operator (a KnativeServing in namespace) kgw writes nothing and reports ManagedByKnativeOperator ' +
          `with what to set in the KnativeServing. Defaults to ${String(DEFAULT_KNATIVE_CONFIGURE)}.`,
        { default: DEFAULT_KNATIVE_CONFIGURE },
      ),
      namespace: str(`Namespace of Knative Serving. Defaults to ${DEFAULT_KNATIVE_NAMESPACE}.`, {
        pattern: DNS1123_LABEL_PATTERN,
        minLength: 1,
        maxLength: LIMITS.namespaceMaxLength,
        default: DEFAULT_KNATIVE_NAMESPACE,
      }),
      httpProtocol: str(
        'config-network http-protocol: Enabled serves plain HTTP; Redirected answers plain HTTP on ' +
          'external hosts with a redirect to HTTPS. Services may override it with the ' +
          `networking.knative.dev/http-protocol annotation. Defaults to ${DEFAULT_HTTP_PROTOCOL}.`,
        { enum: HTTP_PROTOCOLS, default: DEFAULT_HTTP_PROTOCOL },
      ),
      externalDomainTLS: str(
        'config-network external-domain-tls: Enabled makes Knative request a certificate for each ' +
          `external host and serve it over HTTPS. Defaults to ${DEFAULT_EXTERNAL_DOMAIN_TLS}.`,
        { enum: EXTERNAL_DOMAIN_TLS_VALUES, default: DEFAULT_EXTERNAL_DOMAIN_TLS },
      ),
      autocreateClusterDomainClaims: bool(
        'config-network autocreate-cluster-domain-claims: whether Knative creates a ClusterDomainClaim ' +
          'for each new DomainMapping (true), or an administrator must create them first (false). ' +
          `Defaults to ${String(DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS)}.`,
        { default: DEFAULT_AUTOCREATE_CLUSTER_DOMAIN_CLAIMS },
      ),
    },
    { default: {} },
  );
}

function issuerSchema(what: string): Schema {
  return obj(
    `cert-manager ClusterIssuer ${what}. It must exist (the webhook warns when it does not).`,
    {
      name: str('Name of the ClusterIssuer (cert-manager.io/v1).', {
        pattern: DNS1123_SUBDOMAIN_PATTERN,
        minLength: 1,
        maxLength: LIMITS.issuerNameMaxLength,
      }),
    },
    { required: ['name'] },
  );
}

function tlsSchema(): Schema {
  return obj(
    'Automatic TLS with cert-manager. With externalIssuer set, kgw implements the Knative certificate ' +
      `class ${KGW_CERTIFICATE_CLASS}: Knative Serving requests a certificate for each external host ` +
      '(config-network external-domain-tls and certificate-class are set, when knative.configure) and ' +
      'kgw turns each request into a cert-manager Certificate from the issuer, serving the issued ' +
      'Secret over SDS (renewals need no listener drain). ACME HTTP-01 challenge paths are always ' +
      'answered over plain HTTP, even when HTTP is redirected to HTTPS (knative.httpProtocol Redirected).',
    {
      externalIssuer: issuerSchema('issuing certificates for external hosts'),
      clusterLocalIssuer: issuerSchema(
        'issuing certificates for cluster-local hosts; defaults to externalIssuer',
      ),
      defaultCertificate: obj(
        'A wildcard certificate kgw requests from a DNS-01 issuer and serves as the fallback of the ' +
          'fleets named (for TLS connections whose SNI no KIngress certificate covers).',
        {
          issuer: issuerSchema('that solves DNS-01 challenges (wildcard names need DNS-01)'),
          dnsNames: arr(
            `Names on the certificate, at most ${LIMITS.maxCertificateNames}, e.g. *.example.com. ` +
              'Defaults to *.<domains.default>.',
            str('A DNS name, optionally with a leading wildcard label.', {
              pattern: WILDCARD_DNS_PATTERN,
              maxLength: LIMITS.domainMaxLength,
            }),
            { minItems: 1, maxItems: LIMITS.maxCertificateNames },
          ),
          fleets: arr(
            'Fleets that serve it (names from spec.fleets). Defaults to every ExternalIP fleet.',
            str('A fleet name.', { pattern: DNS1123_LABEL_PATTERN, maxLength: LIMITS.fleetNameMaxLength }),
            { maxItems: LIMITS.maxFleets },
          ),
        },
        { required: ['issuer'] },
      ),
    },
  );
}

function domainClaimsSchema(): Schema {
  const requirement = obj(
    'A label requirement: key, operator and (for In and NotIn) values.',
    {
      key: str('Label key.', { pattern: QUALIFIED_NAME_PATTERN, maxLength: 317 }),
      operator: str('In, NotIn, Exists or DoesNotExist.', {
        enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
      }),
      values: arr(
        'Label values; required (at least one) for In and NotIn, empty for Exists and DoesNotExist.',
        str('A label value.', { pattern: LABEL_VALUE_PATTERN, maxLength: LIMITS.labelValueMaxLength }),
        { maxItems: LIMITS.maxMapEntries },
      ),
    },
    {
      required: ['key', 'operator'],
      validations: [
        rule(
          "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
          MESSAGES.selectorValues,
        ),
      ],
    },
  );
  return obj(
    'Who may map which domains with a DomainMapping (Knative ClusterDomainClaims). A domain belongs to ' +
      'the first namespace that claims it; this policy also decides which namespaces may claim which ' +
      'domains. The admission webhook rejects a DomainMapping the policy denies or whose domain another ' +
      "namespace claimed, and kgw reports denials on the DomainMapping's status. kgw never deletes a " +
      'claim it did not create. The same policy applies to KIngress hosts that are not Knative-generated ' +
      "names (see domains): a host claimed by another namespace, or one the rules do not allow the KIngress's " +
      'namespace, gets Ready=False, HostNotAllowed, and the admission webhook rejects it.',
    {
      autoCreate: bool(
        'Whether kgw creates the ClusterDomainClaim for each DomainMapping the policy allows (and deletes ' +
          'the ones it created when the mapping goes). Leave knative.autocreateClusterDomainClaims ' +
          `false then. Defaults to ${String(DEFAULT_AUTOCREATE_CLAIMS)}.`,
        { default: DEFAULT_AUTOCREATE_CLAIMS },
      ),
      rules: arr(
        `Allowed domains, at most ${LIMITS.maxClaimRules} rules. When set, a domain must be under a ` +
          'suffix of a rule whose namespaceSelector matches the namespace of the DomainMapping (or of the ' +
          'KIngress serving it as a custom host). Unset: any namespace may map any domain nobody else ' +
          'claimed.',
        obj(
          'Domain suffixes and the namespaces that may map domains under them.',
          {
            domains: arr(
              `Domain suffixes, 1 to ${LIMITS.maxClaimDomains}: example.com covers example.com and ` +
                'every name under it.',
              str('A domain suffix.', {
                pattern: DNS1123_SUBDOMAIN_PATTERN,
                maxLength: LIMITS.domainMaxLength,
              }),
              { minItems: 1, maxItems: LIMITS.maxClaimDomains },
            ),
            namespaceSelector: obj(
              'Namespaces (by their labels) that may map these domains. Unset: every namespace.',
              {
                matchLabels: labelMap('Labels the namespace must all carry.'),
                matchExpressions: arr('Label requirements, all of which must hold.', requirement, {
                  maxItems: LIMITS.maxMapEntries,
                }),
              },
            ),
          },
          { required: ['domains'] },
        ),
        { maxItems: LIMITS.maxClaimRules },
      ),
    },
  );
}

function externalNamesSchema(): Schema {
  return obj(
    'Where ExternalName Services may send traffic. A KIngress backend that is an ExternalName Service ' +
      'naming <service>.<namespace>.svc.<clusterDomain> is followed to that Service (no DNS) when it is in ' +
      "the KIngress's own namespace, in allowedNamespaces, or is one of this gateway's fleet Services. " +
      'Names outside the cluster are refused unless allowedHosts lists them. Always refused, whatever is ' +
      'allowed here: IP addresses, localhost, single-label names, cloud metadata names, other names under ' +
      "the cluster domain, and the ports Envoy listens on. A refused backend sets the KIngress's Ready " +
      'condition to False with reason ExternalNameRefused or ExternalNameNotAllowed.',
    {
      allowedNamespaces: arr(
        `Namespaces (at most ${LIMITS.maxExternalNameNamespaces}) whose Services an ExternalName of any ` +
          "namespace may name, e.g. a shared-services namespace. Unset: only the KIngress's own namespace.",
        str('A namespace name.', { pattern: DNS1123_LABEL_PATTERN, maxLength: LIMITS.namespaceMaxLength }),
        { maxItems: LIMITS.maxExternalNameNamespaces, listType: 'set' },
      ),
      allowedHosts: arr(
        `Names outside the cluster that ExternalName Services may lead to, at most ` +
          `${LIMITS.maxExternalNameHosts} entries. Unset: none (the default, because any namespace can create ` +
          'an ExternalName Service).',
        obj(
          'A domain suffix and the ports allowed under it.',
          {
            suffix: str(
              'Allowed names: the suffix itself and every name under it (api.example.com allows ' +
                `api.example.com and eu.api.example.com). ${MESSAGES.externalHostSuffix}.`,
              { pattern: EXTERNAL_HOST_SUFFIX_PATTERN, maxLength: LIMITS.domainMaxLength },
            ),
            ports: arr(
              `Ports allowed on those names, 1 to ${LIMITS.maxExternalNamePorts}.`,
              int('A port number.', { minimum: 1, maximum: 65535 }),
              {
                minItems: 1,
                maxItems: LIMITS.maxExternalNamePorts,
                validations: [
                  rule('self.all(p, self.exists_one(q, q == p))', MESSAGES.externalHostPortsUnique),
                ],
              },
            ),
          },
          { required: ['suffix', 'ports'] },
        ),
        { maxItems: LIMITS.maxExternalNameHosts },
      ),
    },
  );
}

function specSchema(): Schema {
  return obj(
    'Desired state: the Knative ingress class this gateway serves, the Envoy fleets that serve it, and ' +
      'the Knative configuration it owns.',
    {
      ingressClass: str(
        `Knative ingress class this gateway serves. kgw serves only the KIngresses whose ` +
          `${INGRESS_CLASS_ANNOTATION} annotation equals this value, and never writes to the ` +
          `others. With knative.configure, kgw also makes it the ingress-class of Knative Serving's ` +
          `config-network. Defaults to ${DEFAULT_INGRESS_CLASS}.`,
        {
          pattern: DNS1123_SUBDOMAIN_PATTERN,
          minLength: 1,
          maxLength: LIMITS.ingressClassMaxLength,
          default: DEFAULT_INGRESS_CLASS,
        },
      ),
      namespace: str(
        `Namespace of the objects kgw creates for this gateway's fleets (Services and, when kgw runs the ` +
          `fleets on Kubernetes, their Deployments, ConfigMaps, …). It must exist (kgw does not create ` +
          `namespaces); outside kgw's own namespace an admin lets kgw manage fleets there by binding the ` +
          `ClusterRole kgw-fleet-manager to kgw's ServiceAccount (FleetsReady names the command). Defaults to ` +
          `${DEFAULT_NAMESPACE}.`,
        {
          pattern: DNS1123_LABEL_PATTERN,
          minLength: 1,
          maxLength: LIMITS.namespaceMaxLength,
          default: DEFAULT_NAMESPACE,
        },
      ),
      clusterDomain: str(
        `DNS domain of the cluster. Each fleet's in-cluster host name is ` +
          `<service>.<namespace>.svc.<clusterDomain>, which KIngress status reports as domainInternal. ` +
          `Defaults to ${DEFAULT_CLUSTER_DOMAIN}.`,
        {
          pattern: DNS1123_SUBDOMAIN_PATTERN,
          minLength: 1,
          maxLength: LIMITS.clusterDomainMaxLength,
          default: DEFAULT_CLUSTER_DOMAIN,
        },
      ),
      fleets: arr(
        `Envoy fleets serving this gateway, ${LIMITS.minFleets} to ${LIMITS.maxFleets}, with unique ` +
          'names. A gateway usually has one ExternalIP and one ClusterLocal fleet; neither is ' +
          'required, and several fleets of one visibility all serve the same rules.',
        fleetSchema(),
        {
          minItems: LIMITS.minFleets,
          maxItems: LIMITS.maxFleets,
          mapKeys: ['name'],
          validations: [rule('self.all(f, self.exists_one(g, g.name == f.name))', MESSAGES.uniqueFleetNames)],
        },
      ),
      domains: domainsSchema(),
      knative: knativeSchema(),
      tls: tlsSchema(),
      domainClaims: domainClaimsSchema(),
      externalNames: externalNamesSchema(),
    },
    {
      required: ['fleets'],
      validations: [
        rule(
          '!has(self.domainClaims) || !has(self.domainClaims.autoCreate) || !self.domainClaims.autoCreate || ' +
            '!has(self.knative) || !has(self.knative.autocreateClusterDomainClaims) || ' +
            '!self.knative.autocreateClusterDomainClaims',
          MESSAGES.twoClaimCreators,
        ),
        rule(
          '!has(self.tls) || !has(self.tls.defaultCertificate) || has(self.tls.defaultCertificate.dnsNames) || ' +
            '(has(self.domains) && has(self.domains.default))',
          MESSAGES.tlsDefaultCertificateNames,
        ),
        rule(
          '!has(self.tls) || !has(self.tls.defaultCertificate) || !has(self.tls.defaultCertificate.fleets) || ' +
            'self.tls.defaultCertificate.fleets.all(n, self.fleets.exists(f, f.name == n))',
          MESSAGES.tlsDefaultCertificateFleets,
        ),
        rule(
          '!has(self.domains) || !has(self.knative) || !has(self.knative.configure) || self.knative.configure',
          MESSAGES.domainsNeedConfigure,
        ),
      ],
    },
  );
}

function conditionSchema(): Schema {
  return obj(
    "One aspect of the gateway's state, in the Kubernetes/Knative condition shape.",
    {
      type: str(
        `Condition type. ${CONDITION_READY}: the gateway is serving (summary of the others). ` +
          `${CONDITION_FLEETS_READY}: every fleet has all its replicas ready and connected. ` +
          `${CONDITION_KNATIVE_CONFIGURED}: Knative Serving's config-network and config-domain hold what ` +
          'spec.knative and spec.domains ask for (its message names corrected drift).',
        { minLength: 1, maxLength: 316 },
      ),
      status: str('Status of the condition: True, False or Unknown.', {
        enum: ['True', 'False', 'Unknown'],
      }),
      reason: str('A CamelCase word saying why the condition has its status, for machines.', {
        maxLength: 1024,
      }),
      message: str('A human-readable explanation of the status, with details.', { maxLength: 32768 }),
      lastTransitionTime: str('When the condition last changed status (RFC 3339).', {
        format: 'date-time',
      }),
      observedGeneration: int('metadata.generation of the spec this condition was computed for.', {
        minimum: 0,
        format: 'int64',
      }),
    },
    { required: ['type', 'status'] },
  );
}

function fleetStatusSchema(): Schema {
  return obj(
    'Observed state of one fleet.',
    {
      name: str('Name of the fleet, as in spec.fleets.'),
      visibility: str('Visibility of the fleet, as in spec.fleets.', { enum: VISIBILITIES }),
      service: str(
        "In-cluster host name of the fleet's Service, <service>.<namespace>.svc.<clusterDomain>: " +
          'what KIngress status reports as domainInternal.',
      ),
      address: str(
        "Where clients outside the cluster reach the fleet: its Service's load-balancer IP address or " +
          'host name. Empty until the load balancer has one, and for ClusterIP Services.',
      ),
      readyReplicas: int('Envoy replicas that are ready to serve traffic.', { minimum: 0 }),
      replicas: int('Envoy replicas the fleet is meant to run.', { minimum: 0 }),
      connectedProxies: int('Envoy replicas currently connected to kgw over xDS.', { minimum: 0 }),
      configVersion: str(
        "Version of the fleet's configuration that every connected Envoy has acknowledged (applied).",
      ),
      lastNack: obj(
        "The last configuration the fleet's Envoys rejected (NACK). They keep serving the last " +
          'configuration they accepted.',
        {
          typeUrl: str('xDS resource type that was rejected.'),
          version: str('Rejected configuration version.'),
          message: str("Envoy's error message.", { maxLength: 32768 }),
          proxy: str('Node id of the Envoy that rejected it.'),
          time: str('When it was rejected (RFC 3339).', { format: 'date-time' }),
        },
        { required: ['message'] },
      ),
      traffic: obj(
        "Requests the fleet answered over the last sampling window, read from its Envoys' stats " +
          '(only fleets with metrics.enabled). For trends and alerts use Prometheus: see ' +
          'docs/observability.md.',
        {
          requestsPerSecond: str('Requests per second over all replicas, e.g. "12.5".'),
          errorRatio: str(
            'Share of those requests answered with a 5xx status, e.g. "0.4%". Empty without requests.',
          ),
          windowSeconds: int('Length of the window, in seconds.', { minimum: 0 }),
        },
        { required: ['requestsPerSecond', 'windowSeconds'] },
      ),
    },
    { required: ['name', 'visibility'] },
  );
}

function statusSchema(): Schema {
  return obj('Observed state, written by the kgw operator.', {
    observedGeneration: int('The metadata.generation this status describes.', { format: 'int64' }),
    conditions: arr("Conditions of the gateway; see each condition's type.", conditionSchema(), {
      mapKeys: ['type'],
    }),
    fleets: arr('Observed state of each fleet in spec.fleets.', fleetStatusSchema(), {
      mapKeys: ['name'],
    }),
    readyFleets: str(
      'Ready fleets out of all fleets, as "<ready>/<total>" (shown by kubectl get). A fleet is ready ' +
        'when all its replicas are ready.',
    ),
    externalAddress: str(
      'Address of the first ExternalIP fleet that has one (see fleets[].address), shown by kubectl get: ' +
        'where to point the DNS records of the default domain.',
    ),
    requestsPerSecond: str(
      'Requests per second over the fleets that report traffic (fleets[].traffic), shown by kubectl get.',
    ),
    errorRatio: str('Share of those requests answered with a 5xx status, shown by kubectl get.'),
  });
}

export function knativeGatewayCrd(): CustomResourceDefinition {
  const root = obj(
    'KnativeGateway is a kgw instance: the Knative ingress class it serves, the Envoy fleets that ' +
      'serve it and the Knative Serving configuration it owns. kgw translates the KIngresses of that ' +
      'class into Envoy configuration for each fleet, runs and publishes each fleet, and reports the ' +
      'Services in KIngress status. The name ' +
      `(at most ${LIMITS.gatewayNameMaxLength} characters) is part of the names of the objects kgw ` +
      `creates for the fleets and the value of their ${LABEL_GATEWAY} label.`,
    {
      ...rootProperties(
        GATEWAY_KIND,
        GATEWAY_API_VERSION,
        str(`Name of the gateway, at most ${LIMITS.gatewayNameMaxLength} characters.`, {
          maxLength: LIMITS.gatewayNameMaxLength,
        }),
      ),
      spec: specSchema(),
      status: statusSchema(),
    },
    { required: ['spec'] },
  );
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: GATEWAY_CRD_NAME, labels: { 'app.kubernetes.io/part-of': 'kgw' } },
    spec: {
      group: GATEWAY_GROUP,
      names: {
        kind: GATEWAY_KIND,
        listKind: GATEWAY_LIST_KIND,
        plural: GATEWAY_PLURAL,
        singular: GATEWAY_SINGULAR,
        shortNames: [GATEWAY_SHORT_NAME],
        categories: [GATEWAY_CATEGORY],
      },
      scope: 'Cluster',
      versions: [
        {
          name: GATEWAY_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: root },
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Ready',
              type: 'string',
              jsonPath: `.status.conditions[?(@.type=="${CONDITION_READY}")].status`,
              description: `Status of the ${CONDITION_READY} condition.`,
            },
            {
              name: 'Fleets',
              type: 'string',
              jsonPath: '.status.readyFleets',
              description: 'Ready fleets out of all fleets.',
            },
            {
              name: 'Address',
              type: 'string',
              jsonPath: '.status.externalAddress',
              description: 'External address of the first ExternalIP fleet that has one.',
            },
            {
              name: 'Req/s',
              type: 'string',
              jsonPath: '.status.requestsPerSecond',
              description: 'Requests per second over the fleets with metrics enabled.',
            },
            {
              name: '5xx',
              type: 'string',
              jsonPath: '.status.errorRatio',
              description: 'Share of those requests answered 5xx.',
            },
            {
              name: 'Age',
              type: 'date',
              jsonPath: '.metadata.creationTimestamp',
              description: 'Time since the gateway was created.',
            },
            {
              name: 'Class',
              type: 'string',
              jsonPath: '.spec.ingressClass',
              description: 'Knative ingress class served.',
              priority: 1,
            },
          ],
        },
      ],
    },
  };
}
