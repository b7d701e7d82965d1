import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';
import { renderHtml } from 'frontier-gateway-mock/conformance-report';
import { reportOf } from './rules.js';

/**
 * reports/conformance.html: one self-contained page a person can open (no scripts, no
 * external assets): totals and the coverage figure, the operations, then every rule by
 * topic with its status, kind, source, skip reason and observations.
 */
export default class HtmlReporter implements Reporter {
  private root = process.cwd();
  constructor(private readonly options: { outputFile?: string } = {}) {}

  onInit(ctx: Vitest): void {
    this.root = ctx.config.root;
  }

  async onTestRunEnd(modules: ReadonlyArray<TestModule>): Promise<void> {
    const file = resolve(this.root, this.options.outputFile ?? 'reports/conformance.html');
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, renderHtml(await reportOf(modules)));
  }
}
