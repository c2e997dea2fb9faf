// API-key credentials from Secrets (RoutePolicy apiKeyAuth.credentialsFrom): each Secret's data maps
// a client name to its key. Pure: the caller passes the Secrets' decoded data.
import { POLICY_LIMITS } from '../api/routepolicy.ts';

export interface Credential {
  client: string;
  key: string;
}

/** A Secret as this module reads it: absent, present without readable data yet, or its data. */
export type SecretData = { found: false } | { found: true; data: Readonly<Record<string, string>> };

export type CredentialsResult =
  | { ok: true; credentials: Credential[] }
  | { ok: false; reason: 'SecretNotFound' | 'InvalidSecret'; message: string };

const MAX_KEY_BYTES = 1024;
/** Printable ASCII without spaces: what fits a header value and a query parameter unchanged. */
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * The credentials of the named Secrets (in `namespace`), or the first reason they cannot be used:
 * a Secret missing, a key empty, with whitespace or control characters (a trailing newline from
 * `--from-file` is the usual one), longer than 1 KiB, one key for two clients, one client in two
 * Secrets, or more clients than a policy may have.
 */
export function readCredentials(
  namespace: string,
  secretNames: readonly string[],
  secret: (name: string) => SecretData,
): CredentialsResult {
  const out: Credential[] = [];
  const clientSecret = new Map<string, string>();
  const keyClient = new Map<string, string>();
  for (const name of secretNames) {
    const s = secret(name);
    if (!s.found) {
      return { ok: false, reason: 'SecretNotFound', message: `Secret ${namespace}/${name} not found` };
    }
    const where = `Secret ${namespace}/${name}`;
    for (const [client, key] of Object.entries(s.data).sort(([a], [b]) => a.localeCompare(b))) {
      const bad = (what: string): CredentialsResult => ({
        ok: false,
        reason: 'InvalidSecret',
        message: `${where}: the key of client ${client} ${what}`,
      });
      if (key === '') return bad('is empty');
      if (Buffer.byteLength(key) > MAX_KEY_BYTES) return bad(`is longer than ${MAX_KEY_BYTES} bytes`);
      if (!KEY_CHARS.test(key))
        return bad('has whitespace or control characters (a trailing newline from --from-file?)');
      const other = clientSecret.get(client);
      if (other !== undefined) {
        return {
          ok: false,
          reason: 'InvalidSecret',
          message: `client ${client} is in both Secret ${namespace}/${other} and ${namespace}/${name}`,
        };
      }
      const owner = keyClient.get(key);
      if (owner !== undefined) {
        return {
          ok: false,
          reason: 'InvalidSecret',
          message: `${where}: clients ${owner} and ${client} have the same key`,
        };
      }
      clientSecret.set(client, name);
      keyClient.set(key, client);
      out.push({ client, key });
    }
  }
  if (out.length > POLICY_LIMITS.credentials) {
    return {
      ok: false,
      reason: 'InvalidSecret',
      message: `${out.length} clients; a policy may have at most ${POLICY_LIMITS.credentials}`,
    };
  }
  return { ok: true, credentials: out };
}
