import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { packageAliases } from './test/conformance/support/package-aliases.js';

// `npm test`: unit tests of the domain, the mock's own HTTP tests, the conformance suite
// against the in-process mock, and the meta tests that prove the suite catches broken
// servers. The JSON report feeds .ci/run's closing line.
export default defineConfig({
  // The conformance suite imports the package by name (see the helper).
  resolve: { alias: packageAliases(dirname(fileURLToPath(import.meta.url))) },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Both cores: vitest's default is one worker fewer than the cores (one, on the 2-core
    // machines this runs on), while the meta tests' child suites spend much of their time
    // waiting on their gateways.
    maxWorkers: 2,
    hookTimeout: 30_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'reports/vitest.json' },
  },
});
