// Resolves a KIngress split (namespace, service, port) into an upstream cluster description.
// ClusterIP and selector-less Services are reached through EDS from their EndpointSlices;
// ExternalName Services are judged by the gateway's policy (external-names.ts): those naming an
// in-cluster Service it allows are resolved to that Service's slices (no DNS needed), allowed names
// outside the cluster become DNS clusters, everything else is refused with a reason.
import { H2C_APP_PROTOCOL, type Service, type ServicePort } from '../api/core.ts';
import {
  MAX_HOPS,
  REASON_NOT_ALLOWED,
  REASON_REFUSED,
  STRICT_POLICY,
  classifyHost,
  externalProblem,
  serviceAllowed,
} from './external-names.ts';
import type { ClusterIR, TranslateProblem } from './ir.ts';
import type { Lookups } from './lookups.ts';

export type BackendResult =
  { ok: true; cluster: ClusterIR; services: string[] } | { ok: false; problem: TranslateProblem };

function isH2c(port: ServicePort | undefined): boolean {
  if (!port) return false;
  return port.name === 'http2' || port.name === 'h2c' || port.appProtocol === H2C_APP_PROTOCOL;
}

/** The Service's ports that are objects with an integer port (a cached Service may be any JSON). */
function portsOf(svc: Service): ServicePort[] {
  const ports: unknown = svc.spec?.ports;
  if (!Array.isArray(ports)) return [];
  return ports.filter(
    (p: unknown): p is ServicePort =>
      typeof p === 'object' && p !== null && Number.isInteger((p as ServicePort).port),
  );
}

function findPort(svc: Service, want: number | string): ServicePort | undefined {
  return portsOf(svc).find((p) => (typeof want === 'number' ? p.port === want : p.name === want));
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
        name: typeof port.name === 'string' ? port.name : '',
        targetPort:
          typeof port.targetPort === 'number' ? port.targetPort : port.targetPort ? undefined : port.port,
      },
    },
  };
}

/** `<ns>/<name>`. */
function keyOf(svc: Service): string {
  return `${svc.metadata.namespace ?? ''}/${svc.metadata.name}`;
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
  if (svc.spec?.type === 'ExternalName')
    return resolveExternalName(lookups, namespace, svc, servicePort, port);
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

/**
 * An ExternalName Service: followed through the Service cache while it names in-cluster Services
 * the policy lets this namespace reach (external-names.ts), then an EDS cluster of the Service
 * reached, or a DNS cluster for an allowed name outside the cluster. The cluster keeps the first
 * Service's name, so routes do not change when the chain behind it does.
 */
function resolveExternalName(
  lookups: Lookups,
  namespace: string,
  first: Service,
  servicePort: number | string,
  port: ServicePort | undefined,
): BackendResult {
  const firstKey = keyOf(first);
  const portNumber = port?.port ?? (typeof servicePort === 'number' ? servicePort : undefined);
  if (portNumber === undefined) {
    return {
      ok: false,
      problem: { reason: 'PortNotFound', message: `Service ${firstKey} has no port named "${servicePort}"` },
    };
  }
  const policy = lookups.externalNames ?? STRICT_POLICY;
  const name = `${firstKey}:${portNumber}`;
  const services = [firstKey];
  let http2 = isH2c(port);
  let cur = first;
  for (let hop = 0; cur.spec?.type === 'ExternalName'; hop++) {
    const curKey = keyOf(cur);
    const raw = typeof cur.spec.externalName === 'string' ? cur.spec.externalName : '';
    const fail = (reason: string, why: string): BackendResult => ({
      ok: false,
      problem: {
        reason,
        message:
          `Service ${curKey} is an ExternalName for "${raw}"${curKey === firstKey ? '' : ` (reached from ${firstKey})`}` +
          `, which kgw does not route to: ${why}`,
      },
    });
    if (hop >= MAX_HOPS) return fail(REASON_REFUSED, `more than ${MAX_HOPS} ExternalName Services in a row`);
    const target = classifyHost(raw, lookups.clusterDomain);
    if (target.kind === 'refused') return fail(REASON_REFUSED, target.why);
    if (target.kind === 'external') {
      const problem = externalProblem(policy, target.host, portNumber);
      if (problem) return fail(problem.reason, problem.why);
      return {
        ok: true,
        cluster: { name, kind: 'dns', http2, dnsHost: target.host, dnsPort: portNumber },
        services,
      };
    }
    if (!serviceAllowed(policy, namespace, target)) {
      return fail(
        REASON_NOT_ALLOWED,
        `it points into namespace ${target.namespace}; an ExternalName may reach Services of its own namespace, ` +
          "the gateway's fleets, and namespaces listed in the KnativeGateway's spec.externalNames.allowedNamespaces",
      );
    }
    const next = lookups.service(target.namespace, target.name);
    if (!next) {
      return {
        ok: false,
        problem: {
          reason: 'ServiceNotFound',
          message: `Service ${curKey} points at ${target.namespace}/${target.name}, which does not exist`,
        },
      };
    }
    services.push(keyOf(next));
    cur = next;
  }
  const targetPort = findPort(cur, portNumber);
  if (!targetPort) {
    return {
      ok: false,
      problem: {
        reason: 'PortNotFound',
        message: `Service ${firstKey} points at ${keyOf(cur)}, which has no port ${portNumber}`,
      },
    };
  }
  http2 = http2 || isH2c(targetPort);
  return { ok: true, cluster: edsCluster(name, cur, targetPort, http2), services };
}
