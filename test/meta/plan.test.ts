import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

it('the dry run plans against a target without contacting it, naming what would be skipped and why', async () => {
  const report = join(mkdtempSync(join(tmpdir(), 'fgw-plan-')), 'plan.json');
  // Port 1 on loopback: nothing listens there, so any contact would fail a test.
  const { stdout } = await run(process.execPath, [VITEST, 'run', '--config', 'vitest.conformance.config.ts', '--reporter=./test/conformance/support/summary-reporter.ts', '--reporter=json', `--outputFile.json=${report}`], {
    env: { ...process.env, FGW_DRY_RUN: '1', FGW_BASE_URL: 'http://127.0.0.1:1', FGW_API_KEY: 'k', FGW_MODEL_SLUG: 'org/model' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const json = JSON.parse(readFileSync(report, 'utf8')) as { numFailedTests: number; numPassedTests: number; numPendingTests: number; numTotalTests: number };
  expect(json.numFailedTests).toBe(0);
  expect(json.numPassedTests).toBe(0);
  expect(json.numPendingTests).toBe(json.numTotalTests);
  expect(json.numTotalTests).toBeGreaterThan(90);
  expect(stdout).toContain('would skip: needs a view-scope key (FGW_VIEW_KEY)');
  expect(stdout).toContain('would skip: needs a test clock');
  expect(stdout).toMatch(/a chat completion succeeds with a consistent usage block: would run/);
}, 120_000);
