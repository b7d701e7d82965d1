import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { BUILT_DIR, specDigest } from '../lib/spec-files.js';
import { pathPatternOf, type Operation } from './spec.js';
import { compileRequestValidators, type RequestValidator, type SchemaCompiler } from './validation.js';

/**
 * The operation table and request validators a server runs with. `npm run build`
 * dereferences the OpenAPI documents and compiles every validator to standalone ajv code
 * (scripts/build-spec.mjs writes dist/generated/); start-up loads that, which costs a
 * JSON parse instead of parsing two YAML documents and running ajv's compiler. When the
 * artefacts are missing (running from src/ under vitest) or were built from other spec
 * bytes, the same list is compiled here at run time, so validation always comes from
 * the spec as it is.
 */

export interface CompiledSpecs {
  operations: Operation[];
  validators: Map<string, RequestValidator>;
  /** `build`: the generated artefacts; `spec`: parsed and compiled at start-up. */
  from: 'build' | 'spec';
}

/** What scripts/build-spec.mjs writes to generated/spec.json. */
export interface BuiltSpec {
  /** specDigest() of the documents it was generated from. */
  digest: string;
  operations: Omit<Operation, 'pathPattern'>[];
}

export { BUILT_DIR };

const cache = new Map<boolean, Promise<CompiledSpecs>>();

/** Once per process, shared by every mock in it. */
export function compiledSpecs(withAdmin: boolean): Promise<CompiledSpecs> {
  let p = cache.get(withAdmin);
  if (!p) {
    p = Promise.resolve().then(() => loadBuilt(BUILT_DIR, withAdmin) ?? compileAtRunTime(withAdmin));
    cache.set(withAdmin, p);
  }
  return p;
}

/** The build's artefacts in `dir`, or undefined when any is missing or was built from other spec bytes. */
export function loadBuilt(dir: URL, withAdmin: boolean, digest: string = specDigest()): CompiledSpecs | undefined {
  const specFile = new URL('spec.json', dir);
  const codeFile = new URL('validators.cjs', dir);
  if (!existsSync(specFile) || !existsSync(codeFile)) return undefined;
  const built = JSON.parse(readFileSync(specFile, 'utf8')) as BuiltSpec;
  if (built.digest !== digest) return undefined;
  const code = createRequire(import.meta.url)(codeFile.pathname) as Record<string, ValidateFunction | undefined>;
  const operations: Operation[] = built.operations
    .filter((op) => withAdmin || op.document !== 'admin' || op.always)
    .map((op) => ({ ...op, pathPattern: pathPatternOf(op.path) }));
  let complete = true;
  const lookup: SchemaCompiler = (s) => {
    const fn = code[s.key];
    if (fn) return fn;
    complete = false;
    return (() => false) as unknown as ValidateFunction;
  };
  const validators = compileRequestValidators(operations, lookup);
  return complete ? { operations, validators, from: 'build' } : undefined;
}

/** Parses the documents and compiles the validators with ajv, here and now. */
export async function compileAtRunTime(withAdmin: boolean): Promise<CompiledSpecs> {
  const [{ loadSpecs }, { ajvPerFlavour }] = await Promise.all([import('./spec.js'), import('../lib/ajv.js')]);
  const { operations } = await loadSpecs(withAdmin);
  const ajv = ajvPerFlavour();
  return { operations, validators: compileRequestValidators(operations, (s) => ajv[s.flavour].compile(s.schema)), from: 'spec' };
}
