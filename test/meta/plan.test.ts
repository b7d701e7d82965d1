import { expect, it } from 'vitest';
import { runSuite } from './run-suite.js';

it('the dry run plans against a target without contacting it, naming what would be skipped and why', async () => {
  // Port 1 on loopback: nothing listens there, so any contact would fail a test.
  const { stdout, report } = await runSuite({ FGW_DRY_RUN: '1', FGW_BASE_URL: 'http://127.0.0.1:1', FGW_API_KEY: 'k', FGW_MODEL_SLUG: 'org/model' });
  expect(report.numFailedTests).toBe(0);
  expect(report.numPassedTests).toBe(0);
  expect(report.numPendingTests).toBe(report.numTotalTests);
  expect(report.numTotalTests).toBeGreaterThan(90);
  expect(stdout).toContain('would skip: needs a view-scope key (FGW_VIEW_KEY)');
  expect(stdout).toContain('would skip: needs a test clock');
  expect(stdout).toMatch(/a chat completion succeeds with a consistent usage block: would run/);
}, 120_000);
