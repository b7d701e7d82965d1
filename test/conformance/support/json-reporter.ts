import type { TestModule } from 'vitest/node';
import { JsonReporter } from 'vitest/reporters';
import { reportOf } from './rules.js';

/**
 * vitest's JSON report (reports/conformance.json), with the conformance report's fields
 * added at the top level: `coverage` (documented rules exercised on this target out of
 * those the suite knows), `operations` (per operation: rules passed, failed, skipped, or
 * not exercised), `rules` (every rule: stable id, kind, source, status, skip reason,
 * observations, operations), `totals`, `target` and `errors` (outside any rule). `frontier-gateway-mock conformance`
 * reads these for --min-coverage and --compare-with-mock.
 */
export default class ConformanceJsonReporter extends JsonReporter {
  private modules: ReadonlyArray<TestModule> = [];

  override async onTestRunEnd(testModules: ReadonlyArray<TestModule>): Promise<void> {
    this.modules = testModules;
    await super.onTestRunEnd(testModules);
  }

  override async writeReport(report: string): Promise<void> {
    const conformance = await reportOf(this.modules);
    const { format, version, target, createdAt, totals, coverage, operations, rules, errors } = conformance;
    await super.writeReport(JSON.stringify({ ...JSON.parse(report), format, version, target, createdAt, totals, coverage, operations, rules, errors }));
  }
}
