// ClusterIR → Envoy Cluster. Kubernetes Service ports are EDS clusters fed over ADS; DNS names
// (ExternalName Services outside the cluster, allowed by the gateway) are LOGICAL_DNS clusters
// whose names are resolved as written: the pod's DNS search path is not applied, so an allowed
// `api.example.com` can never become `api.example.com.<namespace>.svc.cluster.local`. h2c upstreams
// get explicit HTTP/2 protocol options.
import type { ClusterIR } from '../translate/ir.ts';
import { clusterStatName } from './stats-names.ts';
import { ADS_SOURCE, T, type Json } from './types.ts';

export const CONNECT_TIMEOUT = '5s';

export function renderCluster(c: ClusterIR): Json {
  const statName = clusterStatName(c.name);
  const base: Json = {
    name: c.name,
    ...(statName ? { alt_stat_name: statName } : {}),
    connect_timeout: CONNECT_TIMEOUT,
    ...(c.http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': T.httpProtocolOptions,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
  };
  if (c.kind === 'dns') {
    return {
      ...base,
      type: 'LOGICAL_DNS',
      dns_lookup_family: 'V4_PREFERRED',
      typed_dns_resolver_config: {
        name: 'envoy.network.dns_resolver.cares',
        typed_config: {
          '@type': T.caresDnsResolver,
          dns_resolver_options: { no_default_search_domain: true },
        },
      },
      load_assignment: {
        cluster_name: c.name,
        endpoints: [
          {
            lb_endpoints: [
              {
                endpoint: {
                  address: { socket_address: { address: c.dnsHost ?? '', port_value: c.dnsPort ?? 80 } },
                },
              },
            ],
          },
        ],
      },
    };
  }
  return { ...base, type: 'EDS', eds_cluster_config: { eds_config: ADS_SOURCE } };
}
