// Resolves a KIngress split (namespace, service, port) into an upstream cluster description.
// ClusterIP and selector-less Services are reached through EDS from their EndpointSlices;
// ExternalName Services that name an in-cluster Service are resolved to that Service's slices
// (no DNS needed); other ExternalNames become DNS clusters.
import { H2C_APP_PROTOCOL, type Service, type ServicePort } from '../api/core.ts';
import type { ClusterIR, TranslateProblem } from './ir.ts';
import type { Lookups } from './lookups.ts';

export type BackendResult =
  { ok: true; cluster: ClusterIR; services: string[] } | { ok: false; problem: TranslateProblem };

function isH2c(port: ServicePort | undefined): boolean {
  if (!port) return false;
  return port.name === 'http2' || port.name === 'h2c' || port.appProtocol === H2C_APP_PROTOCOL;
}

function findPort(svc: Service, want: number | string): ServicePort | undefined {
  return (svc.spec?.ports ?? []).find((p) => (typeof want === 'number' ? p.port === want : p.name === want));
}

/** `name.ns.svc.<domain>`, `name.ns.svc` or `name.ns` → the in-cluster Service it names. */
export function parseClusterHost(
  host: string,
  clusterDomain: string,
): { namespace: string; name: string } | undefined {
  const h = host.replace(/\.$/, '').toLowerCase();
  for (const suffix of [`.svc.${clusterDomain}`, '.svc']) {
    if (h.endsWith(suffix)) {
      const parts = h.slice(0, -suffix.length).split('.');
      if (parts.length === 2 && parts[0] && parts[1]) return { name: parts[0], namespace: parts[1] };
      return undefined;
    }
  }
  return undefined;
}

function edsCluster(name: string, target: Service, port: ServicePort, http2: boolean): ClusterIR {
  return {
    name,
    kind: 'eds',
    http2,
    endpoints: {
      namespace: target.metadata.namespace ?? '',
      service: target.metadata.name,
      port: {
        name: port.name ?? '',
        targetPort:
          typeof port.targetPort === 'number' ? port.targetPort : port.targetPort ? undefined : port.port,
      },
    },
  };
}

export function resolveBackend(
  lookups: Lookups,
  namespace: string,
  serviceName: string,
  servicePort: number | string,
): BackendResult {
  const svc = lookups.service(namespace, serviceName);
  const svcKey = `${namespace}/${serviceName}`;
  if (!svc) {
    return { ok: false, problem: { reason: 'ServiceNotFound', message: `Service ${svcKey} does not exist` } };
  }
  const port = findPort(svc, servicePort);
  const portLabel = typeof servicePort === 'number' ? String(servicePort) : servicePort;

  if (svc.spec?.type === 'ExternalName') {
    const host = svc.spec.externalName ?? '';
    if (!host) {
      return {
        ok: false,
        problem: { reason: 'InvalidService', message: `ExternalName Service ${svcKey} has no externalName` },
      };
    }
    const portNumber = port?.port ?? (typeof servicePort === 'number' ? servicePort : undefined);
    if (portNumber === undefined) {
      return {
        ok: false,
        problem: { reason: 'PortNotFound', message: `Service ${svcKey} has no port named "${servicePort}"` },
      };
    }
    const http2 = isH2c(port);
    const name = `${svcKey}:${portNumber}`;
    const inCluster = parseClusterHost(host, lookups.clusterDomain);
    const target = inCluster && lookups.service(inCluster.namespace, inCluster.name);
    if (inCluster && !target) {
      return {
        ok: false,
        problem: {
          reason: 'ServiceNotFound',
          message: `Service ${svcKey} points at ${inCluster.namespace}/${inCluster.name}, which does not exist`,
        },
      };
    }
    if (inCluster && target && target.spec?.type !== 'ExternalName') {
      const targetPort = findPort(target, portNumber);
      if (!targetPort) {
        return {
          ok: false,
          problem: {
            reason: 'PortNotFound',
            message: `Service ${svcKey} points at ${inCluster.namespace}/${inCluster.name}, which has no port ${portNumber}`,
          },
        };
      }
      return {
        ok: true,
        cluster: edsCluster(name, target, targetPort, http2 || isH2c(targetPort)),
        services: [svcKey, `${inCluster.namespace}/${inCluster.name}`],
      };
    }
    return {
      ok: true,
      cluster: { name, kind: 'dns', http2, dnsHost: host, dnsPort: portNumber },
      services: [svcKey],
    };
  }

  if (!port) {
    return {
      ok: false,
      problem: { reason: 'PortNotFound', message: `Service ${svcKey} has no port ${portLabel}` },
    };
  }
  return {
    ok: true,
    cluster: edsCluster(`${svcKey}:${port.port}`, svc, port, isH2c(port)),
    services: [svcKey],
  };
}
