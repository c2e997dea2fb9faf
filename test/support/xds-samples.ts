// Realistic Envoy resources in canonical proto3 JSON (snake_case), shaped like what kgw renders for
// a Knative ingress, plus one sample per Any extension type. Used by the xDS tests and benchmarks.
const url = (name: string): string => `type.googleapis.com/${name}`;
const ADS = { ads: {}, resource_api_version: 'V3' };

/** One representative configuration per entry of ANY_TYPES (keyed by full type name). */
export const ANY_SAMPLES: Record<string, Record<string, unknown>> = {
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': {
    stat_prefix: 'http',
    rds: { config_source: ADS, route_config_name: 'http-8080' },
    http_filters: [
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': url('envoy.extensions.filters.http.router.v3.Router') },
      },
    ],
    stream_idle_timeout: '0s',
    use_remote_address: true,
    upgrade_configs: [{ upgrade_type: 'websocket' }],
  },
  'envoy.extensions.filters.http.router.v3.Router': { suppress_envoy_headers: true },
  'envoy.extensions.filters.http.health_check.v3.HealthCheck': {
    pass_through_mode: false,
    headers: [{ name: 'K-Kubelet-Probe', present_match: true }],
  },
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthz': {
    grpc_service: { envoy_grpc: { cluster_name: 'extauthz' }, timeout: '2s' },
    failure_mode_allow: true,
    transport_api_version: 'V3',
  },
  'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute': { disabled: true },
  'envoy.extensions.filters.http.lua.v3.Lua': {
    default_source_code: { inline_string: 'function envoy_on_request(h) end\n' },
  },
  'envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation': {
    mutations: [
      {
        append: {
          header: { key: 'x-kgw-route-key', value: '%REQ(:authority)%' },
          append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
        },
      },
    ],
  },
  'envoy.config.route.v3.FilterConfig': {
    config: { '@type': url('envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute'), disabled: true },
    is_optional: true,
  },
  'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext': {
    common_tls_context: {
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2' },
      tls_certificate_sds_secret_configs: [{ name: 'default/hello-tls', sds_config: ADS }],
      alpn_protocols: ['h2', 'http/1.1'],
    },
    require_client_certificate: false,
  },
  'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext': {
    common_tls_context: {
      validation_context: {
        trusted_ca: { filename: '/etc/kgw/ca.pem' },
        match_typed_subject_alt_names: [
          { san_type: 'DNS', matcher: { exact: 'hello.default.svc.cluster.local' } },
        ],
      },
    },
    sni: 'hello.default.svc.cluster.local',
  },
  'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer': {},
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    common_http_protocol_options: { idle_timeout: '3600s' },
    explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 100 } },
  },
  'envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector': {},
  'envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol': {
    allow_requests_without_proxy_protocol: true,
  },
  'envoy.extensions.filters.listener.http_inspector.v3.HttpInspector': {},
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog': {
    log_format: { json_format: { method: '%REQ(:METHOD)%', code: '%RESPONSE_CODE%', took_ms: '%DURATION%' } },
  },
  'envoy.extensions.access_loggers.stream.v3.StderrAccessLog': {
    log_format: { text_format_source: { inline_string: '[%START_TIME%] %REQ(:PATH)%\n' } },
  },
  'envoy.extensions.access_loggers.file.v3.FileAccessLog': {
    path: '/dev/stdout',
    log_format: { text_format_source: { inline_string: '%RESPONSE_CODE%\n' } },
  },
  'envoy.extensions.http.original_ip_detection.xff.v3.XffConfig': { xff_num_trusted_hops: 1 },
  'envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig': { pack_trace_reason: false },
  'envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig': {
    dns_resolver_options: { no_default_search_domain: true },
  },
  'xds.type.v3.TypedStruct': {
    type_url: url('example.Config'),
    value: { threshold: 3, tags: ['a', null, true] },
  },
};

export function anySample(typeName: string): Record<string, unknown> {
  return { '@type': url(typeName), ...(ANY_SAMPLES[typeName] ?? {}) };
}

export const sampleListener = {
  name: 'https-8443',
  address: { socket_address: { address: '0.0.0.0', port_value: 8443 } },
  filter_chains: [
    {
      filter_chain_match: { server_names: ['hello.default.example.com'] },
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': url('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'),
            stat_prefix: 'https',
            rds: { config_source: ADS, route_config_name: 'https-8443' },
            http_filters: [
              {
                name: 'envoy.filters.http.health_check',
                typed_config: anySample('envoy.extensions.filters.http.health_check.v3.HealthCheck'),
              },
              {
                name: 'envoy.filters.http.router',
                typed_config: { '@type': url('envoy.extensions.filters.http.router.v3.Router') },
              },
            ],
            access_log: [
              {
                name: 'envoy.access_loggers.stdout',
                typed_config: anySample('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog'),
              },
            ],
            stream_idle_timeout: '0s',
            use_remote_address: true,
            original_ip_detection_extensions: [
              {
                name: 'envoy.extensions.http.original_ip_detection.xff',
                typed_config: anySample('envoy.extensions.http.original_ip_detection.xff.v3.XffConfig'),
              },
            ],
            upgrade_configs: [{ upgrade_type: 'websocket' }],
          },
        },
      ],
      transport_socket: {
        name: 'envoy.transport_sockets.tls',
        typed_config: anySample('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext'),
      },
    },
  ],
  per_connection_buffer_limit_bytes: 32768,
  listener_filters: [
    {
      name: 'envoy.filters.listener.tls_inspector',
      typed_config: { '@type': url('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector') },
    },
  ],
};

