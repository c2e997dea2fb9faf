// Minimal shapes of the core Kubernetes objects kgw reads (Service, EndpointSlice, Secret), as
// stored by the API server. Only the fields kgw uses are declared.
import type { ObjectMeta } from './kingress.ts';

export interface ServicePort {
  name?: string;
  protocol?: string;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
  nodePort?: number;
}

export interface Service {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    type?: string;
    externalName?: string;
    clusterIP?: string;
    selector?: Record<string, string>;
    ports?: ServicePort[];
  };
}

export interface EndpointSlice {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  addressType: string;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
    nodeName?: string;
  }[];
  ports?: { name?: string; port?: number; protocol?: string; appProtocol?: string }[];
}

export interface Secret {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  type?: string;
  /** base64-encoded values, as served by the API server */
  data?: Record<string, string>;
}

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';

/** A Secret's `data` as strings (the API server serves it base64-encoded). */
export function decodeSecretData(data: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

/** Strings as a Secret's `data` (base64-encoded). */
export function encodeSecretData(values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

export function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}
