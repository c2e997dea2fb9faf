import { readCredentials, type SecretData } from './credentials.ts';

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
