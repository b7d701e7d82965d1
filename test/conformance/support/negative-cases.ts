/**
 * Bodies that break one documented field rule each, with the field the error must name.
 * Shared by the conformance suite (status 400) and the mock's own tests (message names
 * the field).
 */
export interface NegativeCase {
  rule: string;
  field: string;
  body: (slug: string, ext: string) => Record<string, unknown>;
  /** Set when the rule is the mock's own choice (its AMBIGUITIES.md entry): asserted on the mock only. */
  ambiguity?: number;
}

const ok = (slug: string) => ({ slug, rate_limits: [], usage_limits: [] });
/** Every body sends the hierarchy block the published schema requires, so only the named rule is broken. */
const hierarchy = { limit_enforcement: 'INDEPENDENT', parent_group_id: null };
const withModel = (ext: string, model: unknown) => ({ metadata: { external_entity_id: ext }, models: [model], hierarchy });

export const CREATE_NEGATIVES: NegativeCase[] = [
  { rule: 'metadata is required', field: 'metadata', body: (s) => ({ models: [ok(s)], hierarchy }) },
  { rule: 'external_entity_id is required', field: 'external_entity_id', body: (s) => ({ metadata: { name: 'x' }, models: [ok(s)], hierarchy }) },
  { rule: 'external_entity_id must not be empty', field: 'external_entity_id', body: (s) => ({ metadata: { external_entity_id: '' }, models: [ok(s)], hierarchy }) },
  { rule: 'external_entity_id is at most 255 characters', field: 'external_entity_id', body: (s) => ({ metadata: { external_entity_id: 'x'.repeat(256) }, models: [ok(s)], hierarchy }) },
  { rule: 'external_entity_id is a string', field: 'external_entity_id', body: (s) => ({ metadata: { external_entity_id: 42 }, models: [ok(s)], hierarchy }) },
  { rule: 'name is at most 255 characters', field: 'name', body: (s, e) => ({ metadata: { name: 'n'.repeat(256), external_entity_id: e }, models: [ok(s)], hierarchy }) },
  { rule: 'models is required', field: 'models', body: (_s, e) => ({ metadata: { external_entity_id: e }, hierarchy }) },
  { rule: 'models must not be empty on create', field: 'models', body: (_s, e) => ({ metadata: { external_entity_id: e }, models: [], hierarchy }) },
  { rule: 'models is an array', field: 'models', body: (s, e) => ({ metadata: { external_entity_id: e }, models: ok(s), hierarchy }) },
  { rule: 'slug is required', field: 'slug', body: (_s, e) => withModel(e, { rate_limits: [] }) },
  { rule: 'slug is shaped org/name', field: 'slug', body: (_s, e) => withModel(e, { slug: 'no-slash' }) },
  { rule: 'slug has exactly one slash', field: 'slug', body: (_s, e) => withModel(e, { slug: 'a/b/c' }) },
  { rule: 'no duplicate slugs', field: 'slug', body: (s, e) => ({ metadata: { external_entity_id: e }, models: [ok(s), ok(s)], hierarchy }) },
  { rule: 'rate limit unit is SECOND or MINUTE', field: 'unit', body: (s, e) => withModel(e, { slug: s, rate_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: 5 }] }) },
  { rule: 'usage limit unit is DAY only', field: 'unit', body: (s, e) => withModel(e, { slug: s, usage_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 5 }] }) },
  { rule: 'limit type is TOKEN or REQUEST', field: 'type', body: (s, e) => withModel(e, { slug: s, rate_limits: [{ type: 'BYTES', unit: 'MINUTE', threshold: 5 }] }) },
  { rule: 'threshold is not negative', field: 'threshold', body: (s, e) => withModel(e, { slug: s, usage_limits: [{ type: 'TOKEN', unit: 'DAY', threshold: -5 }] }) },
  { rule: 'threshold is an integer', field: 'threshold', body: (s, e) => withModel(e, { slug: s, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 1.5 }] }) },
  { rule: 'threshold is a number, not a string', field: 'threshold', body: (s, e) => withModel(e, { slug: s, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: '10' }] }) },
  { rule: 'threshold is required', field: 'threshold', body: (s, e) => withModel(e, { slug: s, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE' }] }) },
  {
    rule: 'one rate limit per type per slug',
    field: 'rate_limits',
    body: (s, e) =>
      withModel(e, { slug: s, rate_limits: [{ type: 'TOKEN', unit: 'MINUTE', threshold: 5 }, { type: 'TOKEN', unit: 'SECOND', threshold: 1 }] }),
  },
  {
    rule: 'one usage limit per (type, unit) per slug',
    field: 'usage_limits',
    body: (s, e) =>
      withModel(e, { slug: s, usage_limits: [{ type: 'REQUEST', unit: 'DAY', threshold: 5 }, { type: 'REQUEST', unit: 'DAY', threshold: 9 }] }),
  },
  { rule: 'limit_enforcement is INDEPENDENT or CASCADING', field: 'limit_enforcement', body: (s, e) => ({ ...withModel(e, ok(s)), hierarchy: { limit_enforcement: 'SHARED' } }) },
  { rule: 'hierarchy is required', field: 'hierarchy', body: (s, e) => ({ metadata: { external_entity_id: e }, models: [ok(s)] }) },
];
