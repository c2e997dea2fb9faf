// The stat names kgw writes and the tag regexes that read them back, applied the way Envoy does
// (each regex's first group is cut from the name, its second is the label value). The e2e test
// test/e2e/service-metrics.test.ts checks the same against a real Envoy.
import { clusterStatName, routeStatPrefix, statsTags, vhostName } from './stats-names.ts';

function extract(stat: string): { name: string; labels: Record<string, string> } {
  const labels: Record<string, string> = {};
  const cuts: [number, number][] = [];
  for (const t of statsTags()) {
    const tag = t as { tag_name: string; regex?: string };
    const m = new RegExp(tag.regex ?? '', 'd').exec(stat);
    if (!m?.indices?.[1] || m[2] === undefined) continue;
    labels[tag.tag_name] = m[2];
    cuts.push(m.indices[1]);
  }
  let name = stat;
  for (const [a, b] of cuts.sort((x, y) => y[0] - x[0])) name = name.slice(0, a) + name.slice(b);
  return { name, labels };
}

test('route stats: the Knative namespace and Service become labels, the name is fixed', () => {
  const vhost = vhostName('team-a/hello', 'hello.team-a.example.com');
  expect(vhost).toBe('team-a/hello/hello_team-a_example_com');
  const stat = `vhost.${vhost}.route.${routeStatPrefix({ namespace: 'team-a', service: 'hello' })}.upstream_rq_2xx`;
  expect(extract(stat)).toEqual({
    name: `vhost.${vhost}.route.upstream_rq_2xx`, // Envoy's own vhost tag then takes the vhost
    labels: { kgw_namespace: 'team-a', kgw_service: 'hello' },
  });
  const dm = `vhost.x.route.${routeStatPrefix({ namespace: 'ns', service: 'api_example_com' })}.upstream_rq_time`;
  expect(extract(dm).labels).toMatchObject({ kgw_namespace: 'ns', kgw_service: 'api_example_com' });
});

test('cluster stats: namespace and revision (the Service) become labels', () => {
  const name = clusterStatName('team-a/hello-00001:80');
  expect(name).toBe('kgw~team-a~hello-00001~80');
  expect(extract(`cluster.${name}.upstream_rq_503`)).toEqual({
    name: 'cluster.kgw~80.upstream_rq_503', // the rest goes with Envoy's cluster_name tag
    labels: { kgw_namespace: 'team-a', kgw_revision: 'hello-00001' },
  });
  // a namespace named kgw is no special case
  expect(extract(`cluster.${clusterStatName('kgw/kgw:8080')}.upstream_rq_total`).labels).toMatchObject({
    kgw_namespace: 'kgw',
    kgw_revision: 'kgw',
  });
});

test('cluster stats other than the upstream_rq families keep only the cluster name (memory)', () => {
  const name = clusterStatName('team-a/hello-00001:80') ?? '';
  for (const stat of [
    'upstream_cx_total',
    'lb_healthy_panic',
    'membership_healthy',
    'external.upstream_rq_200',
  ]) {
    expect([stat, extract(`cluster.${name}.${stat}`).labels]).toEqual([stat, {}]);
  }
  for (const stat of ['upstream_rq_total', 'upstream_rq_time', 'upstream_rq_5xx', 'upstream_rq_503']) {
    expect(extract(`cluster.${name}.${stat}`).labels).toMatchObject({
      kgw_namespace: 'team-a',
      kgw_revision: 'hello-00001',
    });
  }
});

test('only kgw cluster names get a stat name; other stats get no Knative labels', () => {
  for (const other of ['kgw-xds', 'a/b', 'a/b:http', 'A/b:80', 'a.b/c:80'])
    expect(clusterStatName(other)).toBeUndefined();
  for (const stat of [
    'cluster.kgw-xds.upstream_rq_total',
    'http.kgw_http.downstream_rq_2xx',
    'server.live',
  ]) {
    expect(extract(stat).labels).toEqual({});
  }
});

test('vhost names stay distinct: DNS names have no _, so . → _ loses nothing', () => {
  expect(vhostName('ns/a.b', 'c.d')).not.toBe(vhostName('ns/a', 'b.c.d'));
  expect(vhostName('ns/x', 'a.b.example.com')).not.toBe(vhostName('ns/x', 'a-b.example.com'));
  expect(vhostName('ns/x', '*.example.com')).toBe('ns/x/*_example_com');
});
