import { createHash } from 'node:crypto';
import { readBasicAuthUsers, readCredentials, sha1Base64, type SecretData } from './credentials.ts';

const secrets =
  (m: Record<string, Record<string, string>>) =>
  (n: string): SecretData =>
    m[n] ? { found: true, data: m[n] } : { found: false };

test('credentials from several Secrets, clients sorted within each', () => {
  expect(readCredentials('ns', ['a', 'b'], secrets({ a: { z: 'k1', y: 'k2' }, b: { x: 'k3' } }))).toEqual({
    ok: true,
    credentials: [
      { client: 'y', key: 'k2' },
      { client: 'z', key: 'k1' },
      { client: 'x', key: 'k3' },
    ],
  });
});

test.each([
  [{ a: { c: '' } }, 'Secret ns/a: the key of client c is empty'],
  [
    { a: { c: 'key\n' } },
    'Secret ns/a: the key of client c has whitespace or control characters (a trailing newline from --from-file?)',
  ],
  [{ a: { c: 'x'.repeat(1025) } }, 'Secret ns/a: the key of client c is longer than 1024 bytes'],
  [{ a: { c: 'k' }, b: { c: 'j' } }, 'client c is in both Secret ns/a and ns/b'],
  [{ a: { c: 'k' }, b: { d: 'k' } }, 'Secret ns/b: clients c and d have the same key'],
])('refused: %j', (data, message) => {
  expect(
    readCredentials(
      'ns',
      ['a', 'b'].filter((n) => n in data),
      secrets(data),
    ),
  ).toEqual({
    ok: false,
    reason: 'InvalidSecret',
    message,
  });
});

test('a missing Secret', () => {
  expect(readCredentials('ns', ['a'], secrets({}))).toEqual({
    ok: false,
    reason: 'SecretNotFound',
    message: 'Secret ns/a not found',
  });
});

test('more clients than a policy may have', () => {
  const data = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`c${i}`, `k${i}`]));
  const r = readCredentials('ns', ['a'], secrets({ a: data }));
  expect(r).toEqual({
    ok: false,
    reason: 'InvalidSecret',
    message: '1001 clients; a policy may have at most 1000',
  });
});

describe('basic-auth users', () => {
  test('from several Secrets, sorted by user, each password only as base64 of its SHA-1', () => {
    expect(
      readBasicAuthUsers(
        'ns',
        ['a', 'b'],
        secrets({ a: { zoe: 'alice-secret', bob: 'bob-secret' }, b: { alice: 'alice-secret' } }),
      ),
    ).toEqual({
      ok: true,
      users: [
        { user: 'alice', sha1: 'KusvaLb24DJ0ziPMVrqjntyCRkM=' },
        { user: 'bob', sha1: 'Md7yGSbrVBY29morDdFNHvcmrxg=' },
        { user: 'zoe', sha1: 'KusvaLb24DJ0ziPMVrqjntyCRkM=' },
      ],
    });
  });

  test('sha1Base64 is what htpasswd -s writes after {SHA} (UTF-8 passwords, spaces allowed)', () => {
    expect(sha1Base64('password')).toBe('W6ph5Mm5Pz8GgiULbPgzG37mj9g=');
    const utf8 = Buffer.from('p\u00e4ss w\u00f6rd', 'utf8');
    expect(sha1Base64('p\u00e4ss w\u00f6rd')).toBe(createHash('sha1').update(utf8).digest('base64'));
  });

  test.each([
    [{ a: { u: '' } }, 'Secret ns/a: the password of user u is empty'],
    [
      { a: { u: 'pw\n' } },
      'Secret ns/a: the password of user u has control characters (a trailing newline from --from-file?)',
    ],
    [
      { a: { u: 'p\tw' } },
      'Secret ns/a: the password of user u has control characters (a trailing newline from --from-file?)',
    ],
    [{ a: { u: 'x'.repeat(1025) } }, 'Secret ns/a: the password of user u is longer than 1024 bytes'],
    [{ a: { 'u:x': 'pw' } }, 'Secret ns/a: user name "u:x" is not a Secret key'],
    [{ a: { u: 'pw' }, b: { u: 'pw2' } }, 'user u is in both Secret ns/a and ns/b'],
  ])('refused: %j', (data, message) => {
    expect(
      readBasicAuthUsers(
        'ns',
        ['a', 'b'].filter((n) => n in data),
        secrets(data),
      ),
    ).toEqual({ ok: false, reason: 'InvalidSecret', message });
  });

  test('a missing Secret; more users than a policy may have', () => {
    expect(readBasicAuthUsers('ns', ['a'], secrets({}))).toEqual({
      ok: false,
      reason: 'SecretNotFound',
      message: 'Secret ns/a not found',
    });
    const data = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`u${i}`, 'same']));
    expect(readBasicAuthUsers('ns', ['a'], secrets({ a: data }))).toEqual({
      ok: false,
      reason: 'InvalidSecret',
      message: '1001 users; a policy may have at most 1000',
    });
  });
});
