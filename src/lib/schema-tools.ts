import type { Ajv2020 } from 'ajv/dist/2020.js';

/**
 * Instances of JSON Schemas that users send (`response_format.json_schema.schema`, a tool's
 * `parameters`): generated deterministically by json-schema-faker from a seed, then
 * checked with the project's ajv (src/lib/ajv.ts), so a reply that claims to fit its schema
 * does. Both libraries are loaded on first use only (loadSchemaTools): a plain chat
 * request, and a server that never sees a schema, load neither.
 */

/** Why no instance: the schema is not a valid JSON Schema, or nothing generated satisfies it. */
export class SchemaProblem extends Error {}

export interface SchemaTools {
  /** A value valid against `schema`, the same for the same schema and seed; throws SchemaProblem. */
  instance(schema: unknown, seed: number): unknown;
}

/** Seeds tried, one after the other, before a schema counts as one the generator cannot satisfy. */
export const SEEDS_TRIED = 4;
/** The largest minLength, minItems, minProperties or minContains a schema may ask for. */
export const MAX_SCHEMA_MINIMUM = 1000;
/** The longest instance, as JSON text, the mock generates. */
export const MAX_INSTANCE_CHARS = 64 * 1024;
/** How deep a schema may nest. */
export const MAX_SCHEMA_DEPTH = 32;

let loaded: SchemaTools | null = null;
let loading: Promise<SchemaTools> | null = null;

/** The tools once loadSchemaTools() has resolved, else null. */
export function loadedSchemaTools(): SchemaTools | null {
  return loaded;
}

/** Loads json-schema-faker and ajv's compiler, once. */
export function loadSchemaTools(): Promise<SchemaTools> {
  loading ??= (async () => {
    const [{ generateSync }, { newAjv }] = await Promise.all([import('json-schema-faker'), import('./ajv.js')]);
    const ajv = newAjv({ quiet: true });
    const generate = (schema: object, seed: number) => generateSync(schema as never, { seed, minDateTime: '2020-01-01T00:00:00Z', maxDateTime: '2030-01-01T00:00:00Z' });
    loaded = {
      instance(schema, seed) {
        try {
          return instanceOf(ajv, generate, schema, seed);
        } catch (e) {
          // A recursive $ref may overflow the stack in either library: still the schema's problem, never a 500.
          if (e instanceof SchemaProblem) throw e;
          throw new SchemaProblem(`cannot be handled by the mock's generator: ${(e as Error).message}`);
        }
      },
    };
    return loaded;
  })();
  return loading;
}

function instanceOf(ajv: Ajv2020, generate: (schema: object, seed: number) => unknown, schema: unknown, seed: number): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new SchemaProblem('is not a JSON Schema object');
  checkBounds(schema, 1);
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    throw new SchemaProblem(`is not a valid JSON Schema: ${(e as Error).message}`);
  } finally {
    // Users' schemas are not kept: ajv would cache each one (and refuse a second with the same $id).
    ajv.removeSchema(schema);
  }
  let lastError = '';
  for (let i = 0; i < SEEDS_TRIED; i += 1) {
    let value: unknown;
    try {
      value = generate(schema, (seed + i) >>> 0 || 1);
    } catch (e) {
      throw new SchemaProblem(`cannot be satisfied by the mock's generator: ${(e as Error).message}`);
    }
    if (value !== undefined && validate(value)) {
      const chars = JSON.stringify(value).length;
      if (chars > MAX_INSTANCE_CHARS) throw new SchemaProblem(`gives an instance of ${chars} characters as JSON; the mock generates at most ${MAX_INSTANCE_CHARS}`);
      return value;
    }
    lastError = ajv.errorsText(validate.errors);
  }
  throw new SchemaProblem(`cannot be satisfied by the mock's generator (${SEEDS_TRIED} tries; last: ${lastError})`);
}

/** SchemaProblem when the schema nests too deep or asks for more items or characters than the mock generates. */
function checkBounds(node: unknown, depth: number): void {
  if (typeof node !== 'object' || node === null) return;
  if (depth > MAX_SCHEMA_DEPTH) throw new SchemaProblem(`nests more than ${MAX_SCHEMA_DEPTH} levels deep`);
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'minLength' || k === 'minItems' || k === 'minProperties' || k === 'minContains') && typeof v === 'number' && v > MAX_SCHEMA_MINIMUM) {
      throw new SchemaProblem(`asks for ${k} ${v}; the mock generates at most ${MAX_SCHEMA_MINIMUM}`);
    }
    checkBounds(v, depth + 1);
  }
}
