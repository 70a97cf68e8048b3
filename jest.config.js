/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // arktype (and arkregex, @ark/*) ship ES modules only: compiled to CommonJS for jest like our own code.
    '^.+/node_modules/(arktype|arkregex|@ark/[^/]+)/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(arktype|arkregex|@ark)/)'],
  testTimeout: 20000,
};
