import { messageType, protoRoot } from '../protos.ts';
import { encodeMessage } from '../protojson.ts';
import { sampleRoute } from '../samples.ts';
protoRoot();
const N = 10000;
const vhost = (i: number) => ({ ...structuredClone(sampleRoute.virtual_hosts[0]), name: `v${i}`, domains: [`svc${i}.ns.example.com`, `svc${i}.ns.example.com:*`] });
const route0 = { ...sampleRoute, name: 'http', virtual_hosts: Array.from({ length: N }, (_, i) => vhost(i)) };
const T = messageType('envoy.config.route.v3.RouteConfiguration');
for (let k = 0; k < 4; k++) {
  const route = k === 3 ? route0 : { ...sampleRoute, name: 'http', virtual_hosts: Array.from({ length: N }, (_, i) => vhost(i)) };
  const t = performance.now(); const c = process.cpuUsage();
  const b = encodeMessage(T, route);
  const u = process.cpuUsage(c);
  console.log('encode wall ms', (performance.now() - t).toFixed(0), 'cpu ms', ((u.user + u.system) / 1000).toFixed(0), b.length);
}
