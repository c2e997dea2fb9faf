// Jest config for the test cluster's image test alone (opt-in, slow when cold: it builds the
// images): npm run test:images. Same transform as jest.config.js.
export default {
  rootDir: '../..',
  displayName: 'images',
  testMatch: ['<rootDir>/test/cluster/images.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } },
    ],
  },
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 120000,
  maxWorkers: 1,
};
