// BackendData over the Lookups: turns EndpointSlices and TLS Secrets into the plain data render
// serves (endpoints, decoded and checked certificates), so render never reads a Kubernetes object.
// A Secret's certificate is checked once per Secret object (the informer cache replaces the object
// on every change), so an unchanged Secret returns the same CertificateIR object.
import type { Secret } from '../api/core.ts';
import { endpointAddresses } from './endpoint-addresses.ts';
import type { BackendData, CertificateIR } from './ir.ts';
import type { Lookups } from './lookups.ts';
import { tlsCertificate } from './tls-secret.ts';

export function backendData(lookups: Pick<Lookups, 'secret' | 'endpointSlices'>): BackendData {
  const checked = new WeakMap<Secret, CertificateIR>();
  return {
    endpoints(c) {
      if (c.kind !== 'eds' || !c.endpoints) return [];
      return endpointAddresses(lookups.endpointSlices(c.endpoints.namespace, c.endpoints.service), c);
    },
    certificate(key) {
      const [ns = '', name = ''] = key.split('/');
      const secret = lookups.secret(ns, name);
      if (!secret) return tlsCertificate(key, undefined);
      let c = checked.get(secret);
      if (!c) {
        c = tlsCertificate(key, secret);
        checked.set(secret, c);
      }
      return c;
    },
  };
}
