import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CODE_DIR, PACKAGE_ROOT } from '../../src/paths.js';

describe('paths and the bundled CLI', () => {
  it("finds the package's files from one place", () => {
    expect(JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')).name).toBe('frontier-gateway-mock');
    for (const f of ['openapi/frontier-gateway.yaml', 'inspector/index.html', 'scenarios/scenario.schema.json']) expect(existsSync(new URL(f, PACKAGE_ROOT))).toBe(true);
    expect(fileURLToPath(CODE_DIR)).toBe(fileURLToPath(new URL('src/', PACKAGE_ROOT)));
  });

  // `npm test` builds first (pretest), so dist/cli.js is the bundle scripts/bundle.mjs wrote.
  it('dist/cli.js is one file of the mock\'s own code: its only relative imports are its on-demand chunks', () => {
    const cli = fileURLToPath(new URL('dist/cli.js', PACKAGE_ROOT));
    const code = readFileSync(cli, 'utf8');
    const relative = [...code.matchAll(/(?:from|import\()\s*["'](\.[^"']+)["']/g)].map((m) => m[1]);
    expect(relative.length).toBeGreaterThan(0);
    for (const spec of relative) {
      expect(spec).toMatch(/^\.\/chunks\//);
      expect(existsSync(new URL(spec as string, new URL('dist/', PACKAGE_ROOT)))).toBe(true);
    }
    expect(code.startsWith('#!/usr/bin/env node')).toBe(true);
  });
});
