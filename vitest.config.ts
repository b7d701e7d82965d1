import { defineConfig } from 'vitest/config';

// `npm test`: unit tests of the domain, the mock's own HTTP tests, the conformance suite
// against the in-process mock, and the meta tests that prove the suite catches broken
// servers. The JSON report feeds .ci/run's closing line.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'reports/vitest.json' },
  },
});
