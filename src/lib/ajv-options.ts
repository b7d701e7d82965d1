/**
 * The options every ajv instance of the project is made with: src/lib/ajv.ts's newAjv()
 * (build time, run-time fallback, contract checker, scenarios) and the snapshot check's
 * synchronous fallback (src/store/snapshot-schema.ts), which cannot import that ES module
 * without loading ajv's compiler at every start. This module imports nothing.
 */
export function ajvOptions(o: { coerce?: boolean; allErrors?: boolean; standalone?: boolean; quiet?: boolean } = {}) {
  return {
    ...(o.quiet ? { logger: false as const } : {}),
    strict: false,
    allErrors: o.allErrors === true,
    coerceTypes: o.coerce ? ('array' as const) : false,
    useDefaults: o.coerce === true,
    validateFormats: true,
    ...(o.standalone ? { code: { source: true } } : {}),
  };
}
