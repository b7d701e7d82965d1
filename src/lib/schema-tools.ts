import type { DraftAjv, SchemaDraft } from './ajv.js';

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
  /** How many schema references the ajv instances hold: users' schemas leave none behind (for tests). */
  heldRefs(): number;
}

/** Seeds tried, one after the other, before a schema counts as one the generator cannot satisfy. */
export const SEEDS_TRIED = 4;
/** The largest minLength, minItems, minProperties or minContains a schema may ask for. */
export const MAX_SCHEMA_MINIMUM = 1000;
/** The longest instance, as JSON text, the mock generates. */
export const MAX_INSTANCE_CHARS = 64 * 1024;
/** How deep a schema may nest. */
export const MAX_SCHEMA_DEPTH = 32;
/**
 * The most items or characters one path through a schema may ask for: the product of the
 * `minItems`, `minProperties` and `minContains` down the path, times a string's `minLength`
 * at its end. Past it the instance is over MAX_INSTANCE_CHARS as JSON whatever is
 * generated, so the schema is refused before anything is generated.
 */
export const MAX_PATH_MINIMUM = MAX_INSTANCE_CHARS;

/** The drafts a user's `$schema` may name (without its trailing `#`, http or https); none means 2020-12. */
const DRAFTS: Record<string, SchemaDraft> = {
  'json-schema.org/draft/2020-12/schema': '2020-12',
  'json-schema.org/draft/2019-09/schema': '2019-09',
  'json-schema.org/draft-07/schema': 'draft-07',
};

let loaded: SchemaTools | null = null;
let loading: Promise<SchemaTools> | null = null;

/** The tools once loadSchemaTools() has resolved, else null. */
export function loadedSchemaTools(): SchemaTools | null {
  return loaded;
}

