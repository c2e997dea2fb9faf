// The access log of a fleet's HTTP connection managers (KnativeGateway fleets[].accessLog): one
// line per request on Envoy's standard output, in Envoy's default text format or as one JSON object.
//
// The JSON object carries what an app team searches by, from sources a client cannot forge:
// `route` is kgw's route name, `<namespace>/<KIngress>/r<rule>/p<path>` (Knative names the KIngress
// after its Route, which is the Knative Service's name for a Service's traffic), and
// `upstream_cluster` is `<namespace>/<revision Service>:<port>`. `knative_revision` and
// `knative_namespace` are the headers Knative's splits set (kgw overwrites what a client sent; on a
// KIngress whose splits do not set them they are the client's). `knative_tag` is the tag header a
// client routed by, if any. Values a request lacks are null.
import type { AccessLogFormat } from '../api/knativegateway.ts';
import { T, type Json } from './types.ts';

/** Field → Envoy command operator, in the order written. */
export const JSON_ACCESS_LOG_FIELDS: Readonly<Record<string, string>> = {
  start_time: '%START_TIME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  authority: '%REQ(:AUTHORITY)%',
  status: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration_ms: '%DURATION%',
  upstream_service_time_ms: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  route: '%ROUTE_NAME%',
  knative_namespace: '%REQ(KNATIVE-SERVING-NAMESPACE)%',
  knative_revision: '%REQ(KNATIVE-SERVING-REVISION)%',
  knative_tag: '%REQ(KNATIVE-SERVING-TAG)%',
  client_address: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
};

/** The HCM `access_log` entry for a format. */
export function renderAccessLog(format: AccessLogFormat): Json {
  return {
    name: 'envoy.access_loggers.stdout',
    typed_config: {
      '@type': T.stdoutLog,
      ...(format === 'json' ? { log_format: { json_format: { ...JSON_ACCESS_LOG_FIELDS } } } : {}),
    },
  };
}
