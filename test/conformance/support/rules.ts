import { basename } from 'node:path';
import type { TestCase, TestModule, TestSuite } from 'vitest/node';
import { buildReport, gatewayOperationIds, slugify, uniqueIds, type ConformanceReport, type RuleRecord, type RuleStatus } from 'frontier-gateway-mock/conformance-report';
import { sourceOf } from './sources.js';
import { describeTarget } from './target.js';

/**
 * Every rule of a run as plain records (the reports' model, src/conformance-report.ts):
 * a stable id from the file and the rule's name, its kind and source, what became of it,
 * and the operations it reached. Shared by the terminal summary, the JSON report and the
 * HTML report.
 */

export function fileOf(module: TestModule): string {
  return basename(module.moduleId).replace(/\.test\.[cm]?[jt]s$/, '');
}

export function topSuite(test: TestCase): string | undefined {
  let node: TestCase | TestSuite | TestModule = test;
  let name: string | undefined;
  while (node.type !== 'module') {
    const parent: TestSuite | TestModule = node.parent;
    if (parent.type === 'suite') name = parent.name;
    node = parent;
  }
  return name;
}

export function firstLines(text: string, n = 4): string {
  return text.split('\n').filter((l) => l.trim()).slice(0, n).join('\n');
}

export function ruleOf(test: TestCase): RuleRecord {
  const file = fileOf(test.module);
  const area = topSuite(test) ?? file;
  const meta = test.meta();
  const kind = meta.kind ?? 'documented';
  const r = test.result();
  let status: RuleStatus = r.state === 'passed' ? 'passed' : r.state === 'failed' ? 'failed' : r.state === 'skipped' ? 'skipped' : 'not-exercised';
  let skipReason = r.state === 'skipped' ? r.note || 'skipped' : undefined;
  // A dry run's plan: "would run" is a rule not exercised yet; "would skip: why" a skip.
  if (skipReason === 'would run') {
    status = 'not-exercised';
    skipReason = undefined;
  }
  const err = r.state === 'failed' ? r.errors[0] : undefined;
  const duration = test.diagnostic()?.duration;
  return {
    id: `${file}/${slugify(test.name)}`,
    name: test.name,
    area,
    file,
    kind,
    source: sourceOf(file, area, kind, meta.ambiguity, meta.source),
    ...(meta.ambiguity ? { ambiguity: meta.ambiguity } : {}),
    status,
    ...(skipReason ? { skipReason } : {}),
    ...(err ? { error: firstLines(err.message, 8) } : {}),
    observations: meta.observations ?? [],
    operations: meta.operations ?? [],
    ...(duration !== undefined ? { durationMs: Math.round(duration) } : {}),
  };
}

export async function reportOf(modules: ReadonlyArray<TestModule>): Promise<ConformanceReport> {
  const t = describeTarget();
  const rules = uniqueIds(modules.flatMap((m) => [...m.children.allTests()].map(ruleOf)));
  const errors = modules.flatMap((m) => m.errors().map((e) => `${m.relativeModuleId}: ${firstLines(e.message)}`));
  return buildReport(
    {
      kind: t.kind,
      baseUrl: t.baseUrl ?? null,
      inferenceBaseUrl: t.inferenceBaseUrl ?? null,
      runId: t.runId,
      dryRun: t.dryRun,
      capabilities: [...t.capabilities].sort(),
    },
    rules,
    await gatewayOperationIds(),
    errors,
  );
}
