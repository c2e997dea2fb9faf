// The xDS CA lives in a Secret (`kgw-xds-ca` in the operator's namespace) so every operator
// replica issues server and client certificates from the same CA, and a restart keeps it (Envoys
// keep trusting the server). The first replica creates it; a lost create race re-reads the
// winner's. A Secret of that name kgw did not create is used as it is when it holds a valid CA
// (an admin bringing their own) and is never overwritten; an invalid one is an error naming it.
import { LABEL_MANAGED_BY, MANAGED_BY_KGW } from '../api/knativegateway.ts';
import { decodeSecretData } from '../api/core.ts';
import { createKgwSecret } from '../kube/kgw-secret.ts';
import { getIfExists, type KubeRest } from '../kube/rest.ts';
import type { Logger } from '../log.ts';
import { createCa, type CertificateAuthority } from './ca.ts';
import { fromSecretData, toSecretData } from './xds-tls.ts';

interface SecretObject {
  metadata?: { labels?: Record<string, string> };
  data?: Record<string, string>;
}

export interface XdsCaSecretOptions {
  rest: Pick<KubeRest, 'request'>;
  namespace: string;
  name: string;
  log: Logger;
  /** Validity of a CA kgw creates (default 365 days). */
  validityDays?: number;
}

export async function loadOrCreateXdsCa(o: XdsCaSecretOptions): Promise<CertificateAuthority> {
  const path = `/api/v1/namespaces/${o.namespace}/secrets/${o.name}`;
  const ref = `Secret ${o.namespace}/${o.name}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await getIfExists<SecretObject>(o.rest, path);
    if (existing) {
      try {
        const ca = fromSecretData(decodeSecretData(existing.data));
        const ours = existing.metadata?.labels?.[LABEL_MANAGED_BY] === MANAGED_BY_KGW;
        o.log.info({ namespace: o.namespace, name: o.name, managedByKgw: ours }, 'xDS CA loaded');
        return ca;
      } catch (err) {
        throw new Error(
          `${ref} does not hold a usable xDS CA (${err instanceof Error ? err.message : String(err)}); ` +
            `kgw does not overwrite it: fix or delete it`,
        );
      }
    }
    const ca = await createCa({ commonName: 'kgw xDS CA', validityDays: o.validityDays ?? 365 });
    if (await createKgwSecret(o.rest, o.namespace, o.name, toSecretData(ca))) {
      o.log.info({ namespace: o.namespace, name: o.name }, 'xDS CA created');
      return ca;
    }
    // another replica created it first: read theirs
  }
  throw new Error(`${ref}: could not create or read the xDS CA`);
}
