import { credentialSecrets } from './route-policies.ts';

test("the Secrets a policy reads: apiKeyAuth's and basicAuth's credentialsFrom, in its namespace", () => {
  expect(
    credentialSecrets({
      metadata: { namespace: 'team-a' },
      spec: {
        apiKeyAuth: { credentialsFrom: [{ secretRef: { name: 'keys' } }, { secretRef: { name: 'shared' } }] },
        basicAuth: { credentialsFrom: [{ secretRef: { name: 'users' } }, { secretRef: { name: 'shared' } }] },
      },
    }),
  ).toEqual(['team-a/keys', 'team-a/shared', 'team-a/users']);
  expect(
    credentialSecrets({
      metadata: { namespace: 'team-a' },
      spec: { basicAuth: { credentialsFrom: [{ secretRef: { name: 'users' } }] } },
    }),
  ).toEqual(['team-a/users']);
});

test('any JSON: what is no Secret name is skipped', () => {
  expect(credentialSecrets({ metadata: {}, spec: undefined })).toEqual([]);
  expect(
    credentialSecrets({
      metadata: { namespace: 'n' },
      spec: { basicAuth: { credentialsFrom: [{}, { secretRef: { name: 7 } }, { secretRef: { name: '' } }] } },
    }),
  ).toEqual([]);
  expect(
    credentialSecrets({ metadata: { namespace: 'n' }, spec: { basicAuth: { credentialsFrom: 'x' } } }),
  ).toEqual([]);
});
