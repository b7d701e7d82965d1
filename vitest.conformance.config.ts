import { randomBytes } from 'node:crypto';
import { defineConfig } from 'vitest/config';

// `npm run conformance`: only the conformance suite, against the in-process mock by
// default or against FGW_BASE_URL. Writes a summary grouped by rule to the terminal and
// JUnit XML and JSON reports under reports/.
const runId = (process.env.FGW_RUN_ID ??= `fgwct-${randomBytes(4).toString('hex')}`);
const remote = Boolean(process.env.FGW_BASE_URL);

export default defineConfig({
  test: {
    include: ['test/conformance/**/*.test.ts'],
    env: { FGW_RUN_ID: runId },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // A shared remote target has one clock and one set of counters: one file at a time.
    fileParallelism: !remote,
    globalSetup: ['test/conformance/support/global-setup.ts'],
    reporters: ['./test/conformance/support/summary-reporter.ts', 'junit', 'json'],
    outputFile: { junit: 'reports/conformance.junit.xml', json: 'reports/conformance.json' },
  },
});
