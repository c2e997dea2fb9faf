// An Envoy bootstrap that takes everything over ADS from a unix socket, and a plain-HTTP
// listener whose routes come over RDS: what the xDS server's tests against a real Envoy start
// from (operator/xds/*.envoy.test.ts).

const ADS = { ads: {}, resource_api_version: 'V3' };

/** Envoy `id` of fleet `fleet`, every resource over ADS (SotW or delta) from `socket`. */
export function adsBootstrap(
  socket: string,
  apiType: 'GRPC' | 'DELTA_GRPC',
  id: string,
  fleet: string,
): object {
  return {
    node: { id, cluster: fleet },
    dynamic_resources: {
      ads_config: {
        api_type: apiType,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: 'kgw-xds' } }],
        set_node_on_first_message_only: true,
      },
      cds_config: ADS,
      lds_config: ADS,
    },
    static_resources: {
      clusters: [
        {
          name: 'kgw-xds',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'kgw-xds',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }],
          },
        },
      ],
    },
  };
}

const ROUTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};

/**
 * Listener `name` on 127.0.0.1:`port` with one HTTP connection manager: `hcm`'s fields (its route
 * source, filters before the router, edge settings) over a stat prefix and the router.
 */
export function loopbackListener(
  name: string,
  port: number,
  hcm: Record<string, unknown>,
  filters: Record<string, unknown>[] = [],
): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: name,
              ...hcm,
              http_filters: [...filters, ROUTER],
            },
          },
        ],
      },
    ],
  };
}

/** Listener `routeConfig` on 127.0.0.1:`port` with the route configuration of that name over RDS. */
export function rdsListener(port: number, routeConfig = 'http'): Record<string, unknown> {
  return loopbackListener(routeConfig, port, { rds: { config_source: ADS, route_config_name: routeConfig } });
}
