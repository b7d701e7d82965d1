import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Comparison, ConformanceReport } from '../../src/conformance-report.js';
import { BREAKAGES, startBroken, type Breakage, type BrokenGateway } from './broken-proxy.js';
import { HONEST } from './honest-gateways.js';
import { mockKeysEnv } from './run-suite.js';

/**
 * `frontier-gateway-mock conformance` as a user runs it (the built CLI, dist/cli.js, in a
 * child process): reports with the coverage figure, a wrong URL stopped in one line,
 * --min-coverage, and --compare-with-mock against a gateway that differs from the mock.
 */

const CLI = join(process.cwd(), 'dist/cli.js');
const exec = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'fgw-conformance-cmd-'));
let n = 0;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  reports: string;
}

async function conformance(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const reports = join(scratch, `reports-${++n}`);
  // No FGW_* from this process: only what the test gives.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FGW_')));
  try {
    const r = await exec(process.execPath, [CLI, 'conformance', '--reports', reports, ...args], { cwd: scratch, env: { ...clean, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, reports };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    if (typeof err.code !== 'number') throw e;
    return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '', reports };
  }
}

const json = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;

const open: BrokenGateway[] = [];
afterAll(async () => {
  for (const g of open) await g.close();
});

describe('frontier-gateway-mock conformance', () => {
  it('against the in-process mock: the summary with its coverage figure, and JUnit, JSON and HTML reports', async () => {
    const out = await conformance(['lifecycle', 'keys']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/coverage: (\d+) of \1 documented rules exercised on this target \(100%\)/);
    const report = json<ConformanceReport>(join(out.reports, 'conformance.json'));
    // vitest's own fields stay, with the conformance ones beside them.
    expect((report as unknown as { numTotalTests: number }).numTotalTests).toBe(report.rules.length);
    expect(report.coverage.percent).toBe(100);
    expect(report.coverage.documented).toBe(report.rules.filter((r) => r.kind === 'documented').length);
    const seed = report.rules.find((r) => r.id === 'lifecycle/the-seed-quick-start-and-lifecycle-pages-play-out-as-documented');
    expect(seed).toMatchObject({ kind: 'documented', status: 'passed', source: expect.stringContaining('seed: Manage groups and API keys') });
    expect(seed?.operations).toEqual(expect.arrayContaining(['createGroup', 'getGroup', 'listGroups', 'createApiKey', 'revokeApiKey', 'deleteGroup']));
    const choice = report.rules.find((r) => r.kind === 'mock-choice');
    expect(choice?.source).toMatch(/^AMBIGUITIES\.md #\d+$/);
    // Every operation of the spec has a row; those no rule of these files reached say so.
    expect(report.operations.find((o) => o.operation === 'createGroup')?.status).toBe('exercised');
    expect(report.operations.find((o) => o.operation === 'listBillingEvents')?.status).toBe('not exercised');
    expect(readFileSync(join(out.reports, 'conformance.junit.xml'), 'utf8')).toContain('<testsuites');
    const html = readFileSync(join(out.reports, 'conformance.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(`coverage: ${report.coverage.exercised} of ${report.coverage.documented} documented rules exercised`);
    expect(html).toContain('lifecycle/the-seed-quick-start-and-lifecycle-pages-play-out-as-documented');
    // Self-contained: no script, no external asset.
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\/(?!127\.0\.0\.1)/i);
  }, 120_000);

  it('a wrong URL fails once, with one line and exit 2, before any test runs', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const out = await conformance(['--base-url', `http://127.0.0.1:${port}`, '--api-key', 'k']);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(`frontier-gateway-mock conformance: cannot reach http://127.0.0.1:${port}: connection refused (nothing listens at 127.0.0.1:${port}); check --base-url, or start the mock first\n`);
    expect(existsSync(out.reports)).toBe(false);
  });

  it('--min-coverage fails a run that exercised too few documented rules, saying why', async () => {
    const gw = await startBroken({});
    open.push(gw);
    // A live-mode run with no view, other-workspace or not-onboarded key skips the scope and tenancy rules.
    const out = await conformance(['--base-url', gw.url, '--api-key', 'mock-management-key', '--min-coverage', '95', 'auth']);
    expect(out.code, out.stdout + out.stderr).toBe(1);
    expect(out.stdout).toMatch(/0 failed, \d+ skipped/);
    expect(out.stderr).toMatch(/^frontier-gateway-mock conformance: coverage [\d.]+% is below --min-coverage 95% \(\d+ of \d+ documented rules exercised/m);
  }, 120_000);

  it('--compare-with-mock against a gateway that differs lists every difference, side by side', async () => {
    // No request id header (an honest difference: an observation) and a missing parent
    // answered 400 instead of 404 (a broken rule: a failure).
    const parts: Breakage[] = [BREAKAGES['a parent that does not exist is 400 instead of 404']!, HONEST['no request id header, other headers instead']!];
    const gw = await startBroken({ response: (r, req) => parts.forEach((p) => p.response?.(r, req)) });
    open.push(gw);
    const env = mockKeysEnv(gw.url);
    const out = await conformance(
      ['--base-url', gw.url, '--api-key', env.FGW_API_KEY!, '--view-key', env.FGW_VIEW_KEY!, '--other-workspace-key', env.FGW_OTHER_WORKSPACE_KEY!, '--not-onboarded-key', env.FGW_NOT_ONBOARDED_KEY!, '--model-slug', 'acme-org/chat-model', '--compare-with-mock', 'hierarchy', 'field-rules', 'responses'],
    );
    expect(out.code, out.stderr).toBe(1); // the target broke a documented rule
    const compare = json<Comparison>(join(out.reports, 'conformance-compare.json'));
    const byId = new Map(compare.differences.map((d) => [d.id, d]));
    const parent = byId.get('hierarchy/a-parent-that-does-not-exist-is-404');
    expect(parent, JSON.stringify(compare.differences.map((d) => d.id))).toMatchObject({ what: ['status'], target: { status: 'failed' }, mock: { status: 'passed' } });
    // The missing request id: an observation on the target, none on the mock.
    const observed = compare.differences.find((d) => d.what.join() === 'observations' && d.target.observations.join('\n').includes('no X-Request-Id header'));
    expect(observed, JSON.stringify(compare.differences.map((d) => [d.id, d.what]))).toBeDefined();
    expect(observed?.target.status).toBe('passed');
    expect(observed?.mock.observations).toEqual([]);
    // Rules that came out the same are not listed.
    expect(byId.has('field-rules/list-limit-1-and-the-documented-maximum-1000-are-accepted')).toBe(false);
    expect(out.stdout).toMatch(new RegExp(`${compare.differences.length} of ${compare.rulesCompared} rules differ between the target \\(${gw.url.replace(/[.:/]/g, '\\$&')}\\) and the mock`));
    expect(out.stdout).toMatch(/• hierarchy\/a-parent-that-does-not-exist-is-404 \[documented\] \(status\)\n.*\n {2}failed +\| passed/);
    const html = readFileSync(join(out.reports, 'conformance.html'), 'utf8');
    expect(html).toContain('<h2 id="compare">Differences from the mock');
    expect(html).toContain('no X-Request-Id header on');
    expect(existsSync(join(out.reports, 'mock', 'conformance.json'))).toBe(true);
  }, 240_000);
});
