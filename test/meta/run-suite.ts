import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Runs the conformance suite as a user would (`vitest run --config
 * vitest.conformance.config.ts`) in a child process with `env`, and returns its JSON
 * report and terminal output. A non-zero exit from failing tests is not an error here.
 */

const run = promisify(execFile);
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
const dir = mkdtempSync(join(tmpdir(), 'fgw-suite-'));
let n = 0;

/** The suite's target variables for a gateway at `url` that fronts a mock with its default keys. */
export const mockKeysEnv = (url: string): Record<string, string> => ({
  FGW_BASE_URL: url,
  FGW_API_KEY: 'mock-management-key',
  FGW_VIEW_KEY: 'mock-view-key',
  FGW_OTHER_WORKSPACE_KEY: 'mock-other-workspace-key',
  FGW_NOT_ONBOARDED_KEY: 'mock-not-onboarded-key',
});

/**
 * A registration key pair for the mock behind a gateway, and the suite's variables that
 * enable the endpoint and key-registration rules against it (an owned prefix, a target,
 * the private key's PEM file).
 */
export function registerSigning(): { publicKey: string; env: Record<string, string> } {
  const signing = generateKeyPairSync('ed25519');
  const privateKeyFile = join(dir, `register-${++n}.pem`);
  writeFileSync(privateKeyFile, signing.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  return {
    publicKey: signing.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64'),
    env: {
      FGW_ENDPOINT_PREFIX: 'your-org',
      FGW_ENDPOINT_TARGET: JSON.stringify({ provider: 'BASETEN', model_id: 'abc123' }),
      FGW_REGISTER_PRIVATE_KEY: privateKeyFile,
    },
  };
}

export interface SuiteRun {
  stdout: string;
  report: {
    numTotalTests: number;
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    testResults: { assertionResults: { title: string; status: string; meta?: { kind?: string; observations?: string[] } }[] }[];
  };
  /** Every observation the run reported (from the JSON report's meta.observations). */
  observations: string[];
  /** The summary's lines about failed rules, for assertion messages. */
  failures: string;
  /** Titles by status. */
  failed: string[];
  passed: string[];
  skipped: string[];
}

export async function runSuite(env: Record<string, string>, files: string[] = []): Promise<SuiteRun> {
  const reportFile = join(dir, `run-${++n}.json`);
  const args = [VITEST, 'run', '--config', 'vitest.conformance.config.ts', '--reporter=./test/conformance/support/summary-reporter.ts', '--reporter=json', `--outputFile.json=${reportFile}`, ...files];
  const stdout = await run(process.execPath, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 })
    .then((r) => r.stdout)
    .catch((e: { code?: number; stdout?: string }) => {
      if (e.code !== 1) throw e; // 1: tests failed, which is what some callers want to see
      return e.stdout ?? '';
    });
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as SuiteRun['report'];
  const all = report.testResults.flatMap((f) => f.assertionResults);
  const titles = (...statuses: string[]) => all.filter((a) => statuses.includes(a.status)).map((a) => a.title);
  const observations = all.flatMap((a) => a.meta?.observations ?? []);
  const lines = stdout.split('\n');
  const failures = lines.filter((l, i) => /^\s*✗ \[/.test(l) || (/^ {8}/.test(l) && !/^ {8}ℹ/.test(l) && lines.slice(0, i).reverse().find((x) => !/^ {8}/.test(x))?.includes('✗ ['))).join('\n');
  return { stdout, report, observations, failures, failed: titles('failed'), passed: titles('passed'), skipped: titles('skipped', 'pending') };
}