/** Loads json-schema-faker and ajv's compiler, once. */
export function loadSchemaTools(): Promise<SchemaTools> {
  loading ??= (async () => {
    const [{ generateSync }, { newAjvOfDraft }] = await Promise.all([import('json-schema-faker'), import('./ajv.js')]);
    // One ajv instance per draft, made when a schema first names it.
    const ajvs = new Map<SchemaDraft, DraftAjv>();
    const ajvFor = (draft: SchemaDraft) => {
      let ajv = ajvs.get(draft);
      if (ajv === undefined) ajvs.set(draft, (ajv = newAjvOfDraft(draft, { quiet: true })));
      return ajv;
    };
    const generate = (schema: object, seed: number) => generateSync(schema as never, { seed, minDateTime: '2020-01-01T00:00:00Z', maxDateTime: '2030-01-01T00:00:00Z' });
    loaded = {
      heldRefs: () => [...ajvs.values()].reduce((n, ajv) => n + Object.keys(ajv.refs).length, 0),
      instance(schema, seed) {
        try {
          return instanceOf(ajvFor, generate, schema, seed);
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

function instanceOf(ajvFor: (draft: SchemaDraft) => DraftAjv, generate: (schema: object, seed: number) => unknown, schema: unknown, seed: number): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new SchemaProblem('is not a JSON Schema object');
  checkBounds(schema, 1);
  checkPathMinimums(schema);
  const draft = draftOf(schema);
  const ajv = ajvFor(draft);
  const held = new Set(Object.keys(ajv.refs));
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    throw new SchemaProblem(`is not a valid JSON Schema: ${(e as Error).message}`);
  } finally {
    // Users' schemas are not kept: ajv would cache each one (and refuse a second with the same $id),
    // and keeps every nested $id in its refs, which removeSchema leaves behind.
    ajv.removeSchema(schema);
    for (const ref of Object.keys(ajv.refs)) if (!held.has(ref)) delete ajv.refs[ref];
  }
  const forGenerator = generatorCopy(schema, draft);
  let lastError = '';
  for (let i = 0; i < SEEDS_TRIED; i += 1) {
    let text: string | undefined;
    try {
      text = JSON.stringify(generate(forGenerator, (seed + i) >>> 0 || 1));
    } catch (e) {
      throw new SchemaProblem(`cannot be satisfied by the mock's generator: ${(e as Error).message}`);
    }
    if (text === undefined) continue;
    // Too large, valid or not: refused at once, not generated again with the next seed.
    if (text.length > MAX_INSTANCE_CHARS) throw new SchemaProblem(`gives an instance of ${text.length} characters as JSON; the mock generates at most ${MAX_INSTANCE_CHARS}`);
    // What is checked is what is sent: the instance as JSON, read back.
    const value: unknown = JSON.parse(text);
    if (validate(value)) return value;
    lastError = ajv.errorsText(validate.errors);
  }
  throw new SchemaProblem(`cannot be satisfied by the mock's generator (${SEEDS_TRIED} tries; last: ${lastError})`);
}

/** The draft the schema names in `$schema` (2020-12 when it names none); SchemaProblem for one the mock does not know. */
function draftOf(schema: object): SchemaDraft {
  const named = (schema as { $schema?: unknown }).$schema;
  if (named === undefined) return '2020-12';
  const draft = typeof named === 'string' ? DRAFTS[named.replace(/^https?:\/\//, '').replace(/#$/, '')] : undefined;
  if (draft === undefined) throw new SchemaProblem(`names $schema ${JSON.stringify(named)}; the mock knows JSON Schema drafts 2020-12 (the default), 2019-09 and 07`);
  return draft;
}

/**
 * The schema the generator is given: the schema itself or, for drafts before 2020-12, a
 * copy with tuples (`items: [...]`, `additionalItems`) written as 2020-12's `prefixItems`
 * and `items`, the only form json-schema-faker reads.
 */
function generatorCopy(schema: object, draft: SchemaDraft): object {
  return draft === '2020-12' ? schema : (asPrefixItems(schema) as object);
}

/** `items: [...]` (and `additionalItems`) as `prefixItems` (and `items`), at any depth. */
function asPrefixItems(node: unknown): unknown {
  if (typeof node !== 'object' || node === null) return node;
  if (Array.isArray(node)) return node.map(asPrefixItems);
  const out: Record<string, unknown> = {};
  const n = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(n)) out[k] = VALUES.has(k) ? v : asPrefixItems(v);
  if (Array.isArray(n.items)) {
    out.prefixItems = out.items;
    delete out.items;
    if (n.additionalItems !== undefined) out.items = out.additionalItems;
    delete out.additionalItems;
  }
  return out;
}

/**
 * SchemaProblem when the schema nests too deep, asks for more items or characters than the
 * mock generates, or names a property `__proto__` (as a key, or in `required`): neither
 * json-schema-faker nor ajv treats that name as a property (the first makes it the
 * object's prototype, the second passes `{}`), so the mock could not keep its promise that
 * the instance fits.
 */
function checkBounds(node: unknown, depth: number): void {
  if (typeof node !== 'object' || node === null) return;
  if (depth > MAX_SCHEMA_DEPTH) throw new SchemaProblem(`nests more than ${MAX_SCHEMA_DEPTH} levels deep`);
  const required = (node as { required?: unknown }).required;
  if (Object.hasOwn(node, '__proto__') || (Array.isArray(required) && required.includes('__proto__'))) {
    throw new SchemaProblem("names a property __proto__, which the mock's generator and checker cannot handle as a property");
  }
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'minLength' || k === 'minItems' || k === 'minProperties' || k === 'minContains') && typeof v === 'number' && v > MAX_SCHEMA_MINIMUM) {
      throw new SchemaProblem(`asks for ${k} ${v}; the mock generates at most ${MAX_SCHEMA_MINIMUM}`);
    }
    checkBounds(v, depth + 1);
  }
}

/** Keywords whose subschemas are instantiated once per item (or per extra property) of the node. */
const PER_ITEM = new Set(['items', 'prefixItems', 'additionalItems', 'contains', 'unevaluatedItems', 'additionalProperties', 'patternProperties', 'unevaluatedProperties', 'propertyNames']);
/** Keywords whose values are instances, not schemas. */
const VALUES = new Set(['const', 'enum', 'default', 'examples', 'example']);

/**
 * SchemaProblem, naming the path, when some path through the schema (following local
 * `$ref`s) asks for more than MAX_PATH_MINIMUM items or characters: checked before
 * anything is generated, so one request cannot make the generator build millions of
 * items. Each node is weighed once (a `$ref` cycle counts once around).
 */
function checkPathMinimums(root: object): void {
  const weighed = new Map<object, { weight: number; path: string }>();
  const open = new Set<object>();
  const atLeast = (node: Record<string, unknown>, k: string) => (typeof node[k] === 'number' && Number.isFinite(node[k]) ? Math.max(1, node[k]) : 1);
  const weigh = (node: unknown, path: string): { weight: number; path: string } => {
    if (typeof node !== 'object' || node === null) return { weight: 1, path };
    const known = weighed.get(node);
    if (known !== undefined) return known;
    if (open.has(node)) return { weight: 1, path };
    open.add(node);
    const n = node as Record<string, unknown>;
    const count = Array.isArray(node) ? 1 : Math.max(atLeast(n, 'minItems'), atLeast(n, 'minProperties'), atLeast(n, 'minContains'));
    let most = { weight: Math.max(count, Array.isArray(node) ? 1 : atLeast(n, 'minLength')), path };
    for (const [k, v] of Object.entries(node)) {
      if (VALUES.has(k) && !Array.isArray(node)) continue;
      const child = weigh(v, `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`);
      const weight = PER_ITEM.has(k) && !Array.isArray(node) ? count * child.weight : child.weight;
      if (weight > most.weight) most = { weight, path: child.path };
    }
    const ref = n.$ref;
    if (!Array.isArray(node) && typeof ref === 'string' && ref.startsWith('#')) {
      const target = weigh(pointerTarget(root, ref), ref.slice(1) || '/');
      if (target.weight > most.weight) most = target;
    }
    open.delete(node);
    weighed.set(node, most);
    if (most.weight > MAX_PATH_MINIMUM) {
      throw new SchemaProblem(`asks for at least ${most.weight} items or characters along ${most.path || '/'} (the product of minItems, minProperties and minContains down the path, times minLength); an instance of that is over the ${MAX_INSTANCE_CHARS} characters the mock generates, so it is refused before generating`);
    }
    return most;
  };
  weigh(root, '');
}

/** The node a local `$ref` (`#` or `#/a/b`) points at, or undefined. */
function pointerTarget(root: object, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    } catch {
      return undefined;
    }
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
