// Access logs (KnativeGateway fleets[].accessLog, issue 12 item 3): `format: json` writes one JSON
// object per request with the Knative names (render/access-log.ts), `format: text` Envoy's default
// line. Real Envoy replicas; their standard output is the replica's log file in the work dir.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpRequest } from '../backends/client.ts';
import {
  createIngress,
  fleetReplicas,
  privateGateway,
  publicGateway,
  sampleGateway,
  startEnv,
  startTestBackend,
  waitReady,
  TEST_NAMESPACE,
  type Env,
} from './harness.ts';

const gateway = {
  ...sampleGateway,
  spec: {
    fleets: [
      {
        name: 'external',
        visibility: 'ExternalIP',
        replicas: 1,
        accessLog: { enabled: true, format: 'json' },
      },
      { name: 'local', visibility: 'ClusterLocal', replicas: 1, accessLog: { enabled: true } },
    ],
  },
};

let env: Env;
beforeAll(async () => {
  env = await startEnv({ gateway });
}, 180_000);
afterAll(async () => {
  await env?.stop();
});

/** The lines of the one replica of `fleet` that contain `marker`, polled until there (bounded). */
async function logLines(fleet: string, marker: string): Promise<string[]> {
  const [replica] = fleetReplicas(env, fleet);
  if (!replica) throw new Error(`no replica of ${fleet}`);
  const deadline = Date.now() + 15_000; // Envoy flushes access logs about every second
  for (;;) {
    const lines = readFileSync(join(env.workDir, 'envoy', `${replica.id}.log`), 'utf8')
      .split('\n')
      .filter((l) => l.includes(marker));
    if (lines.length > 0 || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('JSON access log lines name the Knative route, revision, namespace and tag; text is Envoy’s line', async () => {
  await startTestBackend(env, { name: 'logs-00001' });
  const host = 'logs.serving-tests.example.com';
  const paths = [
    {
      splits: [
        {
          serviceNamespace: TEST_NAMESPACE,
          serviceName: 'logs-00001',
          servicePort: 80,
          percent: 100,
          // what Knative's Route reconciler puts on every split
          appendHeaders: {
            'Knative-Serving-Revision': 'logs-00001',
            'Knative-Serving-Namespace': TEST_NAMESPACE,
          },
        },
      ],
    },
  ];
  await createIngress(env, 'logs', {
    rules: [{ hosts: [host], visibility: 'ExternalIP', http: { paths } }],
  });
  const ing = await waitReady(env, 'logs');
  const pub = await publicGateway(env, ing);
  const res = await httpRequest({
    ...pub,
    host,
    path: '/json-marker?x=1',
    // a client's own value of a header Knative's split sets is overwritten
    headers: { 'Knative-Serving-Tag': 'beta', 'Knative-Serving-Revision': 'forged', 'User-Agent': 'kgw-e2e' },
  });
  expect(res.status).toBe(200);
  const seen = res.json<{ request: { headers: Record<string, string[]> } }>().request.headers;

  const lines = await logLines('default/external', '/json-marker');
  expect(lines).toHaveLength(1);
  const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
  expect(entry).toMatchObject({
    method: 'GET',
    path: '/json-marker?x=1',
    protocol: 'HTTP/1.1',
    authority: host,
    status: 200,
    response_flags: '-',
    route: `${TEST_NAMESPACE}/logs/r0/p0`,
    upstream_cluster: `${TEST_NAMESPACE}/logs-00001:80`,
    knative_namespace: TEST_NAMESPACE,
    knative_revision: 'logs-00001',
    knative_tag: 'beta',
    user_agent: 'kgw-e2e',
  });
  // the request id in the log is the one the revision received
  expect(entry.request_id).toEqual(seen['X-Request-Id']?.[0]);
  expect(typeof entry.duration_ms).toBe('number');
  expect(String(entry.upstream_host)).toMatch(/^198\.(18|19)\.\d+\.\d+:8000$/);

  // An unknown host: no route, no revision; the fields are null, not missing.
  expect((await httpRequest({ ...pub, host: 'nobody.example.com', path: '/json-unrouted' })).status).toBe(
    404,
  );
  const [unrouted] = await logLines('default/external', '/json-unrouted');
  expect(JSON.parse(unrouted ?? 'null')).toMatchObject({
    status: 404,
    response_flags: 'NR',
    route: null,
    upstream_cluster: null,
    knative_revision: null,
  });

  // The cluster-local fleet logs in Envoy's default text format.
  const priv = await privateGateway(env, ing);
  expect((await httpRequest({ ...priv, host, path: '/text-marker' })).status).toBe(200);
  const [text] = await logLines('default/local', '/text-marker');
  expect(text).toMatch(/^\[[^\]]+\] "GET \/text-marker HTTP\/1\.1" 200 - /);
}, 120_000);
