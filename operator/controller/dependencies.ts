// What each KIngress reads, so it is translated again when that changes: the Services and Secrets
// its spec names (`svc:<ns>/<name>`, `secret:<ns>/<name>`), the Services its translation
// followed (ExternalName chains), and the host and namespace facts the host rule used
// (`host:<h>`, `ns:<namespace>`). The index also tells the Secret cache which Secrets' data to
// keep: exactly those some KIngress or default certificate references.
import type { KIngress } from '../api/kingress.ts';
import type { IngressIR } from '../translate/ir.ts';

export const SECRET_REF = 'secret:';
export const SERVICE_REF = 'svc:';

/** The Secrets (`<ns>/<name>`) among refs. */
export function secretKeys(refs: Iterable<string>): string[] {
  const out: string[] = [];
  for (const r of refs) if (r.startsWith(SECRET_REF)) out.push(r.slice(SECRET_REF.length));
  return out;
}

/**
 * The Services and Secrets a KIngress names. Read from the raw spec, which may be any JSON, so
 * that a KIngress waiting for a missing Service or Secret still hears about it.
 */
export function specRefs(ing: KIngress, ir?: IngressIR): string[] {
  const ns = ing.metadata.namespace ?? '';
  const refs = new Set<string>();
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const field = (v: unknown, k: string): unknown =>
    typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  const name = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const spec: unknown = ing.spec;
  for (const r of list(field(spec, 'rules')))
    for (const p of list(field(field(r, 'http'), 'paths')))
      for (const s of list(field(p, 'splits'))) {
        const svc = name(field(s, 'serviceName'));
        if (svc) refs.add(`${SERVICE_REF}${ns}/${svc}`);
      }
  for (const t of list(field(spec, 'tls'))) {
    const secret = name(field(t, 'secretName'));
    if (secret) refs.add(`${SECRET_REF}${ns}/${secret}`);
  }
  for (const s of ir?.services ?? []) refs.add(`${SERVICE_REF}${s}`);
  return [...refs];
}

export class DependencyIndex {
  /** ref → KIngress keys that read it. */
  private readonly users = new Map<string, Set<string>>();
  private readonly refsOf = new Map<string, string[]>();
  /** Called with Secrets newly referenced, and when some stopped being referenced. */
  private readonly secretsChanged: (added: string[], dropped: boolean) => void;

  constructor(secretsChanged: (added: string[], dropped: boolean) => void) {
    this.secretsChanged = secretsChanged;
  }

  /** Replaces what the KIngress `key` reads. */
  set(key: string, refs: string[]): void {
    const dropped: string[] = [];
    for (const r of this.refsOf.get(key) ?? []) {
      const set = this.users.get(r);
      set?.delete(key);
      if (set?.size === 0) {
        this.users.delete(r);
        if (r.startsWith(SECRET_REF)) dropped.push(r);
      }
    }
    if (refs.length > 0) this.refsOf.set(key, refs);
    else this.refsOf.delete(key);
    const added: string[] = [];
    for (const r of refs) {
      const set = this.users.get(r) ?? new Set<string>();
      if (set.size === 0 && r.startsWith(SECRET_REF)) added.push(r.slice(SECRET_REF.length));
      set.add(key);
      this.users.set(r, set);
    }
    const reallyDropped = dropped.some((r) => !this.users.has(r));
    if (added.length > 0 || reallyDropped) this.secretsChanged(added, reallyDropped);
  }

  /** KIngresses that read `ref`. */
  usersOf(ref: string): ReadonlySet<string> {
    return this.users.get(ref) ?? new Set();
  }

  has(ref: string): boolean {
    return this.users.has(ref);
  }

  /** Every Secret (`<ns>/<name>`) some KIngress references. */
  referencedSecrets(): string[] {
    return secretKeys(this.users.keys());
  }
}
