import type { ValidateFunction } from 'ajv/dist/2020.js';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ajvOptions } from '../lib/ajv-options.js';
import { ADMIN_SPEC_PATH, BUILT_DIR, specDigest } from '../lib/spec-files.js';

/**
 * The snapshot format's schema is `components/schemas/Snapshot` of openapi/mock-admin.yaml.
 * `npm run build` compiles it to standalone code with the request validators
 * (scripts/build-spec.mjs, under SNAPSHOT_SCHEMA_KEY), so a restore (a --state-file at
 * start-up included, with or without the admin routes) loads code; running from src/, or
 * with a spec edited after the build, it is compiled from the document here. Neither ajv's
 * compiler nor the YAML parser is loaded unless that fallback runs.
 */

export const SNAPSHOT_SCHEMA_KEY = 'mock-admin.Snapshot';

let validator: ValidateFunction | undefined;

export function snapshotValidator(): ValidateFunction {
  validator ??= builtSnapshotValidator() ?? compileSnapshotValidator();
  return validator;
}

/** The build's code, when it was built from these very documents. */
export function builtSnapshotValidator(dir: URL = BUILT_DIR): ValidateFunction | undefined {
  const specFile = new URL('spec.json', dir);
  const codeFile = new URL('validators.cjs', dir);
  if (!existsSync(specFile) || !existsSync(codeFile)) return undefined;
  const { digest } = JSON.parse(readFileSync(specFile, 'utf8')) as { digest: string };
  if (digest !== specDigest()) return undefined;
  const code = createRequire(import.meta.url)(codeFile.pathname) as Record<string, ValidateFunction | undefined>;
  return code[SNAPSHOT_SCHEMA_KEY];
}

/**
 * Compiles the Snapshot schema from the admin document, here and now, with the project's
 * ajv options (src/lib/ajv-options.ts, the plain flavour). newAjv() is in an ES module and
 * this must stay synchronous (a restore is), so ajv and ajv-formats, both CommonJS, are
 * required here;
 * test/unit/snapshot-schema.test.ts checks that this and the build's code decide alike.
 */
export function compileSnapshotValidator(): ValidateFunction {
  const require = createRequire(import.meta.url);
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const addFormats = require('ajv-formats') as { default: (ajv: InstanceType<typeof Ajv2020>) => unknown };
  const ajv = new Ajv2020(ajvOptions());
  addFormats.default(ajv);
  return ajv.compile(snapshotSchema());
}

/** components/schemas/Snapshot with its local `$ref`s put in place (the document's own, which swagger-parser would resolve the same way). */
export function snapshotSchema(): object {
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const doc = parse(readFileSync(ADMIN_SPEC_PATH, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string') {
      const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
      if (name === undefined || !(name in doc.components.schemas)) throw new Error(`mock-admin.yaml: cannot resolve ${ref}`);
      return resolve(doc.components.schemas[name]);
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve(doc.components.schemas.Snapshot) as object;
}
