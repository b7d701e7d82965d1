import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { packageAliases } from './test/conformance/support/package-aliases.js';

// The conformance suite alone, against the in-process mock by default or against
// FGW_BASE_URL: `npm run conformance` here, `frontier-gateway-mock conformance` from an
// installed package (which ships this file and test/conformance/, and runs it with the
// package as root). Writes a summary grouped by rule to the terminal, and JUnit, JSON
// (with the coverage figure) and HTML reports to FGW_REPORTS_DIR (default reports/).
const root = dirname(fileURLToPath(import.meta.url));
const runId = (process.env.FGW_RUN_ID ??= `fgwct-${randomBytes(4).toString('hex')}`);
const remote = Boolean(process.env.FGW_BASE_URL);
const reports = process.env.FGW_REPORTS_DIR || 'reports';

export default defineConfig({
  resolve: { alias: packageAliases(root) },
  test: {
    root,
    include: ['test/conformance/**/*.test.ts'],
    // An installed package lives under node_modules/, which vitest leaves out by default.
    exclude: [],
    env: { FGW_RUN_ID: runId },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // A shared remote target has one clock and one set of counters: one file at a time.
    fileParallelism: !remote,
    globalSetup: [join(root, 'test/conformance/support/global-setup.ts')],
    reporters: [
      join(root, 'test/conformance/support/summary-reporter.ts'),
      ['junit', { outputFile: join(reports, 'conformance.junit.xml') }],
      [join(root, 'test/conformance/support/json-reporter.ts'), { outputFile: join(reports, 'conformance.json') }],
      [join(root, 'test/conformance/support/html-reporter.ts'), { outputFile: join(reports, 'conformance.html') }],
    ],
  },
});
