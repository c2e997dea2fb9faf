// The last check before a KIngress's configuration joins a fleet's shared resources: its routes,
// virtual hosts and clusters must encode as the Envoy messages they will be part of. A value the
// encoder cannot take would otherwise make the whole route table (every KIngress of the fleet)
// fail to encode on every later push. translate/parse.ts should already have refused anything that
// fails here; this keeps one KIngress's mistake, or a kgw bug, from freezing the fleet.
//
// Cheap on the hot path: only the changed KIngress's few routes, virtual hosts and clusters are
// encoded (routes are rendered once per RouteIR by renderRouteOnce); the encoder also remembers the
// bytes of the routes of a virtual host with many, which the route table encode then reuses.
import { renderCluster } from '../render/cluster.ts';
import { renderRouteOnce } from '../render/route.ts';
import { renderVirtualHost } from '../render/vhost.ts';
import type { IngressIR, TranslateProblem } from '../translate/ir.ts';
import { encodeMessage } from '../xds/protojson.ts';
import { messageType, TYPE_CLUSTER, typeNameOfUrl } from '../xds/protos.ts';

export const REASON_ENCODING_FAILED = 'EnvoyEncodingFailed';

/** Why the KIngress's Envoy configuration cannot be encoded, or undefined when it can. */
export function encodeProblem(ir: IngressIR): TranslateProblem | undefined {
  const route = messageType('envoy.config.route.v3.Route');
  const vhost = messageType('envoy.config.route.v3.VirtualHost');
  const cluster = messageType(typeNameOfUrl(TYPE_CLUSTER));
  let what = '';
  try {
    for (const v of [ir.external, ir.local]) {
      for (const vh of v.vhosts) {
        for (const r of vh.routes) {
          what = `route ${r.name}`;
          encodeMessage(route, renderRouteOnce(r));
        }
        what = `virtual host ${vh.host}`;
        encodeMessage(vhost, renderVirtualHost(vh, false));
        if (vh.redirectHttp) encodeMessage(vhost, renderVirtualHost(vh, true));
      }
    }
    for (const c of ir.clusters) {
      what = `cluster ${c.name}`;
      encodeMessage(cluster, renderCluster(c));
    }
  } catch (err) {
    return {
      reason: REASON_ENCODING_FAILED,
      message:
        `the Envoy configuration of ${what} cannot be encoded: ${err instanceof Error ? err.message : String(err)}`.slice(
          0,
          1000,
        ),
    };
  }
  return undefined;
}
