import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The suite imports the package by its public names (`frontier-gateway-mock`,
 * `frontier-gateway-mock/testing`, and `frontier-gateway-mock/conformance-report` for
 * its reports), never by a path into src/: the same files run in this repository, where
 * the names resolve to src/*.ts, and from an installed package, which has dist/ and no
 * src/ (`frontier-gateway-mock conformance`). tsconfig.json's `paths` say the same to
 * the type checker.
 */
export function packageAliases(root: string): { find: RegExp; replacement: string }[] {
  const fromSource = existsSync(join(root, 'src', 'index.ts'));
  const entry = (name: string) => (fromSource ? join(root, 'src', `${name}.ts`) : join(root, 'dist', `${name}.js`));
  return [
    { find: /^frontier-gateway-mock$/, replacement: entry('index') },
    { find: /^frontier-gateway-mock\/testing$/, replacement: entry('testing') },
    { find: /^frontier-gateway-mock\/conformance-report$/, replacement: entry('conformance-report') },
  ];
}
