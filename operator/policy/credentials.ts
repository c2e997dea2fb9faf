// Credentials from Secrets: API keys (RoutePolicy apiKeyAuth.credentialsFrom, each Secret's data maps
// a client name to its key) and basic-auth users (basicAuth.credentialsFrom, a user name to its
// password). Pure: the caller passes the Secrets' decoded data.
import { createHash } from 'node:crypto';
import { POLICY_LIMITS } from '../api/routepolicy.ts';
import { byCodePoint } from '../order.ts';

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
    for (const [client, key] of Object.entries(s.data).sort(([a], [b]) => byCodePoint(a, b))) {
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

export interface BasicAuthUser {
  user: string;
  /** base64 of the password's SHA-1: what Envoy's basic_auth takes after `{SHA}`. */
  sha1: string;
}

export type BasicAuthUsersResult =
  | { ok: true; users: BasicAuthUser[] }
  | { ok: false; reason: 'SecretNotFound' | 'InvalidSecret'; message: string };

const MAX_PASSWORD_BYTES = 1024;
/** Secret keys (Kubernetes refuses others): never a `:` or a line break in Envoy's htpasswd lines. */
const USER_CHARS = /^[-._a-zA-Z0-9]+$/;
/** Control characters (C0, DEL, C1): a trailing newline from `--from-file` is the usual one. */
const CONTROL_CHARS = /\p{Cc}/u;

/** `{SHA}` htpasswd hash of a password: base64 of its (UTF-8) SHA-1, unsalted, as Envoy checks it. */
export const sha1Base64 = (password: string): string =>
  createHash('sha1').update(password, 'utf8').digest('base64');

/**
 * The basic-auth users of the named Secrets (in `namespace`), sorted by name, each with the hash of
 * its password (the password itself is not kept), or the first reason they cannot be used: a Secret
 * missing, a password empty, with control characters or longer than 1 KiB, a user name that is no
 * Secret key, one user in two Secrets, or more users than a policy may have. Users may share a
 * password (unlike API keys, the password does not say who is calling).
 */
export function readBasicAuthUsers(
  namespace: string,
  secretNames: readonly string[],
  secret: (name: string) => SecretData,
): BasicAuthUsersResult {
  const out: BasicAuthUser[] = [];
  const userSecret = new Map<string, string>();
  for (const name of secretNames) {
    const s = secret(name);
    if (!s.found) {
      return { ok: false, reason: 'SecretNotFound', message: `Secret ${namespace}/${name} not found` };
    }
    const where = `Secret ${namespace}/${name}`;
    for (const [user, password] of Object.entries(s.data).sort(([a], [b]) => byCodePoint(a, b))) {
      const bad = (what: string): BasicAuthUsersResult => ({
        ok: false,
        reason: 'InvalidSecret',
        message: `${where}: ${what}`,
      });
      if (!USER_CHARS.test(user)) return bad(`user name ${JSON.stringify(user)} is not a Secret key`);
      if (password === '') return bad(`the password of user ${user} is empty`);
      if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
        return bad(`the password of user ${user} is longer than ${MAX_PASSWORD_BYTES} bytes`);
      if (CONTROL_CHARS.test(password))
        return bad(
          `the password of user ${user} has control characters (a trailing newline from --from-file?)`,
        );
      const other = userSecret.get(user);
      if (other !== undefined) {
        return {
          ok: false,
          reason: 'InvalidSecret',
          message: `user ${user} is in both Secret ${namespace}/${other} and ${namespace}/${name}`,
        };
      }
      userSecret.set(user, name);
      out.push({ user, sha1: sha1Base64(password) });
    }
  }
  if (out.length > POLICY_LIMITS.credentials) {
    return {
      ok: false,
      reason: 'InvalidSecret',
      message: `${out.length} users; a policy may have at most ${POLICY_LIMITS.credentials}`,
    };
  }
  out.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
  return { ok: true, users: out };
}
