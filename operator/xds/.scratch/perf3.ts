import { messageType, protoRoot } from '../protos.ts';
import { encodeMessage } from '../protojson.ts';
import { sampleRoute } from '../samples.ts';
protoRoot();
const N = 10000;
const T = messageType('envoy.config.route.v3.RouteConfiguration');
const mk = () => ({ ...sampleRoute, name: 'http', virtual_hosts: Array.from({ length: N }, (_, i) => ({ ...structuredClone(sampleRoute.virtual_hosts[0]), name: `v${i}` })) });
// warm up JIT on a small one
for (let k = 0; k < 5; k++) encodeMessage(T, { ...sampleRoute, virtual_hosts: Array.from({ length: 200 }, (_, i) => ({ ...structuredClone(sampleRoute.virtual_hosts[0]), name: `w${i}` })) });
const out: number[] = [];
for (let k = 0; k < 3; k++) {
  const r = mk();
  globalThis.gc?.();
  const c = process.cpuUsage();
  encodeMessage(T, r);
  const u = process.cpuUsage(c);
  out.push(Math.round((u.user + u.system) / 1000));
}
const r = mk(); encodeMessage(T, r);
const c = process.cpuUsage(); encodeMessage(T, r); const u = process.cpuUsage(c);
console.log('cold cpu ms', out.join(' '), '| same objects again', Math.round((u.user + u.system) / 1000));
