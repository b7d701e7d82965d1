import fc from 'fast-check';

/**
 * fast-check arbitraries generated from the (dereferenced) JSON Schemas of our OpenAPI
 * documents: valid values for every request body and parameter, and mutations of them.
 * Covers the subset of JSON Schema the specs use; sizes are kept small on purpose.
 */

type Schema = Record<string, any>;

/** A value the schema accepts. `forceRequired` makes optional properties of the top-level object required. */
export function valid(schema: Schema | undefined, forceRequired: readonly string[] = [], depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.constant(null);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  if (Array.isArray(schema.oneOf)) return fc.oneof(...schema.oneOf.map((s: Schema) => valid(s, [], depth + 1)));
  if (Array.isArray(schema.anyOf)) return fc.oneof(...schema.anyOf.map((s: Schema) => valid(s, [], depth + 1)));
  const types: string[] = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : schema.properties ? ['object'] : ['string'];
  return fc.oneof(...types.map((t) => ofType(schema, t, forceRequired, depth)));
}

function ofType(schema: Schema, type: string, forceRequired: readonly string[], depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0);
      const max = schema.maximum ?? Math.max(min, 1_000_000);
      const lo = Math.ceil(min);
      const hi = Math.floor(max);
      return fc.oneof(fc.integer({ min: lo, max: hi }), fc.constantFrom(lo, hi));
    }
    case 'string': {
      if (schema.format === 'date-time') {
        // Edges the format accepts: a leap second, offsets, the far future.
        const edges = fc.constantFrom('2030-06-30T23:59:60Z', '2031-01-01T00:00:00+14:00', '9999-12-31T23:59:59.999Z', '2030-01-01t00:00:00z');
        return fc.oneof(fc.date({ min: new Date('2026-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()), edges);
      }
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? 255));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 24, 24) });
    }
    case 'array':
      return fc.array(valid(schema.items, [], depth + 1), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 3, 3) });
    case 'object': {
      const props: Record<string, Schema> = schema.properties ?? {};
      const required = new Set<string>([...(schema.required ?? []), ...forceRequired]);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) model[k] = valid(s, [], depth + 1);
      let arb = fc.record(model, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) }) as fc.Arbitrary<Record<string, unknown>>;
      if (schema.minProperties) arb = arb.filter((o) => Object.keys(o).length >= schema.minProperties);
      if (schema.maxProperties) arb = arb.filter((o) => Object.keys(o).length <= schema.maxProperties);
      return arb;
    }
    default:
      return fc.constant(null);
  }
}

/** Hostile values: wrong types, odd strings (lone surrogates, huge, control chars), deep nesting. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('\uD800', 'a\uDFFFb', '\u0000', '', ' ', '../..', '%00', '2030-06-30T23:59:60Z', '-1', 'NaN', '1e400', '__proto__', 'constructor'),
  fc.constantFrom(-1, 0, 1.5, 2 ** 53, -(2 ** 63), Number.MAX_SAFE_INTEGER + 2, 1e308),
  fc.integer({ min: 1, max: 3000 }).map((n) => {
    let v: unknown = 1;
    for (let i = 0; i < n; i++) v = { a: v };
    return v;
  }),
  fc.integer({ min: 1000, max: 200_000 }).map((n) => 'x'.repeat(n)),
);

/** A mutation of a valid value: a field dropped, replaced with something hostile, or an unknown one added. */
export function mutated(base: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.tuple(base, fc.nat(), hostile, fc.constantFrom('drop', 'replace', 'add', 'whole')).map(([v, pick, bad, how]) => {
    if (how === 'whole' || v === null || typeof v !== 'object') return bad;
    const copy = structuredClone(v) as Record<string, unknown>;
    const paths = objectPaths(copy);
    const [parent, key] = paths[pick % paths.length] as [Record<string, unknown>, string];
    if (how === 'drop') delete parent[key];
    else if (how === 'replace') parent[key] = bad;
    else parent[`unknown_${pick % 7}`] = bad;
    return copy;
  });
}

function objectPaths(v: Record<string, unknown>): [Record<string, unknown>, string][] {
  const out: [Record<string, unknown>, string][] = [];
  const stack: Record<string, unknown>[] = [v];
  while (stack.length) {
    const o = stack.pop() as Record<string, unknown>;
    for (const [k, c] of Object.entries(o)) {
      out.push([o, k]);
      if (c && typeof c === 'object') stack.push(c as Record<string, unknown>);
    }
  }
  return out.length ? out : [[v, 'x']];
}
