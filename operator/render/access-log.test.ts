import { JSON_ACCESS_LOG_FIELDS, renderAccessLog } from './access-log.ts';
import { T } from './types.ts';

test('text is Envoy’s default line: no log_format', () => {
  expect(renderAccessLog('text')).toEqual({
    name: 'envoy.access_loggers.stdout',
    typed_config: { '@type': T.stdoutLog },
  });
});

test('json writes every field, Knative names from unforgeable sources first', () => {
  const cfg = renderAccessLog('json').typed_config as { log_format: { json_format: Record<string, string> } };
  expect(cfg.log_format.json_format).toEqual(JSON_ACCESS_LOG_FIELDS);
  expect(cfg.log_format.json_format).toMatchObject({
    route: '%ROUTE_NAME%',
    upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
    knative_revision: '%REQ(KNATIVE-SERVING-REVISION)%',
    request_id: '%REQ(X-REQUEST-ID)%',
  });
});