export const sampleRoute = {
  name: 'https-8443',
  virtual_hosts: [
    {
      name: 'default/hello',
      domains: ['hello.default.example.com', 'hello.default.example.com:*'],
      routes: [
        {
          match: {
            prefix: '/',
            headers: [
              { name: 'K-Network-Hash', string_match: { exact: 'override' } },
              { name: 'X-Big', range_match: { start: '-5', end: '9007199254740993' } },
            ],
          },
          route: {
            weighted_clusters: {
              clusters: [
                {
                  name: 'default/hello-00001/80',
                  weight: 90,
                  request_headers_to_add: [
                    {
                      header: { key: 'Knative-Serving-Revision', value: 'hello-00001' },
                      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
                    },
                  ],
                },
                { name: 'default/hello-00002/80', weight: 10 },
              ],
            },
            timeout: '0s',
            retry_policy: { retry_on: '5xx,reset', num_retries: 3, per_try_timeout: '0.250s' },
            upgrade_configs: [{ upgrade_type: 'websocket', enabled: true }],
          },
          typed_per_filter_config: {
            'envoy.filters.http.ext_authz': anySample(
              'envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
            ),
          },
        },
        { match: { path: '/healthz' }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
        {
          match: { safe_regex: { regex: '^/old/.*' } },
          redirect: { https_redirect: true, response_code: 'PERMANENT_REDIRECT' },
        },
      ],
    },
  ],
  validate_clusters: false,
};

export const sampleCluster = {
  name: 'default/hello-00001/80',
  type: 'EDS',
  eds_cluster_config: { eds_config: ADS, service_name: 'default/hello-00001/80' },
  connect_timeout: '5s',
  lb_policy: 'LEAST_REQUEST',
  circuit_breakers: {
    thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295 }],
  },
  transport_socket: {
    name: 'envoy.transport_sockets.tls',
    typed_config: anySample('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext'),
  },
  metadata: { filter_metadata: { kgw: { ingress: 'default/hello', generation: 3, labels: { a: 'b' } } } },
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': anySample(
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    ),
  },
};

export const sampleLoadAssignment = {
  cluster_name: 'default/hello-00001/80',
  endpoints: [
    {
      locality: { zone: 'zone-a' },
      lb_endpoints: [
        {
          endpoint: { address: { socket_address: { address: '198.19.20.5', port_value: 8012 } } },
          health_status: 'HEALTHY',
          load_balancing_weight: 1,
        },
      ],
    },
  ],
  policy: { overprovisioning_factor: 140 },
};

export const sampleSecret = {
  name: 'default/hello-tls',
  tls_certificate: {
    certificate_chain: {
      inline_bytes: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n').toString('base64'),
    },
    private_key: { inline_string: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n' },
  },
};

// Small builders for tests and benchmarks ------------------------------------------------------

/** A plain-HTTP listener whose connection manager takes routes `routeName` over ADS. */
export function httpListener(name: string, port: number, routeName = name): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': url(
                'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              ),
              stat_prefix: name,
              rds: { config_source: ADS, route_config_name: routeName },
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': url('envoy.extensions.filters.http.router.v3.Router') },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** A route configuration with one virtual host per cluster, `<cluster>.example.com` → cluster. */
export function routeTo(name: string, clusters: string[]): Record<string, unknown> {
  return {
    name,
    virtual_hosts: clusters.map((c) => ({
      name: c,
      domains: [`${c}.example.com`],
      routes: [{ match: { prefix: '/' }, route: { cluster: c, timeout: '0s' } }],
    })),
  };
}

/** An EDS cluster over ADS (its ClusterLoadAssignment has the cluster's name). */
export function edsCluster(name: string, connectTimeout = '5s'): Record<string, unknown> {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: ADS }, connect_timeout: connectTimeout };
}

/** A STATIC cluster with its endpoints inline. */
export function staticCluster(name: string, ip = '198.19.0.1'): Record<string, unknown> {
  return { name, type: 'STATIC', connect_timeout: '1s', load_assignment: loadAssignment(name, ip) };
}

export function loadAssignment(cluster: string, ip: string, port = 8080): Record<string, unknown> {
  return {
    cluster_name: cluster,
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: ip, port_value: port } } } }] },
    ],
  };
}

export function tlsSecret(name: string, certificate: string): Record<string, unknown> {
  return {
    name,
    tls_certificate: {
      certificate_chain: { inline_string: certificate },
      private_key: { inline_string: `key for ${certificate}` },
    },
  };
}

/** Map from resource name to resource, for setSnapshot. */
export function byName(resources: Record<string, unknown>[]): Map<string, Record<string, unknown>> {
  return new Map(
    resources.map((r) => {
      const name = r.name ?? r.cluster_name;
      if (typeof name !== 'string') throw new Error('resource without a name');
      return [name, r];
    }),
  );
}
