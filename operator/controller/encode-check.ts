// The last check before a KIngress's configuration joins a fleet's shared resources: its routes,
// virtual hosts and clusters must encode as the Envoy messages they will be part of. A value the
// encoder cannot take would otherwise make the whole route table (every KIngress of the fleet)
// fail to encode on every later push. translate/parse.ts should already have refused anything that
// fails here; this keeps one KIngress's mistake, or a kgw bug, from freezing the fleet.
//
// Cheap on the hot path: only the changed KIngress's virtual hosts and clusters are encoded, each
// once (routes are rendered once per RouteIR by renderRouteOnce, and encoded inside their virtual
// host: a route that does not encode is named from the error's `$.routes[i]` path); the encoder also
// remembers the bytes of the routes of a virtual host with many, which the route table encode then
// reuses. (Encoding each route on its own as well doubled this check, which was 2 of the 5.5 s a
// restart at 10k KIngresses spent on its first push.)
import { renderCluster } from '../render/cluster.ts';
import { renderVirtualHost } from '../render/vhost.ts';
import type { IngressIR, TranslateProblem, VirtualHostIR } from '../translate/ir.ts';
import { encodeMessage, ProtoJsonError } from '../xds/protojson.ts';
import { messageType, TYPE_CLUSTER, typeNameOfUrl } from '../xds/protos.ts';

export const REASON_ENCODING_FAILED = 'EnvoyEncodingFailed';

/** What failed to encode in a virtual host: the route at `$.routes[i]`, else the virtual host. */
function blame(vh: VirtualHostIR, err: unknown): { what: string; detail: string } {
  const detail = err instanceof Error ? err.message : String(err);
  if (!(err instanceof ProtoJsonError)) return { what: `virtual host ${vh.host}`, detail };
  const m = /^\$\.routes\[(\d+)\](.*)$/.exec(err.path);
  const route = m ? vh.routes[Number(m[1])] : undefined;
  if (!m || !route) return { what: `virtual host ${vh.host}`, detail };
  return { what: `route ${route.name}`, detail: `$${m[2] ?? ''}: ${err.detail}` };
}

/** Why the KIngress's Envoy configuration cannot be encoded, or undefined when it can. */
export function encodeProblem(ir: IngressIR): TranslateProblem | undefined {
  const vhost = messageType('envoy.config.route.v3.VirtualHost');
  const cluster = messageType(typeNameOfUrl(TYPE_CLUSTER));
  // what failed, told from the error, for the vhost or cluster being encoded
  let culprit: (err: unknown) => { what: string; detail: string } = (err) => ({
    what: 'KIngress',
    detail: String(err),
  });
  let failed: { what: string; detail: string } | undefined;
  try {
    for (const v of [ir.external, ir.local]) {
      for (const vh of v.vhosts) {
        culprit = (err) => blame(vh, err);
        // routes in IR order (plainHttp false); the redirect form adds only the redirect route
        encodeMessage(vhost, renderVirtualHost(vh, false));
        if (vh.redirectHttp) encodeMessage(vhost, renderVirtualHost(vh, true));
      }
    }
    for (const c of ir.clusters) {
      culprit = (err) => ({
        what: `cluster ${c.name}`,
        detail: err instanceof Error ? err.message : String(err),
      });
      encodeMessage(cluster, renderCluster(c));
    }
  } catch (err) {
    failed = culprit(err);
  }
  if (!failed) return undefined;
  return {
    reason: REASON_ENCODING_FAILED,
    message: `the Envoy configuration of ${failed.what} cannot be encoded: ${failed.detail}`.slice(0, 1000),
  };
}
