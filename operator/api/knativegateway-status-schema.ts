// KnativeGateway API (operator.kgw.dev/v1alpha1), TypeBox schema: the status the operator writes.
import type { Static } from '@sinclair/typebox';
import {
  CONDITION_READY,
  CONDITION_FLEETS_READY,
  CONDITION_KNATIVE_CONFIGURED,
  VISIBILITIES,
} from './knativegateway-constants.ts';
import { Obj, Str, Enum, Int, Arr, Bool } from './schema-builders.ts';

export const GatewayConditionSchema = Obj(
  "One aspect of the gateway's state, in the Kubernetes/Knative condition shape.",
  {
    type: Str(
      `Condition type. ${CONDITION_READY}: the gateway is serving (summary of the others). ` +
        `${CONDITION_FLEETS_READY}: every fleet has all its replicas ready and connected. ` +
        `${CONDITION_KNATIVE_CONFIGURED}: Knative Serving's config-network and config-domain hold what ` +
        'spec.knative and spec.domains ask for (its message names corrected drift).',
      { minLength: 1, maxLength: 316 },
    ),
    status: Enum('Status of the condition: True, False or Unknown.', {
      enum: ['True', 'False', 'Unknown'],
    }),
    reason: Str('A CamelCase word saying why the condition has its status, for machines.', {
      maxLength: 1024,
    }),
    message: Str('A human-readable explanation of the status, with details.', { maxLength: 32768 }),
    lastTransitionTime: Str('When the condition last changed status (RFC 3339).', {
      format: 'date-time',
    }),
    observedGeneration: Int('metadata.generation of the spec this condition was computed for.', {
      minimum: 0,
      format: 'int64',
    }),
  },
  { required: ['type', 'status'] },
);

export const FleetStatusSchema = Obj(
  'Observed state of one fleet.',
  {
    name: Str('Name of the fleet, as in spec.fleets.'),
    visibility: Enum('Visibility of the fleet, as in spec.fleets.', { enum: VISIBILITIES }),
    service: Str(
      "In-cluster host name of the fleet's Service, <service>.<namespace>.svc.<clusterDomain>: " +
        'what KIngress status reports as domainInternal.',
    ),
    address: Str(
      "Where clients outside the cluster reach the fleet: its Service's load-balancer IP address or " +
        'host name. Empty until the load balancer has one, and for ClusterIP Services.',
    ),
    readyReplicas: Int('Envoy replicas that are ready to serve traffic.', { minimum: 0 }),
    replicas: Int('Envoy replicas the fleet is meant to run.', { minimum: 0 }),
    connectedProxies: Int('Envoy replicas currently connected to kgw over xDS.', { minimum: 0 }),
    configVersion: Str(
      "Version of the fleet's configuration that every connected Envoy has acknowledged (applied).",
    ),
    lastNack: Obj(
      "The last configuration the fleet's Envoys rejected (NACK). They keep serving the last " +
        'configuration they accepted.',
      {
        typeUrl: Str('xDS resource type that was rejected.'),
        version: Str('Rejected configuration version.'),
        message: Str("Envoy's error message.", { maxLength: 32768 }),
        proxy: Str('Node id of the Envoy that rejected it.'),
        time: Str('When it was rejected (RFC 3339).', { format: 'date-time' }),
      },
      { required: ['message'] },
    ),
    traffic: Obj(
      "Requests the fleet answered over the last sampling window, read from its Envoys' stats " +
        '(only fleets with metrics.enabled). For trends and alerts use Prometheus: see ' +
        'docs/observability.md.',
      {
        requestsPerSecond: Str('Requests per second over all replicas, e.g. "12.5".'),
        errorRatio: Str(
          'Share of those requests answered with a 5xx status, e.g. "0.4%". Empty without requests.',
        ),
        windowSeconds: Int('Length of the window, in seconds.', { minimum: 0 }),
      },
      { required: ['requestsPerSecond', 'windowSeconds'] },
    ),
    rateLimitService: Obj(
      "The fleet's rate-limit service (policy.rateLimitSharing Global) as kgw sees it: the instances " +
        'connected to kgw for the limits, and the client certificate they connected with.',
      {
        connected: Int("Instances connected to kgw's xDS server for this fleet's limits.", { minimum: 0 }),
        configVersion: Str('Version of the limits every connected instance acknowledged.'),
        certificateNotAfter: Str(
          'When the earliest-expiring client certificate of a connected instance expires (RFC 3339).',
          { format: 'date-time' },
        ),
        restartNeeded: Bool(
          'True when a connected instance still uses a client certificate past two thirds of its ' +
            'lifetime. kgw has renewed the certificate in the Secret kgw-<gateway>-<fleet>-xds-client by ' +
            'then, but envoyproxy/ratelimit reads it only when it starts: restart the service (a rolling ' +
            'restart of its Deployment) before certificateNotAfter, or it cannot reconnect after that.',
        ),
      },
      { required: ['connected'] },
    ),
  },
  { required: ['name', 'visibility'] },
);

export const KnativeGatewayStatusSchema = Obj('Observed state, written by the kgw operator.', {
  observedGeneration: Int('The metadata.generation this status describes.', { format: 'int64' }),
  conditions: Arr("Conditions of the gateway; see each condition's type.", GatewayConditionSchema, {
    mapKeys: ['type'],
  }),
  fleets: Arr('Observed state of each fleet in spec.fleets.', FleetStatusSchema, {
    mapKeys: ['name'],
  }),
  readyFleets: Str(
    'Ready fleets out of all fleets, as "<ready>/<total>" (shown by kubectl get). A fleet is ready ' +
      'when all its replicas are ready.',
  ),
  externalAddress: Str(
    'Address of the first ExternalIP fleet that has one (see fleets[].address), shown by kubectl get: ' +
      'where to point the DNS records of the default domain.',
  ),
  requestsPerSecond: Str(
    'Requests per second over the fleets that report traffic (fleets[].traffic), shown by kubectl get.',
  ),
  errorRatio: Str('Share of those requests answered with a 5xx status, shown by kubectl get.'),
});

export type GatewayCondition = Static<typeof GatewayConditionSchema>;
export type ConditionStatus = GatewayCondition['status'];
/**
 * A fleet's status as kgw writes it: always with the Service and the replica counts (the schema
 * leaves them optional, so it accepts any status written before).
 */
export type FleetStatus = Static<typeof FleetStatusSchema> &
  Required<
    Pick<Static<typeof FleetStatusSchema>, 'service' | 'readyReplicas' | 'replicas' | 'connectedProxies'>
  >;
/** The last configuration a fleet's Envoys rejected. */
export type FleetNack = NonNullable<FleetStatus['lastNack']>;
/** A fleet's request rate and 5xx share over the last sampling window, for `kubectl get`. */
export type FleetTraffic = NonNullable<FleetStatus['traffic']>;
export type KnativeGatewayStatus = Omit<Static<typeof KnativeGatewayStatusSchema>, 'fleets'> & {
  fleets?: FleetStatus[];
};
