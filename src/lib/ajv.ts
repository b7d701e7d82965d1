import { Ajv as AjvDraft07 } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ajvOptions } from './ajv-options.js';

/**
 * The one ajv configuration the spec's schemas are compiled with, at build time (to
 * standalone code) and at run time (when the build's artefacts are missing or stale).
 * Its own module so a server started from the build never loads ajv's compiler. Used by
 * the HTTP layer, the contract checker and the scenario reader alike, so it sits on the
 * lowest floor (src/lib/), which knows nothing of the gateway.
 */

/**
 * Parameters arrive as strings and are coerced (with defaults); bodies are JSON and are
 * not. `every` reports all errors, not the first: it finds every unknown field of a
 * management body at once, at any depth.
 */
export type SchemaFlavour = 'coercing' | 'plain' | 'every';

// ajv-formats is CommonJS; under NodeNext its default export arrives as the module.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: AjvDraft07 | Ajv2019 | Ajv2020) => unknown;

/** The JSON Schema drafts an instance can be made for: the spec's (2020-12), and the older two users' schemas may name in `$schema`. */
export type SchemaDraft = '2020-12' | '2019-09' | 'draft-07';

/** An ajv instance of any of those drafts. */
export type DraftAjv = AjvDraft07 | Ajv2019 | Ajv2020;

/** The ajv options of each flavour of request schema; the build and the run-time compiler both make one instance per entry. */
export const FLAVOURS: Record<SchemaFlavour, { coerce?: boolean; allErrors?: boolean }> = { plain: {}, coercing: { coerce: true }, every: { allErrors: true } };

/** One ajv instance per flavour. */
export function ajvPerFlavour(standalone = false): Record<SchemaFlavour, Ajv2020> {
  return Object.fromEntries(Object.entries(FLAVOURS).map(([flavour, o]) => [flavour, newAjv({ ...o, standalone })])) as Record<SchemaFlavour, Ajv2020>;
}

/** `standalone` keeps each validator's source so the build can write it out as code. */
/** `quiet` silences ajv's warnings (for schemas that users send, which may name formats ajv does not know). */
export function newAjv(options: { coerce?: boolean; allErrors?: boolean; standalone?: boolean; quiet?: boolean } = {}): Ajv2020 {
  const ajv = new Ajv2020(ajvOptions(options));
  addFormats(ajv);
  return ajv;
}

/** An instance, with the same options, for one draft of JSON Schema (users' schemas name theirs in `$schema`). */
export function newAjvOfDraft(draft: SchemaDraft, options: { quiet?: boolean } = {}): DraftAjv {
  if (draft === '2020-12') return newAjv(options);
  const ajv = draft === '2019-09' ? new Ajv2019(ajvOptions(options)) : new AjvDraft07(ajvOptions(options));
  addFormats(ajv);
  return ajv;
}
