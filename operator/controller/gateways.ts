// KnativeGateway object → the engine's GatewayConfig: defaults applied, fleets expanded into
// FleetDefs (Service name, xDS node cluster). Invalid specs yield undefined and are logged.
import type { FleetDef } from '../fleets/runtime.ts';
import { gatewayExternalNamePolicy, type ExternalNamePolicy } from '../translate/external-names.ts';
import { gatewayHostPolicy, type HostPolicy } from '../translate/host-ownership.ts';
import {
  fleetServiceName,
  fleetXdsCluster,
  validateGatewaySpec,
  withGatewayDefaults,
  type KnativeGateway,
} from '../api/knativegateway.ts';
import type { KubeObject } from '../kube/reflector.ts';
import { adminPolicyIR, type AdminPolicyIR } from '../policy/admin.ts';
import type { Logger } from '../log.ts';
import { defaultCertificateName } from './default-certificate.ts';

/** A served KnativeGateway as the engine uses it: defaults applied, fleets expanded. */
export interface GatewayConfig {
  name: string;
  ingressClass: string;
  clusterDomain: string;
  /** Where the ExternalName Services of its KIngresses may lead. */
  externalNames: ExternalNamePolicy;
  /** Who may serve which host: its domains, domain template and claim rules. */
  hostPolicy?: HostPolicy;
  /** spec.policy: defaults, the rate ceiling and domain rules for RoutePolicy features; absent: none. */
  adminPolicy?: AdminPolicyIR;
  fleets: FleetDef[];
  /** The fallback certificate's Secret (`<ns>/<name>`) and the fleets serving it. */
  defaultCertificate?: { secret: string; fleets: string[] };
}

export function gatewayConfig(obj: KubeObject, log: Logger): GatewayConfig | undefined {
  const gw = obj as unknown as KnativeGateway;
  const errors = validateGatewaySpec(gw.spec);
  if (errors.length > 0) {
    log.warn({ gateway: gw.metadata.name, errors }, 'KnativeGateway is invalid; ignoring it');
    return undefined;
  }
  const spec = withGatewayDefaults(gw.spec);
  const name = gw.metadata.name;
  const adminPolicy = adminPolicyIR(name, spec.policy);
  return {
    name: gw.metadata.name,
    ingressClass: spec.ingressClass,
    clusterDomain: spec.clusterDomain,
    fleets: spec.fleets.map((f) => ({
      key: fleetXdsCluster(gw.metadata.name, f.name),
      gateway: gw.metadata.name,
      name: f.name,
      visibility: f.visibility,
      replicas: f.replicas,
      ports: f.ports,
      service: f.service,
      namespace: spec.namespace,
      serviceName: fleetServiceName(gw.metadata.name, f.name),
      accessLog: f.accessLog ? f.accessLogFormat : false,
      http: f.http,
      clientIP: f.clientIP,
      maxHeapMiB: f.envoy.maxHeapMiB,
      metrics: { ...f.metrics },
      ...(f.tracing ? { tracing: f.tracing } : {}),
      rateLimitSharing: f.rateLimitSharing,
      ...(f.globalRateLimit ? { globalRateLimit: f.globalRateLimit } : {}),
    })),
    externalNames: gatewayExternalNamePolicy(name, spec),
    hostPolicy: gatewayHostPolicy(name, spec),
    ...(adminPolicy ? { adminPolicy } : {}),
    ...(spec.tls.defaultCertificate
      ? {
          defaultCertificate: {
            secret: `${spec.namespace}/${defaultCertificateName(gw.metadata.name)}`,
            fleets: spec.tls.defaultCertificate.fleets,
          },
        }
      : {}),
  };
}
