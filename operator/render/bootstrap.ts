// The Envoy bootstrap shared by every fleet runtime: node identity (node.cluster selects the
// fleet's snapshot), the xDS control-plane cluster (unix socket locally, TCP in a cluster), ADS
// for everything (delta by default), and the admin interface (unix socket or loopback port).
import { ADS_SOURCE, type Json } from './types.ts';

export const XDS_CLUSTER = 'kgw-xds';

export interface BootstrapOptions {
  nodeId: string;
  /** The fleet's xDS cluster name, `<gateway>/<fleet>`. */
  fleet: string;
  xds: { pipe: string } | { address: string; port: number };
  admin: { pipe: string } | { address: string; port: number };
  /** Delta xDS (default) or state-of-the-world. */
  delta?: boolean;
}

function address(a: BootstrapOptions['xds']): Json {
  return 'pipe' in a
    ? { pipe: { path: a.pipe } }
    : { socket_address: { address: a.address, port_value: a.port } };
}

export function renderBootstrap(o: BootstrapOptions): Json {
  return {
    node: { id: o.nodeId, cluster: o.fleet },
    admin: { address: address(o.admin) },
    dynamic_resources: {
      ads_config: {
        api_type: o.delta === false ? 'GRPC' : 'DELTA_GRPC',
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
        set_node_on_first_message_only: true,
      },
      lds_config: ADS_SOURCE,
      cds_config: ADS_SOURCE,
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER,
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: XDS_CLUSTER,
            endpoints: [{ lb_endpoints: [{ endpoint: { address: address(o.xds) } }] }],
          },
        },
      ],
    },
    layered_runtime: {
      layers: [{ name: 'static', static_layer: { 'overload.global_downstream_max_connections': 50000 } }],
    },
  };
}
