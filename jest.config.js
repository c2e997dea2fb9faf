// Two projects: fast unit/golden/protocol tests beside the code, and end-to-end tests in test/e2e
// that run against a real kube-apiserver, etcd and Envoy (started once per run by globalSetup).
// A third, the opt-in `cluster` tier (test/cluster: a real single-node Kubernetes cluster), exists
// only with KGW_CLUSTER_TESTS=1 (`npm run test:cluster` sets it), so `npm test` and
// `npm test -- <path>` never run it. (Jest's --selectProjects takes every following path as a
// project name, so it cannot be what keeps the tier out of `npm test -- <path>`.)
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } },
  ],
};
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
};
export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{operator,webhook,test/env,test/backends,bench}/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
    },
    ...(process.env.KGW_CLUSTER_TESTS === '1'
      ? [
          {
            ...common,
            displayName: 'cluster',
            testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
            globalSetup: '<rootDir>/test/cluster/global-setup.ts',
          },
        ]
      : []),
  ],
  testTimeout: 120000,
  maxWorkers: 2,
};
