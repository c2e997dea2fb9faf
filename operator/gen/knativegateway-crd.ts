// The KnativeGateway CustomResourceDefinition, built from the constants in
// operator/api/knativegateway.ts so the schema, the defaults in code and the docs cannot drift.
import {
  CONDITION_FLEETS_READY,
  CONDITION_READY,
  DEFAULT_ACCESS_LOG,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_LISTENER_PORTS,
  DEFAULT_NAMESPACE,
  DEFAULT_REPLICAS,
  DEFAULT_SERVICE_HTTPS_PORT,
  DEFAULT_SERVICE_HTTP_PORT,
  DNS1123_LABEL_PATTERN,
  DNS1123_SUBDOMAIN_PATTERN,
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
  LABEL_GATEWAY,
  LIMITS,
  MESSAGES,
  VISIBILITIES,
} from '../api/knativegateway.ts';
import { INGRESS_CLASS_ANNOTATION } from '../api/kingress.ts';
import { rootProperties, type CustomResourceDefinition } from './crd.ts';
import { arr, bool, int, obj, rule, str, type Schema } from './schema.ts';

const EXT = DEFAULT_LISTENER_PORTS.ExternalIP;
const LOCAL = DEFAULT_LISTENER_PORTS.ClusterLocal;

/** CEL: the effective listener port of a fleet (`self`), the visibility-dependent default when unset. */
function effectivePort(field: 'http' | 'https'): string {
  return (
    `(has(self.ports.${field}) ? self.ports.${field} : ` +
    `(self.visibility == 'ClusterLocal' ? ${LOCAL[field]} : ${EXT[field]}))`
  );
}

function listenerPort(field: 'http' | 'https', what: string): Schema {
  return int(
    `Port Envoy listens on for ${what}, inside its pod (or on the host for the local runtime); ` +
      `${LIMITS.minListenerPort}-${LIMITS.maxListenerPort}, since Envoy runs without privileges. ` +
      `Defaults to ${EXT[field]} for ExternalIP fleets and ${LOCAL[field]} for ClusterLocal fleets ` +
      `(applied by kgw, because the default depends on the visibility).`,
    { minimum: LIMITS.minListenerPort, maximum: LIMITS.maxListenerPort },
  );
}

function fleetSchema(): Schema {
  return obj(
    'One Envoy fleet: a set of identical Envoy replicas that receive the same configuration over xDS ' +
      'and are published together by one Service.',
    {
      name: str(
        `Name of the fleet, unique within the gateway. An RFC 1123 label of at most ` +
          `${LIMITS.fleetNameMaxLength} characters. The fleet's Service is named ` +
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
        `Number of Envoy replicas, ${LIMITS.minReplicas}-${LIMITS.maxReplicas}. Defaults to ` +
          `${DEFAULT_REPLICAS} (applied by kgw; left unset in the stored object so a later autoscaling ` +
          `field can take over).`,
        { minimum: LIMITS.minReplicas, maximum: LIMITS.maxReplicas },
      ),
      ports: obj(
        "Envoy's listener ports (container ports). Clients never see them: they connect to the " +
          'Service ports in service. Within a fleet the two ports must differ.',
        {
          http: listenerPort('http', 'plain HTTP/1.1 and h2c'),
          https: listenerPort('https', 'TLS (HTTPS and HTTP/2 over TLS, certificates chosen by SNI)'),
        },
      ),
      service: obj(
        "Ports of the Service that publishes the fleet: what clients, Knative's prober and KIngress " +
          'status consumers connect to. Each forwards to the matching listener port in ports.',
        {
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
      ),
      accessLog: bool(
        `Whether Envoy writes one access log line per request to its standard output. Defaults to ` +
          `${String(DEFAULT_ACCESS_LOG)}.`,
        { default: DEFAULT_ACCESS_LOG },
      ),
    },
    {
      required: ['name', 'visibility'],
      validations: [
        rule(
          `!has(self.ports) || ${effectivePort('http')} != ${effectivePort('https')}`,
          MESSAGES.listenerPortsDiffer,
          { fieldPath: '.ports' },
        ),
      ],
    },
  );
}

function specSchema(): Schema {
  return obj(
    'Desired state: the Knative ingress class this gateway serves and the Envoy fleets that serve it.',
    {
      ingressClass: str(
        `Knative ingress class this gateway serves. kgw serves only the KIngresses whose ` +
          `${INGRESS_CLASS_ANNOTATION} annotation equals this value, and never writes to the ` +
          `others. Set the same value as ingress-class in Knative Serving's config-network ConfigMap. ` +
          `Defaults to ${DEFAULT_INGRESS_CLASS}.`,
        {
          pattern: DNS1123_SUBDOMAIN_PATTERN,
          minLength: 1,
          maxLength: LIMITS.ingressClassMaxLength,
          default: DEFAULT_INGRESS_CLASS,
        },
      ),
      namespace: str(
        `Namespace of the Services that publish this gateway's fleets (and, when kgw runs the fleets ` +
          `on Kubernetes, of their Envoy Deployments). Defaults to ${DEFAULT_NAMESPACE}.`,
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
    },
    { required: ['fleets'] },
  );
}

function conditionSchema(): Schema {
  return obj(
    "One aspect of the gateway's state, in the Kubernetes/Knative condition shape.",
    {
      type: str(
        `Condition type. ${CONDITION_READY}: the gateway is serving (summary of the others). ` +
          `${CONDITION_FLEETS_READY}: every fleet has all its replicas ready and connected.`,
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
      readyReplicas: int('Envoy replicas that are ready to serve traffic.', { minimum: 0 }),
      replicas: int('Envoy replicas the fleet is meant to run.', { minimum: 0 }),
      connectedProxies: int('Envoy replicas currently connected to kgw over xDS.', { minimum: 0 }),
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
  });
}

export function knativeGatewayCrd(): CustomResourceDefinition {
  const root = obj(
    'KnativeGateway is a kgw instance: the Knative ingress class it serves and the Envoy fleets that ' +
      'serve it. kgw translates the KIngresses of that class into Envoy configuration for each fleet, ' +
      'publishes each fleet with a Service, and reports the Services in KIngress status. The name ' +
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
              name: 'Class',
              type: 'string',
              jsonPath: '.spec.ingressClass',
              description: 'Knative ingress class served.',
              priority: 1,
            },
            {
              name: 'Age',
              type: 'date',
              jsonPath: '.metadata.creationTimestamp',
              description: 'Time since the gateway was created.',
            },
          ],
        },
      ],
    },
  };
}
