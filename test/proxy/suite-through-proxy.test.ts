import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slugify } from '../../src/conformance-report.js';
import { startMock, type RunningMock } from '../../src/index.js';
import { PROXY_RULES } from '../../src/proxy/rules.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { mockKeysEnv, registerSigning, runSuite, type SuiteRun } from '../meta/run-suite.js';

/**
 * The whole conformance suite, run as a user would, through the validating proxy in front
 * of an honest mock: the suite passes, the proxy finds no violation in any of its
 * exchanges, and every rule id the proxy can name is one of the suite's own (one run of
 * the suite serves all three).
 */

let mock: RunningMock;
let proxy: RunningProxy;
let run: SuiteRun;

beforeAll(async () => {
  const signing = registerSigning();
  mock = await startMock({ register: { publicKey: signing.publicKey } });
  proxy = await startProxy({ upstream: mock.url });
  run = await runSuite({
    ...mockKeysEnv(proxy.url),
    // The mock's clock and webhook inbox (its /_mock/ routes pass through the proxy unjudged), and the management rate limit.
    FGW_CAPABILITIES: 'mock-admin,rate-limit-probe',
    ...signing.env,
    FGW_RUN_ID: `proxy-${Math.random().toString(36).slice(2, 8)}`,
  });
}, 240_000);

afterAll(async () => {
  await proxy?.close();
  await mock?.close();
});

describe('the conformance suite through the proxy, in front of the mock', () => {
  it('passes, and the proxy reports no violation on any of its exchanges', async () => {
    expect(run.failed, run.failures).toEqual([]);
    expect(run.passed.length).toBeGreaterThan(100);
    const violations = proxy.verdicts().filter((v) => v.kind === 'violation');
    expect(violations.map((v) => `[${v.rule}] ${v.method} ${v.path}: ${v.message}`)).toEqual([]);
    expect(proxy.totals().exchanges).toBeGreaterThan(1000);
    const report = await proxy.report();
    expect(report.totals.failed).toBe(0);
    // The traffic of the suite reaches nearly every rule the proxy judges.
    const notExercised = report.rules.filter((r) => r.status === 'not-exercised').map((r) => r.id);
    expect(notExercised).toEqual([]);
  });

  it('every rule id the proxy can name is a rule of the suite, of the same kind and topic', () => {
    const suite = new Map<string, string>();
    for (const file of run.report.testResults as unknown as { name: string; assertionResults: { title: string; ancestorTitles: string[]; meta?: { kind?: string } }[] }[]) {
      const f = basename(file.name).replace(/\.test\.[cm]?[jt]s$/, '');
      for (const a of file.assertionResults) suite.set(`${f}/${slugify(a.title)}`, `${a.meta?.kind ?? 'documented'} | ${a.ancestorTitles[0] ?? f}`);
    }
    expect(suite.size).toBeGreaterThan(100);
    const unknown = PROXY_RULES.filter((r) => suite.get(r.id) !== `${r.kind} | ${r.area}`).map((r) => `${r.id}: proxy says ${r.kind} | ${r.area}, suite says ${suite.get(r.id) ?? 'no such rule'}`);
    expect(unknown).toEqual([]);
  });
});
