import type { Reporter, TestCase, TestModule } from 'vitest/node';
import { coverageLine, coverageOf, uniqueIds } from 'frontier-gateway-mock/conformance-report';
import { firstLines, ruleOf, topSuite } from './rules.js';
import { describeTarget } from './target.js';

/**
 * The human summary of a conformance run: results grouped by topic (the top-level
 * describe of each file), every rule with its kind (documented, mock choice,
 * observation), every departure with its first lines of explanation, every skip with
 * its reason, and every observation (what the target did differently from the mock
 * where the docs allow it). In a dry run it is the plan: what would run and what would
 * be skipped, and why. It closes with the coverage figure: documented rules exercised on
 * this target out of those the suite knows.
 */

const KIND_LABEL: Record<string, string> = { documented: 'documented', 'mock-choice': 'mock choice', observation: 'observation' };
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const t = describeTarget();
    const out: string[] = [];
    const where = t.kind === 'remote' ? `${t.baseUrl}${t.inferenceBaseUrl !== t.baseUrl ? ` (inference ${t.inferenceBaseUrl})` : ''}` : 'the in-process mock';
    out.push('', `${t.dryRun ? 'Conformance plan (dry run, nothing contacted)' : 'Conformance'} against ${where}, run ${t.runId}`, '');
    const groups = new Map<string, TestCase[]>();
    for (const m of modules) {
      for (const test of m.children.allTests()) {
        const rule = topSuite(test) ?? m.relativeModuleId;
        groups.set(rule, [...(groups.get(rule) ?? []), test]);
      }
      for (const e of m.errors()) out.push(`! ${m.relativeModuleId}: ${firstLines(e.message)}`);
    }
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let observed = 0;
    for (const [rule, tests] of groups) {
      const results = tests.map((test) => ({ test, r: test.result() }));
      const bad = results.filter((x) => x.r.state === 'failed');
      const skip = results.filter((x) => x.r.state === 'skipped');
      const ok = results.filter((x) => x.r.state === 'passed');
      passed += ok.length;
      failed += bad.length;
      skipped += skip.length;
      const mark = bad.length ? '✗' : ok.length ? '✓' : '○';
      out.push(`${mark} ${rule}  (${ok.length} passed${bad.length ? `, ${bad.length} failed` : ''}${skip.length ? `, ${skip.length} skipped` : ''})`);
      for (const { test, r } of results) {
        const meta = test.meta();
        const kind = `[${KIND_LABEL[meta.kind ?? 'documented']}${meta.ambiguity ? ` #${meta.ambiguity}` : ''}]`;
        const sign = r.state === 'failed' ? '✗' : r.state === 'skipped' ? '○' : '✓';
        const note = r.state === 'skipped' ? `: ${r.note || 'skipped'}` : '';
        out.push(`    ${sign} ${kind} ${test.name}${note}`);
        const err = r.state === 'failed' ? r.errors[0] : undefined;
        if (err) out.push(...firstLines(err.message).split('\n').map((l) => `        ${l}`));
        for (const o of meta.observations ?? []) {
          observed++;
          out.push(`        ℹ observation: ${o}`);
        }
      }
    }
    out.push('', `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}${observed ? `, ${observed} observation${observed === 1 ? '' : 's'} (not failures)` : ''}`);
    const rules = uniqueIds(modules.flatMap((m) => [...m.children.allTests()].map(ruleOf)));
    if (!t.dryRun) out.push(coverageLine(coverageOf(rules)));
    else out.push(`plan: ${rules.filter((r) => r.kind === 'documented' && r.status === 'not-exercised').length} of ${rules.filter((r) => r.kind === 'documented').length} documented rules would run`);
    out.push('');
    process.stdout.write(out.join('\n'));
  }
}
