// The Knative probe hash: SHA-256 over Go-JSON(spec) + namespace + name, lowercase hex.
import { createHash } from 'node:crypto';
import type { IngressSpec } from '../api/kingress.ts';
import { goJsonIngressSpec } from './go-json.ts';

export function ingressHash(spec: IngressSpec, namespace: string, name: string): string {
  return createHash('sha256').update(goJsonIngressSpec(spec)).update(namespace).update(name).digest('hex');
}
